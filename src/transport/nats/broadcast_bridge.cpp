// The cnats side of a bridged broadcast (broadcast_bridge.hpp): publishing with a sequence per
// sender, and a subscription that finds the gaps in each sender's sequence.

#include "swarmsync/transport/nats/broadcast_bridge.hpp"

#include <charconv>
#include <condition_variable>
#include <mutex>
#include <unordered_map>

namespace swarmsync::nats::detail {

namespace {

constexpr const char* from_header = "Swarmsync-From";
constexpr const char* seq_header = "Swarmsync-Seq";

}  // namespace

struct BroadcastLink::State {
  State(Connection& c, std::string subj, std::string id, Handlers h)
      : conn(c), subject(std::move(subj)), identity(std::move(id)), handlers(std::move(h)) {}

  Connection& conn;
  const std::string subject;
  const std::string identity;
  Handlers handlers;
  natsSubscription* sub = nullptr;
  const std::shared_ptr<BroadcastStats> stats = std::make_shared<BroadcastStats>();

  std::mutex publish_mutex;  // publishes take turns: the sequence is the order of the calls
  std::uint64_t next_sequence = 1;

  // The last sequence heard from each sender. Only cnats's handler for this subscription touches
  // it, one message at a time: no lock.
  std::unordered_map<std::string, std::uint64_t> last_heard;

  // Set by the completion callback, after cnats's handler returned for the last time; the
  // destructor waits for it.
  std::mutex done_mutex;
  std::condition_variable done_cv;
  bool done = false;

  static void on_message(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
    auto* self = static_cast<State*>(closure);
    self->handle(msg);
    natsMsg_Destroy(msg);
  }

  static void on_complete(void* closure) {
    auto* self = static_cast<State*>(closure);
    // Notified under the lock: the waiter cannot free this state before the callback released it.
    std::lock_guard lock(self->done_mutex);
    self->done = true;
    self->done_cv.notify_all();
  }

  void handle(natsMsg* msg) {
    const char* from = nullptr;
    const char* seq_text = nullptr;
    if (natsMsgHeader_Get(msg, from_header, &from) == NATS_OK && from != nullptr &&
        natsMsgHeader_Get(msg, seq_header, &seq_text) == NATS_OK && seq_text != nullptr) {
      std::uint64_t seq = 0;
      const std::string_view text(seq_text);
      if (std::from_chars(text.data(), text.data() + text.size(), seq).ec == std::errc{}) note(from, seq);
    }
    const std::string_view bytes(natsMsg_GetData(msg), static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
    if (auto why = handlers.deliver(bytes)) {
      stats->undecodable.fetch_add(1, std::memory_order_relaxed);  // metrics only
      if (handlers.on_undecodable) handlers.on_undecodable(subject, *why);
      return;
    }
    stats->received.fetch_add(1, std::memory_order_relaxed);  // metrics only
  }

  // A message numbered `seq` from `from`: what is missing between it and the last one heard is
  // reported before it is delivered. A sender heard for the first time reports nothing (what it
  // sent earlier may predate the subscription); a number not above the last is delivered as is.
  void note(const char* from, std::uint64_t seq) {
    auto [it, added] = last_heard.try_emplace(from, seq);
    if (added) return;
    const std::uint64_t last = it->second;
    if (seq <= last) return;
    it->second = seq;
    if (const std::uint64_t gap = seq - last - 1; gap != 0) {
      stats->missed.fetch_add(gap, std::memory_order_relaxed);  // metrics only
      handlers.report_missed(gap);
    }
  }
};

Result<std::unique_ptr<BroadcastLink>, NatsError> BroadcastLink::open(Connection& conn, std::string subject,
                                                                      std::string identity,
                                                                      const BroadcastOptions& options,
                                                                      Handlers handlers) {
  if (options.pending_messages <= 0 || options.pending_bytes <= 0)
    return NatsError::invalid("broadcast bridge", "pending limits must be > 0");
  auto state = std::make_unique<State>(conn, std::move(subject), std::move(identity), std::move(handlers));
  State* s = state.get();
  natsStatus st = natsConnection_Subscribe(&s->sub, conn.native(), s->subject.c_str(), &State::on_message, s);
  if (st != NATS_OK) return NatsError::from_status("subscribe to " + s->subject, st);
  // From here the subscription may call into `s`: every failure below closes it properly.
  std::unique_ptr<BroadcastLink> link(new BroadcastLink(std::move(state)));
  st = natsSubscription_SetOnCompleteCB(s->sub, &State::on_complete, s);
  if (st != NATS_OK) {
    auto e = NatsError::from_status("subscription of " + s->subject, st);
    // No completion callback to wait for: unsubscribe and destroy without it.
    unsubscribe_settled(s->conn.native(), s->sub);
    natsSubscription_Destroy(s->sub);
    s->sub = nullptr;
    return e;
  }
  st = natsSubscription_SetPendingLimits(s->sub, options.pending_messages, options.pending_bytes);
  if (st == NATS_OK)
    st = natsConnection_FlushTimeout(conn.native(), static_cast<std::int64_t>(conn.jetstream_wait().count()));
  if (st != NATS_OK) return NatsError::from_status("subscribe to " + s->subject, st);
  return Result<std::unique_ptr<BroadcastLink>, NatsError>(in_place_value, std::move(link));
}

BroadcastLink::BroadcastLink(std::unique_ptr<State> state) noexcept : state_(std::move(state)) {}

BroadcastLink::~BroadcastLink() {
  if (!state_ || state_->sub == nullptr) return;
  // Closing the subscription (or the connection having closed it) ends in the completion
  // callback, once the handler has returned for the last time; unsubscribe_settled() also waits
  // for cnats's reading thread to be past it.
  unsubscribe_settled(state_->conn.native(), state_->sub);
  {
    std::unique_lock lock(state_->done_mutex);
    state_->done_cv.wait(lock, [&] { return state_->done; });
  }
  natsSubscription_Destroy(state_->sub);
}

Result<void, NatsError> BroadcastLink::publish(std::string_view bytes) {
  State& s = *state_;
  std::lock_guard lock(s.publish_mutex);
  natsMsg* msg = nullptr;
  natsStatus st = natsMsg_Create(&msg, s.subject.c_str(), nullptr, bytes.data(), static_cast<int>(bytes.size()));
  if (st != NATS_OK) return NatsError::from_status("publish to " + s.subject, st);
  const std::string seq = std::to_string(s.next_sequence);
  st = natsMsgHeader_Set(msg, from_header, s.identity.c_str());
  if (st == NATS_OK) st = natsMsgHeader_Set(msg, seq_header, seq.c_str());
  if (st == NATS_OK) st = natsConnection_PublishMsg(s.conn.native(), msg);
  natsMsg_Destroy(msg);
  if (st != NATS_OK) return NatsError::from_status("publish to " + s.subject, st);
  ++s.next_sequence;  // only a message handed to cnats takes a number: a refusal leaves no gap
  return {};
}

const std::string& BroadcastLink::subject() const noexcept { return state_->subject; }
const std::string& BroadcastLink::identity() const noexcept { return state_->identity; }
const std::shared_ptr<BroadcastStats>& BroadcastLink::stats() const noexcept { return state_->stats; }

}  // namespace swarmsync::nats::detail
