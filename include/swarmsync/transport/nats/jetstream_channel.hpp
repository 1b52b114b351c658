#pragma once
// A direct channel that crosses processes: where it lives in JetStream, and its declaration.
//
//     using namespace swarmsync::nats;
//     ChannelAddress address{.core = "orders", .channel = "SchedulerToDispatcher"};
//     // stream SWARMSYNC_orders, subject orders.SchedulerToDispatcher,
//     // durable pull consumer orders_SchedulerToDispatcher
//     auto declared = declare_channel(conn, address, StreamOptions{},
//                                     ConsumerOptions{.capacity = 1024, .ack_wait = std::chrono::seconds(30)});
//     if (!declared) log(declared.error().message);
//
// Layout. One stream per core name, `SWARMSYNC_<core>`, capturing the subjects `<core>.>`, so
// every channel `<core>.<channel>` of that core is in it; work-queue retention (a message is
// removed once acknowledged), file storage, and a duplicate window (`Nats-Msg-Id`, default
// 2 minutes). One durable pull consumer per channel, `<core>_<channel>`, filtered on the
// channel's subject, explicit acknowledgement, redelivery of what is not acknowledged after
// `ack_wait`.
//
// Durability. The server acknowledges a publish (the PubAck the outbound bridge waits for) once
// the message is written to its file store; the operating system writes that to disk in its own
// time, and nats-server forces a sync every `sync_interval` of its configuration (2 minutes by
// default in 2.9, the server version Debian 12 ships). So a nats-server killed and restarted
// loses nothing it acknowledged (the data is in the OS's page cache; tested), while a power loss
// or a crash of the machine may lose what was acknowledged within the last interval. Where that
// matters, set a short `sync_interval` in the server's `jetstream {}` block, or run a replicated
// cluster (a message is then acknowledged once a majority of servers have it).
//
// Backpressure across processes: MaxAckPending, not a stream limit. A bounded channel of
// capacity N gets a consumer with MaxAckPending = N: the server hands out at most N messages that
// are delivered and not yet acknowledged, and the inbound bridge acknowledges only what the
// consuming service says it handled, so at most N values are in the receiving process's hands
// (in its local channel or being handled), as with a local bounded channel. A stream limit
// (MaxMsgs with DiscardNew) would instead count what is stored, of every channel of the core
// together, and turn a full channel into refused publishes: the sender's values would come back
// as errors, and what is stored while the consumer is down (the point of a durable stream) would
// be capped. What is not bounded is the stream itself: a sender is not slowed by a slow
// receiver; its messages wait, durably, in the stream (bounded only by the server's limits).
//
// Names. `core` and `channel` may hold letters, digits, `_` and `-` only (they become stream,
// subject and consumer names); anything else is refused with an error.
//
// Declaring is idempotent and may be done by both sides. A stream that exists is updated to the
// options given (the duplicate window). The consumer belongs to the consuming side: declared as
// `ChannelSide::consumer`, an existing consumer is updated to the options given (ack wait,
// MaxAckPending); declared as `ChannelSide::producer`, it is created if missing and otherwise left
// as its consumer set it (else each producer with other settings, a worker with the default ack
// wait, say, would turn the consumer's back to its own, last one wins). Every function here
// blocks for at most the connection's JetStream wait and returns errors as values.
// Thread safety: any thread, concurrently.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "swarmsync/channels/result.hpp"
#include "swarmsync/transport/nats/connection.hpp"
#include "swarmsync/transport/nats/error.hpp"

namespace swarmsync::nats {

/// Which channel of which core. Plain value.
struct ChannelAddress {
  std::string core = {};     ///< the core's name: one stream per core
  std::string channel = {};  ///< the channel's name within it

  /// `SWARMSYNC_<core>`.
  std::string stream() const { return "SWARMSYNC_" + core; }
  /// `<core>.<channel>`.
  std::string subject() const { return core + "." + channel; }
  /// `<core>_<channel>`: the durable pull consumer's name.
  std::string durable() const { return core + "_" + channel; }
};

/// Stream settings of a core.
struct StreamOptions {
  /// How long the server remembers a message id to drop a resend of it. Past the window, a
  /// resend with the same id is stored again; the inbound bridge then drops it only if it still
  /// remembers that sender's sequence (it does while it runs; a new bridge does not).
  std::chrono::milliseconds duplicate_window{std::chrono::minutes(2)};
  /// File storage by default: what the server acknowledged survives a restart (not a power loss:
  /// this server flushes on its own schedule).
  bool memory_storage = false;
};

/// Consumer settings of a channel.
struct ConsumerOptions {
  /// The local channel's capacity: MaxAckPending for a bounded channel; 0 for an unbounded one.
  std::size_t capacity = 0;
  /// MaxAckPending for an unbounded channel (the server's default would be 1000).
  std::int64_t unbounded_max_ack_pending = 1 << 20;
  /// How long a delivered message may stay unacknowledged before the server redelivers it.
  std::chrono::milliseconds ack_wait{std::chrono::seconds(30)};
};

/// Which end of a channel declares it: the consumer's settings are its consuming side's.
enum class ChannelSide {
  consumer,  ///< creates the consumer, or updates it to these options
  producer,  ///< creates the consumer if missing; leaves an existing one as it is
};

/// Checks `address`'s names (see Names); an error names the bad one.
Result<void, NatsError> validate(const ChannelAddress& address);

/// Creates or updates the stream of `core`. Blocks for one or two JetStream API calls.
Result<void, NatsError> ensure_stream(Connection& conn, std::string_view core, const StreamOptions& options = {});

/// Creates the durable consumer of `address` (its stream must exist); one that exists is updated
/// to `options` when declared from the `consumer` side, and left as it is from the `producer` side.
Result<void, NatsError> ensure_consumer(Connection& conn, const ChannelAddress& address,
                                        const ConsumerOptions& options = {},
                                        ChannelSide side = ChannelSide::consumer);

/// `ensure_stream` then `ensure_consumer`.
Result<void, NatsError> declare_channel(Connection& conn, const ChannelAddress& address,
                                        const StreamOptions& stream = {}, const ConsumerOptions& consumer = {},
                                        ChannelSide side = ChannelSide::consumer);

/// What the server says of a channel's consumer, for metrics and tests.
struct ConsumerState {
  std::uint64_t num_pending = 0;      ///< stored, not yet delivered
  std::int64_t num_ack_pending = 0;   ///< delivered, not yet acknowledged
  std::uint64_t num_redelivered = 0;  ///< delivered more than once
  std::chrono::milliseconds ack_wait{0};  ///< its settings now
  std::int64_t max_ack_pending = 0;
};
/// Asks the server for the consumer's state (one JetStream API call).
Result<ConsumerState, NatsError> consumer_state(Connection& conn, const ChannelAddress& address);

/// What the server says of a core's stream: messages stored now.
Result<std::uint64_t, NatsError> stream_message_count(Connection& conn, std::string_view core);

}  // namespace swarmsync::nats
