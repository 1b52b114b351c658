#pragma once
// The Scheduler: non-preemptive; whenever the Dispatcher has room, it sends the next ready job,
// by priority (higher first), then age (older first), then id.
//
// In: `ToScheduler` (`Ready` jobs, `Credit` from the Dispatcher). Out: `ToDispatcher`
// (`Dispatch`). Its queue and credits live in a `SchedulerState` that outlives its instances, and
// each message is recorded there before anything else happens, so a restarted Scheduler goes on
// where the failed one stopped, with nothing lost.

#include <algorithm>
#include <functional>
#include <memory>
#include <vector>

#include "wiring.hpp"

namespace core {

/// The Scheduler's queue, kept across restarts. Read it while no Scheduler instance runs, or from
/// the instance's executor.
class SchedulerState {
 public:
  /// Adds a ready job.
  void push(Job job) {
    ready_.push_back(std::move(job));
    std::push_heap(ready_.begin(), ready_.end(), RunsLater{});
  }
  /// Adds room at the Dispatcher.
  void add_credits(unsigned n) { credits_ += n; }
  /// Sends jobs while there is room and work, in order; returns how many.
  template <class Send>
  std::size_t dispatch(Send&& send) {
    std::size_t n = 0;
    while (credits_ > 0 && !ready_.empty()) {
      send(ready_.front());
      std::pop_heap(ready_.begin(), ready_.end(), RunsLater{});
      ready_.pop_back();
      --credits_;
      ++n;
    }
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
  std::vector<Job> ready_;  // a heap
  unsigned credits_ = 0;
};

/// The Scheduler service over `state`; `fault` runs after each message is recorded.
Service scheduler(std::shared_ptr<SchedulerState> state, FaultHook fault = {});

}  // namespace core
