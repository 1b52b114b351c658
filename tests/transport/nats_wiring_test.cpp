// The wiring over NATS JetStream: services in two "processes" (two wirings, two supervisors, one
// nats-server) talk through the same calls as in one, each value acknowledged once its handler
// returned to `ctx.recv`; a consumer that dies with values in hand or queued has them delivered
// again to the next one; the boot check says where each channel's ends live.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <swarmsync/runtime/core_event.hpp>
#include <swarmsync/runtime/shared_resource.hpp>
#include <swarmsync/runtime/supervisor.hpp>
#include <swarmsync/transport/nats/bridged_channel.hpp>
#include <thread>
#include <vector>

#include "support/eventually.hpp"
#include "transport/nats_server.hpp"

namespace nats_wiring_test {

namespace app {

enum class Ch { Numbers };

constexpr std::string_view to_string(Ch) { return "Numbers"; }

}  // namespace app

namespace {

using namespace swarmsync;
using namespace std::chrono_literals;
using app::Ch;
namespace sn = swarmsync::nats;
using Shared = SharedResource<CoreEventOf<>, Ch, std::uint64_t>;
using Context = ServiceContext<Shared>;
using Clock = std::chrono::steady_clock;

const sn::ChannelAddress numbers{.core = "wiringtest", .channel = "Numbers"};

using swarmsync::test::eventually;

// The next value of a local channel, polling; nothing after the hang guard.
std::optional<std::uint64_t> take(mpsc::Receiver<std::uint64_t>& rx) {
  std::optional<std::uint64_t> v;
  eventually([&] {
    if (auto got = rx.try_recv()) v = *got;
    return v.has_value();
  });
  return v;
}

sn::BridgeOptions options(bool consume_here, std::string sender, std::chrono::milliseconds ack_wait) {
  sn::BridgeOptions o;
  o.consume_here = consume_here;
  o.sender = std::move(sender);
  o.consumer.ack_wait = ack_wait;
  o.inbound.fetch_timeout = 100ms;
  return o;
}

SupervisorOptions quiet() { return SupervisorOptions{{1000, 60s}, RestartBackoff{0ms, 0ms}, false}; }

class NatsWiring : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = server.start()) GTEST_SKIP() << *why;
    conn.emplace(sn::connect(server.url()).value());
  }

  // A process's shared resource with the channel bridged. A short AckWait by default: what a
  // consumer holds too long comes back quickly.
  std::shared_ptr<Shared> process(bool consume_here, const std::string& name,
                                  std::chrono::milliseconds ack_wait = 1s) {
    auto shared = std::make_shared<Shared>();
    shared->wiring->add_channel(Ch::Numbers, sn::bridge_channel<std::uint64_t>(
                                                 *conn, numbers, options(consume_here, name, ack_wait))
                                                  .value())
        .value();
    return shared;
  }

  test::NatsServer server;
  std::optional<sn::Connection> conn;
};

TEST_F(NatsWiring, ServicesInTwoProcessesTalkThroughTheSameCalls) {
  constexpr std::uint64_t n = 1000;
  auto producer_side = process(false, "producer-process");
  auto consumer_side = process(true, "consumer-process");
  asio::io_context ioc;
  Supervisor<Shared> producers(ioc.get_executor(), producer_side, quiet());
  Supervisor<Shared> consumers(ioc.get_executor(), consumer_side, quiet());
  producers
      .add_service({.name = "producer",
                    .main = [](Context& ctx) -> asio::awaitable<void> {
                      auto tx = ctx.shared()->wiring->take_tx(Ch::Numbers, ctx.name()).value();
                      for (std::uint64_t i = 0; i < n; ++i) tx.send(i).value();
                      co_return;
                    },
                    .restart = RestartPolicy::transient,
                    .produces = {Ch::Numbers}})
      .value();
  std::vector<std::uint64_t> handled;
  consumers
      .add_service({.name = "consumer",
                    .main = [&](Context& ctx) -> asio::awaitable<void> {
                      auto rx = ctx.shared()->wiring->take_rx(Ch::Numbers, ctx.name()).value();
                      while (auto v = co_await ctx.recv(rx)) {
                        handled.push_back(*v);
                        if (handled.size() == n) consumers.request_shutdown("all handled");
                      }
                    },
                    .consumes = {Ch::Numbers}})
      .value();

  // Each side checks what must be in it: the producer's has no consumer, and need not.
  const auto producer_report = producers.check_wiring();
  EXPECT_TRUE(producer_report.ok()) << producer_report.table();
  ASSERT_EQ(producer_report.channels.size(), 1u);
  EXPECT_EQ(producer_report.channels[0].where, "nats subject wiringtest.Numbers, consumed elsewhere");
  EXPECT_EQ(producer_report.channels[0].rx, "elsewhere");
  const auto consumer_report = consumers.check_wiring();
  EXPECT_TRUE(consumer_report.ok()) << consumer_report.table();
  EXPECT_NE(consumer_report.table().find("nats subject wiringtest.Numbers, consumed here"), std::string::npos)
      << consumer_report.table();
  // The consumer's end cannot be taken in the producer's process.
  auto elsewhere = producer_side->wiring->take_rx(Ch::Numbers, "someone");
  ASSERT_FALSE(elsewhere);
  EXPECT_EQ(elsewhere.error().message(),
            "channel Numbers: rx lives in another process (nats subject wiringtest.Numbers, consumed elsewhere)");

  ASSERT_TRUE(producers.start());
  ASSERT_TRUE(consumers.start());
  auto guard = asio::make_work_guard(ioc);
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i) threads.emplace_back([&] { ioc.run(); });
  const auto consumed = consumers.finished().wait_for(60s);
  producers.request_shutdown("done");
  producers.finished().wait_for(20s);
  guard.reset();
  if (consumed != std::future_status::ready) ioc.stop();
  for (auto& t : threads) t.join();
  ASSERT_EQ(consumed, std::future_status::ready) << "the consumer did not get every value";

  ASSERT_EQ(handled.size(), n);
  for (std::uint64_t i = 0; i < n; ++i) ASSERT_EQ(handled[i], i) << "out of order at " << i;
  // Every value was acknowledged once handled, the last one by the drain's final ctx.recv: the
  // server holds nothing for the consumer.
  EXPECT_TRUE(eventually([&] {
    auto state = sn::consumer_state(*conn, numbers);
    return state && state->num_ack_pending == 0 && state->num_pending == 0;
  }));
}

// The consumer's process goes (its wiring destroyed): what it had in hand or queued is given
// back to the server and delivered to the next one at once and in order. AckWait is far beyond
// the test's hang guard: nothing here waits for it (a killed process's messages come back after
// it: tests/core/remote_workers_test.cpp).
TEST_F(NatsWiring, WhatADeadConsumerHadInHandOrQueuedIsDeliveredToTheNextOne) {
  constexpr std::chrono::milliseconds never = std::chrono::minutes(10);
  auto producer_side = process(false, "producer-process", never);
  auto tx = producer_side->wiring->get_tx(Ch::Numbers).value();
  for (std::uint64_t i = 0; i < 10; ++i) tx.send(i).value();
  {
    // The first consumer process: handles 0..3, has 4 in hand, 5..9 delivered to it, then dies.
    auto consumer_side = process(true, "consumer-1", never);
    auto rx = consumer_side->wiring->take_rx(Ch::Numbers, "consumer").value();
    for (std::uint64_t i = 0; i < 5; ++i) {
      auto v = take(rx);
      ASSERT_TRUE(v) << "value " << i;
      EXPECT_EQ(*v, i);
      if (i == 3) rx.acknowledge();  // 0..3 handled, as ctx.recv would say when asked for the 5th
    }
    EXPECT_TRUE(eventually([&] {
      auto state = sn::consumer_state(*conn, numbers);
      return state && state->num_ack_pending == 6;  // 4..9: delivered, not acknowledged
    }));
  }  // the process is gone: its lease, its wiring and its bridges
  auto next = process(true, "consumer-2", never);
  auto rx = next->wiring->take_rx(Ch::Numbers, "consumer").value();
  for (std::uint64_t i = 4; i < 10; ++i) {
    auto v = take(rx);
    ASSERT_TRUE(v) << "value " << i;
    EXPECT_EQ(*v, i);
  }
  rx.acknowledge();
  EXPECT_TRUE(eventually([&] {
    auto state = sn::consumer_state(*conn, numbers);
    return state && state->num_ack_pending == 0 && state->num_pending == 0;
  }));
  EXPECT_FALSE(rx.try_recv());  // 0..3 were acknowledged: never again
}

// The server stops answering for longer than a publish's tries: the values wait and are
// published again once it answers, none lost, each reported as published again.
TEST_F(NatsWiring, AnOutageLongerThanThePublishTriesLosesNothing) {
  std::atomic<int> unconfirmed{0};
  std::atomic<int> lost{0};
  auto o = options(false, "producer-process", 1s);
  o.publish.ack_timeout = 100ms;
  o.publish.max_tries = 2;
  o.publish.retry_wait = 20ms;
  o.on_unconfirmed = [&](std::string_view) { ++unconfirmed; };
  o.on_lost = [&](std::string_view) { ++lost; };
  auto producer_side = std::make_shared<Shared>();
  producer_side->wiring
      ->add_channel(Ch::Numbers, sn::bridge_channel<std::uint64_t>(*conn, numbers, std::move(o)).value())
      .value();
  auto consumer_side = process(true, "consumer", 1s);
  auto rx = consumer_side->wiring->take_rx(Ch::Numbers, "consumer").value();
  auto tx = producer_side->wiring->get_tx(Ch::Numbers).value();
  server.pause();
  for (std::uint64_t i = 0; i < 20; ++i) tx.send(i).value();
  EXPECT_TRUE(eventually([&] { return unconfirmed.load() >= 3; }));  // several rounds of tries, all unanswered
  server.resume();
  std::vector<std::uint64_t> got;
  for (std::uint64_t i = 0; i < 20; ++i) {
    auto v = take(rx);
    ASSERT_TRUE(v) << "value " << i;
    got.push_back(*v);
  }
  // Published again under new ids, a value may be stored twice (its first try stored after all):
  // each of the 20 is there, in order of first arrival, and nothing was lost.
  std::vector<std::uint64_t> firsts;
  for (auto v : got)
    if (std::find(firsts.begin(), firsts.end(), v) == firsts.end()) firsts.push_back(v);
  while (firsts.size() < 20) {
    auto v = take(rx);
    ASSERT_TRUE(v) << "only " << firsts.size() << " distinct values";
    if (std::find(firsts.begin(), firsts.end(), *v) == firsts.end()) firsts.push_back(*v);
  }
  for (std::uint64_t i = 0; i < 20; ++i) EXPECT_EQ(firsts[i], i);
  EXPECT_EQ(lost.load(), 0);
}

TEST_F(NatsWiring, AConsumerDeclaredWhereTheRxIsNotFailsTheBoot) {
  auto producer_side = process(false, "producer-process");
  asio::io_context ioc;
  Supervisor<Shared> supervisor(ioc.get_executor(), producer_side, quiet());
  supervisor
      .add_service({.name = "misplaced",
                    .main = [](Context&) -> asio::awaitable<void> { co_return; },
                    .consumes = {Ch::Numbers}})
      .value();
  const auto report = supervisor.check_wiring();
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.errors.at(0),
            "channel Numbers: consumed by misplaced here, but its rx lives in another process (nats subject "
            "wiringtest.Numbers, consumed elsewhere)");
}

TEST_F(NatsWiring, ValuesSentBeforeTheChannelGoesAreStillPublished) {
  {
    auto producer_side = process(false, "short-lived");
    auto tx = producer_side->wiring->get_tx(Ch::Numbers).value();
    for (std::uint64_t i = 0; i < 200; ++i) tx.send(i).value();
  }  // the producer's process ends at once: its bridge publishes what was sent before it goes
  auto consumer_side = process(true, "consumer");
  auto rx = consumer_side->wiring->take_rx(Ch::Numbers, "consumer").value();
  for (std::uint64_t i = 0; i < 200; ++i) {
    auto v = take(rx);
    ASSERT_TRUE(v) << "value " << i;
    ASSERT_EQ(*v, i);
  }
}

}  // namespace

}  // namespace nats_wiring_test
