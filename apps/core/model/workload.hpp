#pragma once
// A generated workload: a reproducible mix of immediate, delayed and cron jobs (every minute,
// recurring or with a bounded number of runs) of every priority, some of which fail on their first
// attempts.

#include <cstdint>
#include <vector>

#include "model/job.hpp"

namespace core {

/// How to generate a workload.
struct WorkloadOptions {
  std::size_t jobs = 2000;
  double delayed_share = 0.10;      ///< jobs held for a short delay
  double cron_share = 0.0;          ///< recurring jobs (they never end: bound the run with a duration)
  double bounded_cron_share = 0.0;  ///< cron jobs that fire 1 to `max_runs` times, then are done
  unsigned max_runs = 3;
  double failing_share = 0.05;  ///< jobs whose first attempt fails (retried)
  std::chrono::milliseconds max_delay{200};
  std::chrono::milliseconds max_work{4};
  std::uint64_t seed = 1;
};

/// The same options and seed give the same jobs.
std::vector<JobSpec> generate_workload(const WorkloadOptions& options);

}  // namespace core
