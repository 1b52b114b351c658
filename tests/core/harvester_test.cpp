// The Harvester alone, through its channel ends: success, retries and their backoff, failure, lost
// workers and stale placements, restarts.

#include "services/harvester.hpp"
#include "run_alone.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace harvester_test {

namespace {

using namespace core;
using namespace std::chrono_literals;
namespace mpsc = swarmsync::mpsc;

struct HarvesterRig {
  std::shared_ptr<Shared> shared = make_shared_resource();
  asio::io_context ioc;
  std::shared_ptr<HarvesterState> state = std::make_shared<HarvesterState>();
  swarmsync::broadcast::Receiver<CoreEvent> events = shared->channels->subscribe_to_core_event();

  static std::shared_ptr<Shared> make_shared_resource() {
    Shared::Options options;
    options.event_capacity = 64;
    auto s = std::make_shared<Shared>(options);
    s->wiring->add_channel(ChannelType::ToHarvester).value();
    s->wiring->add_channel(ChannelType::ToScheduler).value();
    s->wiring->add_channel(ChannelType::ToHibernator).value();
    s->wiring->add_channel(ChannelType::HarvesterToArchive).value();
    return s;
  }

  mpsc::UnboundedSender<EventPayload> inbox() { return shared->wiring->get_tx(ChannelType::ToHarvester).value(); }

  // Runs one Harvester instance until it is idle, then stops it.
  void run(HarvesterOptions options = {}, FaultHook fault = {}) {
    const bool may_throw = static_cast<bool>(fault);  // a fault hook is there to throw
    if (auto e = core::test::run_until_idle(ioc, shared, "harvester", harvester(state, options, fault)); e && !may_throw) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        ADD_FAILURE() << "the harvester threw: " << ex.what();
      }
    }
  }

  std::vector<Job> retried() {
    std::vector<Job> out;
    auto rx = shared->wiring->take_rx(ChannelType::ToScheduler, "test").value();
    while (auto m = rx.try_recv()) out.push_back(std::get<Ready>(*m).job);
    return out;
  }

  std::vector<Hibernate> held() {
    std::vector<Hibernate> out;
    auto rx = shared->wiring->take_rx(ChannelType::ToHibernator, "test").value();
    while (auto m = rx.try_recv()) out.push_back(std::get<Hibernate>(*m));
    return out;
  }

  std::vector<ArchiveRecord> archived() {
    std::vector<ArchiveRecord> out;
    auto rx = shared->wiring->take_rx(ChannelType::HarvesterToArchive, "test").value();
    while (auto m = rx.try_recv()) out.push_back(std::get<Archive>(*m).record);
    return out;
  }

  std::vector<JobStatusChanged> statuses() {
    std::vector<JobStatusChanged> out;
    while (auto e = events.try_recv())
      if (auto* s = std::get_if<JobStatusChanged>(&*e)) out.push_back(*s);
    return out;
  }
};

Job job(JobId id, std::uint64_t run = 0, unsigned attempt = 0, std::uint64_t placement = 0) {
  Job j;
  j.id = id;
  j.run = run;
  j.attempt = attempt;
  j.placement = placement;
  j.spec.name = "job-" + std::to_string(id);
  j.submitted_at = std::chrono::steady_clock::now() - 50ms;
  return j;
}

Outcome outcome(const Job& j, WorkerId worker, bool ok, std::string error = {}) {
  Outcome o;
  o.job = j.id;
  o.run = j.run;
  o.attempt = j.attempt;
  o.placement = j.placement;
  o.worker = worker;
  o.ok = ok;
  o.error = std::move(error);
  o.finished = std::chrono::steady_clock::now();
  return o;
}

TEST(Harvester, ASuccessIsArchivedAndBroadcastAsDone) {
  HarvesterRig rig;
  auto in = rig.inbox();
  const Job j = job(7, 2);
  in.send(Expect{j, 3}).value();
  rig.run();
  EXPECT_EQ(rig.state->expected(), 1u);

  Outcome o = outcome(j, 3, true);
  o.started = o.finished - 5ms;
  in.send(o).value();
  rig.run();
  auto records = rig.archived();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].job.id, 7u);
  EXPECT_EQ(records[0].job.run, 2u);
  EXPECT_EQ(records[0].job.spec.name, "job-7");  // the Job kept from the expectation
  EXPECT_TRUE(records[0].ok);
  EXPECT_EQ(records[0].attempts, 1u);
  EXPECT_EQ(records[0].worker, 3u);
  EXPECT_TRUE(records[0].error.empty());
  EXPECT_EQ(records[0].submitted, j.submitted_at);
  EXPECT_EQ(records[0].started, o.started);
  EXPECT_EQ(records[0].finished, o.finished);
  auto st = rig.statuses();
  ASSERT_EQ(st.size(), 1u);
  EXPECT_EQ(st[0].job, 7u);
  EXPECT_EQ(st[0].run, 2u);
  EXPECT_EQ(st[0].status, JobStatus::done);
  EXPECT_EQ(st[0].attempt, 0u);
  EXPECT_TRUE(rig.retried().empty());
  EXPECT_EQ(rig.state->expected(), 0u);
  EXPECT_EQ(rig.state->done(), 1u);
  EXPECT_EQ(rig.state->failed(), 0u);
  EXPECT_EQ(rig.state->unexpected(), 0u);
}

TEST(Harvester, AFailureIsRetriedUpToMaxRetriesThenArchivedAsFailed) {
  HarvesterRig rig;
  auto in = rig.inbox();
  const HarvesterOptions options{2, 0ms};  // no backoff: retries go straight to the Scheduler
  Job j = job(5);
  for (unsigned attempt = 0; attempt < 2; ++attempt) {
    in.send(Expect{j, 1}).value();
    in.send(outcome(j, 1, false, "boom")).value();
    const auto before = std::chrono::steady_clock::now();
    rig.run(options);
    auto again = rig.retried();
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0].id, 5u);
    EXPECT_EQ(again[0].attempt, attempt + 1);
    EXPECT_GE(again[0].ready_at, before);
    auto st = rig.statuses();
    ASSERT_EQ(st.size(), 1u);
    EXPECT_EQ(st[0].status, JobStatus::retrying);
    EXPECT_EQ(st[0].attempt, attempt + 1);
    EXPECT_TRUE(rig.archived().empty());
    EXPECT_TRUE(rig.held().empty());
    j = again[0];  // the Dispatcher places the retry again
  }
  EXPECT_EQ(rig.state->retried(), 2u);

  in.send(Expect{j, 4}).value();
  in.send(outcome(j, 4, false, "still broken")).value();
  rig.run(options);
  EXPECT_TRUE(rig.retried().empty());
  auto records = rig.archived();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_FALSE(records[0].ok);
  EXPECT_EQ(records[0].attempts, 3u);
  EXPECT_EQ(records[0].job.attempt, 2u);
  EXPECT_EQ(records[0].worker, 4u);
  EXPECT_EQ(records[0].error, "still broken");
  auto st = rig.statuses();
  ASSERT_EQ(st.size(), 1u);
  EXPECT_EQ(st[0].status, JobStatus::failed);
  EXPECT_EQ(st[0].attempt, 2u);
  EXPECT_EQ(rig.state->failed(), 1u);
  EXPECT_EQ(rig.state->done(), 0u);
  EXPECT_EQ(rig.state->expected(), 0u);
}

TEST(Harvester, TheBackoffDoublesPerRetryUpToItsMaximum) {
  const HarvesterOptions options{5, 10ms, 35ms};
  EXPECT_EQ(retry_delay(options, 1), 10ms);
  EXPECT_EQ(retry_delay(options, 2), 20ms);
  EXPECT_EQ(retry_delay(options, 3), 35ms);
  EXPECT_EQ(retry_delay(options, 4), 35ms);
  EXPECT_EQ(retry_delay({5, 0ms, 35ms}, 3), 0ms);
}

TEST(Harvester, ARetryIsHeldByTheHibernatorForItsBackoff) {
  HarvesterRig rig;
  auto in = rig.inbox();
  const HarvesterOptions options{3, 10ms, 1000ms};
  Job j = job(6);
  for (unsigned attempt = 1; attempt <= 3; ++attempt) {
    in.send(Expect{j, 1}).value();
    in.send(outcome(j, 1, false, "boom")).value();
    const auto before = std::chrono::steady_clock::now();
    rig.run(options);
    const auto after = std::chrono::steady_clock::now();
    EXPECT_TRUE(rig.retried().empty());  // not sent to the Scheduler before its delay
    auto held = rig.held();
    ASSERT_EQ(held.size(), 1u);
    ASSERT_TRUE(held[0].until);
    const auto delay = retry_delay(options, attempt);
    EXPECT_EQ(delay, 10ms * (1 << (attempt - 1)));
    EXPECT_GE(*held[0].until, before + delay);
    EXPECT_LE(*held[0].until, after + delay);
    EXPECT_EQ(held[0].job.attempt, attempt);
    EXPECT_EQ(held[0].job.history.back(), JobStatus::hibernating);
    j = held[0].job;
  }
  EXPECT_EQ(rig.state->retried(), 3u);
}

TEST(Harvester, AResultOfAPlacementTakenBackIsIgnoredByItsNumber) {
  HarvesterRig rig;
  auto in = rig.inbox();
  // Placement 1 on worker 2 is taken back; the job, same attempt, is placed again on worker 2
  // (registered again) as placement 2.
  const Job first = job(13, 0, 0, 1);
  const Job second = job(13, 0, 0, 2);
  in.send(Expect{first, 2}).value();
  in.send(Forget{first.id, first.run, 2, first.placement}).value();
  in.send(Expect{second, 2}).value();
  in.send(outcome(first, 2, true)).value();                          // late: same job run, worker and attempt
  in.send(Forget{first.id, first.run, 2, first.placement}).value();  // a stale forget leaves placement 2
  rig.run();
  EXPECT_TRUE(rig.archived().empty());
  EXPECT_EQ(rig.state->unexpected(), 1u);
  EXPECT_EQ(rig.state->expected(), 1u);

  in.send(outcome(second, 2, true)).value();
  rig.run();
  auto records = rig.archived();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].job.placement, 2u);
  EXPECT_EQ(rig.state->unexpected(), 1u);
  EXPECT_EQ(rig.state->done(), 1u);
}

TEST(Harvester, ALateResultAfterForgetIsIgnoredAndCounted) {
  HarvesterRig rig;
  auto in = rig.inbox();
  const Job j = job(9, 0, 0, 1);  // placement 1, as the Dispatcher numbers them
  in.send(Expect{j, 2}).value();
  in.send(Forget{j.id, j.run, 2, j.placement}).value();
  in.send(outcome(j, 2, true)).value();  // the lost worker answers after all
  rig.run();
  EXPECT_TRUE(rig.archived().empty());
  EXPECT_TRUE(rig.statuses().empty());
  EXPECT_EQ(rig.state->unexpected(), 1u);
  EXPECT_EQ(rig.state->expected(), 0u);
  EXPECT_EQ(rig.state->done(), 0u);
}

TEST(Harvester, AResultFromAnotherWorkerOrAttemptIsIgnored) {
  HarvesterRig rig;
  auto in = rig.inbox();
  const Job j = job(11, 0, 1);
  in.send(Expect{j, 2}).value();
  in.send(outcome(j, 6, true)).value();  // not the worker it was placed on
  Job earlier = j;
  earlier.attempt = 0;
  in.send(outcome(earlier, 2, false, "old")).value();  // an earlier attempt
  in.send(Forget{j.id, j.run, 6}).value();             // another worker's forget leaves it expected
  rig.run();
  EXPECT_TRUE(rig.archived().empty());
  EXPECT_TRUE(rig.retried().empty());
  EXPECT_TRUE(rig.statuses().empty());
  EXPECT_EQ(rig.state->unexpected(), 2u);
  EXPECT_EQ(rig.state->expected(), 1u);  // still waiting for worker 2

  in.send(outcome(j, 2, true)).value();
  rig.run();
  auto records = rig.archived();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].attempts, 2u);
  EXPECT_EQ(records[0].worker, 2u);
}

TEST(Harvester, ARestartedHarvesterKeepsItsExpectations) {
  HarvesterRig rig;
  auto in = rig.inbox();
  const Job a = job(1);
  const Job b = job(2);
  in.send(Expect{a, 1}).value();
  in.send(Expect{b, 1}).value();
  in.send(outcome(a, 1, true)).value();
  int seen = 0;
  rig.run({}, [&](const EventPayload& m) {
    if (std::holds_alternative<Outcome>(m) && seen++ == 0) throw std::runtime_error("harvester crash");
  });
  // The crash lost the message in hand before it changed anything; the expectations were kept.
  EXPECT_EQ(rig.state->expected(), 2u);
  EXPECT_EQ(rig.state->unexpected(), 0u);
  EXPECT_TRUE(rig.archived().empty());

  in.send(outcome(a, 1, true)).value();  // the next instance takes the same leases and goes on
  in.send(outcome(b, 1, true)).value();
  rig.run();
  auto records = rig.archived();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].job.id, 1u);
  EXPECT_EQ(records[1].job.id, 2u);
  EXPECT_EQ(rig.state->done(), 2u);
  EXPECT_EQ(rig.state->expected(), 0u);
}

}  // namespace

// Across processes a result can overtake its Expect (the Expect delivered again after the
// Harvester's process died): the result waits for it, and is handled once it comes.
TEST(Harvester, AResultBeforeItsExpectIsHandledWhenTheExpectComes) {
  HarvesterRig rig;
  auto in = rig.inbox();
  const Job j = job(21, 0, 0, 4);
  in.send(outcome(j, 2, true)).value();
  rig.run();
  EXPECT_TRUE(rig.archived().empty());
  EXPECT_EQ(rig.state->early(), 1u);
  EXPECT_EQ(rig.state->unexpected(), 0u);
  in.send(Expect{j, 2}).value();
  rig.run();
  auto records = rig.archived();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].job.id, 21u);
  EXPECT_EQ(rig.state->early(), 0u);
  EXPECT_EQ(rig.state->expected(), 0u);
  EXPECT_EQ(rig.state->unexpected(), 0u);
}

// A late Expect (of an earlier placement, or of one already settled) changes nothing.
TEST(Harvester, AnExpectOlderThanTheOneHeldOrOfASettledPlacementIsDropped) {
  HarvesterRig rig;
  auto in = rig.inbox();
  const Job first = job(22, 0, 0, 1);
  const Job second = job(22, 0, 0, 2);
  in.send(Expect{second, 3}).value();
  in.send(Expect{first, 2}).value();  // delivered again, behind the newer one
  in.send(outcome(second, 3, true)).value();
  in.send(Expect{second, 3}).value();  // delivered again after its result was handled
  const Job third = job(23, 0, 0, 5);
  in.send(Forget{third.id, third.run, 4, third.placement}).value();  // taken back before its Expect came
  in.send(Expect{third, 4}).value();
  in.send(outcome(third, 4, true)).value();  // the lost worker's result: late, not early
  rig.run();
  auto records = rig.archived();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].job.placement, 2u);
  EXPECT_EQ(rig.state->expected(), 0u);
  EXPECT_EQ(rig.state->early(), 0u);
  EXPECT_EQ(rig.state->unexpected(), 1u);
}

// A journal that records what it is told, with entries to hand out.
struct RecordingJournal : HarvesterJournal {
  std::vector<std::pair<JobId, WorkerId>> puts;
  std::vector<std::pair<JobId, std::uint64_t>> deletes;
  std::vector<std::uint64_t> deleted_placements;
  std::vector<Entry> kept;
  std::function<void()> on_settled;  // runs as each settle is told
  void expected(const Job& j, WorkerId worker) override { puts.emplace_back(j.id, worker); }
  void settled(JobId j, std::uint64_t run, std::uint64_t placement) override {
    deletes.emplace_back(j, run);
    deleted_placements.push_back(placement);
    if (on_settled) on_settled();
  }
  std::vector<Entry> load() override { return kept; }
};

// With a journal, the expectations outlive the state: a new state takes on what the journal kept
// and recognises the results of jobs expected by the one before it.
TEST(Harvester, AJournalKeepsTheExpectationsForTheNextState) {
  auto journal = std::make_shared<RecordingJournal>();
  {
    HarvesterRig rig;
    EXPECT_EQ(rig.state->keep_in(journal), 0u);
    auto in = rig.inbox();
    in.send(Expect{job(31), 2}).value();
    in.send(Expect{job(32), 3}).value();
    in.send(outcome(job(31), 2, true)).value();
    in.send(Forget{33, 0, 9, 0}).value();  // nothing expected of it: nothing to delete
    rig.run();
    EXPECT_EQ(journal->puts, (std::vector<std::pair<JobId, WorkerId>>{{31, 2}, {32, 3}}));
    EXPECT_EQ(journal->deletes, (std::vector<std::pair<JobId, std::uint64_t>>{{31, 0}}));
  }
  journal->kept = {{job(32), 3}};
  HarvesterRig next;
  EXPECT_EQ(next.state->keep_in(journal), 1u);
  EXPECT_EQ(next.state->expected(), 1u);
  auto in = next.inbox();
  in.send(outcome(job(32), 3, true)).value();
  next.run();
  auto records = next.archived();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].job.id, 32u);
  EXPECT_EQ(journal->deletes.back(), (std::pair<JobId, std::uint64_t>{32, 0}));
}

// The journal hears of a settled placement only once what settling it sent is sent: the archive
// record of a result, the retry of a failure. Told earlier, a journal could drop the entry of a
// job run whose record was never sent (the process killed in between) and the job would be lost.
TEST(Harvester, TheJournalHearsOfASettleOnlyAfterWhatItSent) {
  auto journal = std::make_shared<RecordingJournal>();
  HarvesterRig rig;
  rig.state->keep_in(journal);
  auto archive = rig.shared->wiring->get_tx(ChannelType::HarvesterToArchive).value();
  auto retries = rig.shared->wiring->get_tx(ChannelType::ToScheduler).value();
  std::vector<std::pair<std::size_t, std::size_t>> seen;  // (records, retries) queued at each settle
  journal->on_settled = [&] { seen.emplace_back(archive.len(), retries.len()); };
  auto in = rig.inbox();
  in.send(Expect{job(41, 0, 0, 1), 2}).value();
  in.send(outcome(job(41, 0, 0, 1), 2, true)).value();
  in.send(Expect{job(42, 0, 0, 1), 3}).value();
  in.send(outcome(job(42, 0, 0, 1), 3, false, "boom")).value();
  HarvesterOptions options;
  options.backoff = std::chrono::milliseconds(0);  // the retry goes straight to the Scheduler
  rig.run(options);
  EXPECT_EQ(seen, (std::vector<std::pair<std::size_t, std::size_t>>{{1, 0}, {1, 1}}));
}

// Each placement of a job run is its own entry: a retry's placement replacing the one before
// settles that one, and of two placements a journal kept (the first settled too late), the next
// state takes on the latest and settles the other.
TEST(Harvester, EachPlacementIsItsOwnJournalEntry) {
  auto journal = std::make_shared<RecordingJournal>();
  {
    HarvesterRig rig;
    rig.state->keep_in(journal);
    auto in = rig.inbox();
    in.send(Expect{job(51, 0, 0, 1), 2}).value();
    in.send(Expect{job(51, 0, 0, 2), 3}).value();  // placed again (its worker lost): replaces placement 1
    in.send(outcome(job(51, 0, 0, 2), 3, true)).value();
    rig.run();
    EXPECT_EQ(journal->deleted_placements, (std::vector<std::uint64_t>{1, 2}));
    ASSERT_EQ(rig.archived().size(), 1u);
  }
  journal->deletes.clear();
  journal->deleted_placements.clear();
  journal->kept = {{job(52, 0, 0, 2), 4}, {job(52, 0, 0, 1), 3}, {job(53, 0, 0, 1), 5}};
  HarvesterRig next;
  EXPECT_EQ(next.state->keep_in(journal), 2u);
  EXPECT_EQ(journal->deleted_placements, (std::vector<std::uint64_t>{1}));
  EXPECT_EQ(journal->deletes, (std::vector<std::pair<JobId, std::uint64_t>>{{52, 0}}));
  auto in = next.inbox();
  in.send(outcome(job(52, 0, 0, 1), 3, true)).value();  // the settled placement's result: not expected
  in.send(outcome(job(52, 0, 0, 2), 4, true)).value();
  next.run();
  auto records = next.archived();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].job.placement, 2u);
}

}  // namespace harvester_test
