#pragma once
// A simulated worker, outside the Core: it registers with the Dispatcher, runs the jobs it is sent
// (each one `work / speed` long, up to `capacity` at once), reports each result to the Harvester
// (`Outcome`) and its free slot to the Dispatcher (`Finished`), both with the job's placement
// number, and sends a `Heartbeat` every `heartbeat`.
//
// A job fails while `attempt < spec.fail_attempts` (error "simulated failure on attempt N", N
// being the job's 0-based attempt), or else with probability `failure_rate` (drawn from a
// generator seeded with `seed`, one draw per job started).
//
// Faults, driven through `WorkerControl`. Silent: the worker sends nothing at all and reads
// nothing, as behind a cut network; results of jobs that end meanwhile are dropped. Back: it
// registers again with a fresh inbox (the old one is closed, jobs queued there are dropped) and
// drops the results of jobs it started before, which the Dispatcher takes back on the new
// `Register`. Killed: it stops sending for good and ends.
//
// The worker ends when killed, or when every sender of its inbox is gone and no job runs. All of
// it runs on one strand of the executor it is spawned on.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <utility>

#include "wiring.hpp"

namespace core {

/// What a simulated worker is.
struct WorkerOptions {
  WorkerId id = 0;
  unsigned capacity = 2;                     ///< jobs run at once
  double speed = 1.0;                        ///< a job takes `spec.work / speed`
  double failure_rate = 0.0;                 ///< chance that a job fails, beyond `fail_attempts`
  std::chrono::milliseconds heartbeat{100};  ///< period of heartbeats, and of noticing control changes
  std::uint64_t seed = 1;
  /// Makes the inbox of each session (its sender goes in the `Register`); none: a new local
  /// channel. A worker in another process receives its jobs through a transport instead.
  std::function<std::pair<mpsc::UnboundedSender<RunJob>, mpsc::Receiver<RunJob>>()> make_inbox;
};

/// Drives a running worker's faults from any thread. Changes are noticed within one heartbeat
/// period.
class WorkerControl {
 public:
  /// Cuts the worker off: it sends and reads nothing until `come_back()`.
  void go_silent() noexcept { silent_.store(true, std::memory_order_release); }
  /// Ends a silence: the worker registers again.
  void come_back() noexcept { silent_.store(false, std::memory_order_release); }
  /// Ends the worker for good.
  void kill() noexcept { killed_.store(true, std::memory_order_release); }

  bool is_silent() const noexcept { return silent_.load(std::memory_order_acquire); }
  bool is_killed() const noexcept { return killed_.load(std::memory_order_acquire); }
  /// Jobs run to their end so far, reported or not.
  std::uint64_t jobs_run() const noexcept { return jobs_run_.load(std::memory_order_acquire); }
  /// `Register` messages sent so far.
  std::uint64_t registrations() const noexcept { return registrations_.load(std::memory_order_acquire); }

  /// Counts a job run to its end (the worker calls this).
  void count_job() noexcept { jobs_run_.fetch_add(1, std::memory_order_acq_rel); }
  /// Counts a registration (the worker calls this).
  void count_registration() noexcept { registrations_.fetch_add(1, std::memory_order_acq_rel); }

 private:
  std::atomic<bool> silent_{false};
  std::atomic<bool> killed_{false};
  std::atomic<std::uint64_t> jobs_run_{0};
  std::atomic<std::uint64_t> registrations_{0};
};

/// Runs the worker `options.id` until it is killed, or its inbox has no sender left and no job runs.
asio::awaitable<void> run_worker(std::shared_ptr<Shared> shared, WorkerOptions options,
                                 std::shared_ptr<WorkerControl> control);

}  // namespace core
