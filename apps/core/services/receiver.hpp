#pragma once
// The Receiver: accepts submitted jobs, numbers them, and routes them: immediate ones to the
// Scheduler, delayed and cron ones to the Hibernator.
//
// In: `Submissions` (`Submit`). Out: `ToScheduler` (`Ready`), `ToHibernator`
// (`Hibernate`). Job ids come from a `ReceiverState` that outlives its instances, so a restarted
// Receiver never reuses one.

#include <atomic>
#include <memory>

#include "wiring.hpp"

namespace core {

/// The Receiver's numbering and counts, kept across restarts.
struct ReceiverState {
  std::atomic<JobId> next_id{1};
  std::atomic<std::uint64_t> immediate{0};
  std::atomic<std::uint64_t> hibernated{0};
};

/// The Receiver service over `state`.
Service receiver(std::shared_ptr<ReceiverState> state, FaultHook fault = {});

}  // namespace core
