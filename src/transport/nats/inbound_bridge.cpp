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

// Pulling. The bridge makes its pull requests itself rather than through cnats's
// natsSubscription_Fetch: cnats before 3.10 overflows the heap there (its `_fetch`, fixed by
// nats-io/nats.c#749) when messages left over from an earlier pull request are queued at the
// start of a fetch (as around a reconnection), so with those versions a fetch could only ask for
// one message at a time, a round trip per message. Here a plain subscription on an inbox of the
// bridge's own receives what the consumer delivers; a request to the consumer's
// `$JS.API.CONSUMER.MSG.NEXT` subject asks for up to `fetch_batch` messages within
// `fetch_timeout`, and the next is sent once the previous is used up, expired (the server's 408
// status) or found nothing (404). A message arriving late for an earlier request is simply
// handled: nothing is lost or dropped by overlapping requests.

// True for a message the consumer delivered (its reply subject is the ack subject), false for a
// status message of the server about a pull request.
bool delivered_by_consumer(natsMsg* msg) {
  const char* reply = natsMsg_GetReply(msg);
  return reply != nullptr && std::string_view(reply).rfind("$JS.ACK.", 0) == 0;
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
  natsConnection* nc = nullptr;
  natsInbox* inbox = nullptr;         // where the consumer delivers to this bridge
  natsSubscription* sub = nullptr;    // on `inbox`
  std::string subject;
  std::string next_subject;  // $JS.API.CONSUMER.MSG.NEXT.<stream>.<durable>

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
  std::uint64_t orphans_at_start = 0;  // set before the fetch thread starts
  std::chrono::steady_clock::time_point first_fetch_at{};
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

  // Acknowledges (+ACK), gives back (-NAK) or terminates (+TERM) a delivered message: published
  // to its ack subject, as cnats's natsMsg_Ack would for a message of its own subscriptions.
  natsStatus answer(natsMsg* msg, const char* how) const {
    return natsConnection_PublishString(nc, natsMsg_GetReply(msg), how);
  }

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
    const auto expires = std::chrono::duration_cast<std::chrono::nanoseconds>(options.fetch_timeout);
    const std::string request =
        "{\"batch\":" + std::to_string(options.fetch_batch) + ",\"expires\":" + std::to_string(expires.count()) + "}";
    // The wait for one message: the request's life and a margin for the server's 408 to arrive
    // (wide: a request the client gave up on while the server still holds it would take messages
    // for an inbox that no longer waits for them).
    const std::int64_t wait_ms = options.fetch_timeout.count() + 1000;
    int outstanding = 0;  // messages the last pull request may still bring
    if (const auto now = std::chrono::steady_clock::now(); first_fetch_at > now)
      sleep_for(st, std::chrono::duration_cast<std::chrono::milliseconds>(first_fetch_at - now));
    auto last_request_at = std::chrono::steady_clock::now();
    while (!st.stop_requested() && !local_closed.load(std::memory_order_relaxed)) {
      if (outstanding <= 0) {
        const natsStatus s = natsConnection_PublishRequest(nc, next_subject.c_str(), inbox, request.data(),
                                                           static_cast<int>(request.size()));
        fetches.fetch_add(1, std::memory_order_relaxed);
        if (s != NATS_OK) {
          report(NatsError::from_status("pull request on " + subject, s).message);
          sleep_for(st, pause);
          continue;
        }
        outstanding = options.fetch_batch;
        last_request_at = std::chrono::steady_clock::now();
      }
      natsMsg* msg = nullptr;
      const natsStatus s = natsSubscription_NextMsg(&msg, sub, wait_ms);
      if (s == NATS_TIMEOUT) {
        outstanding = 0;  // the request expired without a word (lost in an outage): ask again
        continue;
      }
      if (s != NATS_OK) {
        report(NatsError::from_status("fetch " + subject, s).message);
        outstanding = 0;
        sleep_for(st, pause);
        continue;
      }
      if (!delivered_by_consumer(msg)) {
        end_of_pull(msg);
        outstanding = 0;
        continue;
      }
      --outstanding;
      last_error.clear();
      if (st.stop_requested() || local_closed.load(std::memory_order_relaxed)) {
        not_pushed.push_back(msg);
        continue;
      }
      handle(msg, st);
    }
    // The last request may still bring messages until it expires: they are taken here to be
    // given back. Left pending, it would take the messages given back itself, to an inbox
    // nobody reads, and they would come back only after AckWait.
    const auto request_over = last_request_at + std::chrono::milliseconds(wait_ms);
    while (outstanding > 0) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(request_over - std::chrono::steady_clock::now());
      natsMsg* msg = nullptr;
      if (left.count() <= 0 || natsSubscription_NextMsg(&msg, sub, left.count()) != NATS_OK) break;
      if (!delivered_by_consumer(msg)) {
        natsMsg_Destroy(msg);
        break;
      }
      not_pushed.push_back(msg);
      --outstanding;
    }
  }

  // A status of the server about a pull request: it expired (408) or found nothing (404), which
  // is the normal end of an idle pull; anything else (409: the consumer is gone, too many
  // waiting requests...) is reported.
  void end_of_pull(natsMsg* msg) {
    const char* status = nullptr;
    const char* description = nullptr;
    (void)natsMsgHeader_Get(msg, "Status", &status);
    (void)natsMsgHeader_Get(msg, "Description", &description);
    const std::string code = status != nullptr ? status : "";
    if (code != "404" && code != "408") {
      std::string what = "pull request on " + subject + ": status " + (code.empty() ? "?" : code);
      if (description != nullptr) what += std::string(" (") + description + ")";
      report(std::move(what));
    }
    natsMsg_Destroy(msg);
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
      const natsStatus ts = answer(msg, "+TERM");
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
    (void)answer(msg, "-NAK");
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
    const natsStatus s = answer(msg, "+ACK");
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
  // The declared consumer must exist: the bridge neither creates nor deletes it.
  jsConsumerInfo* info = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_GetConsumerInfo(&info, conn.jetstream(), stream.c_str(), durable.c_str(), &jo, &jerr);
  if (s != NATS_OK) return NatsError::from_status("inbound bridge: bind to " + durable, s, jerr);
  // Messages delivered and not acknowledged now were taken by a consumer that died (a channel
  // has one consumer). They come due again after the AckWait; fetching before would deliver what
  // was published after them first. With `orphans_first`, the first fetch waits until then: the
  // server hands out what is due for redelivery before anything new, in stream order.
  if (impl->options.orphans_first && info->NumAckPending > 0) {
    const auto ack_wait = std::chrono::nanoseconds(info->Config ? info->Config->AckWait : 0);
    impl->orphans_at_start = static_cast<std::uint64_t>(info->NumAckPending);
    impl->first_fetch_at = std::chrono::steady_clock::now() +
                           std::chrono::duration_cast<std::chrono::milliseconds>(ack_wait) +
                           std::chrono::milliseconds(250);
  }
  jsConsumerInfo_Destroy(info);
  impl->nc = conn.native();
  impl->next_subject = "$JS.API.CONSUMER.MSG.NEXT." + stream + "." + durable;
  s = natsInbox_Create(&impl->inbox);
  if (s == NATS_OK) s = natsConnection_SubscribeSync(&impl->sub, impl->nc, impl->inbox);
  if (s != NATS_OK) {
    natsInbox_Destroy(impl->inbox);
    return NatsError::from_status("inbound bridge: subscribe for " + durable, s);
  }
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
  if (impl_->sub != nullptr) {
    // Delivered to the inbox and not read yet: given back with the rest (a message still on its
    // way when the subscription closes comes back after AckWait).
    for (natsMsg* msg = nullptr; natsSubscription_NextMsg(&msg, impl_->sub, 1) == NATS_OK; msg = nullptr) {
      if (delivered_by_consumer(msg)) impl_->not_pushed.push_back(msg);
      else natsMsg_Destroy(msg);
    }
    (void)unsubscribe_settled(impl_->nc, impl_->sub);
  }
  {
    // What the consumer did not acknowledge goes back to the server, oldest first, so that the
    // next bridge gets it at once and in the order it was delivered here.
    std::lock_guard lock(impl_->mutex);
    for (auto& h : impl_->held) impl_->give_back(h.msg);
    impl_->held.clear();
    for (natsMsg* msg : impl_->not_pushed) impl_->give_back(msg);
    impl_->not_pushed.clear();
  }
  natsSubscription_Destroy(impl_->sub);  // the durable consumer stays on the server
  natsInbox_Destroy(impl_->inbox);
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
      const natsStatus st = s.answer(h.msg, "+ACK");
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
  out.orphans_at_start = s.orphans_at_start;
  return out;
}

bool InboundCore::stopped_by_local_close() const noexcept {
  return impl_->local_closed.load(std::memory_order_acquire);
}

}  // namespace swarmsync::nats::detail
