#pragma once
// The Core's events across its processes: when the Core is split over nodes, every process's
// services hear what any of them broadcasts (the Harvester's `JobStatusChanged` reach the
// Logger of `swarmsync-core run`; a restart in a node reaches it as `ServiceRestarted`, which
// names the service, one process's in a core).
//
//     Shared::Options resource;
//     resource.remote_events = core::bridge_core_events(conn, "core", "node-a", logger, troubles).value();
//     auto shared = std::make_shared<Shared>(std::move(resource));
//
// On the core NATS subject `swarmsync:broadcast.<core>.events`, through the transport's
// broadcast bridge (swarmsync/transport/nats/broadcast_bridge.hpp), as JSON (model/
// payload_json.hpp): lossy as the in-process broadcast, a gap upstream reported to subscribers
// as `Lagged(n)`. The events of a process's own life stay in it: `Startup`, `Shutdown` and the
// ticks of its pulse (read elsewhere they would be taken for that process's). A message that
// does not decode is counted in `troubles` and logged with its subject; an event the bridge
// refuses is counted there as lost (it is an observer's event: nothing waits for it).

#include <memory>
#include <spdlog/logger.h>
#include <string>
#include <swarmsync/transport/nats/connection.hpp>

#include "remote/worker_gateway.hpp"
#include "wiring.hpp"

namespace core {

/// The core events of `core` bridged across its processes, for `Shared::Options::remote_events`;
/// `sender` names this process in the events' sender identity. Errors: the subscription could not
/// be made, as a sentence.
swarmsync::Result<swarmsync::RemoteBroadcast<CoreEvent>, std::string> bridge_core_events(
    swarmsync::nats::Connection& conn, const std::string& core, const std::string& sender,
    std::shared_ptr<spdlog::logger> logger, std::shared_ptr<BridgeTroubles> troubles);

}  // namespace core
