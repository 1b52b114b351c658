#pragma once
// Slow, medium and fast ticks, each on its own broadcast so that a service subscribes only to the
// rate it needs. The supervisor runs the broadcaster; ticks are conflatable (a lagging subscriber
// just skips some).
//
//     auto fast = shared->pulses->subscribe(swarmsync::PulseRate::fast);
//     while (auto tick = co_await ctx.recv(fast)) flush();

#include "swarmsync/channels/broadcast.hpp"
#include "swarmsync/runtime/core_event.hpp"

#include <array>
#include <chrono>
#include <cstddef>

namespace swarmsync {

/// The periods of the three pulses.
struct PulsePeriods {
  std::chrono::milliseconds slow{1000};
  std::chrono::milliseconds medium{250};
  std::chrono::milliseconds fast{50};
};

/// The three pulse broadcasts. Thread safety: every member may be called from any thread.
class Pulses {
 public:
  explicit Pulses(PulsePeriods periods = {}, std::size_t capacity = 4)
      : periods_(periods),
        senders_{broadcast::channel<Tick>(capacity).first, broadcast::channel<Tick>(capacity).first,
                 broadcast::channel<Tick>(capacity).first} {}

  /// A receiver of the ticks of `rate` from now on.
  broadcast::Receiver<Tick> subscribe(PulseRate rate) const { return sender(rate).subscribe(); }

  /// The sender of `rate` (used by the broadcaster).
  const broadcast::Sender<Tick>& sender(PulseRate rate) const { return senders_[static_cast<std::size_t>(rate)]; }

  /// The period of `rate`.
  std::chrono::milliseconds period(PulseRate rate) const {
    return rate == PulseRate::slow ? periods_.slow : rate == PulseRate::medium ? periods_.medium : periods_.fast;
  }

 private:
  PulsePeriods periods_;
  std::array<broadcast::Sender<Tick>, 3> senders_;
};

}  // namespace swarmsync
