#pragma once
// The Hibernator: holds each job until its time, then hands it to the Scheduler. A delayed job
// is due `delay` after its submission; a retry (`Hibernate::until`) at the end of its backoff; a
// cron job at each time its expression matches, and is re-armed after each firing (each firing
// is a new run of the job: `run` 0, 1, ...) until it has fired `spec.runs` times, if it has a
// bound. Successive runs of a cron job fire at strictly increasing matching minutes.
//
// In: `ToHibernator` (`Hibernate`). Out: `ToScheduler` (`Ready`). The held jobs live in a
// `HibernatorState` that outlives its instances (and, in a process of its own, a journal:
// HibernatorJournal). Cron expressions are read against `now()`
// (system clock, UTC), which a test can replace, running `clock_speed` times faster than real
// time; waiting uses the steady clock.

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <tuple>
#include <vector>

#include "wiring.hpp"

namespace core {

/// A job the Hibernator holds. `fires_at` is set for a cron run: the matching minute it fires at,
/// after which the job is re-armed for its next run.
struct HeldJob {
  std::chrono::steady_clock::time_point due;
  Job job;
  std::optional<std::chrono::system_clock::time_point> fires_at;
};

/// Where a Hibernator's held jobs are kept beyond its process, if anywhere
/// (remote/state_journals.hpp keeps them in JetStream): told of each change as the state makes
/// it, read once when a state starts to keep itself there. Called from the Hibernator's instance.
class HibernatorJournal {
 public:
  virtual ~HibernatorJournal() = default;
  /// `held` is held: kept before the message that brought it is acknowledged.
  virtual void held(const HeldJob& held) = 0;
  /// `job` was handed to the Scheduler: dropped once that send is published.
  virtual void released(const Job& job) = 0;
  /// What was kept.
  virtual std::vector<HeldJob> load() = 0;
};

/// The jobs the Hibernator holds, kept across restarts. Read it while no Hibernator instance
/// runs, or from the instance's executor; `runs_never_due` may be read from any thread.
class HibernatorState {
 public:
  using Due = std::chrono::steady_clock::time_point;
  using WallTime = std::chrono::system_clock::time_point;
  using Held = HeldJob;

  /// Keeps the held jobs in `journal` from now on, taking on what it kept (a Hibernator of an
  /// earlier process held them), and drops copies (drop_copies). Call before an instance runs.
  /// Returns how many it took on.
  std::size_t keep_in(std::shared_ptr<HibernatorJournal> journal);
  /// From now on a job that is held already (same id, run and attempt) is dropped: for an inbox
  /// that may deliver a message again (bridged over JetStream, where the process that handled it
  /// may have been killed before acknowledging it). Off by default: an in-process inbox delivers
  /// each message once.
  void drop_copies();
  /// Holds a job; with drop_copies, not if the same job is held already (returns false).
  bool hold(Held held);
  bool empty() const noexcept { return held_.empty(); }
  std::size_t size() const noexcept { return held_.size(); }
  Due next_due() const { return held_.front().due; }
  /// Removes and returns the earliest job (call only when not empty).
  Held take();
  /// A job taken was handed to the Scheduler (the journal drops it once that is published).
  void released(const Job& job) {
    if (journal_) journal_->released(job);
  }
  /// A copy of every held job, in no particular order.
  std::vector<Job> jobs() const;

  std::uint64_t fired = 0;       ///< jobs handed to the Scheduler
  std::uint64_t never_fire = 0;  ///< cron jobs with no next firing time (not held, counted here)
  /// Cron jobs with no next firing time (recurring or with runs left), as they would have fired
  /// next: the summary counts them as left here.
  std::vector<Job> never_due;
  /// The runs of `never_due` jobs that will not happen.
  std::atomic<std::uint64_t> runs_never_due{0};

 private:
  struct Later {
    bool operator()(const Held& a, const Held& b) const { return a.due > b.due; }
  };
  using Key = std::tuple<JobId, std::uint64_t, unsigned>;  // id, run, attempt
  static Key key_of(const Job& job) { return {job.id, job.run, job.attempt}; }
  std::vector<Held> held_;  // a heap, the earliest due at the front
  std::set<Key> keys_;      // of the held jobs, with drop_copies_
  bool drop_copies_ = false;
  std::shared_ptr<HibernatorJournal> journal_;
};

/// How the Hibernator reads the wall clock (for cron).
struct HibernatorOptions {
  std::function<std::chrono::system_clock::time_point()> now = [] { return std::chrono::system_clock::now(); };
  /// Wall-clock time passing per unit of real time for cron: 1 normally, more to try a cron
  /// workload quickly (at 60, a cron minute lasts a second).
  double clock_speed = 1.0;
};

/// The Hibernator service over `state`.
Service hibernator(std::shared_ptr<HibernatorState> state, HibernatorOptions options = {}, FaultHook fault = {});

}  // namespace core
