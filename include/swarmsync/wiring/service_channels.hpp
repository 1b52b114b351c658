#pragma once
// The core-event broadcast every service subscribes to (the seed's `ServiceChannels`).
//
//     swarmsync::ServiceChannels<CoreEvent> channels;          // capacity 16, as in the seed
//     auto events = channels.subscribe_to_core_event();      // each service, on startup
//     channels.send_event_to_all_services(swarmsync::Startup{});
//     // in the service's loop: auto ev = co_await events.recv();
//
// Semantics are those of `broadcast::channel` (see channels/broadcast.hpp): a subscriber sees
// every event sent after it subscribed; one that falls more than `capacity()` events behind gets
// `RecvError{lagged, n}` and resumes at the oldest event held. The broadcast is lossy by design:
// ticks are fine to miss; whatever must not be missed travels on a wired mpsc channel, and a
// stop request reaches services through the supervisor's stop latch, not only this broadcast.
//
// Across processes. Built from a transport's `RemoteBroadcast` (for NATS:
// transport/nats/broadcast_bridge.hpp), the same calls reach the subscribers of every process:
// `send_event_to_all_services` hands the event to the transport, which delivers it into the local
// ring of each process, this one included; values lost on the way are reported to subscribers
// as `RecvError{lagged, n}` where the transport can tell.
//
//     swarmsync::ServiceChannels<CoreEvent> channels(
//         swarmsync::nats::bridge_broadcast<CoreEvent>(conn, {.core = "orders"}).value());
//
// The channel stays open as long as the `ServiceChannels` lives, whoever subscribes or leaves.
// Thread safety: every member may be called from any thread.

#include "swarmsync/channels/broadcast.hpp"

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

namespace swarmsync {

/// A broadcast whose values travel through a transport, as the transport sets it up.
template <class Event>
struct RemoteBroadcast {
  broadcast::Sender<Event> local;  ///< what the transport delivers into; local subscribers subscribe here
  /// Carries an event to every process; gives back an event it refused.
  std::function<std::optional<Event>(Event&&)> publish = {};
  std::string where = {};                ///< where the transport carries the events
  std::shared_ptr<void> transport = {};  ///< kept alive as long as the `ServiceChannels`
};

/// The broadcast of `Event`s to every service.
template <class Event>
class ServiceChannels {
 public:
  /// The capacity of the seed's core-event channel.
  static constexpr std::size_t default_capacity = 16;

  /// Creates the broadcast holding the last `capacity` events (rounded up to a power of two).
  explicit ServiceChannels(std::size_t capacity = default_capacity) : tx_(make(capacity)) {}

  /// The broadcast carried by a transport between processes (its capacity is the local ring's).
  explicit ServiceChannels(RemoteBroadcast<Event> remote)
      : tx_(std::move(remote.local)),
        publish_(std::move(remote.publish)),
        where_(std::move(remote.where)),
        transport_(std::move(remote.transport)) {}

  /// A receiver of every event sent from now on.
  broadcast::Receiver<Event> subscribe_to_core_event() const { return tx_.subscribe(); }

  /// Sends `event` to every subscriber without waiting; returns how many will see it (0 when
  /// nobody listens: the event is then dropped, which is what a broadcast to nobody means).
  /// Through a transport: hands it over and returns the subscribers of this process (those of
  /// other processes are not counted), or 0 if the transport refused it (it counts it).
  std::size_t send_event_to_all_services(Event event) const {
    if (publish_) return publish_(std::move(event)) ? 0 : tx_.receiver_count();
    auto sent = tx_.send(std::move(event));
    return sent ? *sent : 0;
  }

  /// A sender of the same broadcast, for services that publish events themselves. Through a
  /// transport, its sends reach this process's subscribers only.
  broadcast::Sender<Event> sender() const { return tx_; }

  /// "in-process", or where a transport carries the events.
  const std::string& where() const noexcept { return where_; }

  /// Number of subscribers now.
  std::size_t subscriber_count() const noexcept { return tx_.receiver_count(); }

  /// Events sent so far, and events missed by lagging subscribers so far.
  std::uint64_t sent_count() const noexcept { return tx_.sent_count(); }
  std::uint64_t lagged_count() const noexcept { return tx_.lagged_count(); }

  /// The capacity, rounded up to a power of two.
  std::size_t capacity() const noexcept { return tx_.capacity(); }

 private:
  static broadcast::Sender<Event> make(std::size_t capacity) { return broadcast::channel<Event>(capacity).first; }

  broadcast::Sender<Event> tx_;
  std::function<std::optional<Event>(Event&&)> publish_;  // set when a transport carries the events
  std::string where_ = "in-process";
  std::shared_ptr<void> transport_;
};

}  // namespace swarmsync
