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
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <tuple>
#include <vector>

#include "model/block_vector.hpp"
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
  /// Sends jobs while there is room and work, in order; returns how many. A send that throws
  /// leaves its job queued.
  template <class Send>
  std::size_t dispatch(Send&& send) {
    std::size_t n = 0;
    while (credits_ > 0 && !order_.empty()) {
      const std::uint32_t slot = order_.front().slot;
      send(static_cast<const Job&>(slots_[slot]));
      std::pop_heap(order_.begin(), order_.end(), RunsLater{});
      order_.pop_back();
      if (journal_) journal_->dispatched(slots_[slot]);  // after the send: the journal fences it
      if (drop_copies_) keys_.erase(key_of(slots_[slot]));
      slots_[slot] = Job{};  // what it held goes now, not when the slot is next taken
      free_.push_back(slot);
      --credits_;
      ++n;
    }
    if (n > 0 && journal_) journal_->credits_spent(credits_);
    return n;
  }
  std::size_t queued() const noexcept { return order_.size(); }
  unsigned credits() const noexcept { return credits_; }
  /// Copies of the queued jobs, in no particular order.
  std::vector<Job> jobs() const;

 private:
  // A queued job's place in the order, and its slot. The heap sifts these (40 bytes), not Jobs.
  struct Rank {
    int priority;
    std::chrono::steady_clock::time_point ready_at;
    JobId id;
    std::uint64_t run;
    std::uint32_t slot;
  };
  // The front is the highest priority, then the oldest, then the lowest id.
  struct RunsLater {
    bool operator()(const Rank& a, const Rank& b) const;
  };
  using Key = std::tuple<JobId, std::uint64_t, unsigned, std::uint64_t>;  // id, run, attempt, placement
  static Key key_of(const Job& job) { return {job.id, job.run, job.attempt, job.placement}; }
  void enqueue(Job job);
  std::vector<Rank> order_;              // a heap
  BlockVector<Job, 256> slots_;          // the queued jobs where their ranks say, and free slots: blocks
                                         // that never move, so growth touches no queued job again
  std::vector<std::uint32_t> free_;      // slots of jobs sent (overwritten by the next jobs queued)
  std::set<Key> keys_;                   // of the queued jobs, with drop_copies_
  bool drop_copies_ = false;
  unsigned credits_ = 0;
  std::shared_ptr<SchedulerJournal> journal_;
};

/// The Scheduler service over `state`; `fault` runs after each message is recorded.
Service scheduler(std::shared_ptr<SchedulerState> state, FaultHook fault = {});

}  // namespace core
