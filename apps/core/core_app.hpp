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
#include <optional>
#include <string>
#include <swarmsync/runtime/boot_report.hpp>
#include <vector>

#include "model/job.hpp"
#include "wiring.hpp"

namespace core {

/// Progress, reported while the Core runs.
struct Progress {
  std::size_t total = 0;  ///< runs of the jobs that finish (one each, `runs` for a cron job with a bound)
  std::size_t done = 0;
  std::size_t failed = 0;
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
  // Faults, each triggered as the run progresses.
  std::optional<WorkerId> kill_worker;               ///< this worker dies once a third of the jobs are done
  unsigned crash_scheduler = 0;                      ///< the Scheduler crashes this many times, spread over the run
  bool swap_dispatcher = false;                      ///< the Dispatcher is hot-swapped once half of the jobs are done
  std::function<void(const Progress&)> on_progress;  ///< called about every 100 ms
  bool keep_records = false;                         ///< return every archived record in the summary
  std::shared_ptr<spdlog::logger> logger;            ///< where the services log; null: nowhere
};

/// A finite job that failed: its last failed run after every retry.
struct FailedJob {
  std::string name;
  unsigned attempts = 0;
  std::string error;  ///< the last attempt's error
};

/// What a run did.
struct Summary {
  std::size_t submitted = 0;
  std::size_t done = 0;
  std::size_t failed = 0;
  std::uint64_t retried = 0;
  std::uint64_t unexpected_results = 0;  ///< late results from lost workers, ignored
  std::size_t unaccounted = 0;           ///< finite jobs neither done, failed nor left somewhere (must be 0)
  std::uint64_t recurring_runs = 0;      ///< runs of recurring cron jobs that finished
  std::uint64_t workers_lost = 0;
  std::uint64_t restarts = 0;  ///< over every service
  std::uint64_t swaps = 0;
  std::chrono::nanoseconds swap_took{0};
  double seconds = 0;
  double jobs_per_second = 0;
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
  std::vector<std::pair<std::string, std::size_t>> unhandled;  ///< values left per channel
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
  /// Finite jobs neither done nor failed when the run stopped (a signal, the duration), per place
  /// they were left in, in pipeline order: a channel's name (still in it), `hibernator` (waiting
  /// for their time), `never_due` (cron runs with no firing time left), `scheduler` (queued),
  /// `dispatcher` (waiting for a free slot), `workers` (placed on a worker, result not in). A job
  /// in several places (a cron job between runs) counts once, in the place furthest along.
  std::vector<std::pair<std::string, std::size_t>> left;
  std::vector<ArchiveRecord> records;  ///< with `keep_records`
  std::vector<FailedJob> failed_jobs;  ///< every failed finite job, in the order they were submitted
};

/// Runs `jobs` on the Core until every finite job is done or failed (a cron job with `runs` once
/// every run is; it failed if one of them did), the duration passes, a signal arrives or a failure
/// brings the Core down.
Summary run_core(std::vector<JobSpec> jobs, const CoreOptions& options);

/// The Core's boot diagnostics, without running it.
swarmsync::BootReport core_wiring();

/// The summary as text, and as one JSON object.
std::string to_text(const Summary& summary);
std::string to_json(const Summary& summary);

}  // namespace core
