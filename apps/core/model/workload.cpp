#include "model/workload.hpp"

#include <algorithm>
#include <random>
#include <string>

namespace core {

std::vector<JobSpec> generate_workload(const WorkloadOptions& options) {
  std::mt19937_64 rng(options.seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::uniform_int_distribution<int> priority(JobSpec::min_priority, JobSpec::max_priority);
  std::vector<JobSpec> jobs;
  jobs.reserve(options.jobs);
  for (std::size_t i = 0; i < options.jobs; ++i) {
    JobSpec spec;
    spec.name = "job-" + std::to_string(i);
    spec.priority = priority(rng);
    spec.work = std::chrono::milliseconds(std::uniform_int_distribution<long long>(0, options.max_work.count())(rng));
    const double kind = unit(rng);
    if (kind < options.cron_share) {
      spec.cron = CronExpression::parse("* * * * *").value();
    } else if (kind < options.cron_share + options.bounded_cron_share) {
      spec.cron = CronExpression::parse("* * * * *").value();
      spec.runs = std::uniform_int_distribution<unsigned>(1, std::max(1u, options.max_runs))(rng);
    } else if (kind < options.cron_share + options.bounded_cron_share + options.delayed_share) {
      spec.delay = std::chrono::milliseconds(
          std::uniform_int_distribution<long long>(1, std::max<long long>(1, options.max_delay.count()))(rng));
    }
    if (unit(rng) < options.failing_share) spec.fail_attempts = 1;
    jobs.push_back(std::move(spec));
  }
  return jobs;
}

}  // namespace core
