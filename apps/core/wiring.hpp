#pragma once
// The Core's wiring: the channels between its services, what travels on them, and the events
// every service hears. Each service has one inbox; the channel names say who sends to whom.
//
//   Submissions -> Receiver -> ToHibernator -> Hibernator ---------+
//                     |                                             v
//                     +------------------------------------> ToScheduler -> Scheduler
//   Harvester (retries, held for their backoff) -----------> ToHibernator
//   Harvester (retries without backoff), Dispatcher (requeues, credits) ---> ToScheduler
//   Scheduler, Workers (register, heartbeats, finished) ---> ToDispatcher -> Dispatcher -> worker inboxes
//   Dispatcher (expectations), Workers (results) ----------> ToHarvester -> Harvester
//   Harvester ---------------------------------------------> HarvesterToArchive -> TaskArchive
//   Harvester broadcasts JobStatusChanged on the core events; the Logger hears every core event.
//   With workers in other processes (NATS): their messages come on FromWorkers to the
//   worker gateway, which hands them to ToDispatcher and ToHarvester, and each worker's jobs go
//   out on a JetStream subject of its own.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <swarmsync/channels/mpsc.hpp>
#include <swarmsync/runtime/core_event.hpp>
#include <swarmsync/runtime/service_context.hpp>
#include <swarmsync/runtime/shared_resource.hpp>
#include <variant>
#include <vector>

#include "model/job.hpp"

namespace core {

namespace asio = boost::asio;
namespace mpsc = swarmsync::mpsc;

/// The direct channels of the Core.
enum class ChannelType {
  Submissions,         ///< the outside world -> Receiver
  ToHibernator,        ///< delayed and cron jobs (Receiver), retries (Harvester), held until their time
  ToScheduler,         ///< ready jobs and dispatch credits
  ToDispatcher,        ///< chosen jobs (Scheduler); registrations and heartbeats (workers)
  ToHarvester,         ///< expectations and forgettings (Dispatcher); results (workers)
  HarvesterToArchive,  ///< final outcomes
  FromWorkers,         ///< registrations, heartbeats and results of workers in other processes (over NATS)
};

constexpr std::string_view to_string(ChannelType c) {
  switch (c) {
    case ChannelType::Submissions:
      return "Submissions";
    case ChannelType::ToHibernator:
      return "ToHibernator";
    case ChannelType::ToScheduler:
      return "ToScheduler";
    case ChannelType::ToDispatcher:
      return "ToDispatcher";
    case ChannelType::ToHarvester:
      return "ToHarvester";
    case ChannelType::HarvesterToArchive:
      return "HarvesterToArchive";
    case ChannelType::FromWorkers:
      return "FromWorkers";
  }
  return "?";
}

using WorkerId = std::uint32_t;

/// What a worker is told to do (Dispatcher -> worker inbox, outside the wiring).
struct RunJob {
  Job job;
};

/// A job submitted to the Core.
struct Submit {
  JobSpec spec;
};
/// A job to hold until its time (-> Hibernator): `until` if set (a retry's backoff; it fires
/// once), else its delay or its cron expression.
struct Hibernate {
  Job job;
  std::optional<std::chrono::steady_clock::time_point> until;
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
/// A worker introduces itself (worker -> Dispatcher): where to send its jobs, and how many it
/// takes at once.
struct Register {
  WorkerId worker = 0;
  unsigned capacity = 1;
  mpsc::UnboundedSender<RunJob> inbox;
  /// Made by the worker gateway from a heartbeat (a worker this process had not heard register):
  /// the worker did not start over, and the jobs a Dispatcher knows it holds are still its own.
  bool resumed = false;
};
/// A worker is alive and runs `in_flight` jobs (worker -> Dispatcher), sent periodically.
struct Heartbeat {
  WorkerId worker = 0;
  unsigned in_flight = 0;
  unsigned capacity = 0;  ///< its slots, as in its Register: a Core that missed that can take it on
};
/// A worker finished a job, well or not, and has a free slot again (worker -> Dispatcher).
/// `placement` is the job's, as the worker received it.
struct Finished {
  WorkerId worker = 0;
  JobId job = 0;
  std::uint64_t run = 0;
  std::uint64_t placement = 0;
};
/// The Dispatcher placed `job` (with its `placement` number) on `worker`: the Harvester should
/// expect its result.
struct Expect {
  Job job;
  WorkerId worker = 0;
};
/// The Dispatcher took placement `placement` of `job` back from `worker`: a late result of that
/// placement must be ignored.
struct Forget {
  JobId job = 0;
  std::uint64_t run = 0;
  WorkerId worker = 0;
  std::uint64_t placement = 0;
};
/// A worker finished a job (worker -> Harvester). `placement` is the job's, as the worker
/// received it.
struct Outcome {
  JobId job = 0;
  std::uint64_t run = 0;
  unsigned attempt = 0;
  WorkerId worker = 0;
  bool ok = true;
  std::string error;  ///< when not ok
  std::chrono::steady_clock::time_point started{};
  std::chrono::steady_clock::time_point finished{};
  std::uint64_t placement = 0;
};

/// Where a job's final outcome is kept (Harvester -> TaskArchive).
struct ArchiveRecord {
  Job job;  ///< as last attempted
  bool ok = true;
  unsigned attempts = 1;
  WorkerId worker = 0;
  std::string error;
  std::chrono::steady_clock::time_point submitted{};
  std::chrono::steady_clock::time_point started{};  ///< when the last attempt started on its worker
  std::chrono::steady_clock::time_point finished{};
};
struct Archive {
  ArchiveRecord record;
};

/// What travels on the Core's direct channels.
using EventPayload = std::variant<Submit, Hibernate, Ready, Credit, Dispatch, Register, Heartbeat, Finished, Expect,
                                  Forget, Outcome, Archive>;

/// A job run changed status (broadcast on the core events; lossy, for observers).
struct JobStatusChanged {
  JobId job = 0;
  std::uint64_t run = 0;
  JobStatus status = JobStatus::submitted;
  unsigned attempt = 0;
};

/// What every service hears.
using CoreEvent = swarmsync::CoreEventOf<JobStatusChanged>;

using Shared = swarmsync::SharedResource<CoreEvent, ChannelType, EventPayload>;
using Context = swarmsync::ServiceContext<Shared>;
using Service = std::function<asio::awaitable<void>(Context&)>;

/// Called before each message is handled; may throw to simulate a crash.
using FaultHook = std::function<void(const EventPayload&)>;

}  // namespace core
