// The Scheduler alone, through its channel ends: order by priority then age, credits, restarts.

#include "services/scheduler.hpp"
#include "run_alone.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <stdexcept>

namespace {

using namespace core;
using namespace std::chrono_literals;
namespace mpsc = swarmsync::mpsc;

struct SchedulerRig {
  std::shared_ptr<Shared> shared = std::make_shared<Shared>();
  asio::io_context ioc;
  std::shared_ptr<SchedulerState> state = std::make_shared<SchedulerState>();

  SchedulerRig() {
    shared->wiring->add_channel(ChannelType::ToScheduler).value();
    shared->wiring->add_channel(ChannelType::ToDispatcher).value();
  }

  mpsc::UnboundedSender<EventPayload> inbox() { return shared->wiring->get_tx(ChannelType::ToScheduler).value(); }

  // Runs one Scheduler instance until it is idle, then stops it.
  void run(FaultHook fault = {}) { core::test::run_until_idle(ioc, shared, "scheduler", scheduler(state, fault)); }

  std::vector<JobId> dispatched() {
    std::vector<JobId> out;
    auto rx = shared->wiring->take_rx(ChannelType::ToDispatcher, "test").value();
    while (auto m = rx.try_recv()) out.push_back(std::get<Dispatch>(*m).job.id);
    return out;
  }
};

Job job(JobId id, int priority, std::chrono::steady_clock::time_point ready_at) {
  Job j;
  j.id = id;
  j.spec.priority = priority;
  j.ready_at = ready_at;
  return j;
}

TEST(Scheduler, SendsByPriorityThenAgeOnlyWhenTheDispatcherHasRoom) {
  SchedulerRig rig;
  const auto t0 = std::chrono::steady_clock::now();
  auto in = rig.inbox();
  in.send(Ready{job(1, 5, t0 + 2ms)}).value();
  in.send(Ready{job(2, 9, t0 + 3ms)}).value();
  in.send(Ready{job(3, 5, t0 + 1ms)}).value();
  in.send(Ready{job(4, 0, t0)}).value();
  rig.run();
  EXPECT_TRUE(rig.dispatched().empty());  // no credit yet: nothing goes out
  EXPECT_EQ(rig.state->queued(), 4u);

  in.send(Credit{3}).value();
  rig.run();
  EXPECT_EQ(rig.dispatched(), (std::vector<JobId>{2, 3, 1}));  // 9 first, then the older 5
  EXPECT_EQ(rig.state->queued(), 1u);

  in.send(Credit{5}).value();
  rig.run();
  EXPECT_EQ(rig.dispatched(), (std::vector<JobId>{4}));
  EXPECT_EQ(rig.state->credits(), 4u);  // room left for later jobs
  in.send(Ready{job(5, 1, t0)}).value();
  rig.run();
  EXPECT_EQ(rig.dispatched(), (std::vector<JobId>{5}));  // sent at once: there was room
}

TEST(Scheduler, ARestartedSchedulerLosesNothing) {
  SchedulerRig rig;
  const auto t0 = std::chrono::steady_clock::now();
  auto in = rig.inbox();
  in.send(Ready{job(1, 1, t0)}).value();
  in.send(Ready{job(2, 2, t0)}).value();
  in.send(Credit{1}).value();  // in hand when the crash comes
  in.send(Credit{1}).value();
  int seen = 0;
  rig.run([&](const EventPayload& m) {
    if (std::holds_alternative<Credit>(m) && seen++ == 0) throw std::runtime_error("scheduler crash");
  });
  // The crash came after the credit was recorded, before anything was dispatched.
  EXPECT_EQ(rig.state->queued(), 2u);
  EXPECT_EQ(rig.state->credits(), 1u);
  rig.run();  // the next instance takes the same leases and goes on
  EXPECT_EQ(rig.dispatched(), (std::vector<JobId>{2, 1}));
  EXPECT_EQ(rig.state->queued(), 0u);
}

}  // namespace
