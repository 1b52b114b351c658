#pragma once
// Where the Core's services run: all in one process, or some of them in nodes
// (`swarmsync-core node`), the rest in the process that runs the workload (`swarmsync-core run`).
//
//     core::Placement placement{.elsewhere = {"scheduler", "dispatcher"}};
//     for (auto c : core::kAllChannels)
//       switch (core::route(c, placement)) { ... }   // local, inbound, outbound or absent here
//
// The services a node may run are the four in the middle of the pipeline (`kNodeServices`); the
// Receiver, the TaskArchive and the Logger stay with the run: they are where jobs come in and
// where their outcomes are counted. The workers go with the Dispatcher: local simulated workers
// only where it runs, and the gateway of workers in other processes (`FromWorkers`) beside it.
//
// A channel is local when its consumer and every producer run here; bridged over JetStream when
// its consumer runs here and a producer elsewhere (inbound), or its consumer elsewhere and a
// producer here (outbound); absent when neither end runs here. Every process decides the same way
// from the same placement, so the two sides of a channel agree.

#include <array>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "model/cron.hpp"
#include "wiring.hpp"

namespace core {

/// The services a node may run, by the names the supervisor knows them by.
inline constexpr std::array<std::string_view, 4> kNodeServices = {"hibernator", "scheduler", "dispatcher",
                                                                  "harvester"};

/// The channels of the wiring between services (FromWorkers, the remote workers' door, aside).
inline constexpr std::array<ChannelType, 6> kServiceChannels = {
    ChannelType::Submissions, ChannelType::ToHibernator,       ChannelType::ToScheduler,
    ChannelType::ToDispatcher, ChannelType::ToHarvester, ChannelType::HarvesterToArchive};

/// Which services run here. Plain value. The run's process names what nodes run (`elsewhere`);
/// a node names what it runs (`only`).
struct Placement {
  std::set<std::string> elsewhere;             ///< names from kNodeServices run by other processes
  std::optional<std::set<std::string>> only;   ///< a node: only these run here

  /// True if `service` runs in this process. The job source ("submitter") goes with the
  /// Receiver, the workers ("workers", "worker-gateway") with the Dispatcher.
  bool here(std::string_view service) const;
  /// True if every service runs here.
  bool whole() const noexcept { return !only && elsewhere.empty(); }
};

/// The service that consumes `channel`, and those that produce on it.
std::string_view consumer_of(ChannelType channel);
std::vector<std::string_view> producers_of(ChannelType channel);

/// How `channel` exists in a process placed as `placement`.
enum class Route {
  local,     ///< an in-process channel
  inbound,   ///< over JetStream, consumed here
  outbound,  ///< over JetStream, consumed elsewhere
  absent,    ///< no end of it here
};
Route route(ChannelType channel, const Placement& placement);

/// The services named in `list` ("Scheduler,dispatcher": commas, any case), checked: each must
/// be in kNodeServices, once. An error names what is wrong.
InputResult<std::set<std::string>> parse_services(std::string_view list);

}  // namespace core
