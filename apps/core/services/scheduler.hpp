#pragma once
// The Scheduler: non-preemptive; whenever the Dispatcher has room, it sends the next ready job,
// by priority (higher first), then age (older first), then id.
//
// In: `ToScheduler` (`Ready` jobs, `Credit` from the Dispatcher). Out: `ToDispatcher`
// (`Dispatch`). Its queue and credits live in a `SchedulerState` that outlives its instances, and
// each message is recorded there before anything else happens, so a restarted Scheduler goes on
// where the failed one stopped, with nothing lost. In a process of its own, the state is also kept
// in a journal (SchedulerJournal), so that the Scheduler of the next process goes on from it.

#include <algorithm>
#include <functional>
#include <memory>
#include <set>
#include <tuple>
#include <vector>

#include "wiring.hpp"

namespace core {

/// Where a Scheduler's queue and credits are kept beyond its process, if anywhere
/// (remote/state_journals.hpp keeps them in JetStream): told of each change as the state makes
/// it, read once when a state starts to keep itself there. Called from the Scheduler's instance.
class SchedulerJournal {
 public:
  struct Entries {
    std::vector<Job> jobs;
    unsigned credits = 0;
  };
  virtual ~SchedulerJournal() = default;
  /// `job` is queued: kept before the message that brought it is acknowledged.
  virtual void queued(const Job& job) = 0;
  /// `job` was sent to the Dispatcher: dropped once that send is published.
  virtual void dispatched(const Job& job) = 0;
  /// The credits went up to `credits` (a Credit handled): kept before that Credit is acknowledged.
  virtual void credits_raised(unsigned credits) = 0;
  /// The credits went down to `credits` (jobs sent): kept once those sends are published, unless
  /// they were raised since. What is kept is never below the credits the Dispatcher granted and
  /// no job used: a Scheduler that takes it on may send a job the Dispatcher has no slot for
  /// (the Dispatcher queues it), never wait for credit that was granted.
  virtual void credits_spent(unsigned credits) = 0;
  /// What was kept.
  virtual Entries load() = 0;
};

/// The Scheduler's queue, kept across restarts. Read it while no Scheduler instance runs, or from
/// the instance's executor.
class SchedulerState {
 public:
  /// Keeps the queue and credits in `journal` from now on, taking on what it kept (a Scheduler of
  /// an earlier process held it), and drops copies (drop_copies). Call before an instance runs.
  /// Returns the jobs it took on.
  std::size_t keep_in(std::shared_ptr<SchedulerJournal> journal);
  /// From now on a job that is queued already (same id, run, attempt and placement) is dropped:
  /// for an inbox that may deliver a message again (bridged over JetStream, where the process
  /// that handled it may have been killed before acknowledging it). Off by default: an
  /// in-process inbox delivers each message once, and the check costs a set entry per job.
  void drop_copies();
  /// Adds a ready job; with drop_copies, not if the same job is queued already (returns false).
  bool push(Job job);
  /// Adds room at the Dispatcher.
  void add_credits(unsigned n);
  /// Sends jobs while there is room and work, in order; returns how many.
  template <class Send>
  std::size_t dispatch(Send&& send) {
    std::size_t n = 0;
    while (credits_ > 0 && !ready_.empty()) {
      send(ready_.front());
      std::pop_heap(ready_.begin(), ready_.end(), RunsLater{});
      if (journal_) journal_->dispatched(ready_.back());  // after the send: the journal fences it
      if (drop_copies_) keys_.erase(key_of(ready_.back()));
      ready_.pop_back();
      --credits_;
      ++n;
    }
    if (n > 0 && journal_) journal_->credits_spent(credits_);
    return n;
  }
  std::size_t queued() const noexcept { return ready_.size(); }
  unsigned credits() const noexcept { return credits_; }
  /// The queued jobs, in no particular order.
  const std::vector<Job>& jobs() const noexcept { return ready_; }

 private:
  // The front is the highest priority, then the oldest, then the lowest id.
  struct RunsLater {
    bool operator()(const Job& a, const Job& b) const;
  };
  using Key = std::tuple<JobId, std::uint64_t, unsigned, std::uint64_t>;  // id, run, attempt, placement
  static Key key_of(const Job& job) { return {job.id, job.run, job.attempt, job.placement}; }
  std::vector<Job> ready_;  // a heap
  std::set<Key> keys_;      // of the queued jobs, with drop_copies_
  bool drop_copies_ = false;
  unsigned credits_ = 0;
  std::shared_ptr<SchedulerJournal> journal_;
};

/// The Scheduler service over `state`; `fault` runs after each message is recorded.
Service scheduler(std::shared_ptr<SchedulerState> state, FaultHook fault = {});

}  // namespace core
