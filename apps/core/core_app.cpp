#include "core_app.hpp"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <swarmsync/runtime/supervisor.hpp>
#include <thread>

#include "placement.hpp"
#include "services/dispatcher.hpp"
#include "services/harvester.hpp"
#include "services/hibernator.hpp"
#include "services/logger.hpp"
#include "services/receiver.hpp"
#include "services/scheduler.hpp"
#include "services/task_archive.hpp"
#include "workers/simulated_worker.hpp"
#if SWARMSYNC_CORE_WITH_METRICS
#include <swarmsync/observe/http_exporter.hpp>
#include <swarmsync/observe/snapshot_metrics.hpp>

#include "core_metrics.hpp"
#include "dashboard/dashboard.hpp"
#endif
#if SWARMSYNC_CORE_WITH_NATS
#include <swarmsync/transport/nats/ack_fence.hpp>
#include <swarmsync/transport/nats/bridged_channel.hpp>

#include "model/payload_json.hpp"
#include "remote/core_events.hpp"
#include "remote/nodes.hpp"
#include "remote/state_journals.hpp"
#include "remote/worker_gateway.hpp"
#endif

namespace core {
namespace {

using Supervisor = swarmsync::Supervisor<Shared>;
using Nanos = std::chrono::nanoseconds;

constexpr auto kChannels = kServiceChannels;

// What a process's bridges need: the connection, the core's name, the base of the senders'
// identities, and where their troubles are counted. Without NATS, nothing.
struct NatsSide {
#if SWARMSYNC_CORE_WITH_NATS
  swarmsync::nats::Connection* conn = nullptr;
  std::string core;
  std::string sender = "core";
  std::shared_ptr<BridgeTroubles> troubles;
  // One for every bridge of the process: a message is acknowledged once what its handling sent
  // is published (ack_fence.hpp), so a process killed in between loses nothing.
  std::shared_ptr<swarmsync::nats::AckFence> fence = std::make_shared<swarmsync::nats::AckFence>();
  std::chrono::milliseconds ack_wait{std::chrono::seconds(30)};
  // The process each service of another process runs in, as found at boot ("node a", "the
  // run"): the boot report names where a channel is consumed.
  std::map<std::string, std::string> process_of;
#endif
};

#if SWARMSYNC_CORE_WITH_NATS
// Who runs in `core` (remote/nodes.hpp), with its roster opened into `roster`. A process the
// roster lists and that stays silent is taken as gone, and its entry dropped: with a warning,
// unless it is `self_key` (this process's own name: a node restarted after it was killed).
swarmsync::Result<std::vector<NodeInfo>, std::string> discover(swarmsync::nats::Connection& conn,
                                                               const std::string& core,
                                                               std::chrono::milliseconds wait,
                                                               std::chrono::milliseconds listed_wait,
                                                               const std::string& self_key,
                                                               const std::shared_ptr<spdlog::logger>& logger,
                                                               std::optional<NodeRoster>& roster) {
  using R = swarmsync::Result<std::vector<NodeInfo>, std::string>;
  auto opened = NodeRoster::open(conn, core, logger);
  if (!opened) return R(swarmsync::in_place_error, opened.error().message);
  roster.emplace(std::move(*opened));
  auto found = discover_nodes(conn, core, *roster, wait, listed_wait);
  if (!found) return R(swarmsync::in_place_error, found.error().message);
  for (const auto& key : found->silent) {
    if (logger && key != self_key)
      logger->warn("core: {} is in the roster {} but did not answer in {} ms: taken as gone", key, roster->bucket(),
                   std::max(wait, listed_wait).count());
    roster->drop(key);
  }
  return std::move(found->answers);
}
#endif

// The wiring of a process placed as `placement`: each channel in-process, bridged over
// JetStream (placement.hpp's `route`) or absent; FromWorkers where the Dispatcher runs, with
// NATS. Returns why a bridge could not be made, or nothing.
std::string add_channels(Shared& shared, const Placement& placement, [[maybe_unused]] const NatsSide& nats = {}) {
  std::vector<ChannelType> channels(kChannels.begin(), kChannels.end());
#if SWARMSYNC_CORE_WITH_NATS
  if (nats.conn) channels.push_back(ChannelType::FromWorkers);
#endif
  for (auto c : channels) {
    const Route r = route(c, placement);
    if (r == Route::absent) continue;
    if (r == Route::local) {
      shared.wiring->add_channel(c).value();
      continue;
    }
#if SWARMSYNC_CORE_WITH_NATS
    if (!nats.conn) return "channel " + std::string(to_string(c)) + " crosses processes, and there is no NATS";
    swarmsync::nats::BridgeOptions bridge;
    bridge.consume_here = r == Route::inbound;
    bridge.sender = nats.sender;
    bridge.fence = nats.fence;
    bridge.consumer.ack_wait = nats.ack_wait;
    bridge = reported(
        std::move(bridge), std::string(to_string(c)),
        [logger = shared.logger](const std::string& line) { logger->warn("{}", line); }, nats.troubles);
    auto ends = swarmsync::nats::bridge_channel<EventPayload>(*nats.conn, {nats.core, std::string(to_string(c))}, bridge);
    if (!ends) return ends.error().message;
    const std::string consumer(consumer_of(c));
    if (auto it = nats.process_of.find(consumer); r == Route::outbound && it != nats.process_of.end())
      ends->where = "nats subject " +
                    swarmsync::nats::ChannelAddress{nats.core, std::string(to_string(c))}.subject() +
                    ", consumed by the " + consumer + " in " + it->second;
    shared.wiring->add_channel(c, std::move(*ends)).value();
#else
    return "channel " + std::string(to_string(c)) + " crosses processes: this build has no NATS transport";
#endif
  }
  return {};
}

// The states that outlive service instances, and the faults to inject.
struct Parts {
  std::shared_ptr<ReceiverState> receiver = std::make_shared<ReceiverState>();
  std::shared_ptr<HibernatorState> hibernator = std::make_shared<HibernatorState>();
  std::shared_ptr<SchedulerState> scheduler = std::make_shared<SchedulerState>();
  std::shared_ptr<DispatcherState> dispatcher = std::make_shared<DispatcherState>();
  std::shared_ptr<HarvesterState> harvester = std::make_shared<HarvesterState>();
  std::shared_ptr<TaskArchiveStore> archive = std::make_shared<TaskArchiveStore>();
  std::shared_ptr<LoggerStats> logger = std::make_shared<LoggerStats>();
#if SWARMSYNC_CORE_WITH_NATS
  std::shared_ptr<WorkerGatewayState> gateway;  // with workers in other processes
#endif
  // The Scheduler crashes on its next message while `scheduler_crashes` is set, and counts it.
  std::atomic<bool> scheduler_crashes{false};
  std::atomic<unsigned> scheduler_crashed{0};
};

// A state whose inbox is bridged may be handed a message again (its process was killed before
// acknowledging it): it drops copies of what it holds. In-process inboxes deliver once.
void drop_copies_where_bridged(Parts& parts, const Placement& placement) {
  if (route(ChannelType::ToScheduler, placement) == Route::inbound) parts.scheduler->drop_copies();
  if (route(ChannelType::ToHibernator, placement) == Route::inbound) parts.hibernator->drop_copies();
}

DispatcherOptions dispatcher_options(const CoreOptions& options, const Parts& parts) {
  DispatcherOptions out{options.heartbeat_timeout, std::max(options.heartbeat / 2, std::chrono::milliseconds(5)), {}};
#if SWARMSYNC_CORE_WITH_NATS
  // A remote worker's Register crosses processes when the Scheduler runs elsewhere (the
  // Dispatcher's channel is bridged then): its inbox is the gateway's.
  if (parts.gateway)
    out.inbox_of = [gateway = parts.gateway](WorkerId worker) -> std::optional<mpsc::UnboundedSender<RunJob>> {
      auto inbox = gateway->inbox_of(worker);
      if (!inbox) return std::nullopt;
      return std::move(*inbox);
    };
#else
  (void)parts;
#endif
  return out;
}

Supervisor::Main service_main(std::string_view name, Parts& parts, const CoreOptions& options);

// The faults asked for in CoreOptions, applied at fractions of the run: the worker killed at a
// third, the Scheduler's crashes at 1/(N+1), 2/(N+1), ..., one at a time, the Dispatcher swapped
// at half. A fault is settled once it happened and the Core saw it (the killed worker found lost,
// each crash done); a run that ends by itself waits for that.
class FaultPlan {
 public:
  FaultPlan(const CoreOptions& options, Parts& parts, Supervisor& supervisor,
            const std::vector<std::shared_ptr<WorkerControl>>& workers,
            const mpsc::UnboundedSender<EventPayload>& scheduler)
      : options_(options), parts_(parts), supervisor_(supervisor), workers_(workers), scheduler_(scheduler) {}

  void step(double fraction) {
    if (options_.kill_worker && !killed_ && fraction >= 1.0 / 3) {
      killed_ = true;
      lost_before_ = parts_.dispatcher->lost_now.load(std::memory_order_relaxed);
      if (*options_.kill_worker >= 1 && *options_.kill_worker <= workers_.size())
        workers_[*options_.kill_worker - 1]->kill();
    }
    const unsigned crashes = options_.crash_scheduler;
    if (crashes_asked_ < crashes && parts_.scheduler_crashed.load() == crashes_asked_ &&
        fraction >= static_cast<double>(crashes_asked_ + 1) / (crashes + 1)) {
      ++crashes_asked_;
      parts_.scheduler_crashes.store(true);
      // The crash needs a message to happen on: a credit of nothing, which changes nothing.
      scheduler_.send(Credit{0}).value();
    }
    if (options_.swap_dispatcher && !swap_tried_ && fraction >= 0.5) {
      swap_tried_ = true;
      auto report = supervisor_.replace("dispatcher", service_main("dispatcher", parts_, options_)).get();
      if (report) swap_took_ = report->took;
      else swap_error_ = report.error().message;
    }
  }

  // Every crash asked for happened and the supervisor took it in (a crash at the very end would
  // otherwise race the shutdown, and count as a failure with no restart).
  bool settled() const {
    return kill_seen() && scheduler_restarts() == options_.crash_scheduler &&
           (!options_.swap_dispatcher || swap_tried_);
  }

  std::chrono::nanoseconds swap_took() const { return swap_took_; }

  // Each fault that did not happen as asked, and why, for a run that stopped for `reason`.
  std::vector<std::string> not_applied(const std::string& reason) const {
    std::vector<std::string> notes;
    if (options_.kill_worker && !killed_)
      notes.push_back("worker " + std::to_string(*options_.kill_worker) +
                      " not killed: the run stopped (" + reason + ") before a third of it");
    else if (!kill_seen())
      notes.push_back("worker " + std::to_string(*options_.kill_worker) +
                      " killed, but the run stopped (" + reason + ") before the Dispatcher found it lost");
    if (const unsigned done = parts_.scheduler_crashed.load(); done < options_.crash_scheduler)
      notes.push_back("the Scheduler crashed " + std::to_string(done) + " of " +
                      std::to_string(options_.crash_scheduler) + " times asked: the run stopped (" + reason + ")");
    if (options_.swap_dispatcher && !swap_tried_)
      notes.push_back("the Dispatcher not swapped: the run stopped (" + reason + ") before half of it");
    else if (!swap_error_.empty())
      notes.push_back("the Dispatcher not swapped: " + swap_error_);
    return notes;
  }

 private:
  std::uint64_t scheduler_restarts() const {
    if (options_.crash_scheduler == 0) return 0;
    for (const auto& service : supervisor_.snapshot().services)
      if (service.name == "scheduler") return service.restarts;
    return 0;
  }

  bool kill_seen() const {
    return !options_.kill_worker ||
           (killed_ && parts_.dispatcher->lost_now.load(std::memory_order_relaxed) > lost_before_);
  }

  const CoreOptions& options_;
  Parts& parts_;
  Supervisor& supervisor_;
  const std::vector<std::shared_ptr<WorkerControl>>& workers_;
  const mpsc::UnboundedSender<EventPayload>& scheduler_;
  bool killed_ = false;
  std::uint64_t lost_before_ = 0;
  unsigned crashes_asked_ = 0;
  bool swap_tried_ = false;
  std::chrono::nanoseconds swap_took_{0};
  std::string swap_error_;
};

// A new main of the Core's service `name` (a service of ServiceChannels' wiring), built from
// `parts` and `options`; empty for a name that is not one. Used to declare the services and to
// swap one in place of its running instance (the dashboard's --control).
Supervisor::Main service_main(std::string_view name, Parts& parts, const CoreOptions& options) {
  if (name == "receiver") return receiver(parts.receiver);
  if (name == "hibernator") {
    HibernatorOptions hibernator_options;
    hibernator_options.clock_speed = options.cron_speed;
    return hibernator(parts.hibernator, hibernator_options);
  }
  if (name == "scheduler") {
    auto crash_scheduler = [&parts](const EventPayload&) {
      if (parts.scheduler_crashes.exchange(false)) {
        parts.scheduler_crashed.fetch_add(1);
        throw std::runtime_error("injected Scheduler crash");
      }
    };
    return scheduler(parts.scheduler, crash_scheduler);
  }
  if (name == "dispatcher") return dispatcher(parts.dispatcher, dispatcher_options(options, parts));
  if (name == "harvester")
    return harvester(parts.harvester, HarvesterOptions{options.max_retries, options.retry_backoff, options.retry_backoff_max});
  if (name == "task-archive") return task_archive(parts.archive);
  if (name == "logger") return logger(parts.logger);
#if SWARMSYNC_CORE_WITH_NATS
  if (name == "worker-gateway" && parts.gateway) return worker_gateway(parts.gateway);
#endif
  return {};
}

void declare_services(Supervisor& supervisor, Parts& parts, const CoreOptions& options,
                      const Placement& placement = {}) {
  using swarmsync::RestartPolicy;
  auto main = [&](std::string_view name) { return service_main(name, parts, options); };
  if (placement.here("receiver"))
    supervisor
        .add_service({.name = "receiver",
                    .main = main("receiver"),
                    .produces = {ChannelType::ToScheduler, ChannelType::ToHibernator},
                    .consumes = {ChannelType::Submissions}})
      .value();
  if (placement.here("hibernator"))
    supervisor
        .add_service({.name = "hibernator",
                    .main = main("hibernator"),
                    .produces = {ChannelType::ToScheduler},
                    .consumes = {ChannelType::ToHibernator}})
      .value();
  if (placement.here("scheduler"))
    supervisor
        .add_service({.name = "scheduler",
                    .main = main("scheduler"),
                    .produces = {ChannelType::ToDispatcher},
                    .consumes = {ChannelType::ToScheduler}})
      .value();
  if (placement.here("dispatcher"))
    supervisor
        .add_service({.name = "dispatcher",
                    .main = main("dispatcher"),
                    .produces = {ChannelType::ToScheduler, ChannelType::ToHarvester},
                    .consumes = {ChannelType::ToDispatcher}})
      .value();
  if (placement.here("harvester"))
    supervisor
        .add_service({.name = "harvester",
                    .main = main("harvester"),
                    .produces = {ChannelType::ToHibernator, ChannelType::ToScheduler, ChannelType::HarvesterToArchive},
                    .consumes = {ChannelType::ToHarvester}})
      .value();
  if (placement.here("task-archive"))
    supervisor
        .add_service({.name = "task-archive", .main = main("task-archive"), .consumes = {ChannelType::HarvesterToArchive}})
      .value();
  if (placement.here("logger")) supervisor.add_service({.name = "logger", .main = main("logger")}).value();
#if SWARMSYNC_CORE_WITH_NATS
  if (parts.gateway)
    supervisor
        .add_service({.name = "worker-gateway",
                      .main = main("worker-gateway"),
                      .produces = {ChannelType::ToDispatcher, ChannelType::ToHarvester},
                      .consumes = {ChannelType::FromWorkers}})
        .value();
#endif
  // The workers and the job source are outside the Core: they appear as producers of these.
  if (placement.here("submitter"))
    supervisor
        .add_service({.name = "submitter",
                    .main = [](Context&) -> asio::awaitable<void> { co_return; },
                    .restart = RestartPolicy::temporary,
                    .produces = {ChannelType::Submissions}})
      .value();
  if (placement.here("workers"))
    supervisor
        .add_service({.name = "workers",
                    .main = [](Context&) -> asio::awaitable<void> { co_return; },
                    .restart = RestartPolicy::temporary,
                    .produces = {ChannelType::ToDispatcher, ChannelType::ToHarvester}})
      .value();
}

Nanos percentile(std::vector<Nanos> v, double p) {
  if (v.empty()) return Nanos(0);
  std::sort(v.begin(), v.end());
  const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
}

// Where a finite job not finished was left, in pipeline order: a job in several places counts in
// the last one.
enum class Place {
  submissions,
  hibernator_channel,
  hibernator,
  never_due,
  scheduler_channel,
  scheduler,
  dispatcher_channel,
  dispatcher,
  workers,
  harvester_channel,
  archive_channel,
  count
};

constexpr const char* place_names[] = {"Submissions", "ToHibernator", "hibernator",        "never_due",
                                       "ToScheduler", "scheduler",    "ToDispatcher",      "dispatcher",
                                       "workers",     "ToHarvester",  "HarvesterToArchive"};
static_assert(std::size(place_names) == static_cast<std::size_t>(Place::count));

// What the Core knows of one job once the run is over.
struct JobTally {
  unsigned runs = 1;  // runs to finish; 0: recurring, never finished
  unsigned ok = 0;    // runs archived, done
  unsigned failed = 0;
  std::optional<Place> left;
};

// Counts the jobs of `records` and of the places a stopped Core can hold them in: done, failed,
// left per place. A recurring job never finishes: it counts as left where it is furthest along,
// and its runs are counted apart. Call once no service instance and no worker runs.
void account(Summary& summary, const std::vector<ArchiveRecord>& records, Parts& parts, Shared& shared) {
  std::map<JobId, JobTally> jobs;
  auto tally = [&](const Job& job) -> JobTally& {
    auto& t = jobs[job.id];
    t.runs = job.spec.run_count();  // 0 for a recurring job: never reached
    return t;
  };
  auto seen = [&](const Job& job, Place place) {
    auto& t = tally(job);
    t.left = std::max(t.left.value_or(place), place);
  };
  std::map<JobId, const ArchiveRecord*> last_failure;
  for (const auto& r : records) {
    if (!r.job.spec.finite()) {
      ++(r.ok ? summary.recurring_runs_done : summary.recurring_runs_failed);
      continue;
    }
    auto& t = tally(r.job);
    ++(r.ok ? t.ok : t.failed);
    if (!r.ok) last_failure[r.job.id] = &r;
  }
  for (const auto& job : parts.hibernator->jobs()) seen(job, Place::hibernator);
  for (const auto& job : parts.hibernator->never_due) seen(job, Place::never_due);
  for (const auto& job : parts.scheduler->jobs()) seen(job, Place::scheduler);
  for (const auto& job : parts.dispatcher->pending()) seen(job, Place::dispatcher);
  for (const auto& job : parts.dispatcher->held()) seen(job, Place::workers);
  // A result not harvested yet names its job by number only: the Harvester's expectation has it.
  std::map<std::pair<JobId, std::uint64_t>, Job> expected;
  for (auto& job : parts.harvester->expected_jobs()) expected.emplace(std::make_pair(job.id, job.run), std::move(job));
  std::size_t not_received = 0;  // jobs still in Submissions: not numbered yet
  static constexpr const char* kind_names[] = {"Submit",   "Hibernate", "Ready",  "Credit",  "Dispatch", "Register",
                                               "Heartbeat", "Finished",  "Expect", "Forget",  "Outcome",  "Archive"};
  static_assert(std::size(kind_names) == std::variant_size_v<EventPayload>);
  std::vector<ChannelType> drained(std::begin(kChannels), std::end(kChannels));
  drained.push_back(ChannelType::FromWorkers);  // when there are workers in other processes
  for (auto channel : drained) {
    auto rx = shared.wiring->take_rx(channel, "summary");
    if (!rx) continue;
    std::map<std::size_t, std::size_t> kinds;  // variant index -> count
    while (auto msg = rx->try_recv()) {
      ++kinds[msg->index()];
      if (std::holds_alternative<Submit>(*msg)) {
        ++not_received;
      } else if (auto* h = std::get_if<Hibernate>(&*msg)) {
        seen(h->job, Place::hibernator_channel);
      } else if (auto* r = std::get_if<Ready>(&*msg)) {
        seen(r->job, Place::scheduler_channel);
      } else if (auto* d = std::get_if<Dispatch>(&*msg)) {
        seen(d->job, Place::dispatcher_channel);
      } else if (auto* o = std::get_if<Outcome>(&*msg)) {
        if (auto it = expected.find({o->job, o->run}); it != expected.end()) seen(it->second, Place::harvester_channel);
      } else if (auto* a = std::get_if<Archive>(&*msg)) {
        seen(a->record.job, Place::archive_channel);
      }
    }
    std::size_t in_channel = 0;
    for (const auto& entry : kinds) in_channel += entry.second;
    if (in_channel) summary.unhandled.emplace_back(std::string(to_string(channel)), in_channel);
    for (const auto& [index, count] : kinds) {
      const std::string_view kind = kind_names[index];
      const bool job = kind == "Submit" || kind == "Hibernate" || kind == "Ready" || kind == "Dispatch" ||
                       kind == "Outcome" || kind == "Archive";
      summary.unhandled_kinds.push_back({std::string(to_string(channel)), std::string(kind), count, job});
    }
  }

  std::size_t left_count[static_cast<std::size_t>(Place::count)] = {};
  left_count[static_cast<std::size_t>(Place::submissions)] = not_received;
  for (const auto& entry : jobs) {
    const JobTally& t = entry.second;
    if (t.runs > 0 && t.ok + t.failed >= t.runs) {
      ++(t.failed ? summary.failed : summary.done);
      if (t.failed) {
        const ArchiveRecord& r = *last_failure.at(entry.first);
        summary.failed_jobs.push_back({r.job.spec.name, r.attempts, r.error});
      }
    } else if (t.left) {
      ++left_count[static_cast<std::size_t>(*t.left)];
    }
  }
  for (std::size_t i = 0; i < std::size(left_count); ++i) {
    if (left_count[i]) summary.left.emplace_back(place_names[i], left_count[i]);
    summary.left_total += left_count[i];
  }
  summary.unaccounted = summary.submitted - std::min(summary.submitted, summary.done + summary.failed + summary.left_total);
}

std::string ms(Nanos d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f ms", std::chrono::duration<double, std::milli>(d).count());
  return buf;
}

}  // namespace

swarmsync::BootReport core_wiring() {
  auto shared = std::make_shared<Shared>();
  add_channels(*shared, Placement{});
  asio::io_context ioc;
  Supervisor supervisor(ioc.get_executor(), shared);
  Parts parts;
  declare_services(supervisor, parts, CoreOptions{});
  return supervisor.check_wiring();
}

Summary run_core(std::vector<JobSpec> jobs, const CoreOptions& options_in) {
  Summary summary;
  CoreOptions options = options_in;
  Placement placement;
#if SWARMSYNC_CORE_WITH_NATS
  // Workers in other processes: the connection outlives the wiring's bridges (declared first).
  std::optional<swarmsync::nats::Connection> conn;
  std::vector<NodeInfo> nodes;  // the other processes of this core, as they answered at boot
  std::map<std::string, std::string> process_of;  // service -> "node NAME"
  std::optional<NodeRoster> roster;
  if (!options.nats_url.empty()) {
    swarmsync::nats::ConnectOptions connect_options;
    connect_options.name = "swarmsync-core " + options.core_name;
    auto connected = swarmsync::nats::connect(options.nats_url, connect_options);
    if (!connected) {
      summary.error = "--nats " + options.nats_url + ": " + connected.error().message;
      return summary;
    }
    conn.emplace(std::move(*connected));
    // The nodes of this core run their services; this process runs the rest.
    auto found = discover(*conn, options.core_name, options.node_discovery, options.node_listed_wait, "run.run",
                          options.logger, roster);
    if (!found) {
      summary.error = "--nats " + options.nats_url + ": " + found.error();
      return summary;
    }
    std::map<std::string, std::string> runs_in;  // service -> node
    for (const auto& node : *found) {
      if (node.kind == "run") {
        summary.error = "core '" + options.core_name + "' already has a running `swarmsync-core run` (" + node.name +
                        "); give this one another --core";
        return summary;
      }
      for (const auto& service : node.services) {
        if (auto [it, fresh] = runs_in.emplace(service, node.name); !fresh) {
          summary.error = "the " + service + " of core '" + options.core_name + "' runs in two nodes, " + it->second +
                          " and " + node.name + ": stop one";
          return summary;
        }
        placement.elsewhere.insert(service);
        summary.elsewhere.emplace_back(service, node.name);
        process_of[service] = "node " + node.name;
      }
      nodes.push_back(node);
    }
    auto needs_here = [&](const char* service, const std::string& what) {
      if (placement.here(service)) return true;
      summary.error = what + ": the " + service + " runs in node " + runs_in.at(service) + ", not here";
      return false;
    };
    if (options.kill_worker && !needs_here("dispatcher", "--kill-worker")) return summary;
    if (options.swap_dispatcher && !needs_here("dispatcher", "--swap-dispatcher")) return summary;
    if (options.crash_scheduler && !needs_here("scheduler", "--crash-scheduler")) return summary;
    if (!placement.here("dispatcher")) {
      // Local workers register with a local Dispatcher only.
      if (options.local_workers_required && options.workers > 0) {
        summary.error = "--workers " + std::to_string(options.workers) + ": the dispatcher runs in node " +
                        runs_in.at("dispatcher") + "; workers join it as `swarmsync-core worker` processes";
        return summary;
      }
      options.workers = 0;
    }
  }
#else
  if (!options.nats_url.empty()) {
    summary.error = "this build has no NATS transport (SWARMSYNC_WITH_NATS=OFF)";
    return summary;
  }
#endif
  Shared::Options resource;
  resource.logger = options.logger;
#if SWARMSYNC_CORE_WITH_NATS
  auto troubles = std::make_shared<BridgeTroubles>();
  if (conn && !nodes.empty()) {
    // A Core split across processes: its events reach every process.
    auto events = bridge_core_events(*conn, options.core_name, "core", options.logger, troubles);
    if (!events) {
      summary.error = "--nats " + options.nats_url + ": " + events.error();
      return summary;
    }
    resource.remote_events = std::move(*events);
  }
#endif
  auto shared = std::make_shared<Shared>(std::move(resource));
  asio::io_context ioc(static_cast<int>(std::max(1u, options.threads)));
  Parts parts;
  NatsSide nats;
#if SWARMSYNC_CORE_WITH_NATS
  if (conn) {
    nats.conn = &*conn;
    nats.core = options.core_name;
    nats.sender = "core";
    nats.troubles = troubles;
    nats.ack_wait = options.ack_wait;
    nats.process_of = process_of;
    if (placement.here("dispatcher"))
      parts.gateway =
          std::make_shared<WorkerGatewayState>(*conn, options.core_name, shared->logger, troubles, nats.fence);
    // Each run numbers its jobs apart (a random base), so that what a node still finishes of an
    // earlier run is not taken for this run's.
    std::random_device entropy;
    const JobId base = (static_cast<JobId>(entropy() & 0x7fffffffu) + 1) << 32;
    parts.receiver->next_id.store(base);
    parts.archive->accept_ids(base, base + std::max<std::size_t>(jobs.size(), 1) - 1);
  }
#endif
  if (auto error = add_channels(*shared, placement, nats); !error.empty()) {
    summary.error = "--nats " + options.nats_url + ": " + error;
    return summary;
  }
  drop_copies_where_bridged(parts, placement);
  Supervisor supervisor(ioc.get_executor(), shared,
                        {.intensity = {std::max(10u, options.crash_scheduler * 2 + 5), std::chrono::seconds(10)},
                         .backoff = {std::chrono::milliseconds(1), std::chrono::milliseconds(10)}});
  declare_services(supervisor, parts, options, placement);
#if SWARMSYNC_CORE_WITH_NATS
  // This process answers the nodes too: one that starts later finds the services run here.
  std::optional<NodeResponder> responder;
  NodeRoster::Entry entry;  // leaves the roster however the run ends
  if (conn) {
    NodeInfo self{"run", "run", {}, {}};
    for (const auto& service : supervisor.snapshot().services) self.services.push_back(service.name);
    auto started = NodeResponder::start(*conn, options.core_name, [text = to_json(self)] { return text; });
    if (!started) {
      summary.error = "--nats " + options.nats_url + ": " + started.error().message;
      return summary;
    }
    responder.emplace(std::move(*started));
    entry = roster->enter(self);
  }
#endif

  summary.submitted = jobs.size();
  std::size_t finite = 0;       // jobs that end
  std::size_t finite_runs = 0;  // and their runs
  for (const auto& spec : jobs) {
    finite += spec.finite() ? 1 : 0;
    finite_runs += spec.run_count();
  }
  const bool recurring = finite < jobs.size();

  // The metrics over HTTP, on this io_context: listening before the services start, so that a
  // bad address fails the run before any job is taken.
#if SWARMSYNC_CORE_WITH_METRICS
  std::shared_ptr<swarmsync::observe::HttpExporter> exporter;
  if (!options.http.empty()) {
    auto at = swarmsync::observe::parse_listen_address(options.http);
    if (!at) {
      summary.error = "--http " + at.error();
      return summary;
    }
    auto metrics = std::make_shared<swarmsync::observe::Metrics>();
    metrics->add(std::make_shared<swarmsync::observe::SnapshotCollector>([&supervisor] { return supervisor.snapshot(); }));
    const CoreMetricsSources core_sources{parts.archive, parts.harvester, parts.dispatcher, summary.submitted, finite};
    // The families of the services run elsewhere are the nodes' to serve (node --http).
    CoreMetricsSources served = core_sources;
    if (!placement.here("task-archive")) served.archive = nullptr;
    if (!placement.here("harvester")) served.harvester = nullptr;
    if (!placement.here("dispatcher")) served.dispatcher = nullptr;
    metrics->add(std::make_shared<CoreCollector>(served));
    // The dashboard shows the last log lines: a ring of them beside the logger's own sinks.
    auto ring = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(200);
    ring->set_pattern("%H:%M:%S.%e %l %v");
    shared->logger->sinks().push_back(ring);
    DashboardSources dashboard{[&supervisor] { return supervisor.snapshot(); }, core_sources, ring,
                               [&supervisor] {
                                 return supervisor.finished().wait_for(std::chrono::seconds(0)) ==
                                        std::future_status::ready;
                               },
                               {}};
    std::string token;
    if (options.control) {
      std::random_device entropy;
      char hex[33];
      std::snprintf(hex, sizeof hex, "%08x%08x%08x%08x", entropy(), entropy(), entropy(), entropy());
      token = hex;
      // Answers at once: the restart goes on while the page watches the service's counters.
      auto answer = [](std::future<swarmsync::Result<swarmsync::SwapReport, swarmsync::SupervisorError>> started,
                       const std::string& done, const std::string& going) {
        if (started.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
          auto r = started.get();
          if (!r) return swarmsync::observe::HttpAnswer{409, r.error().message};
          return swarmsync::observe::HttpAnswer{200, done};
        }
        return swarmsync::observe::HttpAnswer{202, going};
      };
      dashboard.restart = [&supervisor, answer](const std::string& service) {
        return answer(supervisor.restart(service), "restarted " + service, "restarting " + service);
      };
      // A swap brings a new instance of the service's code, built as at boot: the running one
      // hands over at its next receive, nothing queued is lost.
      dashboard.swap = [&supervisor, &parts, &options, answer](const std::string& service) {
        auto main = service_main(service, parts, options);
        if (!main) return swarmsync::observe::HttpAnswer{409, "no service named " + service + " to swap"};
        return answer(supervisor.replace(service, std::move(main)), "swapped " + service, "swapping " + service);
      };
    }
    auto started = swarmsync::observe::HttpExporter::start(
        ioc.get_executor(), *at, metrics, dashboard_routes(std::move(dashboard), supervisor.check_wiring().dot(), token));
    if (!started) {
      summary.error = "--http " + started.error();
      return summary;
    }
    exporter = std::move(*started);
    if (options.on_http) {
      std::ostringstream url;
      url << "http://" << exporter->local_endpoint();
      options.on_http(url.str());
    }
    if (options.control && options.on_control) options.on_control(token);
  }
#else
  if (!options.http.empty()) {
    summary.error = "--http: this build has no metrics exporter (SWARMSYNC_WITH_METRICS=OFF)";
    return summary;
  }
#endif
  if (auto started = supervisor.start(); !started) {
    summary.error = started.error().table();
    return summary;
  }
  supervisor.handle_signals();

  // Workers, outside the Core, on their own strands.
  std::vector<std::shared_ptr<WorkerControl>> controls;
  for (unsigned w = 0; w < options.workers; ++w) {
    auto control = std::make_shared<WorkerControl>();
    controls.push_back(control);
    WorkerOptions wo;
    wo.id = w + 1;
    wo.capacity = options.worker_capacity;
    wo.speed = 1.0 + 0.25 * (w % 4);
    wo.failure_rate = options.worker_failure_rate;
    wo.heartbeat = options.heartbeat;
    wo.seed = options.seed + w;
    asio::co_spawn(asio::make_strand(ioc), run_worker(shared, wo, control), asio::detached);
  }
  // The job source.
  auto submissions = shared->wiring->take_tx(ChannelType::Submissions, "submitter").value();
  const auto start = std::chrono::steady_clock::now();
  for (auto& spec : jobs) submissions.send(Submit{std::move(spec)}).value();

  auto guard = asio::make_work_guard(ioc);
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < std::max(1u, options.threads); ++i) threads.emplace_back([&] { ioc.run(); });

  // Watch progress, apply the faults, and end the run. The duration is held to 100 years, so
  // that no time point overflows.
  std::optional<std::chrono::milliseconds> duration = options.duration;
  if (duration) duration = std::min<std::chrono::milliseconds>(*duration, std::chrono::hours(24 * 365 * 100));
  const bool ends_by_itself = !recurring;
  auto nudge = shared->wiring->get_tx(ChannelType::ToScheduler).value();
  FaultPlan faults(options, parts, supervisor, controls, nudge);
  // The nodes' counters: asked for every 250 ms while the run goes on, and at the end; each
  // node's last answer is kept (a node that does not answer in time keeps its earlier counts),
  // and `remote` sums them. A node silent for 2 s counts no reachable worker.
  std::map<std::string, std::uint64_t> remote;
#if SWARMSYNC_CORE_WITH_NATS
  struct Heard {
    std::map<std::string, std::uint64_t> counters;
    std::chrono::steady_clock::time_point at;
  };
  std::map<std::string, Heard> heard;  // by node
  auto last_asked = start;
  auto ask_counters = [&](std::chrono::milliseconds wait) {
    if (nodes.empty()) return;
    std::set<std::string> expected;
    for (const auto& node : nodes) expected.insert(roster_key(node));
    auto answers = ask_nodes(*conn, options.core_name, {}, expected, wait);
    if (!answers) return;
    const auto now = std::chrono::steady_clock::now();
    for (auto& node : *answers)
      if (node.kind == "node") heard[node.name] = Heard{std::move(node.counters), now};
    std::map<std::string, std::uint64_t> sum;
    for (const auto& [name, h] : heard)
      for (const auto& [key, value] : h.counters)
        if (key != "reachable_workers" || now - h.at < std::chrono::seconds(2)) sum[key] += value;
    remote = std::move(sum);
  };
  ask_counters(std::chrono::milliseconds(200));
#endif
  auto reachable_workers = [&]() -> std::size_t {
    if (placement.here("dispatcher")) return parts.dispatcher->reachable_now.load(std::memory_order_relaxed);
    return remote["reachable_workers"];
  };
  std::optional<std::chrono::steady_clock::time_point> no_worker_since;
  bool no_worker_warned = false;
  auto last_progress = start;
  auto progress = [&](std::chrono::steady_clock::time_point now) {
    const auto c = parts.archive->counts();
    Progress p;
    p.jobs = summary.submitted;
    p.finite = finite;
    p.done = c.jobs_done;
    p.failed = c.jobs_failed;
    p.recurring_runs = c.recurring_runs_done + c.recurring_runs_failed;
    p.elapsed = now - start;
    p.duration = duration;
    p.live_workers = reachable_workers();
    p.no_live_worker = no_worker_warned;
    return p;
  };
  while (supervisor.finished().wait_for(std::chrono::milliseconds(2)) != std::future_status::ready) {
    const auto now = std::chrono::steady_clock::now();
#if SWARMSYNC_CORE_WITH_NATS
    if (now - last_asked >= std::chrono::milliseconds(250)) {
      ask_counters(std::chrono::milliseconds(200));
      last_asked = now;
    }
#endif
    const auto counts = parts.archive->counts();
    const std::size_t settled_runs = counts.finite_runs + parts.hibernator->runs_never_due.load() + remote["runs_never_due"];
    const bool jobs_wait = recurring || settled_runs < finite_runs;
    // Faults fire at fractions of the finite jobs' runs, or of the duration when no job ends.
    double fraction = 0.0;
    if (finite_runs) fraction = static_cast<double>(settled_runs) / static_cast<double>(finite_runs);
    else if (duration) fraction = std::chrono::duration<double>(now - start) / *duration;
    faults.step(fraction);

    // With no worker to run them, jobs wait for ever: say so, and end a run that would end by
    // itself.
    if (jobs_wait && reachable_workers() == 0) {
      if (!no_worker_since) no_worker_since = now;
      const std::size_t waiting = finite - counts.jobs_done - counts.jobs_failed + (summary.submitted - finite);
      if (!no_worker_warned && now - *no_worker_since >= options.heartbeat_timeout) {
        no_worker_warned = true;
        shared->logger->warn("core: no live worker; {} job(s) wait to run", waiting);
      }
      if (ends_by_itself && now - *no_worker_since >= options.no_worker_stop && !summary.no_live_worker) {
        summary.no_live_worker = true;
        const auto for_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - *no_worker_since);
        supervisor.request_shutdown("no live worker for " + std::to_string(for_ms.count()) + " ms with " +
                                    std::to_string(waiting) + " job(s) waiting");
      }
    } else if (no_worker_since) {
      if (no_worker_warned) shared->logger->info("core: a worker is live again");
      no_worker_since.reset();
      no_worker_warned = false;
    }
    if (options.on_progress && now - last_progress >= std::chrono::milliseconds(100)) {
      last_progress = now;
      options.on_progress(progress(now));
    }
    // A run that ends by itself ends once every job is done and every fault asked for happened.
    if (ends_by_itself && !jobs_wait && faults.settled()) supervisor.request_shutdown("all jobs done");
    if (duration && now - start >= *duration) supervisor.request_shutdown("duration reached");
  }
  const auto report = supervisor.finished().get();
  const auto end = std::chrono::steady_clock::now();
#if SWARMSYNC_CORE_WITH_NATS
  entry.leave();
  ask_counters(std::chrono::seconds(2));  // the final counts: every node, given time
#endif
  for (auto& c : controls) c->kill();
#if SWARMSYNC_CORE_WITH_METRICS
  if (exporter) exporter->stop();  // before the io_context: no scrape reads a state going away
#endif
  guard.reset();
  ioc.stop();
  for (auto& t : threads) t.join();
  if (options.on_progress) options.on_progress(progress(end));
  summary.swap_took = faults.swap_took();
  summary.faults_not_applied = faults.not_applied(report.reason);

  const auto records = parts.archive->records();
  std::vector<Nanos> to_ready, ready_to_started, run, total;
  for (const auto& r : records) {
    if (r.job.spec.cron) continue;
    to_ready.push_back(r.job.ready_at - r.submitted);
    ready_to_started.push_back(r.started - r.job.ready_at);
    run.push_back(r.finished - r.started);
    total.push_back(r.finished - r.submitted);
  }
  summary.recurring_jobs = summary.submitted - finite;
  account(summary, records, parts, *shared);
  if (!placement.whole()) {
    // Jobs not found here are in a node's service or in a JetStream channel between processes.
    const std::size_t found = summary.done + summary.failed + summary.left_total;
    if (const std::size_t away = summary.submitted - std::min(summary.submitted, found); away > 0) {
      summary.left.emplace_back("other processes", away);
      summary.left_total += away;
    }
    summary.unaccounted = 0;
  }
  summary.archived_twice = parts.archive->duplicates();
  summary.earlier_runs_records = parts.archive->foreign();
  summary.retried = parts.harvester->retried() + remote["retried"];
  summary.unexpected_results = parts.harvester->unexpected() + remote["unexpected"];
  summary.workers_lost = parts.dispatcher->workers_lost() + remote["workers_lost"];
  summary.workers_back = parts.dispatcher->workers_back();
  summary.workers_unreachable = parts.dispatcher->unreachable_workers();
#if SWARMSYNC_CORE_WITH_NATS
  if (conn) {
    Summary::Nats n;
    n.disconnects = conn->disconnects();
    n.reconnects = conn->reconnects();
    n.published_again = troubles->published_again.load(std::memory_order_relaxed);
    n.lost = troubles->lost.load(std::memory_order_relaxed);
    n.undecodable = troubles->undecodable.load(std::memory_order_relaxed);
    n.transport_errors = troubles->transport_errors.load(std::memory_order_relaxed);
    summary.nats = n;
  }
#endif
  summary.seconds = std::chrono::duration<double>(end - start).count();
  summary.jobs_per_second = summary.seconds > 0 ? static_cast<double>(records.size()) / summary.seconds : 0;
  summary.to_ready_p50 = percentile(to_ready, 50);
  summary.to_ready_p99 = percentile(to_ready, 99);
  summary.ready_to_started_p50 = percentile(ready_to_started, 50);
  summary.ready_to_started_p99 = percentile(ready_to_started, 99);
  summary.run_p50 = percentile(run, 50);
  summary.run_p99 = percentile(run, 99);
  summary.total_p50 = percentile(total, 50);
  summary.total_p99 = percentile(total, 99);
  summary.stop_reason = report.reason;
  summary.error = report.error;
  summary.restarts = remote["restarts"];
  for (const auto& s : report.services) {
    summary.restarts += s.restarts;
    summary.swaps += s.swaps;
    if (s.swaps) summary.swap_took = std::max(summary.swap_took, s.last_swap);  // a swap from the dashboard too
    if (s.restarts) summary.service_restarts.emplace_back(s.name, s.restarts);
  }
  if (options.keep_records) summary.records = records;
  return summary;
}

#if SWARMSYNC_CORE_WITH_NATS
int run_node(const NodeOptions& options, std::ostream& out, std::ostream& err, const std::atomic<bool>* stop) {
  const std::string who = "node " + options.name;
  auto fail = [&](const std::string& why, int code = 1) {
    err << "error: " << who << ": " << why << "\n";
    return code;
  };
  if (options.services.empty()) return fail("no service to run", 2);
  swarmsync::nats::ConnectOptions connect_options;
  connect_options.name = "swarmsync-core " + who;
  auto conn = swarmsync::nats::connect(options.nats_url, connect_options);
  if (!conn) return fail("--nats " + options.nats_url + ": " + conn.error().message);
  // A service runs in one process of a core: two would split its channel's messages.
  std::optional<NodeRoster> roster;
  auto found = discover(*conn, options.core_name, options.node_discovery, options.node_listed_wait,
                        "node." + options.name, options.logger, roster);
  if (!found) return fail("--nats " + options.nats_url + ": " + found.error());
  for (const auto& other : *found) {
    if (other.name == options.name && other.kind == "node")
      return fail("another node of core '" + options.core_name + "' is named " + options.name + "; give another --name", 2);
    for (const auto& service : other.services)
      if (options.services.count(service))
        return fail("the " + service + " of core '" + options.core_name + "' already runs in " +
                        (other.kind == "run" ? std::string("the `swarmsync-core run` process") : "node " + other.name),
                    2);
  }

  Placement placement;
  placement.only = options.services;
  auto troubles = std::make_shared<BridgeTroubles>();
  Shared::Options resource;
  resource.logger = options.logger;
  {
    auto events = bridge_core_events(*conn, options.core_name, options.name, options.logger, troubles);
    if (!events) return fail("--nats " + options.nats_url + ": " + events.error());
    resource.remote_events = std::move(*events);
  }
  auto shared = std::make_shared<Shared>(std::move(resource));
  asio::io_context ioc(static_cast<int>(std::max(1u, options.threads)));
  Parts parts;
  NatsSide nats;
  nats.conn = &*conn;
  nats.core = options.core_name;
  nats.sender = options.name;
  nats.troubles = troubles;
  nats.ack_wait = options.ack_wait;
  for (const auto& other : *found)
    for (const auto& service : other.services)
      nats.process_of[service] = other.kind == "run" ? "the run" : "node " + other.name;
  if (placement.here("dispatcher"))
    parts.gateway =
        std::make_shared<WorkerGatewayState>(*conn, options.core_name, shared->logger, troubles, nats.fence);
  // The stateful services' state outlives this process: a node killed with it is followed by
  // one that takes it on (remote/state_journals.hpp).
  std::vector<std::function<std::uint64_t()>> journal_failures;  // changes the server did not take
  auto take_on = [&](const char* service, auto opened, auto& state, const char* what) -> bool {
    if (!opened) {
      err << "error: " << who << ": --nats " << options.nats_url << ": " << opened.error().message << "\n";
      return false;
    }
    auto journal = std::move(*opened);
    if (const auto taken = state.keep_in(journal); taken > 0)
      out << who << ": the " << service << " takes on " << taken << " " << what << " kept in " << journal->bucket()
          << std::endl;
    journal_failures.push_back([journal] { return journal->failures(); });
    return true;
  };
  if (placement.here("harvester") &&
      !take_on("harvester", KvHarvesterJournal::open(*conn, options.core_name, shared->logger, nats.fence),
               *parts.harvester, "expectation(s)"))
    return 1;
  if (placement.here("scheduler") &&
      !take_on("scheduler", KvSchedulerJournal::open(*conn, options.core_name, shared->logger, nats.fence),
               *parts.scheduler, "ready job(s)"))
    return 1;
  if (placement.here("hibernator") &&
      !take_on("hibernator", KvHibernatorJournal::open(*conn, options.core_name, shared->logger, nats.fence),
               *parts.hibernator, "held job(s)"))
    return 1;
  if (placement.here("dispatcher") &&
      !take_on("dispatcher", KvDispatcherJournal::open(*conn, options.core_name, shared->logger, nats.fence),
               *parts.dispatcher, "job(s) placed or waiting for a slot"))
    return 1;
  if (auto error = add_channels(*shared, placement, nats); !error.empty())
    return fail("--nats " + options.nats_url + ": " + error);
  drop_copies_where_bridged(parts, placement);
  CoreOptions as_core;
  as_core.max_retries = options.max_retries;
  as_core.retry_backoff = options.retry_backoff;
  as_core.retry_backoff_max = options.retry_backoff_max;
  as_core.cron_speed = options.cron_speed;
  as_core.heartbeat = options.heartbeat;
  as_core.heartbeat_timeout = options.heartbeat_timeout;
  Supervisor supervisor(ioc.get_executor(), shared,
                        {.intensity = {10, std::chrono::seconds(10)},
                         .backoff = {std::chrono::milliseconds(1), std::chrono::milliseconds(10)}});
  declare_services(supervisor, parts, as_core, placement);
  // The node's own metrics over HTTP: its services and channels, and the Core's families of the
  // services it runs. Listening before the services start: a bad address stops the node first.
#if SWARMSYNC_CORE_WITH_METRICS
  std::shared_ptr<swarmsync::observe::HttpExporter> exporter;
  if (!options.http.empty()) {
    auto at = swarmsync::observe::parse_listen_address(options.http);
    if (!at) return fail("--http " + at.error(), 2);
    auto metrics = std::make_shared<swarmsync::observe::Metrics>();
    metrics->add(std::make_shared<swarmsync::observe::SnapshotCollector>([&supervisor] { return supervisor.snapshot(); }));
    CoreMetricsSources sources;
    sources.whole_run = false;
    if (placement.here("task-archive")) sources.archive = parts.archive;
    if (placement.here("harvester")) sources.harvester = parts.harvester;
    if (placement.here("dispatcher")) sources.dispatcher = parts.dispatcher;
    metrics->add(std::make_shared<CoreCollector>(sources));
    auto started = swarmsync::observe::HttpExporter::start(ioc.get_executor(), *at, metrics);
    if (!started) return fail("--http " + started.error());
    exporter = std::move(*started);
    out << who << ": metrics at http://" << exporter->local_endpoint() << "/metrics" << std::endl;
  }
#else
  if (!options.http.empty()) return fail("--http: this build has no metrics exporter (SWARMSYNC_WITH_METRICS=OFF)", 2);
#endif
  if (auto started = supervisor.start(); !started) return fail("the wiring check failed:\n" + started.error().table());
  supervisor.handle_signals();

  // What the run's process asks for: the services and their counters (relaxed atomics and the
  // supervisor's snapshot, safe from cnats's thread).
  auto describe = [&options, &parts, &supervisor] {
    NodeInfo self{options.name, "node", {options.services.begin(), options.services.end()}, {}};
    auto& c = self.counters;
    if (options.services.count("dispatcher")) {
      c["reachable_workers"] = parts.dispatcher->reachable_now.load(std::memory_order_relaxed);
      c["workers_lost"] = parts.dispatcher->lost_now.load(std::memory_order_relaxed);
    }
    if (options.services.count("harvester")) {
      c["retried"] = parts.harvester->retried();
      c["unexpected"] = parts.harvester->unexpected();
    }
    if (options.services.count("hibernator")) c["runs_never_due"] = parts.hibernator->runs_never_due.load();
    std::uint64_t restarts = 0;
    for (const auto& service : supervisor.snapshot().services) restarts += service.restarts;
    c["restarts"] = restarts;
    return to_json(self);
  };
  std::optional<NodeResponder> responder;
  NodeRoster::Entry entry;  // leaves the roster however the node ends
  if (auto started_responder = NodeResponder::start(*conn, options.core_name, describe); started_responder) {
    responder.emplace(std::move(*started_responder));
    entry = roster->enter(NodeInfo{options.name, "node", {options.services.begin(), options.services.end()}, {}});
  } else {
    err << "error: " << who << ": " << started_responder.error().message << "\n";
    supervisor.request_shutdown("could not answer the other processes");
  }

  auto guard = asio::make_work_guard(ioc);
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < std::max(1u, options.threads); ++i) threads.emplace_back([&] { ioc.run(); });
  {
    std::string list;
    for (const auto& service : options.services) list += (list.empty() ? "" : ", ") + service;
    out << who << ": running " << list << " of core " << options.core_name << " (SIGINT or SIGTERM stops it)"
        << std::endl;
  }
  while (supervisor.finished().wait_for(std::chrono::milliseconds(20)) != std::future_status::ready)
    if (stop && stop->load()) supervisor.request_shutdown("asked to stop");
  const auto report = supervisor.finished().get();
  entry.leave();
  responder.reset();  // answers no more
#if SWARMSYNC_CORE_WITH_METRICS
  if (exporter) exporter->stop();  // before the io_context: no scrape reads a state going away
#endif
  guard.reset();
  ioc.stop();
  for (auto& t : threads) t.join();
  std::uint64_t restarts = 0;
  for (const auto& service : report.services) restarts += service.restarts;
  out << who << ": stopped (" << report.reason << "); " << restarts << " restart(s)";
  std::uint64_t not_kept = 0;
  for (const auto& failures : journal_failures) not_kept += failures();
  if (not_kept) out << "; " << not_kept << " change(s) of its state not kept in JetStream (logged)";
  if (!report.error.empty()) out << "; error: " << report.error;
  out << std::endl;
  return report.error.empty() ? 0 : 1;
}
#else
int run_node(const NodeOptions&, std::ostream&, std::ostream& err, const std::atomic<bool>*) {
  err << "error: this build has no NATS transport (SWARMSYNC_WITH_NATS=OFF)\n";
  return 1;
}
#endif

std::string to_text(const Summary& s) {
  std::ostringstream out;
  out << "jobs: " << s.submitted << " submitted, " << s.done << " done, " << s.failed << " failed, " << s.left_total
      << " left, " << s.unaccounted << " unaccounted; " << s.retried << " retried\n";
  if (s.recurring_jobs)
    out << "recurring: " << s.recurring_jobs << " job(s) without end, never done (counted in left where they wait); "
        << "their runs: " << s.recurring_runs_done << " done, " << s.recurring_runs_failed << " failed\n";
  char rate[64];
  std::snprintf(rate, sizeof rate, "%.0f runs/s over %.2f s", s.jobs_per_second, s.seconds);
  out << "throughput: " << rate << "\n";
  out << "latency p50/p99: submitted->ready " << ms(s.to_ready_p50) << " / " << ms(s.to_ready_p99)
      << ", ready->started " << ms(s.ready_to_started_p50) << " / " << ms(s.ready_to_started_p99)
      << ", started->finished " << ms(s.run_p50) << " / " << ms(s.run_p99) << ", total " << ms(s.total_p50) << " / "
      << ms(s.total_p99) << "\n";
  out << "faults survived: " << s.restarts << " restart(s)";
  for (const auto& [name, n] : s.service_restarts) out << " [" << name << " " << n << "]";
  out << ", " << s.workers_lost << " worker(s) lost";
  if (s.workers_back) out << " (" << s.workers_back << " back)";
  if (!s.workers_unreachable.empty()) {
    out << " [unreachable at the end:";
    for (const auto id : s.workers_unreachable) out << " " << id;
    out << "]";
  }
  out << ", " << s.swaps << " swap(s)";
  if (s.swaps) out << " (took " << ms(s.swap_took) << ")";
  out << ", " << s.unexpected_results << " late result(s) ignored\n";
  for (const auto& note : s.faults_not_applied) out << "fault not applied as asked: " << note << "\n";
  if (!s.elsewhere.empty()) {
    out << "services in other processes:";
    for (std::size_t i = 0; i < s.elsewhere.size(); ++i)
      out << (i ? ", " : " ") << s.elsewhere[i].first << " (node " << s.elsewhere[i].second << ")";
    out << "\n";
  }
  if (s.archived_twice || s.earlier_runs_records)
    out << "archive: " << s.archived_twice << " record(s) of a job run already archived, " << s.earlier_runs_records
        << " of an earlier run, dropped\n";
  if (s.nats)
    out << "nats: " << s.nats->disconnects << " disconnect(s), " << s.nats->reconnects << " reconnect(s), "
        << s.nats->published_again << " value(s) published again, " << s.nats->lost << " lost, "
        << s.nats->undecodable << " undecodable, " << s.nats->transport_errors << " transport error(s)\n";
  if (!s.left.empty()) {
    out << "left, not done when the run stopped:";
    for (std::size_t i = 0; i < s.left.size(); ++i)
      out << (i ? ", " : " ") << s.left[i].first << " " << s.left[i].second;
    out << "\n";
  }
  for (const auto& [channel, n] : s.unhandled) {
    out << "unhandled on " << channel << ": " << n;
    std::string kinds;
    bool any_job = false;
    for (const auto& k : s.unhandled_kinds) {
      if (k.channel != channel) continue;
      kinds += (kinds.empty() ? "" : ", ") + k.kind + " " + std::to_string(k.count);
      any_job = any_job || k.job;
    }
    if (!kinds.empty()) out << " (" << kinds << (any_job ? "; the jobs among them are counted in left" : "; no job") << ")";
    out << "\n";
  }
  if (!s.failed_jobs.empty()) {
    constexpr std::size_t shown = 20;
    out << "failed jobs (" << s.failed_jobs.size() << "):\n";
    for (std::size_t i = 0; i < s.failed_jobs.size() && i < shown; ++i) {
      const auto& f = s.failed_jobs[i];
      out << "  " << f.name << ": " << f.attempts << " attempt(s), last error: " << f.error << "\n";
    }
    if (s.failed_jobs.size() > shown)
      out << "  ... and " << s.failed_jobs.size() - shown << " more (--json lists them all)\n";
  }
  out << "stopped: " << s.stop_reason << "\n";
  if (!s.error.empty()) out << "error: " << s.error << "\n";
  return out.str();
}

std::string to_json(const Summary& s) {
  auto ns = [](Nanos d) { return std::to_string(d.count()); };
  auto quote = [](const std::string& text) {
    std::string q = "\"";
    for (char c : text) {
      if (c == '"' || c == '\\') q += '\\';
      q += static_cast<unsigned char>(c) < 0x20 ? ' ' : c;
    }
    return q + "\"";
  };
  std::ostringstream out;
  out << "{\"submitted\":" << s.submitted << ",\"done\":" << s.done << ",\"failed\":" << s.failed
      << ",\"left_total\":" << s.left_total << ",\"retried\":" << s.retried << ",\"unaccounted\":" << s.unaccounted
      << ",\"recurring_jobs\":" << s.recurring_jobs << ",\"recurring_runs_done\":" << s.recurring_runs_done
      << ",\"recurring_runs_failed\":" << s.recurring_runs_failed
      << ",\"no_live_worker\":" << (s.no_live_worker ? "true" : "false")
      << ",\"unexpected_results\":" << s.unexpected_results
      << ",\"workers_lost\":" << s.workers_lost << ",\"workers_back\":" << s.workers_back << ",\"workers_unreachable\":[";
  for (std::size_t i = 0; i < s.workers_unreachable.size(); ++i) out << (i ? "," : "") << s.workers_unreachable[i];
  out << "],\"elsewhere\":{";
  for (std::size_t i = 0; i < s.elsewhere.size(); ++i)
    out << (i ? "," : "") << quote(s.elsewhere[i].first) << ":" << quote(s.elsewhere[i].second);
  out << "},\"archived_twice\":" << s.archived_twice << ",\"earlier_runs_records\":" << s.earlier_runs_records;
  out << ",\"restarts\":" << s.restarts << ",\"swaps\":" << s.swaps
      << ",\"swap_took_ns\":" << ns(s.swap_took) << ",\"seconds\":" << s.seconds
      << ",\"jobs_per_second\":" << s.jobs_per_second
      << ",\"latency_ns\":{\"submitted_to_ready\":{\"p50\":" << ns(s.to_ready_p50) << ",\"p99\":" << ns(s.to_ready_p99)
      << "},\"ready_to_started\":{\"p50\":" << ns(s.ready_to_started_p50) << ",\"p99\":" << ns(s.ready_to_started_p99)
      << "},\"started_to_finished\":{\"p50\":" << ns(s.run_p50) << ",\"p99\":" << ns(s.run_p99)
      << "},\"total\":{\"p50\":" << ns(s.total_p50) << ",\"p99\":" << ns(s.total_p99) << "}}"
      << ",\"service_restarts\":{";
  for (std::size_t i = 0; i < s.service_restarts.size(); ++i)
    out << (i ? "," : "") << quote(s.service_restarts[i].first) << ":" << s.service_restarts[i].second;
  out << "},\"left\":{";
  for (std::size_t i = 0; i < s.left.size(); ++i)
    out << (i ? "," : "") << quote(s.left[i].first) << ":" << s.left[i].second;
  out << "},\"unhandled\":{";
  for (std::size_t i = 0; i < s.unhandled.size(); ++i)
    out << (i ? "," : "") << quote(s.unhandled[i].first) << ":" << s.unhandled[i].second;
  out << "},\"unhandled_kinds\":{";
  std::string last;
  for (const auto& k : s.unhandled_kinds) {
    if (k.channel != last) out << (last.empty() ? "" : "},") << quote(k.channel) << ":{";
    else out << ",";
    out << quote(k.kind) << ":" << k.count;
    last = k.channel;
  }
  if (!last.empty()) out << "}";
  out << "},\"failed_jobs\":[";
  for (std::size_t i = 0; i < s.failed_jobs.size(); ++i) {
    const auto& f = s.failed_jobs[i];
    out << (i ? "," : "") << "{\"name\":" << quote(f.name) << ",\"attempts\":" << f.attempts
        << ",\"error\":" << quote(f.error) << "}";
  }
  out << "],\"faults_not_applied\":[";
  for (std::size_t i = 0; i < s.faults_not_applied.size(); ++i) out << (i ? "," : "") << quote(s.faults_not_applied[i]);
  out << "],\"nats\":";
  if (s.nats)
    out << "{\"disconnects\":" << s.nats->disconnects << ",\"reconnects\":" << s.nats->reconnects
        << ",\"published_again\":" << s.nats->published_again << ",\"lost\":" << s.nats->lost
        << ",\"undecodable\":" << s.nats->undecodable << ",\"transport_errors\":" << s.nats->transport_errors << "}";
  else
    out << "null";
  out << ",\"stop_reason\":" << quote(s.stop_reason) << ",\"error\":" << quote(s.error) << "}";
  return out.str();
}

}  // namespace core
