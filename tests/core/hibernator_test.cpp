// The Hibernator alone, through its channel ends: delays, cron firings and re-arming.

#include "services/hibernator.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <gtest/gtest.h>

#include <thread>

namespace {

using namespace core;
using namespace std::chrono_literals;

struct HibernatorRig {
  std::shared_ptr<Shared> shared = std::make_shared<Shared>();
  std::shared_ptr<HibernatorState> state = std::make_shared<HibernatorState>();
  asio::io_context ioc;

  HibernatorRig() {
    shared->wiring->add_channel(ChannelType::ReceiverToHibernator).value();
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
  auto in = rig.shared->wiring->get_tx(ChannelType::ReceiverToHibernator).value();
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
  rig.shared->wiring->get_tx(ChannelType::ReceiverToHibernator).value().send(Hibernate{j}).value();
  rig.run_for(300ms, options);
  auto out = rig.shared->wiring->take_rx(ChannelType::ToScheduler).value();
  auto first = std::get<Ready>(out.try_recv().value()).job;
  EXPECT_EQ(first.id, 7u);
  EXPECT_EQ(first.run, 0u);
  EXPECT_GE(first.ready_at - real_start, 50ms);  // not before the minute
  EXPECT_TRUE(out.is_empty());
  ASSERT_EQ(rig.state->size(), 1u);  // re-armed for the next minute
  EXPECT_GE(rig.state->next_due() - first.ready_at, 59s);
  EXPECT_EQ(rig.state->take().run, 1u);
}

TEST(Hibernator, ACronJobThatNeverFiresIsCountedNotHeld) {
  HibernatorRig rig;
  Job j;
  j.id = 9;
  j.spec.cron = CronExpression::parse("0 0 30 2 *").value();
  rig.shared->wiring->get_tx(ChannelType::ReceiverToHibernator).value().send(Hibernate{j}).value();
  rig.run_for(20ms);
  EXPECT_EQ(rig.state->never_fire, 1u);
  EXPECT_TRUE(rig.state->empty());
}

}  // namespace
