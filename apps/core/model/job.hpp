#pragma once
// What the Core runs: a job as submitted (`JobSpec`) and as it travels between services (`Job`).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "model/cron.hpp"

namespace core {

using JobId = std::uint64_t;

/// When a job becomes ready to run.
enum class ScheduleKind {
  immediate,  ///< at once
  delayed,    ///< after `delay`
  cron,       ///< at every time its cron expression matches
};

constexpr const char* to_string(ScheduleKind k) {
  return k == ScheduleKind::immediate ? "immediate" : k == ScheduleKind::delayed ? "delayed" : "cron";
}

/// The status of a job run.
enum class JobStatus { submitted, hibernating, ready, dispatched, retrying, done, failed };

constexpr const char* to_string(JobStatus s) {
  switch (s) {
    case JobStatus::submitted:
      return "submitted";
    case JobStatus::hibernating:
      return "hibernating";
    case JobStatus::ready:
      return "ready";
    case JobStatus::dispatched:
      return "dispatched";
    case JobStatus::retrying:
      return "retrying";
    case JobStatus::done:
      return "done";
    case JobStatus::failed:
      return "failed";
  }
  return "?";
}

/// A job as submitted.
struct JobSpec {
  static constexpr int min_priority = 0;
  static constexpr int max_priority = 9;

  std::string name;
  int priority = 5;                    ///< 0..9; higher runs first
  std::chrono::milliseconds delay{0};  ///< for a delayed job
  std::optional<CronExpression> cron;  ///< for a job that fires on a schedule
  std::optional<unsigned> runs;        ///< for a cron job: how many times it fires; none: for ever
  std::chrono::milliseconds work{10};  ///< how long a worker of speed 1.0 takes
  unsigned fail_attempts = 0;          ///< the first N attempts fail (a simulated fault)

  ScheduleKind kind() const noexcept {
    return cron ? ScheduleKind::cron : delay.count() > 0 ? ScheduleKind::delayed : ScheduleKind::immediate;
  }
  /// True if the job ends: every job but a cron job without `runs`.
  bool finite() const noexcept { return !cron || runs.has_value(); }
  /// The runs a finite job has (1 unless it is a cron job with `runs`), 0 for a recurring job.
  unsigned run_count() const noexcept { return cron ? runs.value_or(0) : 1; }
};

/// A job on its way through the Core: one run of a spec (a recurring job has one per firing).
struct Job {
  JobId id = 0;
  std::uint64_t run = 0;  ///< for a cron job, which firing this is (0, 1, ...)
  JobSpec spec;
  unsigned attempt = 0;         ///< 0 for the first try, then one more per retry
  std::uint64_t placement = 0;  ///< set by the Dispatcher each time it places the job on a worker, never reused
  std::chrono::steady_clock::time_point submitted_at{};  ///< when the Receiver accepted it
  std::chrono::steady_clock::time_point ready_at{};      ///< when it became ready (the Scheduler's age)
  std::vector<JobStatus> history;                        ///< every status it went through, in order
};

}  // namespace core
