#pragma once
// The Dispatcher: places each job the Scheduler chose on the reachable worker with the most free
// slots (then the lowest id), tells the Harvester to expect its result, and tells the Scheduler
// how much room there is. Each placement gets a new number (`Job::placement`), which the worker
// echoes in its `Finished` and `Outcome`: a report of an earlier placement frees nothing. A worker silent for longer
// than the heartbeat timeout is lost: each job it held goes back to the Scheduler (same attempt) and the Harvester
// forgets it.
//
// In: `ToDispatcher` (`Dispatch` from the Scheduler; `Register`, `Heartbeat`, `Finished` from
// workers). Out: worker inboxes (`RunJob`), `ToHarvester` (`Expect` before the `RunJob`,
// `Forget`), `ToScheduler` (`Credit`, `Ready`). Its worker table lives in a `DispatcherState`
// that outlives its instances, so a restarted Dispatcher keeps its workers and their jobs; in a
// node, the jobs are also kept in a `DispatcherJournal` that outlives the process.
//
// Credits. The Dispatcher counts the credit the Scheduler holds (sent minus `Dispatch` received)
// and sends credit only for free slots beyond it: a `Register` of capacity N gives N slots of
// credit and each `Finished` one, as long as no worker was lost. The credit goes out once the
// inbox is drained, and at least every 32 messages: the slots a burst of messages freed go in one
// `Credit` (a lone `Finished` gives `Credit{1}` at once). A lost worker's free slots stay
// credited; jobs dispatched against them wait in a FIFO queue and are placed, oldest first, as
// soon as a slot frees, and no new credit goes out until the free slots exceed the credit held.
// Credit owed when an instance ends (a restart, a hot swap) is sent by the next one at its start.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "model/ring_queue.hpp"
#include "wiring.hpp"

namespace core {

/// How the Dispatcher judges silence.
struct DispatcherOptions {
  std::chrono::milliseconds heartbeat_timeout{500};  ///< a worker not seen for longer is lost
  std::chrono::milliseconds check_every{100};        ///< how often silence is checked
  /// The inbox of a worker whose `Register` came with a closed one: a Register that crossed
  /// processes (its inbox cannot: the Dispatcher's channel is bridged when the Scheduler runs
  /// elsewhere) is looked up here, on the Dispatcher's executor. Empty, or nothing returned: the
  /// worker is not taken (logged).
  std::function<std::optional<mpsc::UnboundedSender<RunJob>>(WorkerId)> inbox_of;
};

namespace detail {
class DispatcherCore;
}

/// Where a Dispatcher's jobs are kept beyond its process, if anywhere (remote/state_journals.hpp
/// keeps them in JetStream): told of each change as the state makes it, read once when a state
/// starts to keep itself there. Called from the Dispatcher's instance.
class DispatcherJournal {
 public:
  struct Entries {
    std::map<WorkerId, unsigned> capacities;                 ///< of the workers registered
    std::vector<std::pair<WorkerId, Job>> held;              ///< placed there, not finished
    std::vector<std::pair<std::uint64_t, Job>> pending;      ///< waiting for a slot, by arrival
    std::uint64_t placements = 0;                            ///< no placement above was given
  };
  virtual ~DispatcherJournal() = default;
  /// `worker` registered with `capacity`: kept before its Register is acknowledged.
  virtual void registered(WorkerId worker, unsigned capacity) = 0;
  /// `job` waits for a slot, the `order`th to arrive: kept before its Dispatch is acknowledged.
  virtual void waiting(std::uint64_t order, const Job& job) = 0;
  /// `job` (with its new placement) was sent to `worker`: kept before the message that made room
  /// is acknowledged; the entry of its wait (`order`, if it was kept waiting) is dropped once the
  /// send is published.
  virtual void placed(WorkerId worker, const Job& job, std::optional<std::uint64_t> order) = 0;
  /// `job` finished on `worker`: dropped (at once: a copy of the Finished handled again by the
  /// next Dispatcher finds nothing to free, and that one credits its free slots anew).
  virtual void finished(WorkerId worker, const Job& job) = 0;
  /// `job` was taken back from `worker` and sent to the Scheduler: dropped once that is published.
  virtual void taken_back(WorkerId worker, const Job& job) = 0;
  /// Placement numbers up to `upto` may be given: stored before it returns (it blocks).
  virtual void placements_up_to(std::uint64_t upto) = 0;
  /// What was kept.
  virtual Entries load() = 0;
};

/// The Dispatcher's worker table, pending jobs and credit count, kept across restarts. Read it
/// while no Dispatcher instance runs, or from the instance's executor.
class DispatcherState {
 public:
  using Clock = std::chrono::steady_clock;

  /// One worker as the Dispatcher sees it.
  struct Worker {
    unsigned capacity = 0;
    std::optional<mpsc::UnboundedSender<RunJob>> inbox;  ///< kept while lost (see workers_back)
    std::vector<Job> held;                               ///< placed there, not finished yet
    Clock::time_point last_seen{};
    bool reachable = true;

    /// Slots that can take a job now (0 for an unreachable worker, or one with no inbox yet).
    unsigned free_slots() const noexcept {
      return reachable && inbox && held.size() < capacity ? capacity - static_cast<unsigned>(held.size()) : 0;
    }
  };

  /// Keeps the jobs in `journal` from now on, taking on what it kept (a Dispatcher of an earlier
  /// process held it): the jobs waiting for a slot, in their order, and the workers holding jobs,
  /// each as reachable and with no inbox until it registers again (a heartbeat the worker gateway
  /// turns into a resumed Register); one silent for the heartbeat timeout is lost, and its jobs go
  /// back to the Scheduler. Placement numbers go on above any given before. The credit the
  /// Scheduler holds is not kept: a Dispatcher that takes over counts it as none and credits its
  /// free slots; jobs sent beyond them wait here for a slot. Call before an instance runs.
  /// Returns the jobs it took on.
  std::size_t keep_in(std::shared_ptr<DispatcherJournal> journal);
  /// Workers ever registered.
  std::size_t workers() const noexcept { return workers_.size(); }
  /// Workers that are reachable now.
  std::size_t reachable_workers() const noexcept;
  /// The workers not reachable now (lost and not heard from since), by id.
  std::vector<WorkerId> unreachable_workers() const;
  /// Free slots over the reachable workers.
  unsigned free_slots() const noexcept;
  /// Jobs placed on workers and not finished.
  std::size_t held_jobs() const noexcept;
  /// Jobs dispatched while no slot was free, waiting for one.
  std::size_t pending_jobs() const noexcept { return pending_.size(); }
  /// Copies of the jobs placed on workers and not finished, and of the pending ones.
  std::vector<Job> held() const;
  std::vector<Job> pending() const;
  /// How many times a worker was found silent and lost.
  std::uint64_t workers_lost() const noexcept { return lost_; }
  /// How many times a lost worker was heard from again (a heartbeat, its inbox still open) and
  /// made reachable again; the jobs taken back from it stay taken back.
  std::uint64_t workers_back() const noexcept { return revived_; }
  /// Credit the Scheduler holds, as counted here (sent minus `Dispatch` received).
  unsigned credit_held() const noexcept { return credit_held_; }
  /// Gauges for a watcher on another thread, published after each message and each silence check:
  /// the workers reachable now and the workers lost so far. Relaxed: each is a number read on its
  /// own, ordered with nothing else; a reader sees it at most one message late.
  std::atomic<std::size_t> reachable_now{0};
  std::atomic<std::uint64_t> lost_now{0};

  /// One row of the worker table as a watcher sees it.
  struct WorkerRow {
    WorkerId id = 0;
    unsigned capacity = 0;
    std::size_t load = 0;          ///< jobs placed there and not finished
    Clock::time_point last_seen{};  ///< when it was last heard from (a register, a heartbeat, a result)
    bool reachable = true;
  };
  /// The worker table for a watcher on another thread, by id: as the Dispatcher published it at
  /// its last silence check (every `DispatcherOptions::check_every`) or registration, never on a
  /// job's path.
  std::vector<WorkerRow> worker_table() const {
    std::lock_guard lock(table_mutex_);
    return table_;
  }
  /// The worker `id`, if it ever registered.
  const Worker* worker(WorkerId id) const noexcept {
    auto it = workers_.find(id);
    return it == workers_.end() ? nullptr : &it->second;
  }

 private:
  friend class detail::DispatcherCore;

  // A job waiting for a slot: its arrival number, and whether the journal has it.
  struct Waiting {
    Job job;
    std::uint64_t order = 0;
    bool kept = false;
  };

  std::map<WorkerId, Worker> workers_;  // by id: ties go to the lowest
  RingQueue<Waiting> pending_;
  std::uint64_t arrivals_ = 0;     // the last arrival number given
  std::uint64_t reserved_ = 0;     // placement numbers kept in the journal as given, up to this
  std::shared_ptr<DispatcherJournal> journal_;
  unsigned credit_held_ = 0;
  std::uint64_t lost_ = 0;
  std::uint64_t revived_ = 0;
  std::uint64_t placements_ = 0;  // the last placement number given
  mutable std::mutex table_mutex_;  // guards table_: the Dispatcher writes, watchers copy
  std::vector<WorkerRow> table_;
};

/// The Dispatcher service over `state`.
Service dispatcher(std::shared_ptr<DispatcherState> state, DispatcherOptions options = {}, FaultHook fault = {});

}  // namespace core
