#pragma once
// A wired channel over JetStream: the local ends a `ServiceWiring` registers, with an outbound
// and, where the consumer lives, an inbound bridge behind them.
//
//     using namespace swarmsync::nats;
//     auto conn = connect("nats://127.0.0.1:4222").value();
//     // in the process of the Dispatcher (its consumer):
//     auto ends = bridge_channel<Payload>(conn, {.core = "orders", .channel = "ToDispatcher"},
//                                         {.consume_here = true, .sender = "node-a"}).value();
//     wiring.add_channel(ChannelType::ToDispatcher, std::move(ends)).value();
//     // in any other process: the same with consume_here = false; its take_rx is refused.
//
// What it sets up. Local senders (`take_tx`, `get_tx`) send into a local unbounded channel; a
// thread of the bridge (running an io_context of its own, as publishing blocks) publishes each
// value, in order, through an `OutboundBridge` (one sender
// identity per process and channel, message ids, resends: outbound_bridge.hpp). Every value
// goes through the stream, local consumer or not, so that each is durable and acknowledged the
// same way. With `consume_here`, an `InboundBridge` delivers the channel's messages into a
// second local channel, whose receiver is the one the wiring leases (`take_rx`); the
// acknowledgement is "every value received from it so far is handled", which the service
// context calls at each `ctx.recv` (service_context.hpp), and which acknowledges, in order, as
// many messages as the receiver has taken.
//
// Publishing. A value not confirmed after the outbound bridge's tries is published again
// (`on_unconfirmed`) until it is confirmed or the channel goes: an outage of the server delays
// values, it does not lose them.
//
// Delivery. At least once on the wire, once in effect per running consumer (the inbound
// bridge drops what it already delivered), per sender in order except for redeliveries. A
// message the consuming process had in hand, or had received into its local channel, when its
// wiring went is given back to the server at once, in order; when the process was killed, it is
// delivered again after the consumer's AckWait, after what was published meanwhile. Either way
// the next consumer gets it, wherever it runs, and may see it a second time (it does not know
// the first process's history). A value the server refused, one the codec could not encode,
// and one still unpublished when the channel went are counted (`lost()`) and reported to
// `on_lost` with the reason: the local sender has long returned. A service that sends on other
// channels as it handles a message should share one `AckFence` among the bridged channels of its
// process (`BridgeOptions::fence`): the message is then acknowledged only once what it caused
// is published, and a process killed in between has the message delivered again rather than
// losing what it had not published yet (ack_fence.hpp).
//
// Lifetime and shutdown. The ends keep the bridges alive through `transport` (the wiring keeps
// it as long as the channel). When the last reference goes, the outbound thread publishes what
// local senders had sent (for at most `drain_timeout`), counts what it could not as lost, and
// stops; the inbound bridge stops and what it delivered but was not acknowledged is delivered
// again to the next consumer. The `Connection` must outlive the ends.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "swarmsync/channels/mpsc.hpp"
#include "swarmsync/channels/result.hpp"
#include "swarmsync/transport/nats/ack_fence.hpp"
#include "swarmsync/transport/nats/codec.hpp"
#include "swarmsync/transport/nats/connection.hpp"
#include "swarmsync/transport/nats/error.hpp"
#include "swarmsync/transport/nats/inbound_bridge.hpp"
#include "swarmsync/transport/nats/jetstream_channel.hpp"
#include "swarmsync/transport/nats/outbound_bridge.hpp"

namespace swarmsync::nats {

/// How a wired channel is bridged.
struct BridgeOptions {
  bool consume_here = false;        ///< the channel's consumer lives in this process
  std::string sender = "swarmsync";  ///< the base of this process's sender identity (a nonce is added)
  StreamOptions stream = {};
  /// The consumer's settings: applied where the channel is consumed (`consume_here`); a
  /// producing side only creates the consumer with them if it does not exist yet.
  ConsumerOptions consumer = {};
  PublishOptions publish = {};
  InboundOptions inbound = {};
  /// Shared by every bridged channel of a process: an acknowledgement of a message received
  /// waits until what was sent meanwhile on the outbound channels is published (ack_fence.hpp).
  /// Null: acknowledged at once.
  std::shared_ptr<AckFence> fence = {};
  std::chrono::milliseconds drain_timeout{std::chrono::seconds(5)};  ///< publishing what is left at the end
  /// A value local senders sent that could not be published, and why: refused by the server, not
  /// encodable, or still unpublished when the channel went. On the bridge's thread.
  std::function<void(std::string_view why)> on_lost = {};
  /// A value not confirmed after every try of `publish`, and why: it is kept and published again
  /// (under a new message id) until confirmed or the channel goes. On the bridge's thread.
  std::function<void(std::string_view why)> on_unconfirmed = {};
};

/// The local ends of a bridged channel, as `ServiceWiring::add_channel` takes them (the
/// wiring's `RemoteEnds<T>` has the same members).
template <class T>
struct BridgedEnds {
  mpsc::UnboundedSender<T> tx;
  std::optional<mpsc::Receiver<T>> rx;  ///< with `consume_here`
  std::string where;
  std::function<void()> acknowledge;  ///< with `consume_here`: everything received from rx is handled
  std::shared_ptr<void> transport;    ///< the bridges: alive as long as this is held

  /// Converts to any struct with these members (the wiring's RemoteEnds).
  template <class Ends>
  operator Ends() && {
    return Ends{std::move(tx), std::move(rx), std::move(where), std::move(acknowledge), std::move(transport)};
  }
};

namespace detail {

// The bridges of one channel and the outbound thread.
template <class T, class C>
class BridgedChannel : public std::enable_shared_from_this<BridgedChannel<T, C>> {
 public:
  BridgedChannel(OutboundBridge<T, C> outbound, mpsc::Receiver<T> outbox, mpsc::UnboundedSender<T> outbox_watch,
                 std::chrono::milliseconds drain_timeout, std::function<void(std::string_view)> on_lost,
                 std::function<void(std::string_view)> on_unconfirmed, std::shared_ptr<AckFence> fence)
      : outbound_(std::move(outbound)),
        outbox_(std::move(outbox)),
        drain_timeout_(drain_timeout),
        on_lost_(std::move(on_lost)),
        on_unconfirmed_(std::move(on_unconfirmed)),
        fence_(std::move(fence)) {
    if (fence_)
      fence_outbox_ = fence_->add_outbox([watch = std::move(outbox_watch)] { return watch.sent_count(); });
    // The publishing loop on a context of its own: each publish blocks its thread.
    boost::asio::co_spawn(*ioc_, publish_loop(), boost::asio::detached);
    thread_ = std::thread([this] { ioc_->run(); });
  }
  BridgedChannel(const BridgedChannel&) = delete;
  BridgedChannel& operator=(const BridgedChannel&) = delete;

  ~BridgedChannel() {
    // What local senders sent is published first, for at most the drain timeout.
    const auto deadline = std::chrono::steady_clock::now() + drain_timeout_;
    while (outbox_.len() > 0 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    // A value being published again stops at its current try (release: the publishing thread's
    // acquire load sees it at the next check, nothing else is ordered by it).
    stopping_.store(true, std::memory_order_release);
    ioc_->stop();  // the publish in progress, if any, ends first
    thread_.join();
    ioc_.reset();  // destroys the publishing loop, parked on the outbox, while the outbox lives
    while (outbox_.try_recv()) {
      lose("the channel was closed before it could be published");
      settle();
    }
    inbound_.reset();  // stops fetching; what was not acknowledged is delivered again to the next consumer
  }

  void attach(InboundBridge<T, C> inbound, mpsc::UnboundedSender<T> inbox_watch) {
    inbound_.emplace(std::move(inbound));
    inbox_watch_.emplace(std::move(inbox_watch));
  }

  // Everything the consumer received from its local channel is handled: acknowledged at once,
  // or with a fence once what was sent by now on the fence's outbound channels is published.
  void acknowledge() {
    if (!inbound_) return;
    const std::uint64_t through = inbox_watch_->received_count();
    if (!fence_) {
      inbound_->ack_through(through);
      return;
    }
    // Weak: a channel gone before its acknowledgement was due leaves the message unacknowledged,
    // to be delivered again.
    fence_->after_outboxes([weak = this->weak_from_this(), through] {
      if (auto self = weak.lock(); self && self->inbound_) self->inbound_->ack_through(through);
    });
  }

  std::uint64_t lost() const noexcept { return lost_.load(std::memory_order_relaxed); }
  std::uint64_t unconfirmed() const noexcept { return unconfirmed_.load(std::memory_order_relaxed); }

 private:
  // Publishes every value of the outbox, in order, and settles each with the fence.
  boost::asio::awaitable<void> publish_loop() {
    while (auto value = co_await outbox_.recv()) {
      auto sent = outbound_.publish(std::move(*value));
      if (!sent) publish_again(std::move(sent).error());
      settle();
    }
  }

  // A value published or lost: the acknowledgements waiting for it may be due.
  void settle() {
    if (!fence_outbox_) return;
    fence_outbox_->settle();
    fence_->poke();
  }

  // A value whose publish failed: unconfirmed, it is published again (a new message id: if the
  // first was stored after all, the consumer may get it twice) until confirmed or the channel
  // goes; refused or not encodable, it is lost.
  void publish_again(PublishError<T>&& first) {
    std::optional<PublishError<T>> e(std::move(first));
    while (e->kind == PublishErrorKind::unconfirmed && !stopping_.load(std::memory_order_acquire)) {
      unconfirmed_.fetch_add(1, std::memory_order_relaxed);  // a count for metrics, ordered with nothing
      if (on_unconfirmed_) on_unconfirmed_(e->cause.message);
      auto again = outbound_.publish(std::move(e->value));
      if (again) return;
      e.emplace(std::move(again).error());
    }
    lose(e->cause.message);
  }

  void lose(const std::string& why) {
    lost_.fetch_add(1, std::memory_order_relaxed);  // a count for metrics, ordered with nothing
    if (on_lost_) on_lost_(why);
  }

  std::unique_ptr<boost::asio::io_context> ioc_ = std::make_unique<boost::asio::io_context>(1);
  OutboundBridge<T, C> outbound_;
  mpsc::Receiver<T> outbox_;  // what local senders sent, read by the publishing loop
  std::chrono::milliseconds drain_timeout_;
  std::function<void(std::string_view)> on_lost_;
  std::function<void(std::string_view)> on_unconfirmed_;
  std::atomic<std::uint64_t> lost_{0};
  std::atomic<std::uint64_t> unconfirmed_{0};
  std::atomic<bool> stopping_{false};
  std::shared_ptr<AckFence> fence_;
  std::shared_ptr<AckFence::Outbox> fence_outbox_;  // this channel's progress, for the fence
  std::optional<InboundBridge<T, C>> inbound_;
  std::optional<mpsc::UnboundedSender<T>> inbox_watch_;  // reads how many values the consumer took
  std::thread thread_;
};

}  // namespace detail

/// Declares the channel `address` (stream and consumer: jetstream_channel.hpp) and bridges it:
/// the local ends for the wiring. Errors: bad names, the server unreachable or refusing.
/// Blocks for the JetStream API calls.
template <class T, class C = JsonCodec<T>>
requires Codec<C, T>
Result<BridgedEnds<T>, NatsError> bridge_channel(Connection& conn, const ChannelAddress& address,
                                                 BridgeOptions options = {}, C codec = {}) {
  if (auto declared = declare_channel(conn, address, options.stream, options.consumer,
                                      options.consume_here ? ChannelSide::consumer : ChannelSide::producer);
      !declared)
    return std::move(declared).error();
  auto outbound = OutboundBridge<T, C>::create(conn, address, make_sender_identity(options.sender),
                                               options.publish, codec);
  if (!outbound) return std::move(outbound).error();
  auto [tx, outbox] = mpsc::unbounded_channel<T>();
  auto bridged = std::make_shared<detail::BridgedChannel<T, C>>(
      std::move(*outbound), std::move(outbox), tx, options.drain_timeout, std::move(options.on_lost),
      std::move(options.on_unconfirmed), options.fence);
  BridgedEnds<T> ends{std::move(tx), std::nullopt,
                      "nats subject " + address.subject() +
                          (options.consume_here ? ", consumed here" : ", consumed elsewhere"),
                      {}, {}};
  if (options.consume_here) {
    auto [inbox_tx, inbox] = mpsc::unbounded_channel<T>();
    auto inbound = InboundBridge<T, C>::start(conn, address, inbox_tx, std::move(options.inbound), std::move(codec));
    if (!inbound) return std::move(inbound).error();
    bridged->attach(std::move(*inbound), std::move(inbox_tx));
    ends.rx.emplace(std::move(inbox));
    ends.acknowledge = [weak = std::weak_ptr<detail::BridgedChannel<T, C>>(bridged)] {
      if (auto b = weak.lock()) b->acknowledge();
    };
  }
  ends.transport = std::move(bridged);
  return Result<BridgedEnds<T>, NatsError>(in_place_value, std::move(ends));
}

}  // namespace swarmsync::nats
