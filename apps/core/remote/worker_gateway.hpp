#pragma once
// The worker gateway: the Core's door for workers in other processes, over NATS JetStream.
//
//     auto gateway = std::make_shared<core::WorkerGatewayState>(conn, "core");
//     supervisor.add_service({.name = "worker-gateway", .main = core::worker_gateway(gateway),
//                             .produces = {ChannelType::ToDispatcher, ChannelType::ToHarvester},
//                             .consumes = {ChannelType::FromWorkers}});
//
// Remote workers (remote_worker.hpp) send their `Register`, `Heartbeat`, `Finished` and
// `Outcome` on the bridged channel `FromWorkers`. The gateway hands each to the service it is
// for (`Outcome` to the Harvester, the rest to the Dispatcher), so the Dispatcher's worker table,
// its silence rule and the Harvester's matching work for remote workers as for local ones. A
// `Register` arrives without an inbox (an in-process channel cannot cross a process): the
// gateway gives it one whose values go out, through an outbound bridge, on the worker's own
// JetStream channel `Worker<id>`, which the worker consumes. The bridges live in the gateway's
// state and outlive its instances; a worker registering again keeps its bridge. A worker that
// outlived an earlier run of the same core registered with that run; this run first hears its
// heartbeat, which carries its capacity: the gateway registers it then, as if it had registered
// (its jobs of the earlier run, if any, finish as results this run does not expect). So does a
// gateway started after a node of the Dispatcher was killed; such a `Register` is `resumed`: the
// Dispatcher keeps the jobs its journal says the worker holds. A message the
// gateway forwarded is handled, and so acknowledged at its next `ctx.recv`.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <spdlog/logger.h>
#include <string>
#include <swarmsync/transport/nats/bridged_channel.hpp>

#include "wiring.hpp"

namespace core {

/// The troubles of the bridges that report to it (see `reported`), counted. Relaxed counts: each
/// is read on its own, for a summary or a metric.
struct BridgeTroubles {
  std::atomic<std::uint64_t> published_again{0};   ///< values not confirmed, published again
  std::atomic<std::uint64_t> lost{0};              ///< values that could not be published
  std::atomic<std::uint64_t> undecodable{0};       ///< messages that did not decode, dropped
  std::atomic<std::uint64_t> transport_errors{0};  ///< fetches and acks that failed
};

/// `options` with every trouble of the bridge reported through `warn`, in a line naming
/// `channel`, and counted in `counts` (if given): values lost or published again, messages that
/// did not decode, fetches and acks that failed. Called on the bridges' threads.
swarmsync::nats::BridgeOptions reported(swarmsync::nats::BridgeOptions options, const std::string& channel,
                                        std::function<void(const std::string&)> warn,
                                        std::shared_ptr<BridgeTroubles> counts = nullptr);

/// The gateway's bridges to remote workers' inboxes, kept across its instances. Thread-safe.
class WorkerGatewayState {
 public:
  /// `logger` hears of the bridges' troubles (see `reported`).
  /// `fence`, if set, is the process's AckFence: the inbox bridges join it.
  WorkerGatewayState(swarmsync::nats::Connection& conn, std::string core, std::shared_ptr<spdlog::logger> logger,
                     std::shared_ptr<BridgeTroubles> troubles = nullptr,
                     std::shared_ptr<swarmsync::nats::AckFence> fence = nullptr)
      : conn_(conn),
        core_(std::move(core)),
        logger_(std::move(logger)),
        troubles_(std::move(troubles)),
        fence_(std::move(fence)) {}

  /// A sender whose values go to `worker`'s JetStream inbox (the bridge made on first use); an
  /// error says why it could not be made.
  swarmsync::Result<mpsc::UnboundedSender<RunJob>, swarmsync::nats::NatsError> inbox_of(WorkerId worker);

  /// True once `worker` has an inbox bridge here (it registered, or was taken on from a heartbeat).
  bool knows(WorkerId worker) const;
  /// The core's name: the JetStream stream and subjects are named after it.
  const std::string& core() const noexcept { return core_; }
  /// Registrations forwarded so far.
  std::size_t remote_workers() const;

 private:
  swarmsync::nats::Connection& conn_;
  const std::string core_;
  std::shared_ptr<spdlog::logger> logger_;
  std::shared_ptr<BridgeTroubles> troubles_;
  std::shared_ptr<swarmsync::nats::AckFence> fence_;
  mutable std::mutex mutex_;
  std::map<WorkerId, swarmsync::nats::BridgedEnds<RunJob>> inboxes_;
};

/// The subject-safe channel name of `worker`'s inbox: `Worker<id>`.
std::string worker_inbox_channel(WorkerId worker);

/// The worker gateway service over `state`.
Service worker_gateway(std::shared_ptr<WorkerGatewayState> state);

}  // namespace core
