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
  std::optional<CronExpression> cron;  ///< for a recurring job
  std::chrono::milliseconds work{10};  ///< how long a worker of speed 1.0 takes
  unsigned fail_attempts = 0;          ///< the first N attempts fail (a simulated fault)

  ScheduleKind kind() const noexcept {
    return cron ? ScheduleKind::cron : delay.count() > 0 ? ScheduleKind::delayed : ScheduleKind::immediate;
  }
};

/// A job on its way through the Core: one run of a spec (a recurring job has one per firing).
struct Job {
  JobId id = 0;
  std::uint64_t run = 0;  ///< for a recurring job, which firing this is (0, 1, ...)
  JobSpec spec;
  unsigned attempt = 0;                                  ///< 0 for the first try, then one more per retry
  std::chrono::steady_clock::time_point submitted_at{};  ///< when the Receiver accepted it
  std::chrono::steady_clock::time_point ready_at{};      ///< when it became ready (the Scheduler's age)
  std::vector<JobStatus> history;                        ///< every status it went through, in order
};

}  // namespace core
