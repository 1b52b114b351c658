#pragma once
// The TaskArchive: keeps the final outcome of every job run, for queries and the final summary.
//
// In: `HarvesterToArchive` (`Archive`). Its records live in a `TaskArchiveStore` that outlives its
// instances and may be read from any thread while the service runs. A job run is kept once: a
// record for a (job, run) already archived is dropped and counted as a duplicate.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "model/block_vector.hpp"
#include "model/flat_hash_map.hpp"
#include "wiring.hpp"

namespace core {

/// The archived outcomes. Thread-safe: every member may be called from any thread.
class TaskArchiveStore {
 public:
  /// Keeps `record`; returns false (and counts a duplicate) if its (job, run) is already kept,
  /// or (and counts it as foreign) if its job's id is outside the accepted ones.
  bool add(ArchiveRecord record);
  /// Only jobs numbered `first` to `last` are kept from now on (every id by default): a Core
  /// whose services run in several processes numbers each run's jobs apart, and a record of an
  /// earlier run (a job a node finished after that run stopped) is not this run's.
  void accept_ids(JobId first, JobId last);
  /// True if records of `job` are kept (see accept_ids).
  bool accepts(JobId job) const;
  /// Records dropped because their job was not one of the accepted ids.
  std::size_t foreign() const;

  /// Job runs kept, those that succeeded, those that failed, and records dropped as duplicates.
  std::size_t size() const;
  std::size_t done() const;
  std::size_t failed() const;
  std::size_t duplicates() const;

  /// The kept runs counted as the summary counts jobs. A finite job is finished once every one of
  /// its runs is kept (one, or `runs` for a cron job with a bound): done if all succeeded, failed
  /// otherwise. A recurring job never finishes: its runs are counted on their own.
  struct Counts {
    std::size_t jobs_done = 0;
    std::size_t jobs_failed = 0;
    std::size_t finite_runs = 0;  ///< runs of finite jobs kept
    std::size_t recurring_runs_done = 0;
    std::size_t recurring_runs_failed = 0;
  };
  Counts counts() const;

  /// The record of (`job`, `run`), if kept.
  std::optional<ArchiveRecord> find(JobId job, std::uint64_t run) const;
  /// A copy of every record, in the order they were kept.
  std::vector<ArchiveRecord> records() const;

  /// The latency (submitted -> finished) at percentile `p` of the kept records, by nearest rank:
  /// the smallest latency with at least `p`% of the records at or below it. `p` is clamped to
  /// [0, 100] (0 gives the smallest); zero when nothing is kept. A negative latency counts as zero.
  std::chrono::nanoseconds latency_percentile(double p) const;

  /// One line: counts and the 50th, 90th and 99th percentiles of latency.
  std::string summary() const;

  /// The per-hop latencies of the kept runs of jobs without cron, in fixed buckets, counted as
  /// each record is kept (for metrics: reading them costs a copy, not a pass over the records).
  struct Histogram {
    /// Upper bounds in seconds; a latency above the last one counts only in `count`.
    static constexpr std::array<double, 16> bounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                      0.25,   0.5,   1.0,    2.5,   5.0,  10.0,  30.0, 60.0};
    std::array<std::uint64_t, bounds.size()> at_most{};  ///< latencies <= bounds[i] (cumulative)
    std::uint64_t count = 0;
    double sum_seconds = 0;  ///< negative latencies count as zero
    void observe(std::chrono::nanoseconds latency);
  };
  struct Histograms {
    Histogram to_ready;          ///< submitted -> ready
    Histogram ready_to_started;  ///< ready -> started on its worker
    Histogram run;               ///< started -> finished
  };
  Histograms histograms() const;

 private:
  mutable std::mutex mutex_;
  // The records in the order kept, in blocks of 64: one allocation per 64 records and 320 bytes
  // each (a std::deque gives a record of more than 256 bytes a block of 512 to itself); a block
  // never moves, so growing copies no record (no pause under the lock).
  BlockVector<ArchiveRecord, 64> records_;
  FlatHashMap<std::pair<JobId, std::uint64_t>, std::size_t, JobKeyHash> index_;  // (job, run) -> position in records_
  std::size_t done_ = 0;
  std::size_t duplicates_ = 0;
  std::size_t foreign_ = 0;
  JobId first_id_ = 0;
  JobId last_id_ = ~JobId{0};
  Counts counts_;
  Histograms histograms_;
  std::map<JobId, std::pair<unsigned, unsigned>> partial_;  // cron jobs with runs: runs kept, failed ones
};

/// The TaskArchive service over `store`. `fault`, if set, is called with each message before the
/// message changes anything.
Service task_archive(std::shared_ptr<TaskArchiveStore> store, FaultHook fault = {});

}  // namespace core
