#pragma once
// The Hibernator: holds each job until its time, then hands it to the Scheduler. A delayed job
// is due `delay` after its submission; a cron job at each time its expression matches, and is
// re-armed after each firing (each firing is a new run of the job: `run` 0, 1, ...).
//
// In: `ReceiverToHibernator` (`Hibernate`). Out: `ToScheduler` (`Ready`). The held jobs live in a
// `HibernatorState` that outlives its instances. Cron expressions are read against `now()`
// (system clock, UTC), which a test can replace; waiting uses the steady clock.

#include <chrono>
#include <functional>
#include <memory>
#include <queue>
#include <vector>

#include "wiring.hpp"

namespace core {

/// The jobs the Hibernator holds, kept across restarts.
class HibernatorState {
 public:
  using Due = std::chrono::steady_clock::time_point;

  void hold(Due due, Job job) { held_.push(Held{due, std::move(job)}); }
  bool empty() const noexcept { return held_.empty(); }
  std::size_t size() const noexcept { return held_.size(); }
  Due next_due() const { return held_.top().due; }
  /// Removes and returns the earliest job (call only when not empty).
  Job take() {
    Job job = held_.top().job;
    held_.pop();
    return job;
  }

  std::uint64_t fired = 0;       ///< jobs handed to the Scheduler
  std::uint64_t never_fire = 0;  ///< cron jobs with no next firing time (not held, counted here)

 private:
  struct Held {
    Due due;
    Job job;
  };
  struct Later {
    bool operator()(const Held& a, const Held& b) const { return a.due > b.due; }
  };
  std::priority_queue<Held, std::vector<Held>, Later> held_;
};

/// How the Hibernator reads the wall clock (for cron).
struct HibernatorOptions {
  std::function<std::chrono::system_clock::time_point()> now = [] { return std::chrono::system_clock::now(); };
};

/// The Hibernator service over `state`.
Service hibernator(std::shared_ptr<HibernatorState> state, HibernatorOptions options = {}, FaultHook fault = {});

}  // namespace core
