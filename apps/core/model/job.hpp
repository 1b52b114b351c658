#pragma once
// What the Core runs: a job as submitted (`JobSpec`) and as it travels between services (`Job`).

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
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
enum class JobStatus : std::uint8_t { submitted, hibernating, ready, dispatched, retrying, done, failed };

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

/// The statuses a job run went through, in order. Up to `inline_capacity` of them are kept in
/// the object itself (a run takes 4 without a retry and 14 with three), so that copying a Job,
/// which the Core does a few times on each job's trip, allocates nothing; a longer history
/// moves to the heap whole. A contiguous sequence: iterators are pointers, invalidated by
/// `push_back`.
class StatusHistory {
 public:
  static constexpr std::size_t inline_capacity = 15;
  using value_type = JobStatus;
  using const_iterator = const JobStatus*;
  using iterator = const_iterator;

  StatusHistory() = default;
  StatusHistory(std::initializer_list<JobStatus> statuses) {
    for (const JobStatus s : statuses) push_back(s);
  }

  /// Appends `s`. Throws `std::bad_alloc` only when the history moves to (or grows on) the heap,
  /// leaving it unchanged.
  void push_back(JobStatus s) {
    if (heap_.empty()) {
      if (size_ < inline_capacity) {
        inline_[size_++] = s;
        return;
      }
      std::vector<JobStatus> moved;
      moved.reserve(2 * inline_capacity);
      moved.assign(inline_.begin(), inline_.begin() + size_);
      moved.push_back(s);
      heap_ = std::move(moved);
      return;
    }
    heap_.push_back(s);
  }
  /// Removes the last status (there must be one). Never throws.
  void pop_back() noexcept {
    if (heap_.empty()) {
      --size_;
      return;
    }
    heap_.pop_back();
    if (heap_.empty()) size_ = 0;  // the inline statuses are stale: the history is empty
  }
  /// Makes room for `n` statuses (a decoder's hint).
  void reserve(std::size_t n) {
    if (n > inline_capacity) {
      if (heap_.empty()) heap_.assign(inline_.begin(), inline_.begin() + size_);
      heap_.reserve(n);
    }
  }

  const JobStatus* data() const noexcept { return heap_.empty() ? inline_.data() : heap_.data(); }
  std::size_t size() const noexcept { return heap_.empty() ? size_ : heap_.size(); }
  bool empty() const noexcept { return size() == 0; }
  const_iterator begin() const noexcept { return data(); }
  const_iterator end() const noexcept { return data() + size(); }
  JobStatus operator[](std::size_t i) const noexcept { return data()[i]; }
  JobStatus front() const noexcept { return data()[0]; }
  JobStatus back() const noexcept { return data()[size() - 1]; }

  friend bool operator==(const StatusHistory& a, const StatusHistory& b) noexcept {
    return std::equal(a.begin(), a.end(), b.begin(), b.end());
  }

 private:
  std::array<JobStatus, inline_capacity> inline_{};
  std::uint8_t size_ = 0;          // used while heap_ is empty
  std::vector<JobStatus> heap_;    // the whole history once it outgrew inline_
};

/// A hash of the numbers that name a job run (id and run, and a placement), for the Core's
/// lookup tables: each number mixed in turn (a 64-bit multiply and shift per number).
struct JobKeyHash {
  std::size_t operator()(const std::pair<JobId, std::uint64_t>& k) const noexcept { return mix(mix(0, k.first), k.second); }
  std::size_t operator()(const std::tuple<JobId, std::uint64_t, std::uint64_t>& k) const noexcept {
    return mix(mix(mix(0, std::get<0>(k)), std::get<1>(k)), std::get<2>(k));
  }

 private:
  static std::size_t mix(std::uint64_t h, std::uint64_t v) noexcept {
    h = (h ^ v) * 0x9e3779b97f4a7c15ULL;  // the golden ratio's multiplier spreads consecutive ids
    return static_cast<std::size_t>(h ^ (h >> 29));
  }
};

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
  StatusHistory history;                                 ///< every status it went through, in order
};

}  // namespace core
