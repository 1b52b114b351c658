#pragma once
// The Core's wiring: the channels between its services, what travels on them, and the events
// every service hears. Each service has one inbox; the channel names say who sends to whom.

#include "model/job.hpp"

#include <swarmsync/runtime/core_event.hpp>
#include <swarmsync/runtime/service_context.hpp>
#include <swarmsync/runtime/shared_resource.hpp>

#include <string_view>
#include <variant>

namespace core {

namespace asio = boost::asio;

/// The direct channels of the Core.
enum class ChannelType {
  Submissions,          ///< the outside world -> Receiver: jobs submitted
  ReceiverToHibernator, ///< delayed and cron jobs, to hold until their time
  ToScheduler,          ///< ready jobs (Receiver, Hibernator, Harvester retries, Dispatcher requeues) and dispatch credits
  SchedulerToDispatcher,///< the next job to place on a worker
};

constexpr std::string_view to_string(ChannelType c) {
  switch (c) {
    case ChannelType::Submissions: return "Submissions";
    case ChannelType::ReceiverToHibernator: return "ReceiverToHibernator";
    case ChannelType::ToScheduler: return "ToScheduler";
    case ChannelType::SchedulerToDispatcher: return "SchedulerToDispatcher";
  }
  return "?";
}

/// A job submitted to the Core.
struct Submit {
  JobSpec spec;
};
/// A job to hold until its time (Receiver -> Hibernator).
struct Hibernate {
  Job job;
};
/// A job ready to run (-> Scheduler).
struct Ready {
  Job job;
};
/// The Dispatcher can take `slots` more jobs (-> Scheduler).
struct Credit {
  unsigned slots = 0;
};
/// The job the Scheduler chose (Scheduler -> Dispatcher).
struct Dispatch {
  Job job;
};

/// What travels on the Core's direct channels.
using EventPayload = std::variant<Submit, Hibernate, Ready, Credit, Dispatch>;

/// What every service hears.
using CoreEvent = swarmsync::CoreEventOf<>;

using Shared = swarmsync::SharedResource<CoreEvent, ChannelType, EventPayload>;
using Context = swarmsync::ServiceContext<Shared>;

}  // namespace core
