// The untyped inbound bridge (inbound_bridge.hpp): the pull subscription, the fetch thread, the
// messages held until acknowledged, and the per-sender deduplication.

#include "swarmsync/transport/nats/inbound_bridge.hpp"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <stop_token>
#include <thread>
#include <unordered_map>
#include <vector>

namespace swarmsync::nats::detail {

namespace {

struct MsgId {
  std::string_view identity;
  std::uint64_t sequence = 0;
};

// `<identity>-<sequence>`, the sequence being the digits after the last '-'.
std::optional<MsgId> parse_msg_id(std::string_view id) {
  const auto dash = id.rfind('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 == id.size()) return std::nullopt;
  MsgId out{id.substr(0, dash), 0};
  const char* first = id.data() + dash + 1;
  const char* last = id.data() + id.size();
  auto [end, ec] = std::from_chars(first, last, out.sequence);
  if (ec != std::errc() || end != last || out.sequence == 0) return std::nullopt;
  return out;
}

// cnats before 3.10 overflows the heap in natsSubscription_Fetch (its `_fetch`, fixed upstream
// by nats-io/nats.c#749, in v3.10.0): when messages are already queued on the subscription at the
// start of a fetch (left over from an earlier pull request, as happens around a reconnection,
// when the pull requests buffered during the outage are all served at once), it takes `c` of
// them, then loops until `count == batch - c` instead of `count == batch`, so with 2c > batch it
// writes past its array of `batch` entries while more messages come. Seen here with 3.4.1 and
// valgrind ("invalid write ... 0 bytes after a block of size 512 alloc'd" in _fetch) after a
// server restart. With a batch of 1 that path is never taken (c is 0, or 1 and the fetch is
// complete), so on those versions the bridge fetches one message at a time.
int safe_fetch_batch(int wanted) {
  constexpr std::uint32_t fixed_in = 0x030A00;  // 3.10.0
  return nats_GetVersionNumber() < fixed_in ? 1 : wanted;
}

std::uint64_t stream_sequence_of(natsMsg* msg) {
  jsMsgMetaData* meta = nullptr;
  if (natsMsg_GetMetaData(&meta, msg) != NATS_OK) return 0;
  const std::uint64_t seq = meta->Sequence.Stream;
  jsMsgMetaData_Destroy(meta);
  return seq;
}

}  // namespace

struct InboundCore::Impl {
  struct Held {
    natsMsg* msg;
    std::uint64_t stream_sequence;  // 0 if the metadata could not be read
  };

  Impl(InboundOptions o, std::unique_ptr<InboundSink> s) : options(std::move(o)), sink(std::move(s)) {}

  InboundOptions options;
  std::unique_ptr<InboundSink> sink;  // the fetch thread's only
  natsSubscription* sub = nullptr;
  std::string subject;

  // Guards `held`, `delivered` and `acknowledged` (delivered - acknowledged == held.size()).
  // Held across a push into the local channel, which never blocks, so that `ack_through` never
  // counts a message that is being pushed and might yet be taken back.
  mutable std::mutex mutex;
  std::deque<Held> held;
  std::uint64_t delivered = 0;
  std::uint64_t acknowledged = 0;

  // The fetch thread's own: which sender sequences this bridge delivered, and the stream
  // sequence each was stored at, the most recent `options.dedup_memory` of them. Entries are
  // forgotten oldest first (`remembered` is their order); an identity with none left is dropped.
  struct Seen {
    std::unordered_map<std::uint64_t, std::uint64_t> stream_sequence_of;
  };
  std::unordered_map<std::string, Seen> seen_by_identity;
  std::deque<std::pair<std::string, std::uint64_t>> remembered;
  std::string last_error;  // the last transport error reported, to report each once
  // Fetched once the bridge was stopping or its local channel closed, never pushed: given back
  // after the held ones, which were delivered before them. The fetch thread's until it is joined.
  std::vector<natsMsg*> not_pushed;

  // Metrics only, published nowhere else: relaxed increments and loads.
  std::atomic<std::uint64_t> duplicates{0};
  std::atomic<std::uint64_t> redelivered_held{0};
  std::atomic<std::uint64_t> decode_failures{0};
  std::atomic<std::uint64_t> fetches{0};
  std::atomic<std::uint64_t> ack_failures{0};
  std::atomic<std::uint64_t> given_back{0};
  // Set by the fetch thread when the local channel closed; release so that a reader who sees it
  // also sees the counts of the messages before (acquire on the load).
  std::atomic<bool> local_closed{false};

  // Sleeps that a stop interrupts.
  std::mutex sleep_mutex;
  std::condition_variable_any sleep_cv;

  std::jthread thread;  // last: started once everything above exists, joined first

  void sleep_for(std::stop_token& st, std::chrono::milliseconds d) {
    std::unique_lock lock(sleep_mutex);
    sleep_cv.wait_for(lock, st, d, [] { return false; });
  }

  void report(std::string what) {
    if (what == last_error) return;
    last_error = what;
    if (options.on_transport_error) options.on_transport_error(last_error);
  }

  void run(std::stop_token st) {
    const std::chrono::milliseconds pause = std::min(options.fetch_timeout, std::chrono::milliseconds(100));
    const int batch = safe_fetch_batch(options.fetch_batch);
    while (!st.stop_requested() && !local_closed.load(std::memory_order_relaxed)) {
      natsMsgList list{nullptr, 0};
      jsErrCode jerr = static_cast<jsErrCode>(0);
      const natsStatus s = natsSubscription_Fetch(&list, sub, batch, options.fetch_timeout.count(), &jerr);
      fetches.fetch_add(1, std::memory_order_relaxed);
      if (s != NATS_OK) {
        natsMsgList_Destroy(&list);
        if (s != NATS_TIMEOUT) {
          report(NatsError::from_status("fetch " + subject, s, jerr).message);
          sleep_for(st, pause);
        }
        continue;
      }
      last_error.clear();
      for (int i = 0; i < list.Count; ++i) {
        natsMsg* msg = list.Msgs[i];
        list.Msgs[i] = nullptr;  // ours now; the list's destruction skips it
        if (st.stop_requested() || local_closed.load(std::memory_order_relaxed)) {
          not_pushed.push_back(msg);
          continue;
        }
        handle(msg, st);
      }
      natsMsgList_Destroy(&list);
    }
  }

  void handle(natsMsg* msg, std::stop_token& st) {
    const std::uint64_t sseq = stream_sequence_of(msg);
    std::optional<MsgId> id;
    const char* id_text = nullptr;
    if (natsMsgHeader_Get(msg, "Nats-Msg-Id", &id_text) == NATS_OK && id_text != nullptr) id = parse_msg_id(id_text);
    Seen* seen = nullptr;
    std::string identity;  // a copy: once pushed, the message may be acknowledged and freed at once
    if (id) {
      identity = id->identity;
      seen = &seen_by_identity[identity];
      if (seen->stream_sequence_of.contains(id->sequence)) {
        // Delivered by this bridge already: the same stored message again (held: a redelivery
        // after AckWait; acknowledged: its ack was lost), or a second copy of it stored past the
        // server's duplicate window (another stream sequence). Delivered nothing twice.
        drop_duplicate(msg, sseq);
        return;
      }
    }
    const std::string_view data(natsMsg_GetData(msg),
                                static_cast<std::size_t>(std::max(natsMsg_GetDataLength(msg), 0)));
    if (auto error = sink->decode(data)) {
      decode_failures.fetch_add(1, std::memory_order_relaxed);
      const natsStatus ts = natsMsg_Term(msg, nullptr);
      if (seen != nullptr) remember(*seen, identity, id->sequence, sseq);
      const std::string subj = natsMsg_GetSubject(msg) != nullptr ? natsMsg_GetSubject(msg) : "";
      natsMsg_Destroy(msg);
      if (options.on_decode_failure) options.on_decode_failure(subj, *error);
      if (ts != NATS_OK) report(NatsError::from_status("terminate a message on " + subj, ts).message);
      return;
    }
    for (;;) {
      PushOutcome outcome;
      {
        std::lock_guard lock(mutex);
        held.push_back(Held{msg, sseq});
        ++delivered;
        outcome = sink->push();
        if (outcome != PushOutcome::pushed) {
          held.pop_back();
          --delivered;
        }
      }
      if (outcome == PushOutcome::pushed) {
        if (seen != nullptr) remember(*seen, identity, id->sequence, sseq);
        return;
      }
      if (outcome == PushOutcome::closed || st.stop_requested()) {
        sink->drop();
        not_pushed.push_back(msg);
        if (outcome == PushOutcome::closed) local_closed.store(true, std::memory_order_release);
        return;
      }
      sleep_for(st, std::chrono::milliseconds(1));  // full: wait for room
    }
  }

  void remember(Seen& seen, const std::string& identity, std::uint64_t sequence, std::uint64_t sseq) {
    seen.stream_sequence_of.emplace(sequence, sseq);
    remembered.emplace_back(identity, sequence);
    while (remembered.size() > options.dedup_memory) {
      auto [oldest_identity, oldest_sequence] = std::move(remembered.front());
      remembered.pop_front();
      auto it = seen_by_identity.find(oldest_identity);
      if (it == seen_by_identity.end()) continue;
      it->second.stream_sequence_of.erase(oldest_sequence);
      if (it->second.stream_sequence_of.empty() && &it->second != &seen) seen_by_identity.erase(it);
    }
  }

  // A message this bridge will never acknowledge: negatively acknowledged, so that the server
  // delivers it again at once (to whichever bridge fetches next) instead of after AckWait. If
  // the nak does not reach the server, AckWait still brings it back. The server redelivers in
  // the order of the naks: they go oldest delivery first.
  void give_back(natsMsg* msg) {
    (void)natsMsg_Nak(msg, nullptr);
    given_back.fetch_add(1, std::memory_order_relaxed);
    natsMsg_Destroy(msg);
  }

  void drop_duplicate(natsMsg* msg, std::uint64_t sseq) {
    {
      std::lock_guard lock(mutex);
      if (sseq != 0) {
        for (Held& h : held) {
          if (h.stream_sequence == sseq) {
            // Redelivered after AckWait while still in the consumer's hands: keep the newer
            // delivery (its ack is the one the server expects) and deliver nothing again.
            natsMsg_Destroy(h.msg);
            h.msg = msg;
            redelivered_held.fetch_add(1, std::memory_order_relaxed);
            return;
          }
        }
      }
    }
    duplicates.fetch_add(1, std::memory_order_relaxed);
    const natsStatus s = natsMsg_Ack(msg, nullptr);
    if (s != NATS_OK) ack_failures.fetch_add(1, std::memory_order_relaxed);
    natsMsg_Destroy(msg);
  }
};

Result<std::unique_ptr<InboundCore>, NatsError> InboundCore::start(Connection& conn, const ChannelAddress& address,
                                                                   InboundOptions options,
                                                                   std::unique_ptr<InboundSink> sink) {
  if (auto ok = validate(address); !ok) return std::move(ok).error();
  if (options.fetch_batch < 1) return NatsError::invalid("inbound bridge", "fetch_batch must be >= 1");
  if (options.fetch_timeout <= std::chrono::milliseconds(0))
    return NatsError::invalid("inbound bridge", "fetch_timeout must be positive");
  if (options.dedup_memory < 1) return NatsError::invalid("inbound bridge", "dedup_memory must be >= 1");
  auto impl = std::make_unique<Impl>(std::move(options), std::move(sink));
  impl->subject = address.subject();
  const std::string stream = address.stream();
  const std::string durable = address.durable();
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = conn.jetstream_wait().count();
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = stream.c_str();
  so.Consumer = durable.c_str();  // bind to the declared consumer: the library neither creates nor deletes it
  jsErrCode jerr = static_cast<jsErrCode>(0);
  const natsStatus s =
      js_PullSubscribe(&impl->sub, conn.jetstream(), impl->subject.c_str(), durable.c_str(), &jo, &so, &jerr);
  if (s != NATS_OK) return NatsError::from_status("inbound bridge: bind to " + durable, s, jerr);
  Impl* raw = impl.get();
  impl->thread = std::jthread([raw](std::stop_token st) { raw->run(st); });
  return Result<std::unique_ptr<InboundCore>, NatsError>(
      in_place_value, std::unique_ptr<InboundCore>(new InboundCore(std::move(impl))));
}

InboundCore::InboundCore(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}

InboundCore::~InboundCore() {
  if (!impl_) return;
  impl_->thread.request_stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  {
    // What the consumer did not acknowledge goes back to the server, oldest first, so that the
    // next bridge gets it at once and in the order it was delivered here.
    std::lock_guard lock(impl_->mutex);
    for (auto& h : impl_->held) impl_->give_back(h.msg);
    impl_->held.clear();
    for (natsMsg* msg : impl_->not_pushed) impl_->give_back(msg);
    impl_->not_pushed.clear();
  }
  // Destroying (not unsubscribing) a subscription bound to an existing consumer leaves the
  // durable consumer on the server.
  natsSubscription_Destroy(impl_->sub);
}

std::uint64_t InboundCore::ack_through(std::uint64_t n) {
  Impl& s = *impl_;
  std::string failure;
  std::uint64_t acknowledged = 0;
  {
    std::lock_guard lock(s.mutex);
    const std::uint64_t target = std::min(n, s.delivered);
    while (s.acknowledged < target) {
      Impl::Held h = s.held.front();
      s.held.pop_front();
      const natsStatus st = natsMsg_Ack(h.msg, nullptr);
      if (st != NATS_OK) {
        s.ack_failures.fetch_add(1, std::memory_order_relaxed);
        if (failure.empty()) failure = NatsError::from_status("ack on " + s.subject, st).message;
      }
      natsMsg_Destroy(h.msg);
      ++s.acknowledged;
    }
    acknowledged = s.acknowledged;
  }
  if (!failure.empty() && s.options.on_transport_error) s.options.on_transport_error(failure);
  return acknowledged;
}

InboundStats InboundCore::stats() const {
  const Impl& s = *impl_;
  InboundStats out;
  {
    std::lock_guard lock(s.mutex);
    out.delivered = s.delivered;
    out.acknowledged = s.acknowledged;
  }
  out.duplicates_dropped = s.duplicates.load(std::memory_order_relaxed);
  out.redelivered_while_held = s.redelivered_held.load(std::memory_order_relaxed);
  out.decode_failures = s.decode_failures.load(std::memory_order_relaxed);
  out.fetches = s.fetches.load(std::memory_order_relaxed);
  out.ack_failures = s.ack_failures.load(std::memory_order_relaxed);
  out.given_back = s.given_back.load(std::memory_order_relaxed);
  return out;
}

bool InboundCore::stopped_by_local_close() const noexcept {
  return impl_->local_closed.load(std::memory_order_acquire);
}

}  // namespace swarmsync::nats::detail
