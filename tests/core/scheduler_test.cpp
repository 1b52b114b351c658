// The Scheduler alone, through its channel ends: order by priority then age, credits, restarts.

#include "services/scheduler.hpp"
#include "run_alone.hpp"
#include "support/allocation_counter.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <functional>
#include <new>
#include <stdexcept>
#include <vector>

namespace scheduler_test {

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

// A push whose allocation fails (the heap's growth, or a new block of slots) leaves the queue as
// it was; the queue then goes on in order, across blocks and reused slots.
TEST(SchedulerState, AFailedPushLeavesTheQueueAsItWas) {
  if (!swarmsync::test::allocation_counting())
    GTEST_SKIP() << "allocation failures are injected through the program's own operator new, which sanitizers replace";
  SchedulerState state;
  const auto t0 = std::chrono::steady_clock::now();
  for (JobId id = 1; id <= 256; ++id) ASSERT_TRUE(state.push(job(id, 0, t0 + std::chrono::milliseconds(id))));
  // The 257th job needs the heap to grow (512 ranks, 20 KB) and a second block of 256 slots (62 KB).
  for (const std::size_t failing_from : {std::size_t{20000}, std::size_t{60000}}) {
    swarmsync::test::fail_allocations_of_at_least(failing_from);
    EXPECT_THROW(state.push(job(999, 9, t0)), std::bad_alloc) << failing_from;
    swarmsync::test::fail_allocations_of_at_least(0);
    EXPECT_EQ(state.queued(), 256u);
    for (const Job& j : state.jobs()) ASSERT_NE(j.id, 999u);
  }
  ASSERT_TRUE(state.push(job(999, 9, t0)));  // first by priority
  state.add_credits(100);
  std::vector<JobId> sent;
  EXPECT_EQ(state.dispatch([&](const Job& j) { sent.push_back(j.id); }), 100u);
  for (JobId id = 1000; id < 1100; ++id) ASSERT_TRUE(state.push(job(id, 0, t0 + 1h)));  // into the freed slots
  state.add_credits(1000);
  EXPECT_EQ(state.dispatch([&](const Job& j) { sent.push_back(j.id); }), 257u);
  ASSERT_EQ(sent.size(), 357u);
  EXPECT_EQ(sent[0], 999u);
  for (std::size_t i = 1; i <= 256; ++i) ASSERT_EQ(sent[i], i) << i;  // then by age
  for (std::size_t i = 257; i < 357; ++i) ASSERT_EQ(sent[i], 1000 + (i - 257)) << i;
  EXPECT_EQ(state.queued(), 0u);
}

TEST(SchedulerState, ASendThatThrowsLeavesItsJobQueuedAndItsCreditUnspent) {
  SchedulerState state;
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(state.push(job(1, 5, t0)));
  ASSERT_TRUE(state.push(job(2, 1, t0)));
  state.add_credits(2);
  int calls = 0;
  EXPECT_THROW(state.dispatch([&](const Job&) {
    ++calls;
    throw std::runtime_error("send failed");
  }),
               std::runtime_error);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(state.queued(), 2u);
  EXPECT_EQ(state.credits(), 2u);
  // The next dispatch sends both, the one whose send threw first, with what it held.
  std::vector<Job> sent;
  EXPECT_EQ(state.dispatch([&](const Job& j) { sent.push_back(j); }), 2u);
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].id, 1u);
  EXPECT_EQ(sent[0].spec.priority, 5);
  EXPECT_EQ(sent[1].id, 2u);
  EXPECT_EQ(state.queued(), 0u);
  EXPECT_EQ(state.credits(), 0u);
}

}  // namespace

// A journal that records what it is told, with entries to hand out.
struct RecordingSchedulerJournal : SchedulerJournal {
  std::vector<JobId> queued_ids, dispatched_ids;
  std::vector<unsigned> raised, spent;
  std::vector<std::size_t> sent_at_dispatched;  // Dispatches queued when each was told
  std::function<std::size_t()> sent;
  Entries kept;
  void queued(const Job& j) override { queued_ids.push_back(j.id); }
  void dispatched(const Job& j) override {
    dispatched_ids.push_back(j.id);
    sent_at_dispatched.push_back(sent ? sent() : 0);
  }
  void credits_raised(unsigned c) override { raised.push_back(c); }
  void credits_spent(unsigned c) override { spent.push_back(c); }
  Entries load() override { return kept; }
};

// With a journal, the queue and the credits outlive the state: each queued job is kept, dropped
// once sent (told after the send), the credits kept as they rise and fall; a new state takes on
// what the journal kept and sends it.
TEST(Scheduler, AJournalKeepsTheQueueAndTheCreditsForTheNextState) {
  auto journal = std::make_shared<RecordingSchedulerJournal>();
  const auto t0 = std::chrono::steady_clock::now();
  {
    SchedulerRig rig;
    EXPECT_EQ(rig.state->keep_in(journal), 0u);
    auto dispatcher = rig.shared->wiring->get_tx(ChannelType::ToDispatcher).value();
    journal->sent = [&] { return dispatcher.len(); };
    auto in = rig.inbox();
    in.send(Ready{job(1, 5, t0)}).value();
    in.send(Ready{job(2, 1, t0)}).value();
    in.send(Credit{1}).value();
    rig.run();
    EXPECT_EQ(rig.dispatched(), (std::vector<JobId>{1}));
    EXPECT_EQ(journal->queued_ids, (std::vector<JobId>{1, 2}));
    EXPECT_EQ(journal->dispatched_ids, (std::vector<JobId>{1}));
    EXPECT_EQ(journal->sent_at_dispatched, (std::vector<std::size_t>{1}));
    EXPECT_EQ(journal->raised, (std::vector<unsigned>{1}));
    EXPECT_EQ(journal->spent, (std::vector<unsigned>{0}));
  }
  journal->kept = {{job(2, 1, t0), job(3, 7, t0)}, 2};
  journal->sent = nullptr;
  SchedulerRig next;
  EXPECT_EQ(next.state->keep_in(journal), 2u);
  EXPECT_EQ(next.state->credits(), 2u);
  next.run();
  EXPECT_EQ(next.dispatched(), (std::vector<JobId>{3, 2}));
}

// With drop_copies (an inbox bridged over JetStream), a copy of a queued job (a message
// delivered again after the process that handled it died) is dropped: the job is sent once. The
// same job placed again (a new placement) is a new entry. Jobs queued before drop_copies count.
TEST(Scheduler, ACopyOfAQueuedJobIsDropped) {
  SchedulerRig rig;
  const auto t0 = std::chrono::steady_clock::now();
  auto in = rig.inbox();
  in.send(Ready{job(1, 0, t0)}).value();
  rig.run();
  rig.state->drop_copies();
  in.send(Ready{job(1, 0, t0)}).value();
  Job again = job(1, 0, t0);
  again.placement = 4;  // taken back from a lost worker
  in.send(Ready{again}).value();
  rig.run();
  EXPECT_EQ(rig.state->queued(), 2u);
  in.send(Credit{5}).value();
  rig.run();
  EXPECT_EQ(rig.dispatched(), (std::vector<JobId>{1, 1}));
  // Once sent, a copy is no longer recognised (only queued jobs are): at least once.
  in.send(Ready{job(1, 0, t0)}).value();
  rig.run();
  EXPECT_EQ(rig.dispatched(), (std::vector<JobId>{1}));
}

}  // namespace scheduler_test
