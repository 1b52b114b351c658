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
// The channel stays open as long as the `ServiceChannels` lives, whoever subscribes or leaves.
// Thread safety: every member may be called from any thread.

#include "swarmsync/channels/broadcast.hpp"

#include <cstddef>
#include <utility>

namespace swarmsync {

/// The broadcast of `Event`s to every service.
template <class Event>
class ServiceChannels {
 public:
  /// The capacity of the seed's core-event channel.
  static constexpr std::size_t default_capacity = 16;

  /// Creates the broadcast holding the last `capacity` events (rounded up to a power of two).
  explicit ServiceChannels(std::size_t capacity = default_capacity) : tx_(make(capacity)) {}

  /// A receiver of every event sent from now on.
  broadcast::Receiver<Event> subscribe_to_core_event() const { return tx_.subscribe(); }

  /// Sends `event` to every subscriber without waiting; returns how many will see it (0 when
  /// nobody listens: the event is then dropped, which is what a broadcast to nobody means).
  std::size_t send_event_to_all_services(Event event) const {
    auto sent = tx_.send(std::move(event));
    return sent ? *sent : 0;
  }

  /// A sender of the same broadcast, for services that publish events themselves.
  broadcast::Sender<Event> sender() const { return tx_; }

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
};

}  // namespace swarmsync
