#pragma once
// The receiving end of a channel that crosses processes: a durable pull consumer's messages,
// decoded and pushed into a local mpsc channel in delivery order, acknowledged only once the
// consuming service says it handled them.
//
//     using namespace swarmsync::nats;
//     ChannelAddress address{.core = "orders", .channel = "ToDispatcher"};
//     declare_channel(conn, address, {}, ConsumerOptions{.capacity = 256}).value();
//     auto [tx, rx] = swarmsync::mpsc::channel<Job>(256);       // capacity = MaxAckPending
//     auto bridge = InboundBridge<Job>::start(conn, address, tx).value();
//     // in the consumer's coroutine:
//     std::uint64_t handled = 0;
//     while (auto job = co_await rx.recv()) {
//       run(*job);
//       bridge.ack_through(++handled);                           // now it may leave the stream
//     }
//
// Delivery and order. A thread of the bridge's own pulls from the consumer (pull requests of up
// to `fetch_batch` messages, delivered to an inbox of its own) and pushes each decoded value into the local channel in the order JetStream delivers
// them, which for one sender is its publish order (see outbound_bridge.hpp) except for redeliveries:
// a message redelivered after AckWait comes after whatever was delivered meanwhile, except that
// what a consumer which died had taken comes first to the bridge that follows it
// (`orphans_first`: that bridge waits for it before its first fetch). Into a bounded
// local channel it pushes with `try_send`, waiting (polling every millisecond) while it is full;
// with the consumer's MaxAckPending equal to the capacity, and no other sender on that local
// channel, it is never full.
//
// Acknowledgement. Every message pushed into the local channel is held, unacknowledged, in
// delivery order. `ack_through(n)` acknowledges the first `n` messages pushed since the bridge
// started (those not acknowledged yet); `n` is clamped to the number pushed. What is not
// acknowledged when the bridge goes away (destroyed, process killed) is redelivered by JetStream
// after the consumer's AckWait, to whichever bridge fetches from the consumer next. A message
// that stays unacknowledged longer than AckWait while the bridge lives is redelivered to it: the
// bridge recognises it (same sender sequence, same stream sequence as one it holds), keeps the
// newer delivery in its place and delivers nothing twice (`redelivered_while_held`).
//
// Deduplication. Messages carry `Nats-Msg-Id: <identity>-<sequence>` (outbound_bridge.hpp). The
// bridge remembers which sender sequences it delivered, and the stream sequence each was stored
// at, for the most recent `dedup_memory` messages. A message whose sender sequence it remembers
// is acknowledged and dropped (`duplicates_dropped`): a resend stored twice past the server's
// duplicate window (another stream sequence), or a redelivery of a message it delivered and
// acknowledged whose ack was lost. Messages may arrive out of their sender's order (a redelivery
// after AckWait comes after messages published later), and every one not delivered yet is
// delivered. The memory is the bridge's: a new bridge (a restarted process) delivers again what
// was not acknowledged, as it must, and would not recognise a duplicate of what the previous one
// handled; nor is a copy of a message older than the last `dedup_memory` recognised. A message
// without a well-formed id is delivered without this check.
//
// Bad messages. A message that does not decode is counted (`decode_failures`), reported with its
// subject and the codec's reason to `on_decode_failure`, and terminated (`natsMsg_Term`: never
// redelivered); the messages after it go on.
//
// Giving back. A message the bridge will never acknowledge (the local receiver closed or gone
// with it in hand, the bridge stopping with it fetched, or held unacknowledged when the bridge is
// destroyed) is negatively acknowledged when the bridge is destroyed, in the order it was
// delivered here (`given_back`): the server delivers it at once, in that order, to whichever
// bridge fetches next. A bridge that dies
// without a word (its process killed) gives nothing back: its messages come back after AckWait,
// possibly after messages published later.
//
// The local channel closing. When the local receiver is closed or gone, the bridge stops
// fetching; the message in hand and the held ones are given back when it is destroyed.
//
// Outages. While the connection is down, fetches fail and are retried (each failure that is not
// a plain timeout is reported to `on_transport_error`, once per distinct message); after the
// reconnection fetching goes on. Acks sent during an outage go out from cnats's reconnect
// buffer; an ack that is lost makes the server redeliver, and the bridge drops that duplicate.
//
// Thread safety. `ack_through` and `stats` may be called from any thread at any time. The
// callbacks are called on the bridge's thread. The destructor stops the thread (it waits for the
// pull request in progress to end, about `fetch_timeout`, a second more if the server's word of
// its end is lost, so that the request cannot take the messages given back) and joins it; the
// `Connection` must outlive the bridge. A moved-from bridge may only be destroyed or assigned to.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "swarmsync/channels/mpsc.hpp"
#include "swarmsync/channels/result.hpp"
#include "swarmsync/transport/nats/codec.hpp"
#include "swarmsync/transport/nats/connection.hpp"
#include "swarmsync/transport/nats/error.hpp"
#include "swarmsync/transport/nats/jetstream_channel.hpp"

namespace swarmsync::nats {

/// How the inbound bridge fetches and whom it tells.
struct InboundOptions {
  std::chrono::milliseconds fetch_timeout{250};  ///< the longest one fetch waits (and so a stop)
  /// Messages asked for per pull request (>= 1); the next request goes out once these came, or
  /// the request expired.
  int fetch_batch = 64;
  /// Messages that a consumer which died had taken (delivered, not acknowledged, when the bridge
  /// starts) come first: the first fetch waits until they are due again (the consumer's AckWait,
  /// and a quarter second), and the server then hands them out before anything published after
  /// them. Without it, the bridge starts at once and those messages come after newer ones, once
  /// their AckWait passes: a service may then see a result before the message that announced it.
  /// The wait does not tell a consumer that died from one that stopped cleanly and gave back what
  /// it held (those are due at once, and still count as not acknowledged): it is the AckWait
  /// either way, so it is off by default.
  bool orphans_first = false;
  /// How many delivered messages (sender identity and sequence) are remembered to recognise a
  /// duplicate (>= 1); about 64 bytes each.
  std::size_t dedup_memory = 65536;
  /// A message that did not decode: its subject and why. On the bridge's thread.
  std::function<void(std::string_view subject, std::string_view error)> on_decode_failure = {};
  /// A fetch or ack that failed other than by a plain timeout. On the bridge's thread (an ack's
  /// failure: on the thread of `ack_through`).
  std::function<void(std::string_view error)> on_transport_error = {};
};

/// The inbound bridge's counts. A snapshot: each field is exact at some instant during the call
/// (`delivered` and `acknowledged` at the same instant).
struct InboundStats {
  std::uint64_t delivered = 0;               ///< pushed into the local channel
  std::uint64_t acknowledged = 0;            ///< of those, acknowledged through `ack_through`
  std::uint64_t duplicates_dropped = 0;      ///< already delivered by this bridge: acked and dropped
  std::uint64_t redelivered_while_held = 0;  ///< redelivered while held unacknowledged: not delivered again
  std::uint64_t decode_failures = 0;         ///< did not decode: terminated
  std::uint64_t fetches = 0;                 ///< pull requests sent
  std::uint64_t ack_failures = 0;            ///< acks cnats could not send (the server will redeliver)
  std::uint64_t given_back = 0;              ///< never to be acknowledged here: negatively acknowledged
  std::uint64_t orphans_at_start = 0;        ///< taken by a consumer that died, waited for (orphans_first)
  std::uint64_t unacknowledged() const noexcept { return delivered - acknowledged; }
};

namespace detail {

enum class PushOutcome { pushed, full, closed };

// The typed side of the bridge, used by the core on its thread only.
class InboundSink {
 public:
  virtual ~InboundSink() = default;
  // Decodes `bytes` into the value in hand; returns why not if it does not decode.
  virtual std::optional<std::string> decode(std::string_view bytes) = 0;
  // Pushes the value in hand into the local channel; keeps it when not pushed.
  virtual PushOutcome push() = 0;
  // Destroys the value in hand.
  virtual void drop() noexcept = 0;
};

// The untyped bridge: subscription, fetch thread, held messages, dedup (inbound_bridge.cpp).
class InboundCore {
 public:
  static Result<std::unique_ptr<InboundCore>, NatsError> start(Connection& conn, const ChannelAddress& address,
                                                               InboundOptions options,
                                                               std::unique_ptr<InboundSink> sink);
  ~InboundCore();
  std::uint64_t ack_through(std::uint64_t n);
  InboundStats stats() const;
  bool stopped_by_local_close() const noexcept;

  struct Impl;

 private:
  explicit InboundCore(std::unique_ptr<Impl> impl) noexcept;
  std::unique_ptr<Impl> impl_;
};

template <class T, class C, class Tx>
class TypedSink final : public InboundSink {
 public:
  TypedSink(Tx tx, C codec) : tx_(std::move(tx)), codec_(std::move(codec)) {}

  std::optional<std::string> decode(std::string_view bytes) override {
    auto decoded = codec_.decode(bytes);
    if (!decoded) return std::move(decoded).error().message;
    held_.emplace(std::move(*decoded));
    return std::nullopt;
  }

  PushOutcome push() override {
    if constexpr (std::is_same_v<Tx, mpsc::UnboundedSender<T>>) {
      auto sent = tx_.send(std::move(*held_));
      if (sent) return held_.reset(), PushOutcome::pushed;
      held_.emplace(std::move(sent).error().value);
      return PushOutcome::closed;
    } else {
      auto sent = tx_.try_send(std::move(*held_));
      if (sent) return held_.reset(), PushOutcome::pushed;
      const bool full = sent.error().kind == TrySendErrorKind::full;
      held_.emplace(std::move(sent).error().value);
      return full ? PushOutcome::full : PushOutcome::closed;
    }
  }

  void drop() noexcept override { held_.reset(); }

 private:
  Tx tx_;
  C codec_;
  std::optional<T> held_;
};

}  // namespace detail

/// The receiving end of a remote direct channel, for values of `T` decoded by `C`. Move-only.
template <class T, class C = JsonCodec<T>>
requires Codec<C, T>
class InboundBridge {
 public:
  /// Binds to the durable consumer of `address` (declared before: see jetstream_channel.hpp) and
  /// starts fetching into `tx`. An error if the names are bad or the consumer cannot be bound.
  static Result<InboundBridge, NatsError> start(Connection& conn, const ChannelAddress& address,
                                                mpsc::UnboundedSender<T> tx, InboundOptions options = {},
                                                C codec = {}) {
    return start_with<mpsc::UnboundedSender<T>>(conn, address, std::move(tx), std::move(options), std::move(codec));
  }

  /// The same into a bounded local channel (see Delivery and order).
  static Result<InboundBridge, NatsError> start(Connection& conn, const ChannelAddress& address, mpsc::Sender<T> tx,
                                                InboundOptions options = {}, C codec = {}) {
    return start_with<mpsc::Sender<T>>(conn, address, std::move(tx), std::move(options), std::move(codec));
  }

  /// Acknowledges the first `n` messages pushed since the bridge started (those not yet
  /// acknowledged; `n` is clamped to the number pushed). Returns how many are acknowledged in
  /// all. Any thread; does not block on the network (cnats sends the acks in the background).
  std::uint64_t ack_through(std::uint64_t n) { return core_->ack_through(n); }

  /// The counts so far. Any thread.
  InboundStats stats() const { return core_->stats(); }

  /// True once the bridge stopped because the local channel was closed or gone.
  bool stopped_by_local_close() const noexcept { return core_->stopped_by_local_close(); }

 private:
  template <class Tx>
  static Result<InboundBridge, NatsError> start_with(Connection& conn, const ChannelAddress& address, Tx tx,
                                                     InboundOptions options, C codec) {
    auto sink = std::make_unique<detail::TypedSink<T, C, Tx>>(std::move(tx), std::move(codec));
    auto core = detail::InboundCore::start(conn, address, std::move(options), std::move(sink));
    if (!core) return std::move(core).error();
    return Result<InboundBridge, NatsError>(in_place_value, InboundBridge(std::move(*core)));
  }

  explicit InboundBridge(std::unique_ptr<detail::InboundCore> core) noexcept : core_(std::move(core)) {}

  std::unique_ptr<detail::InboundCore> core_;
};

}  // namespace swarmsync::nats
