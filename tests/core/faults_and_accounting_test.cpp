// The whole Core, where the books must balance: recurring cron jobs counted with the rest
// (`submitted == done + failed + left`), faults applied exactly as asked (or said why not, even on
// a workload of recurring jobs only), and a run with no worker left stopping with its jobs left
// and a warning instead of waiting for ever.

#include "core_app.hpp"
#include "model/workload.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/ostream_sink.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <sstream>
#include <string>

namespace faults_and_accounting_test {

namespace {

using namespace core;
using namespace std::chrono_literals;

JobSpec cron_job(const char* expression, std::optional<unsigned> runs = std::nullopt) {
  JobSpec spec;
  spec.cron = CronExpression::parse(expression).value();
  spec.runs = runs;
  spec.work = 1ms;
  return spec;
}

// The books balance, and each job is counted once.
void expect_balanced(const Summary& s) {
  EXPECT_TRUE(s.error.empty()) << s.error;
  EXPECT_EQ(s.unaccounted, 0u) << to_text(s);
  std::size_t left = 0;
  for (const auto& entry : s.left) left += entry.second;
  EXPECT_EQ(left, s.left_total);
  EXPECT_EQ(s.done + s.failed + s.left_total, s.submitted) << to_text(s);
  const auto j = nlohmann::json::parse(to_json(s));
  EXPECT_EQ(j["done"].get<std::size_t>() + j["failed"].get<std::size_t>() + j["left_total"].get<std::size_t>(),
            j["submitted"].get<std::size_t>());
}

std::uint64_t restarts_of(const Summary& s, const std::string& service) {
  for (const auto& [name, n] : s.service_restarts)
    if (name == service) return n;
  return 0;
}

TEST(CoreAccounting, ARecurringJobIsLeftWhereItWaitsAndItsRunsAreCounted) {
  // A cron minute lasts 100 ms: in 450 ms the recurring job fires 4 times or so, the job with 2
  // runs finishes, the plain job too; a recurring job that never fires is left aside.
  std::vector<JobSpec> jobs{cron_job("* * * * *"), cron_job("* * * * *", 2u), JobSpec{}, cron_job("0 0 30 2 *")};
  CoreOptions options;
  options.cron_speed = 600;
  options.duration = 450ms;
  const auto s = run_core(std::move(jobs), options);
  expect_balanced(s);
  EXPECT_EQ(s.submitted, 4u);
  EXPECT_EQ(s.done, 2u);
  EXPECT_EQ(s.recurring_jobs, 2u);
  EXPECT_GE(s.recurring_runs_done, 2u);
  EXPECT_EQ(s.recurring_runs_failed, 0u);
  std::map<std::string, std::size_t> left(s.left.begin(), s.left.end());
  EXPECT_EQ(left["never_due"], 1u);
  EXPECT_EQ(left["never_due"] + left["hibernator"] + left["scheduler"] + left["dispatcher"] + left["workers"] +
                left["ToScheduler"] + left["ToDispatcher"] + left["ToHarvester"] + left["HarvesterToArchive"],
            2u);
  const auto text = to_text(s);
  EXPECT_NE(text.find("jobs: 4 submitted, 2 done, 0 failed, 2 left, 0 unaccounted"), std::string::npos) << text;
  EXPECT_NE(text.find("recurring: 2 job(s) without end"), std::string::npos) << text;
}

TEST(CoreAccounting, AGeneratedMixOfRecurringAndBoundedCronJobsBalances) {
  WorkloadOptions w;
  w.jobs = 300;
  w.cron_share = 0.5;
  w.bounded_cron_share = 0.3;
  CoreOptions options;
  options.cron_speed = 600;
  options.duration = 400ms;
  auto jobs = generate_workload(w);
  const auto recurring =
      static_cast<std::size_t>(std::count_if(jobs.begin(), jobs.end(), [](const JobSpec& j) { return !j.finite(); }));
  ASSERT_GT(recurring, 100u);
  const auto s = run_core(std::move(jobs), options);
  expect_balanced(s);
  EXPECT_EQ(s.recurring_jobs, recurring);
  EXPECT_GE(s.left_total, recurring);
}

TEST(CoreAccounting, AnyDurationBoundsTheRunWithoutOverflow) {
  CoreOptions options;
  options.duration = std::chrono::milliseconds::max();  // in nanoseconds, this would wrap
  std::mutex mutex;
  std::string shown;
  options.on_progress = [&](const Progress& p) {
    std::lock_guard lock(mutex);
    shown = std::to_string(p.duration->count());
  };
  const auto s = run_core(std::vector<JobSpec>(10), options);
  expect_balanced(s);
  EXPECT_EQ(s.stop_reason, "all jobs done");
  EXPECT_EQ(s.done, 10u);
  EXPECT_FALSE(shown.empty());
}

TEST(CoreFaults, TheSchedulerCrashesExactlyAsOftenAsAsked) {
  for (unsigned crashes : {1u, 5u, 40u}) {
    // 3 jobs: far fewer messages than crashes asked for.
    std::vector<JobSpec> jobs(3);
    CoreOptions options;
    options.crash_scheduler = crashes;
    const auto s = run_core(std::move(jobs), options);
    expect_balanced(s);
    EXPECT_EQ(s.stop_reason, "all jobs done");
    EXPECT_EQ(restarts_of(s, "scheduler"), crashes);
    EXPECT_TRUE(s.faults_not_applied.empty());
  }
  CoreOptions options;
  options.crash_scheduler = 200;
  const auto s = run_core(generate_workload({.jobs = 2000}), options);
  expect_balanced(s);
  EXPECT_EQ(s.done + s.failed, 2000u);
  EXPECT_EQ(restarts_of(s, "scheduler"), 200u);
}

TEST(CoreFaults, FaultsApplyOnAWorkloadOfRecurringJobsOnly) {
  std::vector<JobSpec> jobs(20, cron_job("* * * * *"));
  CoreOptions options;
  options.workers = 3;
  options.cron_speed = 600;
  options.duration = 1500ms;
  options.kill_worker = 2;
  options.crash_scheduler = 2;
  options.swap_dispatcher = true;
  const auto s = run_core(std::move(jobs), options);
  expect_balanced(s);
  EXPECT_EQ(s.workers_unreachable, std::vector<WorkerId>{2}) << to_text(s);
  EXPECT_EQ(s.workers_lost - s.workers_back, 1u) << to_text(s);
  EXPECT_EQ(restarts_of(s, "scheduler"), 2u) << to_text(s);
  EXPECT_EQ(s.swaps, 1u) << to_text(s);
  EXPECT_TRUE(s.faults_not_applied.empty()) << to_text(s);
  EXPECT_GT(s.recurring_runs_done, 20u);
}

TEST(CoreFaults, AFaultThatCouldNotHappenIsNamedWithTheReason) {
  JobSpec waits;
  waits.delay = 30s;  // nothing finishes before the run stops: no fault's time comes
  CoreOptions options;
  options.duration = 200ms;
  options.crash_scheduler = 3;
  options.swap_dispatcher = true;
  options.kill_worker = 1;
  options.workers = 2;
  const auto s = run_core({waits}, options);
  expect_balanced(s);
  ASSERT_EQ(s.faults_not_applied.size(), 3u) << to_text(s);
  EXPECT_EQ(s.faults_not_applied[0], "worker 1 not killed: the run stopped (duration reached) before a third of it");
  EXPECT_EQ(s.faults_not_applied[1], "the Scheduler crashed 0 of 3 times asked: the run stopped (duration reached)");
  const auto text = to_text(s);
  EXPECT_NE(text.find("fault not applied as asked: the Dispatcher not swapped"), std::string::npos) << text;
  EXPECT_EQ(nlohmann::json::parse(to_json(s))["faults_not_applied"].size(), 3u);
}

// A log that keeps what it was given.
struct CapturedLog {
  std::ostringstream text;
  std::shared_ptr<spdlog::logger> logger =
      std::make_shared<spdlog::logger>("core", std::make_shared<spdlog::sinks::ostream_sink_mt>(text));
  std::string str() {
    logger->flush();
    return text.str();
  }
};

TEST(CoreFaults, WithNoLiveWorkerTheRunWarnsThenStopsWithItsJobsLeft) {
  CapturedLog log;
  CoreOptions options;
  options.workers = 1;
  options.kill_worker = 1;
  options.heartbeat_timeout = 200ms;
  options.no_worker_stop = 500ms;
  options.logger = log.logger;
  std::mutex mutex;
  bool warned_on_progress = false;
  options.on_progress = [&](const Progress& p) {
    std::lock_guard lock(mutex);
    warned_on_progress = warned_on_progress || (p.no_live_worker && p.live_workers == 0);
  };
  std::vector<JobSpec> jobs(200);
  for (auto& job : jobs) job.work = 5ms;
  const auto s = run_core(std::move(jobs), options);
  expect_balanced(s);
  EXPECT_TRUE(s.no_live_worker);
  EXPECT_EQ(s.stop_reason.rfind("no live worker for ", 0), 0u) << s.stop_reason;
  EXPECT_GT(s.left_total, 0u);
  EXPECT_EQ(s.workers_lost, 1u);  // the only worker: nothing can make it late but its death
  EXPECT_EQ(s.workers_unreachable, std::vector<WorkerId>{1});
  EXPECT_NE(log.str().find("core: no live worker; "), std::string::npos) << log.str();
  EXPECT_TRUE(warned_on_progress);
}

TEST(CoreFaults, WithRecurringJobsNoLiveWorkerOnlyWarns) {
  CapturedLog log;
  CoreOptions options;
  options.workers = 1;
  options.kill_worker = 1;
  options.heartbeat_timeout = 100ms;
  options.no_worker_stop = 200ms;
  options.cron_speed = 600;
  options.duration = 1s;
  options.logger = log.logger;
  const auto s = run_core({cron_job("* * * * *")}, options);
  expect_balanced(s);
  EXPECT_EQ(s.stop_reason, "duration reached");
  EXPECT_FALSE(s.no_live_worker);
  EXPECT_NE(log.str().find("core: no live worker; 1 job(s) wait to run"), std::string::npos) << log.str();
}

}  // namespace

}  // namespace faults_and_accounting_test
