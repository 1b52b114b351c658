#pragma once
// The runtime component (`swarmsync::runtime`: the channels and spdlog): the wiring registry of
// direct channels, the core-event broadcast, the shared resource, pulses, and the supervisor that
// boots, restarts, hot-swaps and shuts services down.
//
//     #include <swarmsync/runtime.hpp>
//     using Shared = swarmsync::SharedResource<swarmsync::CoreEventOf<>, ChannelType, Payload>;
//     swarmsync::Supervisor<Shared> supervisor(ioc.get_executor(), std::make_shared<Shared>());

#include "swarmsync/channels.hpp"
#include "swarmsync/runtime/boot_report.hpp"
#include "swarmsync/runtime/core_event.hpp"
#include "swarmsync/runtime/log_record.hpp"
#include "swarmsync/runtime/pulses.hpp"
#include "swarmsync/runtime/service_context.hpp"
#include "swarmsync/runtime/shared_resource.hpp"
#include "swarmsync/runtime/snapshot.hpp"
#include "swarmsync/runtime/strand.hpp"
#include "swarmsync/runtime/supervision.hpp"
#include "swarmsync/runtime/supervisor.hpp"
#include "swarmsync/wiring/names.hpp"
#include "swarmsync/wiring/service_channels.hpp"
#include "swarmsync/wiring/service_wiring.hpp"
