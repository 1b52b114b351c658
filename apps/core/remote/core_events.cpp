#include "remote/core_events.hpp"

#include <swarmsync/transport/nats/broadcast_bridge.hpp>

#include "model/payload_json.hpp"

namespace core {

swarmsync::Result<swarmsync::RemoteBroadcast<CoreEvent>, std::string> bridge_core_events(
    swarmsync::nats::Connection& conn, const std::string& core, const std::string& sender,
    std::shared_ptr<spdlog::logger> logger, std::shared_ptr<BridgeTroubles> troubles) {
  using R = swarmsync::Result<swarmsync::RemoteBroadcast<CoreEvent>, std::string>;
  swarmsync::nats::BroadcastOptions options;
  options.sender = sender;
  options.capacity = Shared::Options{}.event_capacity;
  options.on_undecodable = [logger, troubles](std::string_view subject, std::string_view why) {
    troubles->undecodable.fetch_add(1, std::memory_order_relaxed);
    if (logger) logger->warn("core events: a message on {} did not decode and was dropped: {}", subject, why);
  };
  auto bridged = swarmsync::nats::bridge_broadcast<CoreEvent>(conn, {.core = core, .channel = "events"}, options);
  if (!bridged) return R(swarmsync::in_place_error, "bridge the core events: " + bridged.error().message);
  swarmsync::RemoteBroadcast<CoreEvent> remote = std::move(*bridged);
  // A refused event comes back; nothing waits for it, so it is counted and dropped here. The
  // events of a process's own life (its startup, its shutdown, its pulse's ticks) go to its own
  // subscribers only: elsewhere they would read as the other process's.
  remote.publish = [publish = std::move(remote.publish), local = remote.local, logger,
                    troubles](CoreEvent&& event) -> std::optional<CoreEvent> {
    if (std::holds_alternative<swarmsync::Tick>(event) || std::holds_alternative<swarmsync::Startup>(event) ||
        std::holds_alternative<swarmsync::Shutdown>(event)) {
      (void)local.send(std::move(event));
      return std::nullopt;
    }
    if (auto refused = publish(std::move(event))) {
      troubles->lost.fetch_add(1, std::memory_order_relaxed);
      if (logger) logger->warn("core events: an event could not be published and is dropped");
      return refused;
    }
    return std::nullopt;
  };
  return R(swarmsync::in_place_value, std::move(remote));
}

}  // namespace core
