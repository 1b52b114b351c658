#pragma once
// The Core's own metrics, beside the supervisor's (swarmsync/observe/snapshot_metrics.hpp), read
// at each scrape from the states the services keep:
//
//     metrics->add(std::make_shared<core::CoreCollector>(sources));
//
//   swarmsync_core_jobs_submitted_total                 counter  jobs handed to the Core
//   swarmsync_core_jobs_finished_total{outcome}         counter  jobs done or failed (after their retries)
//   swarmsync_core_jobs_unfinished                      gauge    finite jobs neither done nor failed yet
//   swarmsync_core_jobs_running                         gauge    job runs placed on a worker, result awaited
//   swarmsync_core_retries_total                        counter  failed attempts sent back for a retry
//   swarmsync_core_late_results_total                   counter  results nothing expected (a placement taken back)
//   swarmsync_core_workers_reachable                    gauge    workers heard from within the silence rule
//   swarmsync_core_workers_lost_total                   counter  workers found silent
//   swarmsync_core_worker_capacity{worker}              gauge    job slots it registered
//   swarmsync_core_worker_load{worker}                  gauge    jobs placed on it, not finished
//   swarmsync_core_worker_last_heartbeat_timestamp_seconds{worker}  gauge  when it was last heard from
//   swarmsync_core_worker_reachable{worker}             gauge    1 while reachable, else 0
//   swarmsync_core_latency_seconds{hop}                 histogram per hop of a job without cron:
//                                                                submitted_to_ready, ready_to_started,
//                                                                started_to_finished
//
// The worker table is the Dispatcher's as of its last silence check (every 100 ms by default).
// The counts of the Harvester and the Dispatcher are this process's: where they run in a node
// (`swarmsync-core node --http`), that node serves them, and the run's are zero.
//
// Thread safety: `Collect` from any thread (relaxed atomics and the archive's lock).

#include <cstdint>
#include <memory>
#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <vector>

#include "services/dispatcher.hpp"
#include "services/harvester.hpp"
#include "services/task_archive.hpp"

namespace core {

/// Where the Core's metrics are read from. A null state leaves out the families read from it
/// (a node serves those of the services it runs).
struct CoreMetricsSources {
  std::shared_ptr<const TaskArchiveStore> archive;      ///< finished jobs, latencies
  std::shared_ptr<const HarvesterState> harvester;      ///< running, retries, late results
  std::shared_ptr<const DispatcherState> dispatcher;    ///< workers and the worker table
  std::uint64_t submitted = 0;  ///< jobs handed to the Core
  std::uint64_t finite = 0;     ///< of which end (not recurring)
  /// The process that hands the jobs in (`run`): it serves `submitted` and `unfinished`.
  bool whole_run = true;
};

/// The families above, from `sources`.
class CoreCollector : public prometheus::Collectable {
 public:
  explicit CoreCollector(CoreMetricsSources sources) : sources_(std::move(sources)) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  CoreMetricsSources sources_;
};

}  // namespace core
