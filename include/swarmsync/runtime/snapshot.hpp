#pragma once
// What a running system looks like from outside: its services and channels at one moment, as
// `Supervisor::snapshot()` returns it. Plain values, no Asio, so that a metrics exporter or a
// dashboard can take them without the supervisor's headers.
//
//     swarmsync::Snapshot snap = supervisor.snapshot();
//     for (const auto& s : snap.services) std::cout << s.name << " " << to_string(s.state) << "\n";
//     for (const auto& c : snap.channels) std::cout << c.name << " depth " << c.depth << "\n";
//
// Counts are read without stopping anything: each is exact on its own, and a snapshot's counts
// are not taken at one instant together (a value may be counted sent and not yet received).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace swarmsync {

/// What a service is doing.
enum class ServiceState { declared, running, restarting, stopping, stopped, failed };

constexpr const char* to_string(ServiceState s) {
  switch (s) {
    case ServiceState::declared: return "declared";
    case ServiceState::running: return "running";
    case ServiceState::restarting: return "restarting";
    case ServiceState::stopping: return "stopping";
    case ServiceState::stopped: return "stopped";
    case ServiceState::failed: return "failed";
  }
  return "?";
}

/// Introspection of one service.
struct ServiceInfo {
  std::string name = {};
  ServiceState state = ServiceState::declared;
  std::uint64_t restarts = 0;
  std::uint64_t failures = 0;
  std::uint64_t swaps = 0;
  std::string last_error = {};
  /// Messages lost in hand: taken from a direct channel by an instance that then failed (or was
  /// cancelled) before its next receive. Each failure loses at most one.
  std::uint64_t lost_in_hand = 0;
  /// How long the last hot swap or restart on demand took: from the request to the new instance
  /// started (the old one finishing its message in hand first). Zero before the first.
  std::chrono::nanoseconds last_swap{0};
  /// Core events broadcast that the running instance has not received yet; 0 when none runs or
  /// when it does not read them (never called `ServiceContext::core_events()`).
  std::uint64_t events_behind = 0;
  /// Core events the service's instances missed by lagging behind the broadcast, so far.
  std::uint64_t events_missed = 0;
};

/// Introspection of one wired channel.
struct ChannelInfo {
  std::string name = {};
  std::size_t depth = 0;
  std::uint64_t sent = 0;
  std::uint64_t received = 0;
  std::string tx = {};  ///< holder of the tx end, empty when free
  std::string rx = {};
  std::size_t high_water = 0;  ///< the most values queued at once so far, to within about a block (32)
  std::uint64_t refused = 0;   ///< sends refused so far (their values handed back)
  std::size_t senders = 0;     ///< sender handles alive now, the wiring's own included
  std::size_t receivers = 0;   ///< 1 while the receiver takes values, 0 once it is closed
  std::string where = {};      ///< "in-process", or where a transport carries the values
};

/// A snapshot of the whole system.
struct Snapshot {
  std::vector<ServiceInfo> services = {};
  std::vector<ChannelInfo> channels = {};
  std::uint64_t events_sent = 0;    ///< core events broadcast so far
  std::uint64_t events_lagged = 0;  ///< core events missed by lagging subscribers so far
};

}  // namespace swarmsync
