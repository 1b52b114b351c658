// The whole Core: 10,000 jobs, every one accounted for with its status history, also while a
// worker dies, the Scheduler crashes and the Dispatcher is hot-swapped.

#include "core_app.hpp"
#include "model/workload.hpp"

#include <gtest/gtest.h>

#include <set>

namespace {

using namespace core;

// Every job of the workload has exactly one record, done or failed after its retries, and its
// history starts at submission and ends at its outcome.
void expect_all_accounted(const Summary& s, std::size_t jobs, unsigned max_retries) {
  EXPECT_TRUE(s.error.empty()) << s.error;
  EXPECT_EQ(s.unaccounted, 0u);
  EXPECT_EQ(s.done + s.failed, jobs);
  ASSERT_EQ(s.records.size(), jobs);
  std::set<JobId> ids;
  for (const auto& r : s.records) {
    EXPECT_TRUE(ids.insert(r.job.id).second) << "job " << r.job.id << " archived twice";
    ASSERT_GE(r.job.history.size(), 3u) << "job " << r.job.id;
    EXPECT_EQ(r.job.history.front(), JobStatus::submitted);
    EXPECT_EQ(r.job.history.back(), r.ok ? JobStatus::done : JobStatus::failed);
    if (!r.ok) {
      EXPECT_EQ(r.attempts, max_retries + 1) << "job " << r.job.id;
    }
  }
  EXPECT_EQ(ids.size(), jobs);
}

std::vector<JobSpec> workload(std::size_t n) {
  WorkloadOptions w;
  w.jobs = n;
  w.delayed_share = 0.1;
  w.max_delay = std::chrono::milliseconds(100);
  w.failing_share = 0.05;
  w.max_work = std::chrono::milliseconds(2);
  return generate_workload(w);
}

TEST(CoreEndToEnd, TenThousandJobsAreAllAccountedFor) {
  CoreOptions options;
  options.keep_records = true;
  options.worker_failure_rate = 0.01;
  options.max_retries = 2;
  const auto s = run_core(workload(10'000), options);
  expect_all_accounted(s, 10'000, options.max_retries);
  EXPECT_GE(s.retried, 500u);  // 5% fail their first attempt, 1% of attempts fail at random
}

TEST(CoreEndToEnd, AKilledWorkerAndACrashingSchedulerLoseNothing) {
  CoreOptions options;
  options.keep_records = true;
  options.kill_worker = 2;
  options.crash_scheduler = 3;
  options.heartbeat_timeout = std::chrono::milliseconds(150);
  const auto s = run_core(workload(10'000), options);
  expect_all_accounted(s, 10'000, options.max_retries);
  EXPECT_EQ(s.workers_lost, 1u);
  ASSERT_EQ(s.service_restarts.size(), 1u);
  EXPECT_EQ(s.service_restarts[0].first, "scheduler");
  EXPECT_EQ(s.service_restarts[0].second, 3u);
}

TEST(CoreEndToEnd, AHotSwappedDispatcherLosesNothing) {
  CoreOptions options;
  options.keep_records = true;
  options.swap_dispatcher = true;
  const auto s = run_core(workload(10'000), options);
  expect_all_accounted(s, 10'000, options.max_retries);
  EXPECT_EQ(s.swaps, 1u);
}

}  // namespace
