// The Receiver alone, through its channel ends: numbering and routing.

#include "services/receiver.hpp"
#include "run_alone.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

namespace receiver_test {

namespace {

using namespace core;

TEST(Receiver, RoutesImmediateJobsToTheSchedulerAndTheRestToTheHibernator) {
  auto shared = std::make_shared<Shared>();
  for (auto c : {ChannelType::Submissions, ChannelType::ToScheduler, ChannelType::ToHibernator})
    shared->wiring->add_channel(c).value();
  auto submissions = shared->wiring->get_tx(ChannelType::Submissions).value();
  JobSpec now, later, cron;
  now.name = "now";
  later.name = "later";
  later.delay = std::chrono::milliseconds(5);
  cron.name = "cron";
  cron.cron = CronExpression::parse("* * * * *").value();
  for (auto* spec : {&now, &later, &cron}) submissions.send(Submit{*spec}).value();

  auto state = std::make_shared<ReceiverState>();
  asio::io_context ioc;
  core::test::run_until_idle(ioc, shared, "receiver", receiver(state));

  auto to_scheduler = shared->wiring->take_rx(ChannelType::ToScheduler).value();
  auto to_hibernator = shared->wiring->take_rx(ChannelType::ToHibernator).value();
  auto ready = std::get<Ready>(to_scheduler.try_recv().value()).job;
  EXPECT_EQ(ready.spec.name, "now");
  EXPECT_EQ(ready.id, 1u);
  EXPECT_EQ(ready.ready_at, ready.submitted_at);
  EXPECT_TRUE(to_scheduler.is_empty());
  auto h1 = std::get<Hibernate>(to_hibernator.try_recv().value()).job;
  auto h2 = std::get<Hibernate>(to_hibernator.try_recv().value()).job;
  EXPECT_EQ(h1.spec.name, "later");
  EXPECT_EQ(h1.id, 2u);
  EXPECT_EQ(h2.spec.name, "cron");
  EXPECT_EQ(h2.id, 3u);
  EXPECT_EQ(state->immediate.load(), 1u);
  EXPECT_EQ(state->hibernated.load(), 2u);
  EXPECT_EQ(state->next_id.load(), 4u);  // a restarted Receiver goes on from here
}

}  // namespace

}  // namespace receiver_test
