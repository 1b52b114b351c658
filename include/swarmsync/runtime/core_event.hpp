#pragma once
// The events the runtime broadcasts to every service, and how an application adds its own.
//
//     struct JobStatusChanged { std::uint64_t job; Status status; };
//     using CoreEvent = swarmsync::CoreEventOf<JobStatusChanged>;   // a std::variant
//     channels.send_event_to_all_services(swarmsync::Startup{});
//     if (auto* s = std::get_if<JobStatusChanged>(&event)) ...

#include <chrono>
#include <cstdint>
#include <string>
#include <variant>

namespace swarmsync {

/// Broadcast once every service has been started.
struct Startup {};

/// Broadcast when an orderly shutdown begins; `reason` says why (a signal, the API, an error).
struct Shutdown {
  std::string reason = {};
};

/// Broadcast after the supervisor restarted or swapped a service.
struct ServiceRestarted {
  std::string service = {};
  std::uint64_t restarts = 0;  ///< restarts of this service so far
  bool swapped = false;        ///< true for a hot swap to a new implementation
  std::string error = {};      ///< why the instance failed; empty for a swap or a clean exit
  /// Messages the failed instance had in hand, lost with it (0 or 1: see ServiceContext).
  std::uint64_t lost_in_hand = 0;
};

/// The rates of the pulse broadcaster.
enum class PulseRate { slow, medium, fast };

constexpr const char* to_string(PulseRate r) {
  return r == PulseRate::slow ? "slow" : r == PulseRate::medium ? "medium" : "fast";
}

/// One tick of a pulse: the n-th tick of that rate since the start.
struct Tick {
  PulseRate rate = PulseRate::slow;
  std::uint64_t n = 0;
};

/// The core event type: the runtime's events plus the application's own.
template <class... AppEvents>
using CoreEventOf = std::variant<Startup, Shutdown, ServiceRestarted, Tick, AppEvents...>;

}  // namespace swarmsync
