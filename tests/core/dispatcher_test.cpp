// The Dispatcher alone, through its channel ends: credits, placement, freed slots, lost workers,
// pending jobs, restarts. The simulated worker on a real io_context: results, simulated failures,
// silence and coming back.

#include "services/dispatcher.hpp"
#include "workers/simulated_worker.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <vector>

namespace dispatcher_test {

namespace {

using namespace core;
using namespace std::chrono_literals;
namespace mpsc = swarmsync::mpsc;
using Clock = std::chrono::steady_clock;
using Rx = swarmsync::ServiceWiring<ChannelType, EventPayload>::Rx;

Job job(JobId id, unsigned attempt = 0) {
  Job j;
  j.id = id;
  j.attempt = attempt;
  j.ready_at = Clock::time_point{} + std::chrono::milliseconds(id);
  return j;
}

// Everything queued in `rx` now.
template <class T>
std::vector<T> drain(mpsc::Receiver<T>& rx) {
  std::vector<T> out;
  while (auto m = rx.try_recv()) out.push_back(std::move(*m));
  return out;
}

// A worker the test plays: its inbox is read by the test.
struct FakeWorker {
  WorkerId id;
  mpsc::Receiver<RunJob> inbox;
  std::map<JobId, std::uint64_t> placements = {};  // of the jobs read from the inbox, the last one each

  std::vector<JobId> jobs() {
    std::vector<JobId> out;
    for (auto& r : drain(inbox)) {
      out.push_back(r.job.id);
      placements[r.job.id] = r.job.placement;
    }
    return out;
  }

  // What the worker reports once `job` (run 0) is over.
  Finished finished(JobId job) { return Finished{id, job, 0, placements.at(job)}; }
};

struct DispatcherRig {
  std::shared_ptr<Shared> shared = std::make_shared<Shared>();
  asio::io_context ioc;
  std::shared_ptr<DispatcherState> state = std::make_shared<DispatcherState>();
  DispatcherOptions options{10s, 10ms};  // no worker is lost unless a test says so
  std::optional<Rx> scheduler;
  std::optional<Rx> harvester;

  DispatcherRig() {
    shared->wiring->add_channel(ChannelType::ToDispatcher).value();
    shared->wiring->add_channel(ChannelType::ToScheduler).value();
    shared->wiring->add_channel(ChannelType::ToHarvester).value();
    scheduler.emplace(shared->wiring->take_rx(ChannelType::ToScheduler, "test").value());
    harvester.emplace(shared->wiring->take_rx(ChannelType::ToHarvester, "test").value());
  }

  void send(EventPayload msg) { shared->wiring->get_tx(ChannelType::ToDispatcher).value().send(std::move(msg)).value(); }

  FakeWorker add_worker(WorkerId id, unsigned capacity) {
    auto channel = mpsc::unbounded_channel<RunJob>();
    send(Register{id, capacity, std::move(channel.first)});
    return FakeWorker{id, std::move(channel.second)};
  }

  // Runs one Dispatcher instance for `how_long` (nothing but what is ready if zero), then stops
  // it. Returns what ended it: null for the stop, else what it threw.
  std::exception_ptr run(std::chrono::milliseconds how_long = 0ms, FaultHook fault = {}) {
    Context ctx("dispatcher", 0, shared);
    bool done = false;
    std::exception_ptr error;
    ctx.spawn(ioc.get_executor(), dispatcher(state, options, fault), [&](std::exception_ptr e) {
      done = true;
      error = e;
    });
    if (how_long > 0ms) ioc.run_for(how_long);
    else ioc.poll();
    if (!done) ctx.stop(false);
    ioc.restart();
    ioc.run();
    EXPECT_TRUE(done);
    ioc.restart();
    return error;
  }

  // Runs the Dispatcher until `pred()` holds or a second went by; returns `pred()`.
  template <class Pred>
  bool run_until(Pred pred) {
    const auto give_up = Clock::now() + 1s;
    while (!pred() && Clock::now() < give_up) run(5ms);
    return pred();
  }

  std::vector<unsigned> credits() {
    std::vector<unsigned> out;
    for (auto& m : drain<EventPayload>(*scheduler)) {
      if (auto* c = std::get_if<Credit>(&m)) out.push_back(c->slots);
    }
    return out;
  }
};

TEST(Dispatcher, ARegisterGivesCreditForTheWorkersCapacity) {
  DispatcherRig rig;
  auto w1 = rig.add_worker(1, 3);
  rig.run();
  EXPECT_EQ(rig.credits(), (std::vector<unsigned>{3}));
  auto w2 = rig.add_worker(2, 2);
  rig.run();
  EXPECT_EQ(rig.credits(), (std::vector<unsigned>{2}));
  EXPECT_EQ(rig.state->workers(), 2u);
  EXPECT_EQ(rig.state->reachable_workers(), 2u);
  EXPECT_EQ(rig.state->free_slots(), 5u);
  EXPECT_EQ(rig.state->credit_held(), 5u);
}

TEST(Dispatcher, ADispatchGoesToTheLeastLoadedWorkerWithRunJobAndExpect) {
  DispatcherRig rig;
  auto w1 = rig.add_worker(1, 2);
  auto w2 = rig.add_worker(2, 3);
  for (JobId id = 10; id < 14; ++id) rig.send(Dispatch{job(id)});
  rig.run();
  // 10: 2 has 3 free; 11: a tie (2 and 2), the lowest id; 12: 2 has more; 13: a tie again.
  EXPECT_EQ(w1.jobs(), (std::vector<JobId>{11, 13}));
  EXPECT_EQ(w2.jobs(), (std::vector<JobId>{10, 12}));
  std::vector<std::pair<JobId, WorkerId>> expected;
  for (auto& m : drain<EventPayload>(*rig.harvester)) {
    auto& e = std::get<Expect>(m);
    expected.emplace_back(e.job.id, e.worker);
  }
  EXPECT_EQ(expected, (std::vector<std::pair<JobId, WorkerId>>{{10, 2}, {11, 1}, {12, 2}, {13, 1}}));
  EXPECT_EQ(rig.state->held_jobs(), 4u);
  EXPECT_EQ(rig.state->free_slots(), 1u);
  EXPECT_EQ(rig.state->credit_held(), 1u);
}

// The worker table a watcher reads: published at each silence check, a row a worker.
TEST(Dispatcher, TheWorkerTableIsPublishedForWatchers) {
  DispatcherRig rig;
  EXPECT_TRUE(rig.state->worker_table().empty());
  auto w1 = rig.add_worker(1, 2);
  auto w2 = rig.add_worker(2, 3);
  for (JobId id = 10; id < 13; ++id) rig.send(Dispatch{job(id)});
  const auto before = Clock::now();
  rig.run();  // a new instance checks for silence once its inbox is drained
  const auto table = rig.state->worker_table();
  ASSERT_EQ(table.size(), 2u);
  EXPECT_EQ(table[0].id, 1u);
  EXPECT_EQ(table[0].capacity, 2u);
  EXPECT_EQ(table[0].load, 1u);
  EXPECT_EQ(table[1].id, 2u);
  EXPECT_EQ(table[1].capacity, 3u);
  EXPECT_EQ(table[1].load, 2u);
  for (const auto& row : table) {
    EXPECT_TRUE(row.reachable);
    EXPECT_LE(row.last_seen, Clock::now());
    EXPECT_GE(row.last_seen + 1s, before);
  }
  (void)w1.jobs();
  (void)w2.jobs();
}

TEST(Dispatcher, AFinishedJobFreesASlotAndGivesOneCredit) {
  DispatcherRig rig;
  auto w1 = rig.add_worker(1, 1);
  rig.run();
  EXPECT_EQ(rig.credits(), (std::vector<unsigned>{1}));
  rig.send(Dispatch{job(5)});
  rig.run();
  EXPECT_TRUE(rig.credits().empty());
  EXPECT_EQ(w1.jobs(), (std::vector<JobId>{5}));
  EXPECT_EQ(rig.state->free_slots(), 0u);

  rig.send(w1.finished(5));
  rig.send(w1.finished(5));     // not held any more: ignored
  rig.send(Finished{1, 6, 0});  // never held: ignored
  rig.run();
  EXPECT_EQ(rig.credits(), (std::vector<unsigned>{1}));
  EXPECT_EQ(rig.state->held_jobs(), 0u);
  EXPECT_EQ(rig.state->free_slots(), 1u);
}

// The slots a burst of reports frees are credited together once the inbox is drained, and at
// least every 32 messages: one Scheduler wake-up for many slots, and none waits long for credit.
TEST(Dispatcher, ABurstOfFinishedReportsIsCreditedTogether) {
  DispatcherRig rig;
  auto w1 = rig.add_worker(1, 40);
  rig.run();
  EXPECT_EQ(rig.credits(), (std::vector<unsigned>{40}));
  for (JobId id = 1; id <= 40; ++id) rig.send(Dispatch{job(id)});
  rig.run();
  ASSERT_EQ(w1.jobs().size(), 40u);
  EXPECT_TRUE(rig.credits().empty());
  EXPECT_EQ(rig.state->credit_held(), 0u);

  for (JobId id = 1; id <= 40; ++id) rig.send(w1.finished(id));
  rig.run();
  EXPECT_EQ(rig.credits(), (std::vector<unsigned>{32, 8}));
  EXPECT_EQ(rig.state->credit_held(), 40u);

  rig.send(Dispatch{job(41)});
  rig.run();
  ASSERT_EQ(w1.jobs(), (std::vector<JobId>{41}));
  rig.send(w1.finished(41));  // alone: credited at once
  rig.run();
  EXPECT_EQ(rig.credits(), (std::vector<unsigned>{1}));
}

TEST(Dispatcher, PendingJobsArePlacedInOrderWhenASlotFrees) {
  DispatcherRig rig;
  auto w1 = rig.add_worker(1, 1);
  rig.send(Dispatch{job(1)});
  rig.send(Dispatch{job(2)});  // beyond the credit: no slot is free
  rig.send(Dispatch{job(3)});
  rig.run();
  EXPECT_EQ(w1.jobs(), (std::vector<JobId>{1}));
  EXPECT_EQ(rig.state->pending_jobs(), 2u);
  rig.credits();

  rig.send(w1.finished(1));
  rig.run();
  EXPECT_EQ(w1.jobs(), (std::vector<JobId>{2}));  // the slot went to a pending job, not to credit
  EXPECT_TRUE(rig.credits().empty());
  rig.send(w1.finished(2));
  rig.run();
  EXPECT_EQ(w1.jobs(), (std::vector<JobId>{3}));
  EXPECT_EQ(rig.state->pending_jobs(), 0u);
  rig.send(w1.finished(3));
  rig.run();
  EXPECT_EQ(rig.credits(), (std::vector<unsigned>{1}));
}

TEST(Dispatcher, EachPlacementHasItsOwnNumberAndAStaleFinishedFreesNothing) {
  DispatcherRig rig;
  rig.options = {30ms, 10ms};
  auto w1 = rig.add_worker(1, 1);
  rig.send(Dispatch{job(8)});
  rig.run();
  ASSERT_EQ(w1.jobs(), (std::vector<JobId>{8}));
  const std::uint64_t first = w1.placements.at(8);
  EXPECT_GT(first, 0u);
  auto expects = drain<EventPayload>(*rig.harvester);
  ASSERT_EQ(expects.size(), 1u);
  EXPECT_EQ(std::get<Expect>(expects[0]).job.placement, first);

  // Worker 1 is lost; job 8 goes back and, placed again on worker 1 registered anew, gets a new
  // number. A Finished of the first placement, late, does not free the slot of the second.
  ASSERT_TRUE(rig.run_until([&] { return rig.state->workers_lost() == 1; }));
  auto forgets = drain<EventPayload>(*rig.harvester);
  ASSERT_EQ(forgets.size(), 1u);
  EXPECT_EQ(std::get<Forget>(forgets[0]).placement, first);
  auto requeued = drain<EventPayload>(*rig.scheduler);
  rig.options.heartbeat_timeout = 10s;
  auto again = rig.add_worker(1, 1);
  for (auto& m : requeued) {
    if (auto* r = std::get_if<Ready>(&m)) rig.send(Dispatch{r->job});
  }
  rig.run();
  ASSERT_EQ(again.jobs(), (std::vector<JobId>{8}));
  const std::uint64_t second = again.placements.at(8);
  EXPECT_NE(second, first);
  rig.send(Finished{1, 8, 0, first});
  rig.run();
  EXPECT_EQ(rig.state->held_jobs(), 1u);
  EXPECT_EQ(rig.state->free_slots(), 0u);
  rig.send(again.finished(8));
  rig.run();
  EXPECT_EQ(rig.state->held_jobs(), 0u);
  EXPECT_EQ(rig.state->free_slots(), 1u);
}

TEST(Dispatcher, ASilentWorkerIsLostAndItsJobsGoBackToTheScheduler) {
  DispatcherRig rig;
  rig.options = {30ms, 10ms};
  auto w1 = rig.add_worker(1, 3);
  Job j1 = job(1, 2);
  Job j2 = job(2);
  rig.send(Dispatch{j1});
  rig.send(Dispatch{j2});
  rig.run();
  EXPECT_EQ(w1.jobs(), (std::vector<JobId>{1, 2}));
  EXPECT_EQ(rig.credits(), (std::vector<unsigned>{1}));  // once the inbox is drained: the slot left
  drain<EventPayload>(*rig.harvester);

  ASSERT_TRUE(rig.run_until([&] { return rig.state->workers_lost() == 1; }));
  EXPECT_EQ(rig.state->reachable_workers(), 0u);
  EXPECT_EQ(rig.state->held_jobs(), 0u);
  std::vector<Job> ready;
  for (auto& m : drain<EventPayload>(*rig.scheduler)) ready.push_back(std::get<Ready>(m).job);
  ASSERT_EQ(ready.size(), 2u);
  EXPECT_EQ(ready[0].id, 1u);
  EXPECT_EQ(ready[0].attempt, 2u);  // the same attempt, as it was
  EXPECT_EQ(ready[0].ready_at, j1.ready_at);
  EXPECT_EQ(ready[1].id, 2u);
  std::vector<JobId> forgotten;
  for (auto& m : drain<EventPayload>(*rig.harvester)) {
    auto& f = std::get<Forget>(m);
    EXPECT_EQ(f.worker, 1u);
    forgotten.push_back(f.job);
  }
  EXPECT_EQ(forgotten, (std::vector<JobId>{1, 2}));

  // Lost, nothing is placed on it: a job dispatched on the Scheduler's stale credit waits.
  rig.send(Dispatch{job(3)});
  rig.run();
  EXPECT_EQ(rig.state->pending_jobs(), 1u);
  EXPECT_TRUE(w1.jobs().empty());

  // Heard from again (it was only late): reachable again with its capacity, the pending job
  // placed on it, credit for the rest. The jobs taken back stay taken back: its report of one of
  // them frees nothing.
  rig.options.heartbeat_timeout = 10s;
  rig.send(Heartbeat{1, 2});
  rig.run();
  EXPECT_EQ(rig.state->workers_back(), 1u);
  EXPECT_EQ(rig.state->reachable_workers(), 1u);
  EXPECT_EQ(w1.jobs(), (std::vector<JobId>{3}));
  EXPECT_EQ(rig.credits(), (std::vector<unsigned>{2}));
  rig.send(Finished{1, 1, 0, ready[0].placement});
  rig.run();
  EXPECT_EQ(rig.state->worker(1)->held.size(), 1u);
  EXPECT_TRUE(rig.credits().empty());

  // It registers again (it started over): reachable, what it held taken back, credited for the
  // slot that freed.
  auto again = rig.add_worker(1, 3);
  rig.run();
  EXPECT_EQ(rig.state->reachable_workers(), 1u);
  EXPECT_EQ(rig.state->worker(1)->held.size(), 0u);
  EXPECT_EQ(rig.credits(), (std::vector<unsigned>{1}));
}

TEST(Dispatcher, ALostWorkerWhoseInboxIsClosedStaysLost) {
  DispatcherRig rig;
  rig.options = {30ms, 10ms};
  {
    auto w = rig.add_worker(2, 2);
    rig.run();
  }  // the worker is gone, and with it its inbox's receiver
  ASSERT_TRUE(rig.run_until([&] { return rig.state->workers_lost() == 1; }));
  // A heartbeat it sent before it went, late on the way, does not revive it.
  rig.options.heartbeat_timeout = 10s;
  rig.send(Heartbeat{2, 0});
  rig.run();
  EXPECT_FALSE(rig.state->worker(2)->reachable);
  EXPECT_EQ(rig.state->workers_back(), 0u);
}

// A placement that fails (the worker's inbox is closed) leaves no mark on the job: the next
// worker gets it with one `dispatched` in its history, and the Harvester forgets the failed one.
TEST(Dispatcher, AJobWhoseWorkerIsGoneIsPlacedOnTheNextAsIfNothingHappened) {
  DispatcherRig rig;
  std::optional<FakeWorker> gone = rig.add_worker(1, 1);  // picked first: the lowest id
  auto w2 = rig.add_worker(2, 1);
  rig.run();
  gone.reset();  // worker 1 drops its inbox
  drain<EventPayload>(*rig.harvester);
  Job j = job(5);
  j.history = {JobStatus::submitted, JobStatus::ready};
  rig.send(Dispatch{j});
  rig.run();
  EXPECT_EQ(rig.state->workers_lost(), 1u);
  auto runs = drain(w2.inbox);
  ASSERT_EQ(runs.size(), 1u);
  const Job& placed = runs[0].job;
  EXPECT_EQ(std::vector<JobStatus>(placed.history.begin(), placed.history.end()),
            (std::vector<JobStatus>{JobStatus::submitted, JobStatus::ready, JobStatus::dispatched}));
  std::vector<std::uint64_t> expected_placements;
  std::uint64_t forgotten = 0;
  for (auto& m : drain<EventPayload>(*rig.harvester)) {
    if (auto* e = std::get_if<Expect>(&m)) {
      expected_placements.push_back(e->job.placement);
      EXPECT_EQ(e->job.history.back(), JobStatus::dispatched);
      EXPECT_EQ(e->job.history.size(), 3u);
    } else {
      forgotten = std::get<Forget>(m).placement;
    }
  }
  ASSERT_EQ(expected_placements.size(), 2u);  // worker 1's, then worker 2's
  EXPECT_EQ(forgotten, expected_placements[0]);
  EXPECT_EQ(placed.placement, expected_placements[1]);
  EXPECT_NE(expected_placements[0], expected_placements[1]);
  ASSERT_EQ(rig.state->held().size(), 1u);
  EXPECT_EQ(rig.state->held()[0].history.size(), 3u);
  EXPECT_EQ(rig.state->pending_jobs(), 0u);
}

TEST(Dispatcher, ARestartKeepsTheWorkerTable) {
  DispatcherRig rig;
  auto w1 = rig.add_worker(1, 2);
  rig.send(Dispatch{job(1)});  // in hand when the crash comes: lost with it
  rig.send(Dispatch{job(2)});
  int seen = 0;
  auto error = rig.run(0ms, [&](const EventPayload& m) {
    if (std::holds_alternative<Dispatch>(m) && seen++ == 0) throw std::runtime_error("dispatcher crash");
  });
  EXPECT_TRUE(error);
  EXPECT_EQ(rig.state->workers(), 1u);
  EXPECT_EQ(rig.state->held_jobs(), 0u);
  EXPECT_EQ(rig.state->credit_held(), 0u);  // the crash came before the inbox was drained: none sent

  rig.run();  // the next instance takes the same leases and goes on
  EXPECT_EQ(w1.jobs(), (std::vector<JobId>{2}));
  EXPECT_EQ(rig.state->held_jobs(), 1u);
  EXPECT_EQ(rig.state->credit_held(), 1u);
  EXPECT_EQ(rig.credits(), (std::vector<unsigned>{2}));
}

// A simulated worker on a real io_context, with the test in the Dispatcher's and the Harvester's
// places.
struct WorkerRig {
  std::shared_ptr<Shared> shared = std::make_shared<Shared>();
  asio::io_context ioc;
  std::shared_ptr<WorkerControl> control = std::make_shared<WorkerControl>();
  std::optional<Rx> dispatcher;
  std::optional<Rx> harvester;
  std::vector<EventPayload> to_dispatcher;
  std::vector<Outcome> outcomes;
  bool done = false;
  std::exception_ptr error;  // what the worker threw, if anything

  WorkerRig() {
    shared->wiring->add_channel(ChannelType::ToDispatcher).value();
    shared->wiring->add_channel(ChannelType::ToHarvester).value();
    dispatcher.emplace(shared->wiring->take_rx(ChannelType::ToDispatcher, "test").value());
    harvester.emplace(shared->wiring->take_rx(ChannelType::ToHarvester, "test").value());
  }

  void start(WorkerOptions options) {
    asio::co_spawn(ioc, run_worker(shared, options, control), [this](std::exception_ptr e) {
      done = true;
      error = e;
    });
  }

  // Runs the io_context until `pred()` holds or a second went by, collecting what the worker sent.
  template <class Pred>
  bool pump_until(Pred pred) {
    const auto give_up = Clock::now() + 1s;
    for (;;) {
      collect();
      if (pred() || Clock::now() >= give_up) return pred();
      ioc.restart();
      ioc.run_for(2ms);
    }
  }

  void pump_for(std::chrono::milliseconds how_long) {
    const auto until = Clock::now() + how_long;
    pump_until([&] { return Clock::now() >= until; });
  }

  void collect() {
    for (auto& m : drain<EventPayload>(*dispatcher)) to_dispatcher.push_back(std::move(m));
    for (auto& m : drain<EventPayload>(*harvester)) outcomes.push_back(std::get<Outcome>(m));
  }

  template <class T>
  std::size_t count() const {
    std::size_t n = 0;
    for (const auto& m : to_dispatcher) n += std::holds_alternative<T>(m) ? 1 : 0;
    return n;
  }

  // The inbox of the last registration.
  mpsc::UnboundedSender<RunJob> inbox() {
    for (auto it = to_dispatcher.rbegin(); it != to_dispatcher.rend(); ++it) {
      if (auto* r = std::get_if<Register>(&*it)) return r->inbox;
    }
    throw std::logic_error("no Register");
  }

  // Forgets every message (and so every inbox sender) received so far.
  void clear() {
    to_dispatcher.clear();
    outcomes.clear();
  }
};

Job work(JobId id, std::chrono::milliseconds how_long, unsigned attempt = 0, unsigned fail_attempts = 0) {
  Job j = job(id, attempt);
  j.spec.work = how_long;
  j.spec.fail_attempts = fail_attempts;
  return j;
}

TEST(SimulatedWorker, RegistersRunsJobsAndReportsEach) {
  WorkerRig rig;
  rig.start({.id = 7, .capacity = 2, .heartbeat = 10ms});
  ASSERT_TRUE(rig.pump_until([&] { return rig.count<Register>() == 1; }));
  {
    auto inbox = rig.inbox();
    const auto& r = std::get<Register>(rig.to_dispatcher.front());
    EXPECT_EQ(r.worker, 7u);
    EXPECT_EQ(r.capacity, 2u);
    for (JobId id = 1; id <= 3; ++id) inbox.send(RunJob{work(id, 5ms)}).value();
  }
  ASSERT_TRUE(rig.pump_until([&] { return rig.outcomes.size() == 3 && rig.count<Finished>() == 3; }));
  std::vector<JobId> finished;
  for (const auto& m : rig.to_dispatcher) {
    if (auto* f = std::get_if<Finished>(&m)) {
      EXPECT_EQ(f->worker, 7u);
      finished.push_back(f->job);
    }
  }
  std::sort(finished.begin(), finished.end());
  EXPECT_EQ(finished, (std::vector<JobId>{1, 2, 3}));
  for (const auto& o : rig.outcomes) {
    EXPECT_TRUE(o.ok);
    EXPECT_EQ(o.worker, 7u);
    EXPECT_TRUE(o.error.empty());
    EXPECT_LE(o.started, o.finished);
  }
  EXPECT_EQ(rig.control->jobs_run(), 3u);

  // With every sender of its inbox gone and nothing running, the worker ends.
  rig.clear();
  EXPECT_TRUE(rig.pump_until([&] { return rig.done; }));
  EXPECT_FALSE(rig.error);
}

TEST(SimulatedWorker, TheFirstAttemptsFailAsTheSpecSays) {
  WorkerRig rig;
  rig.start({.id = 1, .capacity = 3, .heartbeat = 10ms});
  ASSERT_TRUE(rig.pump_until([&] { return rig.count<Register>() == 1; }));
  {
    auto inbox = rig.inbox();
    for (unsigned attempt = 0; attempt < 3; ++attempt) inbox.send(RunJob{work(9, 2ms, attempt, 2)}).value();
  }
  ASSERT_TRUE(rig.pump_until([&] { return rig.outcomes.size() == 3; }));
  std::sort(rig.outcomes.begin(), rig.outcomes.end(),
            [](const Outcome& a, const Outcome& b) { return a.attempt < b.attempt; });
  EXPECT_FALSE(rig.outcomes[0].ok);
  EXPECT_EQ(rig.outcomes[0].error, "simulated failure on attempt 0");
  EXPECT_FALSE(rig.outcomes[1].ok);
  EXPECT_EQ(rig.outcomes[1].error, "simulated failure on attempt 1");
  EXPECT_TRUE(rig.outcomes[2].ok);
  EXPECT_EQ(rig.outcomes[2].attempt, 2u);
  rig.control->kill();
  EXPECT_TRUE(rig.pump_until([&] { return rig.done; }));
}

TEST(SimulatedWorker, ASilentWorkerSendsNothingAndRegistersAgainWhenBack) {
  WorkerRig rig;
  rig.start({.id = 3, .capacity = 2, .heartbeat = 5ms});
  ASSERT_TRUE(rig.pump_until([&] { return rig.count<Register>() == 1; }));
  auto old_inbox = rig.inbox();
  old_inbox.send(RunJob{work(1, 20ms)}).value();
  // Running the job: a heartbeat says so.
  ASSERT_TRUE(rig.pump_until([&] {
    for (const auto& m : rig.to_dispatcher) {
      if (auto* h = std::get_if<Heartbeat>(&m); h && h->in_flight == 1) return true;
    }
    return false;
  }));

  rig.control->go_silent();
  rig.clear();
  ASSERT_TRUE(rig.pump_until([&] { return rig.control->jobs_run() == 1; }));  // it ran to its end
  rig.pump_for(20ms);                                                          // four heartbeat periods
  EXPECT_TRUE(rig.to_dispatcher.empty());  // no heartbeat, no Finished
  EXPECT_TRUE(rig.outcomes.empty());       // its result was dropped
  EXPECT_FALSE(rig.done);

  rig.control->come_back();
  ASSERT_TRUE(rig.pump_until([&] { return rig.count<Register>() == 1 && rig.count<Heartbeat>() >= 1; }));
  EXPECT_FALSE(rig.inbox().same_channel(old_inbox));  // a fresh inbox
  EXPECT_TRUE(old_inbox.is_closed());                  // the old one is closed
  EXPECT_EQ(rig.control->registrations(), 2u);

  rig.control->kill();
  EXPECT_TRUE(rig.pump_until([&] { return rig.done; }));
}

// A Register that crossed processes comes with a closed inbox (a sender cannot be sent): the
// Dispatcher looks the worker's inbox up with `inbox_of` and places jobs there. Without one, the
// worker is not taken: no credit is given for slots nothing can reach.
TEST(Dispatcher, ARegisterWithAClosedInboxTakesTheOneLookedUp) {
  auto closed = [] {
    auto [tx, rx] = mpsc::unbounded_channel<RunJob>();
    return std::move(tx);  // its receiver goes here
  };
  {
    DispatcherRig rig;
    rig.send(Register{1, 2, closed()});
    rig.run();
    EXPECT_EQ(rig.state->workers(), 0u);
    EXPECT_TRUE(rig.credits().empty());
  }
  DispatcherRig rig;
  auto looked_up = mpsc::unbounded_channel<RunJob>();
  std::vector<WorkerId> asked;
  rig.options.inbox_of = [&](WorkerId w) -> std::optional<mpsc::UnboundedSender<RunJob>> {
    asked.push_back(w);
    return looked_up.first;
  };
  rig.send(Register{7, 2, closed()});
  rig.send(Dispatch{job(70)});
  rig.run();
  EXPECT_EQ(asked, (std::vector<WorkerId>{7}));
  EXPECT_EQ(rig.state->reachable_workers(), 1u);
  FakeWorker w{7, std::move(looked_up.second)};
  EXPECT_EQ(w.jobs(), (std::vector<JobId>{70}));
  EXPECT_EQ(rig.state->workers_lost(), 0u);
}

// A journal that holds what a store would hold now, and records what it was told.
struct MemoryDispatcherJournal : DispatcherJournal {
  Entries kept;
  std::vector<JobId> waited;               // jobs told to wait, in order
  std::vector<JobId> finished_ids;
  std::vector<JobId> taken_back_ids;
  std::function<std::size_t()> sent;       // Readys the Dispatcher had sent, read at each taken_back
  std::vector<std::size_t> sent_at_taken_back;
  unsigned reservations = 0;

  void registered(WorkerId w, unsigned capacity) override { kept.capacities[w] = capacity; }
  void waiting(std::uint64_t order, const Job& j) override {
    waited.push_back(j.id);
    kept.pending.emplace_back(order, j);
  }
  void placed(WorkerId w, const Job& j, std::optional<std::uint64_t> order) override {
    kept.held.emplace_back(w, j);
    if (order) std::erase_if(kept.pending, [&](const auto& p) { return p.first == *order; });
  }
  void finished(WorkerId w, const Job& j) override {
    finished_ids.push_back(j.id);
    drop(w, j);
  }
  void taken_back(WorkerId w, const Job& j) override {
    taken_back_ids.push_back(j.id);
    if (sent) sent_at_taken_back.push_back(sent());
    drop(w, j);
  }
  void drop(WorkerId w, const Job& j) {
    std::erase_if(kept.held, [&](const auto& h) {
      return h.first == w && h.second.id == j.id && h.second.placement == j.placement;
    });
  }
  void placements_up_to(std::uint64_t upto) override {
    kept.placements = upto;
    ++reservations;
  }
  Entries load() override { return kept; }
};

// With a journal, the jobs outlive the state: each placed job is kept with its worker, a job
// waiting for a slot is kept (one placed at once is not), a job that leaves its worker is dropped.
// A new state takes on what was kept: the worker takes nothing until it is heard from (a
// resumed Register keeps what it holds), the waiting job goes out first once a slot frees, and
// placement numbers go on above every one given before.
TEST(Dispatcher, AJournalKeepsThePlacedAndWaitingJobsForTheNextState) {
  auto journal = std::make_shared<MemoryDispatcherJournal>();
  std::map<JobId, std::uint64_t> placed_first;
  std::uint64_t reserved_first = 0;
  {
    DispatcherRig rig;
    EXPECT_EQ(rig.state->keep_in(journal), 0u);
    auto w1 = rig.add_worker(1, 2);
    for (JobId id : {10, 11, 12}) rig.send(Dispatch{job(id)});
    rig.run();
    EXPECT_EQ(w1.jobs(), (std::vector<JobId>{10, 11}));
    EXPECT_EQ(journal->waited, (std::vector<JobId>{12}));
    EXPECT_EQ(journal->kept.capacities, (std::map<WorkerId, unsigned>{{1, 2}}));
    EXPECT_EQ(journal->kept.held.size(), 2u);
    EXPECT_EQ(journal->reservations, 1u);
    EXPECT_GE(journal->kept.placements, w1.placements.at(11));
    rig.send(w1.finished(10));
    rig.run();
    EXPECT_EQ(w1.jobs(), (std::vector<JobId>{12}));
    EXPECT_EQ(journal->finished_ids, (std::vector<JobId>{10}));
    EXPECT_TRUE(journal->kept.pending.empty());  // placed: its wait is over
    rig.send(Dispatch{job(13)});
    rig.run();
    EXPECT_EQ(journal->waited, (std::vector<JobId>{12, 13}));
    placed_first = w1.placements;
    reserved_first = journal->kept.placements;
  }  // the process dies: its state goes, the journal stays

  DispatcherRig next;
  EXPECT_EQ(next.state->keep_in(journal), 3u);  // 11 and 12 on worker 1, 13 waiting
  EXPECT_EQ(next.state->held_jobs(), 2u);
  EXPECT_EQ(next.state->pending_jobs(), 1u);
  next.run();
  EXPECT_EQ(next.state->pending_jobs(), 1u) << "a worker with no inbox yet takes nothing";
  auto inbox = mpsc::unbounded_channel<RunJob>();
  next.send(Register{1, 2, inbox.first, true});  // the gateway heard its heartbeat
  next.run();
  EXPECT_EQ(next.state->worker(1)->held.size(), 2u) << "a resumed Register takes nothing back";
  EXPECT_TRUE(drain<EventPayload>(*next.scheduler).empty()) << "no slot free, no job sent back";
  FakeWorker w1{1, std::move(inbox.second), placed_first};
  next.send(w1.finished(11));
  next.run();
  EXPECT_EQ(w1.jobs(), (std::vector<JobId>{13}));
  EXPECT_GT(w1.placements.at(13), reserved_first) << "no placement number given twice";
  EXPECT_EQ(next.state->pending_jobs(), 0u);
}

// A worker taken on from the journal that is never heard from (killed with the node, or since)
// is lost after the heartbeat timeout: its jobs go back to the Scheduler, and leave the journal
// only after their Ready was sent.
TEST(Dispatcher, AWorkerTakenOnFromTheJournalAndNeverHeardFromIsLost) {
  auto journal = std::make_shared<MemoryDispatcherJournal>();
  Job a = job(20);
  a.placement = 5;
  Job b = job(21);
  b.placement = 6;
  journal->kept.capacities[2] = 4;
  journal->kept.held = {{2, a}, {2, b}};
  journal->kept.placements = 1024;
  DispatcherRig rig;
  rig.options = {30ms, 10ms};
  EXPECT_EQ(rig.state->keep_in(journal), 2u);
  auto scheduler = rig.shared->wiring->get_tx(ChannelType::ToScheduler).value();
  journal->sent = [&] { return scheduler.len(); };
  ASSERT_TRUE(rig.run_until([&] { return rig.state->workers_lost() == 1; }));
  std::vector<JobId> ready;
  for (auto& m : drain<EventPayload>(*rig.scheduler))
    if (auto* r = std::get_if<Ready>(&m)) ready.push_back(r->job.id);
  EXPECT_EQ(ready, (std::vector<JobId>{20, 21}));
  EXPECT_EQ(journal->taken_back_ids, (std::vector<JobId>{20, 21}));
  EXPECT_EQ(journal->sent_at_taken_back, (std::vector<std::size_t>{1, 2}));
  EXPECT_TRUE(journal->kept.held.empty());
}

}  // namespace

}  // namespace dispatcher_test
