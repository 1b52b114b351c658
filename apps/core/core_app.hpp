#pragma once
// The SwarmSync Core assembled: its services under a supervisor, simulated workers, a workload
// submitted, and the summary once every job is accounted for.
//
//     core::CoreOptions options;
//     options.workers = 4;
//     auto summary = core::run_core(core::generate_workload({.jobs = 2000}), options);
//     std::cout << core::to_text(summary);

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <swarmsync/runtime/boot_report.hpp>
#include <vector>

#include "model/job.hpp"
#include "wiring.hpp"

namespace core {

/// Progress, reported while the Core runs, counted as the summary counts jobs.
struct Progress {
  std::size_t jobs = 0;    ///< submitted
  std::size_t finite = 0;  ///< of them, the jobs that end (all but the recurring cron jobs)
  std::size_t done = 0;    ///< finite jobs finished with every run done
  std::size_t failed = 0;  ///< finite jobs finished with a run failed after its retries
  std::size_t recurring_runs = 0;  ///< runs of recurring jobs finished
  std::chrono::nanoseconds elapsed{0};
  std::optional<std::chrono::milliseconds> duration;  ///< the run's bound, if any
  std::size_t live_workers = 0;
  bool no_live_worker = false;  ///< no worker has been reachable for a while, and jobs wait
};

/// How to run the Core, faults included.
struct CoreOptions {
  unsigned workers = 4;
  unsigned worker_capacity = 4;
  double worker_failure_rate = 0.0;  ///< chance that any attempt fails on a worker
  unsigned max_retries = 3;
  std::chrono::milliseconds retry_backoff{10};        ///< delay before the first retry, doubled for each further one
  std::chrono::milliseconds retry_backoff_max{1000};  ///< the longest delay before a retry
  double cron_speed = 1.0;  ///< cron time runs this many times faster than real time (to try a cron workload)
  std::chrono::milliseconds heartbeat{50};
  std::chrono::milliseconds heartbeat_timeout{400};
  std::optional<std::chrono::milliseconds> duration;  ///< bounds a run (needed with recurring jobs)
  unsigned threads = 2;
  std::uint64_t seed = 1;
  /// A run without recurring jobs stops when no worker has been reachable this long while jobs
  /// wait (`Summary::no_live_worker`); a run with recurring jobs only warns.
  std::chrono::milliseconds no_worker_stop{2000};
  // Faults, each applied as the run progresses: at a fraction of the finite jobs' runs finished
  // (or of `duration` when no job ends). A run that ends by itself ends only once each happened
  // and was seen; a run stopped earlier names those that did not in `Summary::faults_not_applied`.
  std::optional<WorkerId> kill_worker;  ///< this worker dies at a third of the run
  unsigned crash_scheduler = 0;         ///< the Scheduler crashes exactly this many times, at 1/(N+1), 2/(N+1), ...
  bool swap_dispatcher = false;         ///< the Dispatcher is hot-swapped at half of the run
  std::function<void(const Progress&)> on_progress;  ///< called about every 100 ms, and once at the end
  bool keep_records = false;                         ///< return every archived record in the summary
  std::shared_ptr<spdlog::logger> logger;            ///< where the services log; null: nowhere
  /// A NATS server for workers in other processes (`swarmsync-core worker`), e.g.
  /// nats://127.0.0.1:4222; empty: in-process workers only. They join the `workers` local ones.
  std::string nats_url;
  std::string core_name = "core";  ///< names the JetStream stream (`SWARMSYNC_<core>`) and subjects
  /// With `nats_url`: how long to wait for the nodes (`run_node`) of this core to answer before
  /// booting. Every service no node runs runs here; those a node runs do not.
  std::chrono::milliseconds node_discovery{300};
  /// With `nats_url`: how long to wait, past `node_discovery`, for a process the core's roster
  /// lists (remote/nodes.hpp). One that does not answer by then is taken as gone.
  std::chrono::milliseconds node_listed_wait{std::chrono::seconds(3)};
  /// The local `workers` were asked for explicitly: an error if the Dispatcher runs in a node
  /// (local workers register with a local Dispatcher only). Otherwise none are started then.
  bool local_workers_required = false;
  /// With `nats_url`: how long a message taken by a process that died waits in JetStream before
  /// it is delivered again (the consumers' AckWait). The same in every process of a core.
  std::chrono::milliseconds ack_wait{std::chrono::seconds(30)};
  /// Where to serve the metrics (`/metrics`) and the dashboard (`/`, dashboard/dashboard.hpp)
  /// over HTTP (swarmsync/observe/http_exporter.hpp's addresses: `PORT`, `IPv4:PORT`,
  /// `[IPv6]:PORT`); empty: not served. `on_http` is told the base URL (`http://127.0.0.1:9464`)
  /// once it listens.
  std::string http;
  std::function<void(const std::string& url)> on_http;
  /// With `http`: the dashboard offers to restart a service (`POST /api/restart?service=NAME`),
  /// for requests that carry the token `on_control` is told (`Authorization: Bearer TOKEN`) and
  /// come from the dashboard's own origin.
  bool control = false;
  std::function<void(const std::string& token)> on_control;
};

/// A part of the Core in its own process (`swarmsync-core node`): the services named, over NATS.
struct NodeOptions {
  std::string nats_url;
  std::string core_name = "core";
  std::string name = "node";         ///< names the process in the other processes' reports
  std::set<std::string> services;    ///< from kNodeServices (placement.hpp)
  unsigned max_retries = 3;          ///< the Harvester's, as `CoreOptions`
  std::chrono::milliseconds retry_backoff{10};
  std::chrono::milliseconds retry_backoff_max{1000};
  double cron_speed = 1.0;           ///< the Hibernator's
  std::chrono::milliseconds heartbeat{50};  ///< the Dispatcher's silence rule, as `CoreOptions`
  std::chrono::milliseconds heartbeat_timeout{std::chrono::seconds(2)};
  std::chrono::milliseconds node_discovery{300};    ///< as `CoreOptions::node_discovery`
  std::chrono::milliseconds node_listed_wait{std::chrono::seconds(3)};  ///< as `CoreOptions::node_listed_wait`
  std::chrono::milliseconds ack_wait{std::chrono::seconds(30)};  ///< as `CoreOptions::ack_wait`
  unsigned threads = 2;
  std::shared_ptr<spdlog::logger> logger;  ///< where the services log; null: nowhere
  /// Set: serves the node's metrics at `/metrics` there (as `CoreOptions::http`; the families of
  /// the services it runs), and says where on `out`.
  std::string http;
};

/// Runs the services of `options` until SIGINT or SIGTERM (or `stop` becomes true), taking
/// their channels' ends over NATS; the rest of the Core runs in other processes. Writes one line
/// to `out` once it runs and one when it stopped; errors (the server unreachable, a service
/// already run by another process, a failed boot) go to `err`. Returns 0 after a clean stop, 1
/// on an error, 2 when a service is already run elsewhere.
int run_node(const NodeOptions& options, std::ostream& out, std::ostream& err,
             const std::atomic<bool>* stop = nullptr);

/// A finite job that failed: its last failed run after every retry.
struct FailedJob {
  std::string name;
  unsigned attempts = 0;
  std::string error;  ///< the last attempt's error
};

/// What a run did. Every job submitted is done, failed or left: `submitted == done + failed +
/// left_total`, and `unaccounted` (the difference) is 0 unless the Core lost a job. A recurring
/// cron job (one without `runs`) is never done: it is counted in `left` where it waits when the
/// run stops, and its runs are counted in `recurring_runs_done` and `recurring_runs_failed`.
struct Summary {
  std::size_t submitted = 0;
  std::size_t done = 0;        ///< finite jobs whose every run succeeded
  std::size_t failed = 0;      ///< finite jobs with a run that failed after its retries
  std::size_t left_total = 0;  ///< jobs neither done nor failed: the sum of `left`
  std::uint64_t retried = 0;
  std::uint64_t unexpected_results = 0;  ///< late results from lost workers, ignored
  std::size_t unaccounted = 0;           ///< jobs neither done, failed nor left somewhere (must be 0)
  std::size_t recurring_jobs = 0;        ///< jobs submitted without an end (counted in `left`)
  std::uint64_t recurring_runs_done = 0;    ///< runs of recurring jobs that succeeded
  std::uint64_t recurring_runs_failed = 0;  ///< and that failed after their retries
  bool no_live_worker = false;  ///< the run stopped because no worker was left to run the jobs waiting
  std::vector<std::string> faults_not_applied;  ///< faults asked for that did not happen, and why
  std::uint64_t workers_lost = 0;
  std::uint64_t workers_back = 0;  ///< lost workers heard from again and reachable again
  std::vector<WorkerId> workers_unreachable;  ///< lost and not back when the run stopped, by id
  /// With --nats: the connection's outages and the bridges' troubles over the run.
  struct Nats {
    std::uint64_t disconnects = 0;
    std::uint64_t reconnects = 0;
    std::uint64_t published_again = 0;  ///< values not confirmed in time, published again
    std::uint64_t lost = 0;             ///< values that could not be published
    std::uint64_t undecodable = 0;      ///< messages that did not decode, dropped
    std::uint64_t transport_errors = 0;
  };
  std::optional<Nats> nats;
  std::uint64_t restarts = 0;  ///< over every service
  std::uint64_t swaps = 0;
  std::chrono::nanoseconds swap_took{0};  ///< the longest last hot swap of a service
  double seconds = 0;
  double jobs_per_second = 0;  ///< runs finished (a plain job has one, a cron job one per firing) per second
  /// Latency per hop of the jobs without cron, p50 and p99: submitted ->
  /// ready (hibernation, and the earlier attempts and backoff of a retried job), ready -> started
  /// (queue and dispatch), started -> finished (the run on its worker), and submitted -> finished.
  std::chrono::nanoseconds to_ready_p50{0}, to_ready_p99{0};
  std::chrono::nanoseconds ready_to_started_p50{0}, ready_to_started_p99{0};
  std::chrono::nanoseconds run_p50{0}, run_p99{0};
  std::chrono::nanoseconds total_p50{0}, total_p99{0};
  std::string stop_reason;
  std::string error;  ///< set when the Core went down on a failure
  std::vector<std::pair<std::string, std::uint64_t>> service_restarts;
  /// Values left per channel once the Core and the workers stopped (the workers, outside the
  /// Core, may still send after its services stopped).
  std::vector<std::pair<std::string, std::size_t>> unhandled;
  /// The values left per channel, by kind (`Heartbeat`, `Credit`, `Ready`, ...): most are not
  /// jobs (heartbeats, registrations, credits, a worker's `Finished`, the Dispatcher's `Expect`
  /// and `Forget`); the jobs among them (`Submit`, `Hibernate`, `Ready`, `Dispatch`, `Outcome`,
  /// `Archive`) are counted in `left` too.
  struct UnhandledKind {
    std::string channel;
    std::string kind;
    std::size_t count = 0;
    bool job = false;  ///< the kind carries a job
  };
  std::vector<UnhandledKind> unhandled_kinds;
  /// Jobs neither done nor failed when the run stopped (a signal, the duration, recurring jobs),
  /// per place they were left in, in pipeline order: a channel's name (still in it), `hibernator`
  /// (waiting for their time), `never_due` (cron jobs with no firing time left), `scheduler`
  /// (queued), `dispatcher` (waiting for a free slot), `workers` (placed on a worker, result not
  /// in). A job in several places (a cron job with its next run armed while a run is out) counts
  /// once, in the place furthest along. With services in other processes (`elsewhere`), a job
  /// found in none of this process's places is counted in `other processes`: in a node's service
  /// or in a JetStream channel between processes (a node keeps it, and finishes it after the run
  /// stopped; the next run does not count it, as `earlier_runs_records`).
  std::vector<std::pair<std::string, std::size_t>> left;
  /// Services that ran in other processes (`run_node`), with the process's name.
  std::vector<std::pair<std::string, std::string>> elsewhere;
  std::size_t archived_twice = 0;  ///< records of a job run already archived, dropped
  /// Records of jobs of an earlier run (finished by a node after that run stopped), dropped.
  std::size_t earlier_runs_records = 0;
  std::vector<ArchiveRecord> records;  ///< with `keep_records`
  std::vector<FailedJob> failed_jobs;  ///< every failed finite job, in the order they were submitted
};

/// Runs `jobs` on the Core until every finite job is done or failed (a cron job with `runs` once
/// every run is; it failed if one of them did) and every fault asked for happened, the duration
/// passes, a signal arrives, no worker is left to run the jobs waiting (`no_worker_stop`, when no
/// job recurs) or a failure brings the Core down. With `nats_url`, it first asks which nodes of
/// its core are up (`run_node`, for `node_discovery`): the services they run are not run here
/// (placement.hpp), and their counters join the summary; an error if another run of the core is
/// up, if two nodes run one service, or if an option needs a service that runs elsewhere.
Summary run_core(std::vector<JobSpec> jobs, const CoreOptions& options);

/// The Core's boot diagnostics, without running it.
swarmsync::BootReport core_wiring();

/// The summary as text, and as one JSON object.
std::string to_text(const Summary& summary);
std::string to_json(const Summary& summary);

}  // namespace core
