#pragma once
// What every service gets a shared handle of (the seed's `SharedResource`): the core-event
// broadcast, the wiring of direct channels, the pulses, a logger and the configuration.
//
//     using Shared = swarmsync::SharedResource<CoreEvent, ChannelType, EventPayload>;
//     auto shared = std::make_shared<Shared>();
//     shared->wiring->add_channel(ChannelType::SchedulerToDispatcher).value();
//     // in a service:
//     auto dispatcher_rx = shared->wiring->take_rx(ChannelType::SchedulerToDispatcher, "dispatcher");
//     auto global_events = shared->channels->subscribe_to_core_event();
//
// Every member is itself thread-safe; the structure is built before services start and its
// members are not reassigned afterwards.

#include "swarmsync/runtime/pulses.hpp"
#include "swarmsync/wiring/service_channels.hpp"
#include "swarmsync/wiring/service_wiring.hpp"

#include <spdlog/logger.h>
#include <spdlog/sinks/null_sink.h>

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace swarmsync {

/// Settings given to every service: names to values, unless the application brings its own type.
using Settings = std::map<std::string, std::string, std::less<>>;

/// The container handed to every service as a `std::shared_ptr`.
template <class Event, class ChannelType, class Payload, class Config = Settings>
struct SharedResource {
  using event_type = Event;
  using channel_type = ChannelType;
  using payload_type = Payload;
  using config_type = Config;

  /// How to build one.
  struct Options {
    std::size_t event_capacity = ServiceChannels<Event>::default_capacity;
    /// Set, the core events cross processes through a transport (service_channels.hpp), with its
    /// own capacity; `event_capacity` is then unused.
    std::optional<RemoteBroadcast<Event>> remote_events = {};
    PulsePeriods pulse_periods{};
    std::shared_ptr<spdlog::logger> logger = {};  ///< null: a logger that discards everything
    Config config{};
  };

  SharedResource() : SharedResource(Options{}) {}
  explicit SharedResource(Options options)
      : channels(options.remote_events ? std::make_shared<ServiceChannels<Event>>(std::move(*options.remote_events))
                                       : std::make_shared<ServiceChannels<Event>>(options.event_capacity)),
        wiring(std::make_shared<ServiceWiring<ChannelType, Payload>>()),
        pulses(std::make_shared<Pulses>(options.pulse_periods)),
        logger(options.logger ? std::move(options.logger)
                              : std::make_shared<spdlog::logger>("swarmsync", std::make_shared<spdlog::sinks::null_sink_mt>())),
        config(std::move(options.config)) {}

  std::shared_ptr<ServiceChannels<Event>> channels;          ///< the core-event broadcast
  std::shared_ptr<ServiceWiring<ChannelType, Payload>> wiring;  ///< the direct channels
  std::shared_ptr<Pulses> pulses;                           ///< slow, medium and fast ticks
  std::shared_ptr<spdlog::logger> logger;                   ///< where services log
  Config config;                                            ///< read-only once services run
};

}  // namespace swarmsync
