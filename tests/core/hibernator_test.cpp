// The Hibernator alone, through its channel ends: delays, cron firings and re-arming, bounded cron
// runs, retries held for their backoff.

#include "services/hibernator.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <gtest/gtest.h>

#include <functional>
#include <thread>
#include <vector>

namespace hibernator_test {

namespace {

using namespace core;
using namespace std::chrono_literals;

struct HibernatorRig {
  std::shared_ptr<Shared> shared = std::make_shared<Shared>();
  std::shared_ptr<HibernatorState> state = std::make_shared<HibernatorState>();
  asio::io_context ioc;

  HibernatorRig() {
    shared->wiring->add_channel(ChannelType::ToHibernator).value();
    shared->wiring->add_channel(ChannelType::ToScheduler).value();
  }

  // Runs the Hibernator for `how_long`, then stops it.
  void run_for(std::chrono::milliseconds how_long, HibernatorOptions options = {}) {
    Context ctx("hibernator", 0, shared);
    bool done = false;
    ctx.spawn(ioc.get_executor(), hibernator(state, options), [&](std::exception_ptr) { done = true; });
    asio::steady_timer stop(ioc, how_long);
    stop.async_wait([&](boost::system::error_code) { ctx.stop(false); });
    ioc.run();
    ioc.restart();
    ASSERT_TRUE(done);
  }
};

Job delayed(JobId id, std::chrono::milliseconds delay) {
  Job j;
  j.id = id;
  j.spec.delay = delay;
  j.submitted_at = std::chrono::steady_clock::now();
  return j;
}

TEST(Hibernator, HandsDelayedJobsOverWhenDueInDueOrder) {
  HibernatorRig rig;
  auto in = rig.shared->wiring->get_tx(ChannelType::ToHibernator).value();
  in.send(Hibernate{delayed(1, 60ms)}).value();
  in.send(Hibernate{delayed(2, 20ms)}).value();
  in.send(Hibernate{delayed(3, 10s)}).value();  // not due within the run
  const auto start = std::chrono::steady_clock::now();
  rig.run_for(200ms);
  auto out = rig.shared->wiring->take_rx(ChannelType::ToScheduler).value();
  auto first = std::get<Ready>(out.try_recv().value()).job;
  auto second = std::get<Ready>(out.try_recv().value()).job;
  EXPECT_EQ(first.id, 2u);
  EXPECT_EQ(second.id, 1u);
  EXPECT_GE(first.ready_at - start, 20ms);  // not before its time
  EXPECT_GE(second.ready_at - start, 60ms);
  EXPECT_TRUE(out.is_empty());
  EXPECT_EQ(rig.state->size(), 1u);  // job 3, still held (and kept for a restarted instance)
  EXPECT_EQ(rig.state->fired, 2u);
}

TEST(Hibernator, FiresACronJobAtItsTimeAndReArmsItForTheNextMatch) {
  HibernatorRig rig;
  // A wall clock 50 ms before a minute boundary: "* * * * *" fires 50 ms from now, then a minute
  // later as the next run.
  const auto base = std::chrono::sys_days(std::chrono::year(2026) / 11 / 24) + 10h + 30min + 59s + 950ms;
  const auto real_start = std::chrono::steady_clock::now();
  HibernatorOptions options{[&] {
    return std::chrono::system_clock::time_point(base + (std::chrono::steady_clock::now() - real_start));
  }};
  Job j;
  j.id = 7;
  j.spec.cron = CronExpression::parse("* * * * *").value();
  rig.shared->wiring->get_tx(ChannelType::ToHibernator).value().send(Hibernate{j}).value();
  rig.run_for(300ms, options);
  auto out = rig.shared->wiring->take_rx(ChannelType::ToScheduler).value();
  auto first = std::get<Ready>(out.try_recv().value()).job;
  EXPECT_EQ(first.id, 7u);
  EXPECT_EQ(first.run, 0u);
  EXPECT_GE(first.ready_at - real_start, 50ms);  // not before the minute
  EXPECT_TRUE(out.is_empty());
  ASSERT_EQ(rig.state->size(), 1u);  // re-armed for the next minute
  EXPECT_GE(rig.state->next_due() - first.ready_at, 59s);
  EXPECT_EQ(rig.state->take().job.run, 1u);
}

TEST(Hibernator, ACronJobThatNeverFiresIsCountedNotHeld) {
  HibernatorRig rig;
  Job j;
  j.id = 9;
  j.spec.cron = CronExpression::parse("0 0 30 2 *").value();
  rig.shared->wiring->get_tx(ChannelType::ToHibernator).value().send(Hibernate{j}).value();
  rig.run_for(20ms);
  EXPECT_EQ(rig.state->never_fire, 1u);
  EXPECT_TRUE(rig.state->empty());
  // Kept aside, recurring as it is, for the summary to count it as left there.
  ASSERT_EQ(rig.state->never_due.size(), 1u);
  EXPECT_EQ(rig.state->never_due[0].id, 9u);
  EXPECT_EQ(rig.state->runs_never_due.load(), 0u);
}

// Everything the Hibernator handed to the Scheduler.
std::vector<Job> fired(HibernatorRig& rig) {
  std::vector<Job> out;
  auto rx = rig.shared->wiring->take_rx(ChannelType::ToScheduler, "test").value();
  while (auto m = rx.try_recv()) out.push_back(std::get<Ready>(*m).job);
  return out;
}

TEST(Hibernator, ACronJobWithRunsIsReArmedUntilItsRunsAreUsedUp) {
  HibernatorRig rig;
  HibernatorOptions options;
  options.clock_speed = 600;  // a cron minute lasts 100 ms
  Job thrice;
  thrice.id = 1;
  thrice.spec.cron = CronExpression::parse("* * * * *").value();
  thrice.spec.runs = 3;
  Job once = thrice;
  once.id = 2;
  once.spec.runs = 1;
  auto in = rig.shared->wiring->get_tx(ChannelType::ToHibernator).value();
  in.send(Hibernate{thrice}).value();
  in.send(Hibernate{once}).value();
  rig.run_for(550ms, options);  // the third minute starts within 300 ms; a fourth would come within 400 ms
  auto out = fired(rig);
  std::vector<std::uint64_t> runs_of_1;
  std::vector<std::chrono::steady_clock::time_point> times_of_1;
  std::size_t runs_of_2 = 0;
  for (const auto& job : out) {
    if (job.id == 1) {
      runs_of_1.push_back(job.run);
      times_of_1.push_back(job.ready_at);
    } else {
      EXPECT_EQ(job.run, 0u);
      ++runs_of_2;
    }
  }
  EXPECT_EQ(runs_of_1, (std::vector<std::uint64_t>{0, 1, 2}));
  EXPECT_EQ(runs_of_2, 1u);
  for (std::size_t i = 1; i < times_of_1.size(); ++i)
    EXPECT_GE(times_of_1[i] - times_of_1[i - 1], 90ms);  // each run at its own minute
  EXPECT_TRUE(rig.state->empty());                       // no run left to arm
  EXPECT_EQ(rig.state->fired, 4u);
}

TEST(Hibernator, ABoundedCronJobThatNeverFiresKeepsItsRunsLeft) {
  HibernatorRig rig;
  Job j;
  j.id = 4;
  j.spec.cron = CronExpression::parse("0 0 30 2 *").value();
  j.spec.runs = 3;
  rig.shared->wiring->get_tx(ChannelType::ToHibernator).value().send(Hibernate{j}).value();
  rig.run_for(20ms);
  EXPECT_TRUE(rig.state->empty());
  EXPECT_EQ(rig.state->never_fire, 1u);
  ASSERT_EQ(rig.state->never_due.size(), 1u);
  EXPECT_EQ(rig.state->never_due[0].id, 4u);
  EXPECT_EQ(rig.state->runs_never_due.load(), 3u);
}

TEST(Hibernator, ARetryIsHeldForItsBackoffThenFiresOnce) {
  HibernatorRig rig;
  Job retry;
  retry.id = 5;
  retry.run = 2;
  retry.attempt = 1;
  retry.spec.cron = CronExpression::parse("* * * * *").value();  // a cron run's retry: not re-armed
  const auto until = std::chrono::steady_clock::now() + 80ms;
  rig.shared->wiring->get_tx(ChannelType::ToHibernator).value().send(Hibernate{retry, until}).value();
  rig.run_for(30ms);
  EXPECT_TRUE(fired(rig).empty());  // not before its backoff is over
  EXPECT_EQ(rig.state->size(), 1u);
  rig.run_for(100ms);
  auto out = fired(rig);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].id, 5u);
  EXPECT_EQ(out[0].run, 2u);
  EXPECT_EQ(out[0].attempt, 1u);
  EXPECT_GE(out[0].ready_at, until);
  EXPECT_TRUE(rig.state->empty());
}

}  // namespace

// A journal that records what it is told, with entries to hand out.
struct RecordingHibernatorJournal : HibernatorJournal {
  std::vector<JobId> held_ids, released_ids;
  std::vector<std::size_t> sent_at_released;  // Ready messages queued when each was told
  std::function<std::size_t()> sent;
  std::vector<HeldJob> kept;
  void held(const HeldJob& h) override { held_ids.push_back(h.job.id); }
  void released(const Job& j) override {
    released_ids.push_back(j.id);
    sent_at_released.push_back(sent ? sent() : 0);
  }
  std::vector<HeldJob> load() override { return kept; }
};

// With a journal, the held jobs outlive the state: each is kept as it is held, dropped once
// handed over (told after the send); a copy of a held job is dropped; a new state takes on what
// the journal kept and fires it when due.
TEST(Hibernator, AJournalKeepsTheHeldJobsForTheNextState) {
  auto journal = std::make_shared<RecordingHibernatorJournal>();
  {
    HibernatorRig rig;
    EXPECT_EQ(rig.state->keep_in(journal), 0u);
    auto scheduler = rig.shared->wiring->get_tx(ChannelType::ToScheduler).value();
    journal->sent = [&] { return scheduler.len(); };
    auto in = rig.shared->wiring->get_tx(ChannelType::ToHibernator).value();
    in.send(Hibernate{delayed(1, 10ms)}).value();
    in.send(Hibernate{delayed(2, 10s)}).value();
    in.send(Hibernate{delayed(2, 10s)}).value();  // a copy: dropped
    rig.run_for(200ms);
    EXPECT_EQ(journal->held_ids, (std::vector<JobId>{1, 2}));
    EXPECT_EQ(journal->released_ids, (std::vector<JobId>{1}));
    EXPECT_EQ(journal->sent_at_released, (std::vector<std::size_t>{1}));
    EXPECT_EQ(rig.state->size(), 1u);
  }
  journal->sent = nullptr;
  journal->kept = {{std::chrono::steady_clock::now() - 1s, delayed(3, 0ms), std::nullopt},
                   {std::chrono::steady_clock::now() + 10s, delayed(4, 0ms), std::nullopt}};
  HibernatorRig next;
  EXPECT_EQ(next.state->keep_in(journal), 2u);
  next.run_for(50ms);
  auto out = next.shared->wiring->take_rx(ChannelType::ToScheduler).value();
  EXPECT_EQ(std::get<Ready>(out.try_recv().value()).job.id, 3u);  // due while no Hibernator ran
  EXPECT_TRUE(out.is_empty());
  EXPECT_EQ(next.state->size(), 1u);
}

}  // namespace hibernator_test
