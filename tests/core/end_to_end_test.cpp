// The whole Core: 10,000 jobs, every one accounted for with its status history, also while a
// worker dies, the Scheduler crashes and the Dispatcher is hot-swapped; cron jobs with a bounded
// number of runs end the run by themselves; a run stopped early says where each job was left.

#include "core_app.hpp"
#include "model/workload.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <map>
#include <numeric>
#include <set>

namespace end_to_end_test {

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
  // The killed worker is lost for good. A live worker whose heartbeats were held up (a loaded
  // machine, a sanitizer build) may be lost too, and is then back at its next heartbeat.
  EXPECT_EQ(s.workers_unreachable, std::vector<WorkerId>{2}) << to_text(s);
  EXPECT_GE(s.workers_lost, 1u);
  EXPECT_EQ(s.workers_lost - s.workers_back, 1u) << to_text(s);
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

TEST(CoreEndToEnd, CronJobsWithRunsEndTheRunByThemselves) {
  auto jobs = workload(200);
  std::map<std::string, unsigned> runs;  // by job name
  for (unsigned i = 0; i < 6; ++i) {
    JobSpec spec;
    spec.name = "cron-" + std::to_string(i);
    spec.cron = CronExpression::parse("* * * * *").value();
    spec.runs = 1 + i % 3;
    spec.fail_attempts = i == 1 ? 1 : 0;  // each of its 2 runs fails its first attempt and is retried
    runs[spec.name] = *spec.runs;
    jobs.push_back(spec);
  }
  CoreOptions options;
  options.keep_records = true;
  options.cron_speed = 600;  // a cron minute lasts 100 ms
  ASSERT_FALSE(options.duration);
  const auto s = run_core(std::move(jobs), options);
  EXPECT_TRUE(s.error.empty()) << s.error;
  EXPECT_EQ(s.stop_reason, "all jobs done");
  EXPECT_EQ(s.submitted, 206u);
  EXPECT_EQ(s.done + s.failed, 206u);
  EXPECT_EQ(s.unaccounted, 0u);
  EXPECT_TRUE(s.left.empty());
  EXPECT_EQ(s.recurring_jobs, 0u);
  EXPECT_EQ(s.recurring_runs_done, 0u);
  std::map<std::string, std::set<std::uint64_t>> archived;  // runs archived, by cron job name
  for (const auto& r : s.records) {
    if (!r.job.spec.cron) continue;
    EXPECT_TRUE(r.ok) << r.job.spec.name << " run " << r.job.run;
    EXPECT_TRUE(archived[r.job.spec.name].insert(r.job.run).second) << r.job.spec.name << " run " << r.job.run;
  }
  for (const auto& [name, n] : runs) {
    std::set<std::uint64_t> all;
    for (std::uint64_t run = 0; run < n; ++run) all.insert(run);
    EXPECT_EQ(archived[name], all) << name;
  }
}

// Every value the shutdown found left in a channel is named by its kind, and the kinds add up.
void expect_every_unhandled_value_has_its_kind(const Summary& s) {
  for (const auto& [channel, n] : s.unhandled) {
    std::size_t by_kind = 0;
    for (const auto& k : s.unhandled_kinds)
      if (k.channel == channel) by_kind += k.count;
    EXPECT_EQ(by_kind, n) << channel;
  }
  const auto text = to_text(s);
  for (const auto& [channel, n] : s.unhandled) {
    const std::string line = "unhandled on " + channel + ": " + std::to_string(n) + " (";
    EXPECT_NE(text.find(line), std::string::npos) << text;
  }
}

TEST(CoreEndToEnd, ARunStoppedEarlySaysWhereEachJobWasLeft) {
  std::vector<JobSpec> jobs;
  auto add = [&jobs](int n, std::chrono::milliseconds work, std::chrono::milliseconds delay) {
    for (int i = 0; i < n; ++i) {
      JobSpec spec;
      spec.work = work;
      spec.delay = delay;
      jobs.push_back(spec);
    }
  };
  add(10, std::chrono::milliseconds(1), {});                       // done
  add(8, std::chrono::seconds(30), {});                            // 2 running, 6 queued
  add(5, std::chrono::milliseconds(1), std::chrono::seconds(30));  // waiting for their time
  JobSpec cron;
  cron.cron = CronExpression::parse("0 0 1 1 *").value();  // next New Year
  cron.runs = 2;
  jobs.push_back(cron);
  CoreOptions options;
  options.workers = 1;
  options.worker_capacity = 2;
  options.duration = std::chrono::milliseconds(300);
  const auto s = run_core(std::move(jobs), options);
  EXPECT_TRUE(s.error.empty()) << s.error;
  EXPECT_EQ(s.stop_reason, "duration reached");
  EXPECT_EQ(s.unaccounted, 0u);
  EXPECT_EQ(s.done, 10u);
  EXPECT_EQ(s.failed, 0u);
  std::map<std::string, std::size_t> left(s.left.begin(), s.left.end());
  EXPECT_EQ(left["hibernator"], 6u);  // the delayed jobs and the cron job
  EXPECT_EQ(left["workers"], 2u);
  EXPECT_EQ(left["scheduler"] + left["dispatcher"], 6u);
  const std::size_t left_total = std::accumulate(s.left.begin(), s.left.end(), std::size_t{0},
                                                 [](std::size_t n, const auto& entry) { return n + entry.second; });
  EXPECT_EQ(s.done + s.failed + left_total, s.submitted);
  const auto text = to_text(s);
  EXPECT_NE(text.find("left, not done when the run stopped:"), std::string::npos) << text;
  EXPECT_NE(to_json(s).find("\"left\":{"), std::string::npos);
  expect_every_unhandled_value_has_its_kind(s);
}

TEST(CoreEndToEnd, WhatIsLeftInChannelsAfterAllJobsAreDoneIsNamedByKind) {
  CoreOptions options;
  options.workers = 8;
  const auto s = run_core(generate_workload({.jobs = 5000}), options);
  EXPECT_EQ(s.done, 5000u);
  expect_every_unhandled_value_has_its_kind(s);
  for (const auto& k : s.unhandled_kinds) EXPECT_FALSE(k.job) << k.channel << " " << k.kind << ": a job left behind";
  const auto json = nlohmann::json::parse(to_json(s));
  EXPECT_TRUE(json.contains("unhandled_kinds"));
}

}  // namespace

}  // namespace end_to_end_test
