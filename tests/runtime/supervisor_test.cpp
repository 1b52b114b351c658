// The supervisor: boot checks, restarts under load, hot swaps under load, restart intensity,
// shutdown under load, policies and introspection.

#include <swarmsync/runtime/shared_resource.hpp>
#include <swarmsync/runtime/supervisor.hpp>

#include "support/async.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

namespace supervisor_test {

namespace app {

enum class Ch { Numbers, Results, Orphan };

constexpr std::string_view to_string(Ch c) {
  switch (c) {
    case Ch::Numbers: return "Numbers";
    case Ch::Results: return "Results";
    default: return "Orphan";
  }
}

}  // namespace app

namespace {

using namespace swarmsync;
using namespace std::chrono_literals;
using app::Ch;
using Event = CoreEventOf<>;
using Shared = SharedResource<Event, Ch, std::uint64_t>;
using Context = ServiceContext<Shared>;
using swarmsync::test::scaled;

// Runs `ioc` on 4 threads until the supervisor has shut down; returns its report.
ShutdownReport run_until_finished(asio::io_context& ioc, Supervisor<Shared>& supervisor) {
  auto guard = asio::make_work_guard(ioc);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) threads.emplace_back([&] { ioc.run(); });
  auto report = supervisor.finished().get();
  guard.reset();
  for (auto& t : threads) t.join();
  return report;
}

// A producer service that sends 0..n-1 on `channel`, yielding now and then, and returns.
Supervisor<Shared>::Main counting_producer(Ch channel, std::uint64_t n) {
  return [channel, n](Context& ctx) -> asio::awaitable<void> {
    auto tx = ctx.shared()->wiring->take_tx(channel, ctx.name()).value();
    for (std::uint64_t i = 0; i < n; ++i) {
      tx.send(i).value();
      if (i % 4096 == 0) co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
    }
  };
}

// A producer that sends 0..n-1 on `channel` in chunks of `chunk` and, after the k-th chunk for k
// below `pauses`, waits until `done` is past k: something (a swap, a restart) happens while
// half of each chunk is still queued.
Supervisor<Shared>::Main paced_producer(Ch channel, std::uint64_t n, std::uint64_t chunk, int pauses,
                                        std::atomic<int>& done) {
  return [=, &done](Context& ctx) -> asio::awaitable<void> {
    auto tx = ctx.shared()->wiring->take_tx(channel, ctx.name()).value();
    asio::steady_timer timer(co_await asio::this_coro::executor);
    for (std::uint64_t i = 0; i < n; ++i) {
      tx.send(i).value();
      const auto k = static_cast<int>(i / chunk);
      if ((i + 1) % chunk == 0 && k < pauses) {
        while (done.load() <= k) {
          timer.expires_after(100us);
          co_await timer.async_wait(asio::use_awaitable);
        }
      }
    }
  };
}

SupervisorOptions quiet(RestartIntensity intensity = {100000, 60s}) {
  return SupervisorOptions{intensity, RestartBackoff{0ms, 0ms}, false};
}

TEST(Supervisor, RestartUnderLoadHandlesEveryMessageOnceExceptTheOneInHand) {
  const std::uint64_t n = scaled(1'000'000);
  auto shared = std::make_shared<Shared>();
  shared->wiring->add_channel(Ch::Numbers).value();
  asio::io_context ioc;
  Supervisor<Shared> supervisor(ioc.get_executor(), shared, quiet());

  std::set<std::uint64_t> fail_at;  // 150 random failure points
  std::mt19937_64 rng(42);
  while (fail_at.size() < 150) fail_at.insert(rng() % n);

  std::vector<std::uint64_t> handled;
  std::vector<std::uint64_t> lost_in_hand;
  handled.reserve(n);
  std::atomic<std::uint64_t> seen{0};
  supervisor.add_service({.name = "producer", .main = counting_producer(Ch::Numbers, n),
                          .restart = RestartPolicy::transient, .produces = {Ch::Numbers}}).value();
  supervisor.add_service({.name = "consumer",
                          .main = [&](Context& ctx) -> asio::awaitable<void> {
                            auto rx = ctx.shared()->wiring->take_rx(Ch::Numbers, ctx.name()).value();
                            while (auto v = co_await ctx.recv(rx)) {
                              const bool last = seen.fetch_add(1) + 1 == n;
                              if (last) supervisor.request_shutdown("all handled");
                              if (fail_at.count(*v)) {
                                lost_in_hand.push_back(*v);
                                throw std::runtime_error("injected failure");
                              }
                              handled.push_back(*v);
                            }
                          },
                          .consumes = {Ch::Numbers}}).value();
  ASSERT_TRUE(supervisor.start());
  const auto report = run_until_finished(ioc, supervisor);

  EXPECT_TRUE(report.ok()) << report.error;
  EXPECT_EQ(lost_in_hand.size(), 150u);
  EXPECT_EQ(handled.size() + lost_in_hand.size(), n);
  EXPECT_TRUE(std::is_sorted(handled.begin(), handled.end()));
  EXPECT_EQ(std::adjacent_find(handled.begin(), handled.end()), handled.end());  // no duplicate
  for (auto v : lost_in_hand) EXPECT_FALSE(std::binary_search(handled.begin(), handled.end(), v));
  const auto& consumer = report.services[1];
  EXPECT_EQ(consumer.name, "consumer");
  EXPECT_EQ(consumer.failures, 150u);
  EXPECT_EQ(consumer.restarts, 150u);
  EXPECT_EQ(consumer.last_error, "injected failure");
  EXPECT_EQ(consumer.lost_in_hand, 150u) << "each failure lost the message in hand, and it is counted";
  EXPECT_EQ(report.services[0].lost_in_hand, 0u);
  EXPECT_TRUE(report.unhandled.empty());
}

TEST(Supervisor, TheMessageInHandAtAFailureIsCountedOnTheEventAndInTheSnapshot) {
  auto shared = std::make_shared<Shared>();
  shared->wiring->add_channel(Ch::Numbers).value();
  asio::io_context ioc;
  Supervisor<Shared> supervisor(ioc.get_executor(), shared, quiet());
  auto events = shared->channels->subscribe_to_core_event();
  std::atomic<int> instance{0};
  supervisor.add_service({.name = "producer", .main = counting_producer(Ch::Numbers, 3),
                          .restart = RestartPolicy::transient, .produces = {Ch::Numbers}}).value();
  supervisor.add_service({.name = "consumer",
                          .main = [&](Context& ctx) -> asio::awaitable<void> {
                            auto rx = ctx.shared()->wiring->take_rx(Ch::Numbers, ctx.name()).value();
                            switch (instance.fetch_add(1)) {
                              case 0: {  // takes 0, fails with it in hand
                                auto v = co_await ctx.recv(rx);
                                EXPECT_TRUE(ctx.message_in_hand());
                                throw std::runtime_error("failed holding " + std::to_string(*v));
                              }
                              case 1: {  // takes 1, fails with it in hand too
                                (void)co_await ctx.recv(rx);
                                EXPECT_TRUE(ctx.message_in_hand());
                                throw std::runtime_error("failed holding another");
                              }
                              case 2: throw std::runtime_error("failed before any message");
                              default:
                                while (auto v = co_await ctx.recv(rx)) {
                                  if (*v == 2) supervisor.request_shutdown("done");
                                }
                            }
                          },
                          .consumes = {Ch::Numbers}}).value();
  ASSERT_TRUE(supervisor.start());
  const auto report = run_until_finished(ioc, supervisor);
  EXPECT_TRUE(report.ok()) << report.error;
  const auto& consumer = report.services[1];
  EXPECT_EQ(consumer.failures, 3u);
  EXPECT_EQ(consumer.lost_in_hand, 2u) << "instances 0 and 1 each lost the message they held";
  EXPECT_EQ(supervisor.snapshot().services[1].lost_in_hand, 2u);

  std::vector<ServiceRestarted> restarts;
  while (auto e = events.try_recv()) {
    if (auto* r = std::get_if<ServiceRestarted>(&*e)) restarts.push_back(*r);
  }
  ASSERT_EQ(restarts.size(), 3u);
  EXPECT_EQ(restarts[0].error, "failed holding 0");
  EXPECT_EQ(restarts[0].lost_in_hand, 1u);
  EXPECT_EQ(restarts[1].error, "failed holding another");
  EXPECT_EQ(restarts[1].lost_in_hand, 1u);
  EXPECT_EQ(restarts[2].error, "failed before any message");
  EXPECT_EQ(restarts[2].lost_in_hand, 0u);
}

TEST(Supervisor, HotSwapUnderLoadLosesNothingAndKeepsOrder) {
  const std::uint64_t n = scaled(1'000'000);
  const int swaps = 100;
  auto shared = std::make_shared<Shared>();
  shared->wiring->add_channel(Ch::Numbers).value();
  asio::io_context ioc;
  Supervisor<Shared> supervisor(ioc.get_executor(), shared, quiet());

  std::vector<std::uint64_t> handled;
  handled.reserve(n);
  std::vector<int> handled_by(swaps + 1, 0);
  std::atomic<std::uint64_t> count{0};
  auto version = [&](int v) -> Supervisor<Shared>::Main {
    return [&, v](Context& ctx) -> asio::awaitable<void> {
      auto rx = ctx.shared()->wiring->take_rx(Ch::Numbers, ctx.name() + "#v" + std::to_string(v)).value();
      while (auto value = co_await ctx.recv(rx)) {
        handled.push_back(*value);
        ++handled_by[v];
        if (count.fetch_add(1) + 1 == n) supervisor.request_shutdown("all handled");
      }
    };
  };
  // The producer sends the stream in chunks and waits after each for the next swap, which the
  // swapper makes while half of the chunk is still queued.
  const std::uint64_t chunk = n / (swaps + 1);
  std::atomic<int> swaps_done{0};
  supervisor.add_service({.name = "producer", .main = paced_producer(Ch::Numbers, n, chunk, swaps, swaps_done),
                          .restart = RestartPolicy::transient,
                          .produces = {Ch::Numbers}}).value();
  supervisor.add_service({.name = "consumer", .main = version(0), .consumes = {Ch::Numbers}}).value();
  ASSERT_TRUE(supervisor.start());

  std::vector<std::chrono::nanoseconds> took;
  std::vector<std::size_t> queued_during_swap;
  std::thread swapper([&] {
    for (int k = 1; k <= swaps; ++k) {
      while (count.load() < (k - 1) * chunk + chunk / 2) std::this_thread::yield();
      auto future = supervisor.replace("consumer", version(k));
      queued_during_swap.push_back(supervisor.snapshot().channels[0].depth);
      auto r = future.get();
      if (r) took.push_back(r->took);
      swaps_done = k;
    }
  });
  const auto report = run_until_finished(ioc, supervisor);
  swapper.join();

  EXPECT_TRUE(report.ok()) << report.error;
  EXPECT_EQ(took.size(), static_cast<std::size_t>(swaps));
  ASSERT_EQ(handled.size(), n);
  for (std::uint64_t i = 0; i < n; ++i) ASSERT_EQ(handled[i], i) << "order or loss at " << i;
  EXPECT_EQ(report.services[1].swaps, static_cast<std::uint64_t>(swaps));
  EXPECT_EQ(report.services[1].failures, 0u);
  for (int v = 0; v <= swaps; ++v) EXPECT_GT(handled_by[v], 0) << "version " << v;
  EXPECT_GT(*std::max_element(queued_during_swap.begin(), queued_during_swap.end()), 0u);
  auto slowest = *std::max_element(took.begin(), took.end());
  EXPECT_LT(slowest, 10s);  // sanity: every swap completed (not a timing claim)
}

// A restart on demand: the same main starts again, nothing queued is lost or reordered, it counts
// as a restart (not a swap, not a failure) and is broadcast as such; refused with a reason where
// it cannot be done.
TEST(Supervisor, ARestartOnDemandLosesNothingAndCountsAsARestart) {
  const std::uint64_t n = scaled(200'000);
  auto shared = std::make_shared<Shared>();
  shared->wiring->add_channel(Ch::Numbers).value();
  asio::io_context ioc;
  Supervisor<Shared> supervisor(ioc.get_executor(), shared, quiet());
  auto events = shared->channels->subscribe_to_core_event();
  std::vector<std::uint64_t> handled;
  std::atomic<std::uint64_t> count{0};
  std::atomic<int> instances{0};
  // The producer sends the stream in 6 chunks and waits after each of the first 5 for a restart,
  // which the restarter asks for while half of the chunk is still queued.
  const std::uint64_t chunk = n / 6;
  std::atomic<int> restarts_done{0};
  supervisor.add_service({.name = "producer", .main = paced_producer(Ch::Numbers, n, chunk, 5, restarts_done),
                          .restart = RestartPolicy::transient, .produces = {Ch::Numbers}}).value();
  supervisor.add_service({.name = "consumer",
                          .main = [&](Context& ctx) -> asio::awaitable<void> {
                            instances.fetch_add(1);
                            auto rx = ctx.shared()->wiring->take_rx(Ch::Numbers, ctx.name()).value();
                            while (auto v = co_await ctx.recv(rx)) {
                              handled.push_back(*v);
                              if (count.fetch_add(1) + 1 == n) supervisor.request_shutdown("all handled");
                            }
                          },
                          .consumes = {Ch::Numbers}}).value();
  auto unknown = supervisor.restart("nobody").get();
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().message, "no service named nobody");
  auto before_start = supervisor.restart("consumer").get();
  ASSERT_FALSE(before_start);
  EXPECT_EQ(before_start.error().message, "service consumer: not running (declared)");
  ASSERT_TRUE(supervisor.start());
  int restarted = 0;
  std::thread restarter([&] {
    for (int k = 1; k <= 5; ++k) {
      while (count.load() < (k - 1) * chunk + chunk / 2) std::this_thread::yield();
      if (auto r = supervisor.restart("consumer").get()) ++restarted;
      restarts_done = k;
    }
  });
  const auto report = run_until_finished(ioc, supervisor);
  restarter.join();
  EXPECT_TRUE(report.ok()) << report.error;
  ASSERT_EQ(handled.size(), n);
  for (std::uint64_t i = 0; i < n; ++i) ASSERT_EQ(handled[i], i) << "order or loss at " << i;
  EXPECT_EQ(restarted, 5);
  EXPECT_EQ(instances.load(), 6);
  EXPECT_EQ(report.services[1].restarts, 5u);
  EXPECT_EQ(report.services[1].swaps, 0u);
  EXPECT_EQ(report.services[1].failures, 0u);
  std::vector<ServiceRestarted> broadcast;
  while (auto e = events.try_recv())
    if (auto* r = std::get_if<ServiceRestarted>(&*e)) broadcast.push_back(*r);
  ASSERT_EQ(broadcast.size(), 5u);
  EXPECT_FALSE(broadcast[0].swapped);
  EXPECT_EQ(broadcast[4].restarts, 5u);
  auto after = supervisor.restart("consumer").get();
  ASSERT_FALSE(after);
  EXPECT_EQ(after.error().message, "service consumer: shutting down");
}

TEST(Supervisor, ExceedingTheRestartIntensityShutsTheSystemDownNamingTheService) {
  auto shared = std::make_shared<Shared>();
  shared->wiring->add_channel(Ch::Numbers).value();
  asio::io_context ioc;
  Supervisor<Shared> supervisor(ioc.get_executor(), shared,
                                SupervisorOptions{{3, 10s}, RestartBackoff{1ms, 4ms}, false});
  std::atomic<int> starts{0};
  supervisor.add_service({.name = "crasher",
                          .main = [&](Context& ctx) -> asio::awaitable<void> {
                            auto tx = ctx.shared()->wiring->take_tx(Ch::Numbers, ctx.name()).value();
                            ++starts;
                            throw std::runtime_error("disk on fire");
                            co_return;
                          },
                          .produces = {Ch::Numbers}}).value();
  supervisor.add_service({.name = "steady",
                          .main = [](Context& ctx) -> asio::awaitable<void> {
                            auto rx = ctx.shared()->wiring->take_rx(Ch::Numbers, ctx.name()).value();
                            while (co_await ctx.recv(rx)) {
                            }
                          },
                          .consumes = {Ch::Numbers}}).value();
  ASSERT_TRUE(supervisor.start());
  const auto report = run_until_finished(ioc, supervisor);
  EXPECT_FALSE(report.ok());
  EXPECT_EQ(report.error,
            "service crasher exceeded its restart intensity (3 restarts in 10000 ms); last error: disk on fire");
  EXPECT_EQ(starts.load(), 4);  // the first start and 3 restarts
  EXPECT_EQ(report.services[0].state, ServiceState::failed);
  EXPECT_EQ(report.services[0].restarts, 3u);
  EXPECT_EQ(report.services[1].state, ServiceState::stopped);  // stopped in order
}

TEST(Supervisor, RestartsWaitADoublingBackoff) {
  auto shared = std::make_shared<Shared>();
  asio::io_context ioc;
  Supervisor<Shared> supervisor(ioc.get_executor(), shared,
                                SupervisorOptions{{10, 60s}, RestartBackoff{20ms, 40ms}, false});
  std::vector<std::chrono::steady_clock::time_point> starts;
  supervisor.add_service({.name = "flaky",
                          .main = [&](Context&) -> asio::awaitable<void> {
                            starts.push_back(std::chrono::steady_clock::now());
                            if (starts.size() == 4) supervisor.request_shutdown();
                            throw std::runtime_error("flaky");
                            co_return;
                          }}).value();
  ASSERT_TRUE(supervisor.start());
  const auto report = run_until_finished(ioc, supervisor);
  ASSERT_EQ(starts.size(), 4u);
  // Lower bounds only: 20 ms, then doubled to 40 ms, then capped at 40 ms.
  EXPECT_GE(starts[1] - starts[0], 20ms);
  EXPECT_GE(starts[2] - starts[1], 40ms);
  EXPECT_GE(starts[3] - starts[2], 40ms);
  EXPECT_EQ(report.services[0].restarts, 3u);
}

TEST(Supervisor, ShutdownUnderLoadDrainsOrCountsEveryMessageAndCancelsAStubbornService) {
  auto shared = std::make_shared<Shared>();
  shared->wiring->add_channel(Ch::Numbers).value();
  asio::io_context ioc;
  Supervisor<Shared> supervisor(ioc.get_executor(), shared, quiet());
  std::atomic<std::uint64_t> sent{0};
  std::atomic<std::uint64_t> handled{0};
  supervisor.add_service({.name = "producer",
                          .main = [&](Context& ctx) -> asio::awaitable<void> {
                            auto tx = ctx.shared()->wiring->take_tx(Ch::Numbers, ctx.name()).value();
                            auto ex = co_await asio::this_coro::executor;
                            for (std::uint64_t i = 0; !ctx.stop_requested(); ++i) {
                              tx.send(i).value();
                              sent.fetch_add(1);
                              if (i % 64 == 0) co_await asio::post(ex, asio::use_awaitable);
                            }
                          },
                          .produces = {Ch::Numbers}}).value();
  supervisor.add_service({.name = "consumer",
                          .main = [&](Context& ctx) -> asio::awaitable<void> {
                            auto rx = ctx.shared()->wiring->take_rx(Ch::Numbers, ctx.name()).value();
                            while (co_await ctx.recv(rx)) handled.fetch_add(1);
                          },
                          .consumes = {Ch::Numbers}}).value();
  supervisor.add_service({.name = "stubborn",
                          .main = [](Context&) -> asio::awaitable<void> {
                            asio::steady_timer timer(co_await asio::this_coro::executor);
                            for (;;) {  // never looks at its stop request
                              timer.expires_after(5ms);
                              co_await timer.async_wait(asio::use_awaitable);
                            }
                          },
                          .shutdown_grace = 50ms}).value();
  ASSERT_TRUE(supervisor.start());
  std::thread stopper([&] {
    while (handled.load() < scaled(100'000)) std::this_thread::yield();
    supervisor.request_shutdown("test");
  });
  const auto report = run_until_finished(ioc, supervisor);
  stopper.join();
  EXPECT_TRUE(report.ok());
  EXPECT_EQ(report.reason, "test");
  std::uint64_t unhandled = 0;
  for (const auto& u : report.unhandled) unhandled += u.queued;
  EXPECT_EQ(handled.load() + unhandled, sent.load());
  EXPECT_EQ(report.cancelled, std::vector<std::string>{"stubborn"});
  for (const auto& s : report.services) EXPECT_EQ(s.state, ServiceState::stopped) << s.name;
}

TEST(Supervisor, AWiringErrorStopsTheBootWithTheReport) {
  std::ostringstream log;
  auto shared = std::make_shared<Shared>(Shared::Options{
      .logger = std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::ostream_sink_mt>(log))});
  shared->wiring->add_channel(Ch::Numbers).value();
  shared->wiring->add_channel(Ch::Orphan).value();
  asio::io_context ioc;
  Supervisor<Shared> supervisor(ioc.get_executor(), shared, quiet());
  bool ran = false;
  auto idle = [&](Context&) -> asio::awaitable<void> {
    ran = true;
    co_return;
  };
  supervisor.add_service({.name = "producer", .main = idle, .produces = {Ch::Numbers, Ch::Orphan}}).value();
  supervisor.add_service({.name = "first", .main = idle, .consumes = {Ch::Numbers}}).value();
  supervisor.add_service({.name = "second", .main = idle, .consumes = {Ch::Numbers, Ch::Results}}).value();
  EXPECT_FALSE(supervisor.add_service({.name = "first", .main = idle}));  // declared twice

  auto started = supervisor.start();
  ASSERT_FALSE(started);
  const BootReport& report = started.error();
  EXPECT_EQ(report.errors, (std::vector<std::string>{
                               "channel Numbers: rx taken twice, by first and second (one consumer per channel)",
                               "channel Orphan: no service consumes it",
                               "channel Results: declared by second but not in the wiring",
                           }));
  const std::string table = report.table();
  EXPECT_NE(table.find("Numbers  producer   first, second"), std::string::npos) << table;
  EXPECT_NE(table.find("error: channel Orphan: no service consumes it"), std::string::npos) << table;
  EXPECT_EQ(report.json().rfind("{\"ok\":false,\"services\":[\"producer\",\"first\",\"second\"]", 0), 0u)
      << report.json();
  EXPECT_NE(report.dot().find("\"producer\" -> \"(none)\" [label=\"Orphan\"]"), std::string::npos) << report.dot();
  ioc.run();
  EXPECT_FALSE(ran);  // nothing started
  EXPECT_NE(log.str().find("boot stopped by the wiring check"), std::string::npos) << log.str();
  EXPECT_NE(log.str().find("error: channel Orphan: no service consumes it"), std::string::npos) << log.str();
}

TEST(Supervisor, AnEndTakenBeforeBootIsAWiringError) {
  auto shared = std::make_shared<Shared>();
  shared->wiring->add_channel(Ch::Numbers).value();
  auto stolen = shared->wiring->take_rx(Ch::Numbers, "outsider").value();
  asio::io_context ioc;
  Supervisor<Shared> supervisor(ioc.get_executor(), shared, quiet());
  auto idle = [](Context&) -> asio::awaitable<void> { co_return; };
  supervisor.add_service({.name = "p", .main = idle, .produces = {Ch::Numbers}}).value();
  supervisor.add_service({.name = "c", .main = idle, .consumes = {Ch::Numbers}}).value();
  auto report = supervisor.check_wiring();
  EXPECT_EQ(report.errors, std::vector<std::string>{"channel Numbers: rx already taken by outsider before boot"});
  EXPECT_NE(report.table().find("taken by outsider"), std::string::npos);
}

TEST(Supervisor, MisusesAreRefusedWithWhatIsWrong) {
  auto shared = std::make_shared<Shared>();
  shared->wiring->add_channel(Ch::Numbers).value();
  asio::io_context ioc;
  Supervisor<Shared> supervisor(ioc.get_executor(), shared, quiet());
  auto idle = [](Context&) -> asio::awaitable<void> { co_return; };
  auto waiting = [](Context& ctx) -> asio::awaitable<void> {
    auto rx = ctx.shared()->wiring->take_rx(Ch::Numbers, ctx.name()).value();
    while (co_await ctx.recv(rx)) {
    }
  };
  auto no_main = supervisor.add_service({.name = "empty"});
  ASSERT_FALSE(no_main);
  EXPECT_EQ(no_main.error().message, "service empty: no main coroutine");
  supervisor.add_service({.name = "p", .main = idle, .restart = RestartPolicy::temporary, .produces = {Ch::Numbers}})
      .value();
  supervisor.add_service({.name = "c", .main = waiting, .consumes = {Ch::Numbers}}).value();
  auto twice = supervisor.add_service({.name = "c", .main = idle});
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().message, "service c: declared twice");
  ASSERT_TRUE(supervisor.start());
  auto late = supervisor.add_service({.name = "late", .main = idle});
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().message, "service late: declared after start");
  auto again = supervisor.start();
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().errors.back(), "the supervisor was already started");

  auto empty_swap = supervisor.replace("c", {}).get();  // refused at once: no io_context needed
  ASSERT_FALSE(empty_swap);
  EXPECT_EQ(empty_swap.error().message, "service c: no main coroutine to swap in");
  auto unknown = supervisor.restart("nobody").get();
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().message, "no service named nobody");
  supervisor.request_shutdown("done");
  EXPECT_TRUE(run_until_finished(ioc, supervisor).ok());
}

// A channel key that is not an enum: any ordered type with a `to_string` found by ADL.
struct Topic {
  int n = 0;
  auto operator<=>(const Topic&) const = default;
};
std::string_view to_string(Topic t) {
  static constexpr std::string_view names[] = {"jobs", "results", "audit"};
  return names[t.n];
}

TEST(Supervisor, AChannelKeyThatIsNotAnEnumIsCheckedAndNamed) {
  using TopicShared = SharedResource<Event, Topic, int>;
  using TopicContext = ServiceContext<TopicShared>;
  auto shared = std::make_shared<TopicShared>();
  shared->wiring->add_channel(Topic{0}).value();
  shared->wiring->add_channel(Topic{1}).value();
  asio::io_context ioc;
  Supervisor<TopicShared> supervisor(ioc.get_executor(), shared, quiet());
  std::atomic<int> handled{0};
  auto producer = [](TopicContext& ctx) -> asio::awaitable<void> {
    auto tx = ctx.shared()->wiring->take_tx(Topic{0}, ctx.name()).value();
    for (int i = 0; i < 10; ++i) tx.send(i).value();
    co_return;
  };
  auto relay = [](TopicContext& ctx) -> asio::awaitable<void> {
    auto rx = ctx.shared()->wiring->take_rx(Topic{0}, ctx.name()).value();
    auto tx = ctx.shared()->wiring->take_tx(Topic{1}, ctx.name()).value();
    while (auto v = co_await ctx.recv(rx)) tx.send(*v).value();
  };
  auto sink = [&](TopicContext& ctx) -> asio::awaitable<void> {
    auto rx = ctx.shared()->wiring->take_rx(Topic{1}, ctx.name()).value();
    while (co_await ctx.recv(rx))
      if (++handled == 10) supervisor.request_shutdown("all handled");
  };
  supervisor.add_service({.name = "audit", .main = sink, .consumes = {Topic{2}}}).value();
  supervisor.add_service({.name = "producer", .main = producer, .restart = RestartPolicy::temporary,
                          .produces = {Topic{0}}}).value();
  supervisor.add_service({.name = "relay", .main = relay, .produces = {Topic{1}}, .consumes = {Topic{0}}}).value();
  EXPECT_EQ(supervisor.check_wiring().errors,
            (std::vector<std::string>{"channel results: no service consumes it",
                                      "channel audit: declared by audit but not in the wiring"}));

  // The same services with the sink on the channel that exists: it boots and runs.
  Supervisor<TopicShared> fixed(ioc.get_executor(), shared, quiet());
  fixed.add_service({.name = "producer", .main = producer, .restart = RestartPolicy::temporary,
                     .produces = {Topic{0}}}).value();
  fixed.add_service({.name = "relay", .main = relay, .produces = {Topic{1}}, .consumes = {Topic{0}}}).value();
  fixed.add_service({.name = "sink", .main = [&](TopicContext& ctx) -> asio::awaitable<void> {
                       auto rx = ctx.shared()->wiring->take_rx(Topic{1}, ctx.name()).value();
                       while (co_await ctx.recv(rx))
                         if (++handled == 10) fixed.request_shutdown("all handled");
                     },
                     .consumes = {Topic{1}}}).value();
  ASSERT_TRUE(fixed.check_wiring().ok()) << fixed.check_wiring().table();
  ASSERT_TRUE(fixed.start());
  auto guard = asio::make_work_guard(ioc);
  std::thread runner([&] { ioc.run(); });
  const auto report = fixed.finished().get();
  guard.reset();
  runner.join();
  EXPECT_TRUE(report.ok()) << report.error;
  EXPECT_EQ(handled.load(), 10);
}

TEST(Supervisor, RestartPoliciesAndIntrospection) {
  auto shared = std::make_shared<Shared>();
  asio::io_context ioc;
  Supervisor<Shared> supervisor(ioc.get_executor(), shared, quiet());
  std::atomic<int> permanent_runs{0}, transient_runs{0}, temporary_runs{0};
  supervisor.add_service({.name = "permanent",
                          .main = [&](Context& ctx) -> asio::awaitable<void> {
                            if (++permanent_runs == 3) {  // returns twice, then waits for the stop
                              auto ticks = ctx.shared()->pulses->subscribe(PulseRate::fast);
                              while (co_await ctx.recv(ticks)) {
                              }
                            }
                            co_return;
                          }}).value();
  supervisor.add_service({.name = "transient",
                          .main = [&](Context&) -> asio::awaitable<void> {
                            if (++transient_runs == 1) throw std::runtime_error("once");
                            co_return;  // a normal return: not restarted
                          },
                          .restart = RestartPolicy::transient}).value();
  supervisor.add_service({.name = "temporary",
                          .main = [&](Context&) -> asio::awaitable<void> {
                            ++temporary_runs;
                            throw std::runtime_error("gone");
                            co_return;
                          },
                          .restart = RestartPolicy::temporary}).value();
  ASSERT_TRUE(supervisor.start());
  auto guard = asio::make_work_guard(ioc);
  std::thread runner([&] { ioc.run(); });
  for (int i = 0; i < 2000 && !(permanent_runs == 3 && transient_runs == 2 && temporary_runs == 1); ++i)
    std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(20ms);
  const auto snap = supervisor.snapshot();
  supervisor.request_shutdown();
  const auto report = supervisor.finished().get();
  guard.reset();
  runner.join();

  EXPECT_EQ(permanent_runs.load(), 3);
  EXPECT_EQ(transient_runs.load(), 2);
  EXPECT_EQ(temporary_runs.load(), 1);
  ASSERT_EQ(snap.services.size(), 3u);
  EXPECT_EQ(snap.services[0].state, ServiceState::running);
  EXPECT_EQ(snap.services[0].restarts, 2u);
  EXPECT_EQ(snap.services[1].state, ServiceState::stopped);
  EXPECT_EQ(snap.services[1].restarts, 1u);
  EXPECT_EQ(snap.services[1].failures, 1u);
  EXPECT_EQ(snap.services[2].state, ServiceState::failed);
  EXPECT_EQ(snap.services[2].last_error, "gone");
  EXPECT_EQ(report.services[0].state, ServiceState::stopped);
}

TEST(Supervisor, SnapshotShowsChannelDepthAndCounts) {
  auto shared = std::make_shared<Shared>();
  shared->wiring->add_channel(Ch::Numbers).value();
  asio::io_context ioc;
  Supervisor<Shared> supervisor(ioc.get_executor(), shared, quiet());
  std::atomic<bool> sent{false};
  supervisor.add_service({.name = "producer",
                          .main = [&](Context& ctx) -> asio::awaitable<void> {
                            auto tx = ctx.shared()->wiring->take_tx(Ch::Numbers, ctx.name()).value();
                            for (std::uint64_t i = 0; i < 10; ++i) tx.send(i).value();
                            sent = true;
                            auto ticks = ctx.shared()->pulses->subscribe(PulseRate::slow);
                            while (co_await ctx.recv(ticks)) {
                            }
                          },
                          .produces = {Ch::Numbers}}).value();
  supervisor.add_service({.name = "consumer",
                          .main = [&](Context& ctx) -> asio::awaitable<void> {
                            auto rx = ctx.shared()->wiring->take_rx(Ch::Numbers, ctx.name()).value();
                            for (int i = 0; i < 4; ++i) co_await ctx.recv(rx);
                            auto ticks = ctx.shared()->pulses->subscribe(PulseRate::slow);
                            while (co_await ctx.recv(ticks)) {
                            }
                          },
                          .consumes = {Ch::Numbers}}).value();
  ASSERT_TRUE(supervisor.start());
  auto guard = asio::make_work_guard(ioc);
  std::thread runner([&] { ioc.run(); });
  Snapshot snap;
  for (int i = 0; i < 2000; ++i) {
    snap = supervisor.snapshot();
    if (sent && !snap.channels.empty() && snap.channels[0].received == 4) break;
    std::this_thread::sleep_for(1ms);
  }
  supervisor.request_shutdown();
  const auto report = supervisor.finished().get();
  guard.reset();
  runner.join();
  ASSERT_EQ(snap.channels.size(), 1u);
  EXPECT_EQ(snap.channels[0].name, "Numbers");
  EXPECT_EQ(snap.channels[0].sent, 10u);
  EXPECT_EQ(snap.channels[0].received, 4u);
  EXPECT_EQ(snap.channels[0].depth, 6u);
  EXPECT_EQ(snap.channels[0].tx, "producer");
  EXPECT_EQ(snap.channels[0].rx, "consumer");
  // Six queued when the snapshot read the mark: at least that, at most the ten sent.
  EXPECT_GE(snap.channels[0].high_water, 6u);
  EXPECT_LE(snap.channels[0].high_water, 10u);
  EXPECT_EQ(snap.channels[0].refused, 0u);
  EXPECT_EQ(snap.channels[0].senders, 2u);  // the wiring's own and the producer's lease
  EXPECT_EQ(snap.channels[0].receivers, 1u);
  EXPECT_EQ(snap.channels[0].where, "in-process");
  EXPECT_EQ(snap.services[0].state, ServiceState::running);
  EXPECT_GE(snap.events_sent, 1u);  // Startup, seen by the contexts' own subscriptions
  // The consumer stopped reading Numbers after 4 values: the other 6 are reported, not lost.
  ASSERT_EQ(report.unhandled.size(), 1u);
  EXPECT_EQ(report.unhandled[0].channel, "Numbers");
  EXPECT_EQ(report.unhandled[0].queued, 6u);
}

// Per service: the core events its running instance has not received, those its instances
// missed by lagging (kept across instances), and how long its last hand-over took.
TEST(Supervisor, SnapshotShowsEachServicesEventBacklogAndLastHandOver) {
  auto shared = std::make_shared<Shared>();
  asio::io_context ioc;
  Supervisor<Shared> supervisor(ioc.get_executor(), shared, quiet());
  std::atomic<bool> read_now{false};
  std::atomic<int> instances_done{0}, instances_started{0};
  supervisor.add_service({.name = "listener",
                          .main = [&](Context& ctx) -> asio::awaitable<void> {
                            auto& events = ctx.core_events();  // a reader of the core events
                            ++instances_started;
                            asio::steady_timer timer(co_await asio::this_coro::executor);
                            while (!read_now.load()) {
                              timer.expires_after(1ms);
                              co_await timer.async_wait(asio::use_awaitable);
                            }
                            for (;;) {  // everything there, lags included
                              auto ev = events.try_recv();
                              if (!ev && ev.error().kind != broadcast::RecvError::lagged) break;
                            }
                            ++instances_done;
                            auto ticks = ctx.shared()->pulses->subscribe(PulseRate::slow);
                            while (co_await ctx.recv(ticks)) {
                            }
                          }}).value();
  // A service that never reads the core events is not behind them.
  supervisor.add_service({.name = "deaf",
                          .main = [&](Context& ctx) -> asio::awaitable<void> {
                            auto ticks = ctx.shared()->pulses->subscribe(PulseRate::slow);
                            while (co_await ctx.recv(ticks)) {
                            }
                          }}).value();
  ASSERT_TRUE(supervisor.start());  // broadcasts Startup
  auto guard = asio::make_work_guard(ioc);
  std::thread runner([&] { ioc.run(); });
  const std::size_t capacity = shared->channels->capacity();
  while (instances_started.load() < 1) std::this_thread::yield();
  for (std::uint64_t i = 0; i < capacity + 5; ++i) shared->channels->send_event_to_all_services(Tick{PulseRate::slow, i});
  const auto snap = supervisor.snapshot();
  const auto waiting = snap.services[0];
  const auto deaf = snap.services[1];
  read_now = true;
  while (instances_done.load() < 1) std::this_thread::yield();
  const auto caught_up = supervisor.snapshot().services[0];
  auto handed_over = supervisor.restart("listener").get();
  ASSERT_TRUE(handed_over);
  while (instances_done.load() < 2) std::this_thread::yield();
  const auto restarted = supervisor.snapshot().services[0];
  supervisor.request_shutdown();
  supervisor.finished().get();
  guard.reset();
  runner.join();

  EXPECT_EQ(waiting.events_behind, capacity + 6);  // Startup and the ticks
  EXPECT_EQ(deaf.events_behind, 0u);
  EXPECT_EQ(waiting.events_missed, 0u);
  EXPECT_EQ(waiting.last_swap, std::chrono::nanoseconds(0));
  EXPECT_EQ(caught_up.events_behind, 0u);
  EXPECT_EQ(caught_up.events_missed, 6u);  // all but the ring's `capacity` newest
  EXPECT_EQ(restarted.events_missed, 6u);  // the first instance's, kept
  EXPECT_GT(restarted.last_swap, std::chrono::nanoseconds(0));
  EXPECT_EQ(restarted.last_swap, handed_over->took);
}

// A service with a long queue takes turns with the other handlers of its io_context: a handler
// posted while it drains 10,000 values runs after at most one budget of them, not after all.
TEST(ServiceContextFairness, ALongQueueYieldsToOtherHandlersEveryBudget) {
  auto shared = std::make_shared<Shared>();
  shared->wiring->add_channel(Ch::Numbers).value();
  auto tx = shared->wiring->get_tx(Ch::Numbers).value();
  constexpr std::uint64_t n = 10'000;
  for (std::uint64_t i = 0; i < n; ++i) tx.send(i).value();
  asio::io_context ioc;  // one thread: the handlers take turns
  Context ctx("drainer", 0, shared);
  std::uint64_t handled = 0;
  std::optional<std::uint64_t> handled_when_probed;
  ctx.spawn(
      ioc.get_executor(),
      [&](Context& c) -> asio::awaitable<void> {
        auto rx = c.shared()->wiring->take_rx(Ch::Numbers, c.name()).value();
        while (handled < n) {  // the co_await out of the condition (g++ 12 mis-builds it inside `&&`)
          if (!co_await c.recv(rx)) break;
          ++handled;
        }
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  asio::post(ioc, [&] { handled_when_probed = handled; });
  ioc.run();
  EXPECT_EQ(handled, n);
  ASSERT_TRUE(handled_when_probed);
  EXPECT_LT(*handled_when_probed, Context::receive_budget);
  EXPECT_EQ(ctx.receives(), n);
}

// A value already queued is taken at once by every receive through the context, also in a
// context that can be cancelled (as every supervised one is): no handler queued before it runs
// first, so a busy service does not pay a turn of the executor per message.
TEST(ServiceContextReceive, AQueuedValueIsTakenWithoutATurnOfTheExecutor) {
  auto shared = std::make_shared<Shared>();
  shared->wiring->add_channel(Ch::Numbers).value();
  auto tx = shared->wiring->get_tx(Ch::Numbers).value();
  tx.send(1).value();
  tx.send(2).value();
  asio::io_context ioc;  // one thread: a handler posted before a receive runs first if it suspends
  Context ctx("taker", 0, shared);
  shared->channels->send_event_to_all_services(Event(Startup{}));  // after the context subscribed
  std::vector<std::string> order;
  ctx.spawn(
      ioc.get_executor(),
      [&](Context& c) -> asio::awaitable<void> {
        auto rx = c.shared()->wiring->take_rx(Ch::Numbers, c.name()).value();
        const auto executor = co_await asio::this_coro::executor;
        asio::post(executor, [&] { order.push_back("other handler"); });
        const auto until = co_await c.recv_until(rx, std::chrono::steady_clock::now() + 1h);
        order.push_back(until ? "recv_until " + std::to_string(*until) : "recv_until failed");
        asio::post(executor, [&] { order.push_back("other handler"); });
        const auto next = co_await c.recv(rx);
        order.push_back(next ? "recv " + std::to_string(*next) : "recv failed");
        asio::post(executor, [&] { order.push_back("other handler"); });
        const auto event = co_await c.recv(c.core_events());
        order.push_back(event && std::holds_alternative<Startup>(*event) ? "event" : "event failed");
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  ioc.run();
  EXPECT_EQ(order, (std::vector<std::string>{"recv_until 1", "recv 2", "event", "other handler", "other handler",
                                             "other handler"}));
}

// A channel that ends while the instance waits on it returns "nothing more", and nothing is in
// hand then: an instance that fails after it has lost no message.
TEST(ServiceContextReceive, AChannelThatEndsWhileWaitedOnLeavesNoMessageInHand) {
  auto shared = std::make_shared<Shared>();
  auto [tx_end, rx_end] = mpsc::unbounded_channel<int>();
  std::optional<mpsc::UnboundedSender<int>> tx(std::move(tx_end));
  auto& rx = rx_end;
  asio::io_context ioc;
  Context ctx("waiter", 0, shared);
  std::optional<bool> got_value, in_hand;
  ctx.spawn(
      ioc.get_executor(),
      [&](Context& c) -> asio::awaitable<void> {
        const auto v = co_await c.recv(rx);  // waits: nothing is queued
        got_value = v.has_value();
        in_hand = c.message_in_hand();
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  asio::post(ioc, [&] { tx.reset(); });  // runs once the receive waits: the last sender leaves
  ioc.run();
  EXPECT_EQ(got_value, std::optional<bool>(false));
  EXPECT_EQ(in_hand, std::optional<bool>(false));
}

TEST(Supervisor, EveryFirstInstanceSeesStartupAndEveryInstanceSeesShutdown) {
  auto shared = std::make_shared<Shared>();
  asio::io_context ioc;
  Supervisor<Shared> supervisor(ioc.get_executor(), shared, quiet());
  std::atomic<int> startups{0}, shutdowns{0};
  for (const char* name : {"a", "b", "c"}) {
    supervisor.add_service({.name = name,
                            .main = [&](Context& ctx) -> asio::awaitable<void> {
                              for (;;) {
                                auto ev = co_await ctx.recv(ctx.core_events());
                                if (!ev) break;
                                if (std::holds_alternative<Startup>(*ev)) ++startups;
                                if (std::holds_alternative<Shutdown>(*ev)) ++shutdowns;
                              }
                            }}).value();
  }
  ASSERT_TRUE(supervisor.start());
  auto guard = asio::make_work_guard(ioc);
  std::thread runner([&] { ioc.run(); });
  while (startups.load() < 3) std::this_thread::yield();
  supervisor.request_shutdown();
  supervisor.finished().get();
  guard.reset();
  runner.join();
  EXPECT_EQ(startups.load(), 3);
  EXPECT_EQ(shutdowns.load(), 3);  // drained before returning
}

TEST(Supervisor, SigtermShutsDownInOrder) {
  auto shared = std::make_shared<Shared>();
  asio::io_context ioc;
  Supervisor<Shared> supervisor(ioc.get_executor(), shared, quiet());
  supervisor.add_service({.name = "waiter",
                          .main = [](Context& ctx) -> asio::awaitable<void> {
                            auto events = ctx.shared()->channels->subscribe_to_core_event();
                            while (co_await ctx.recv(events)) {
                            }
                          }}).value();
  ASSERT_TRUE(supervisor.start());
  supervisor.handle_signals();
  ioc.poll();  // installs the signal handler and starts the service
  std::raise(SIGTERM);
  const auto report = run_until_finished(ioc, supervisor);
  EXPECT_EQ(report.reason, "signal " + std::to_string(SIGTERM));
  EXPECT_EQ(report.services[0].state, ServiceState::stopped);
}

// The system's phase is a watch: a watcher on another context sees the phases in order (never
// one twice, never back), ends with `finished` and its reason, and ends when the supervisor goes.
TEST(Supervisor, ItsStateIsWatchedThroughEveryPhase) {
  asio::io_context watcher_context;
  std::vector<SystemState::Phase> seen;
  std::string last_reason;
  std::atomic<bool> saw_running{false}, watcher_ended{false};
  std::thread watcher_thread;
  {
    auto shared = std::make_shared<Shared>();
    asio::io_context ioc;
    Supervisor<Shared> supervisor(ioc.get_executor(), shared, quiet());
    supervisor.add_service({.name = "a",
                            .main = [](Context& ctx) -> asio::awaitable<void> {
                              while (co_await ctx.recv(ctx.core_events())) {
                              }
                            }}).value();
    EXPECT_EQ(supervisor.state().borrow()->phase, SystemState::booting);
    asio::co_spawn(
        watcher_context,
        [&, w = supervisor.state()]() mutable -> asio::awaitable<void> {
          while (co_await w.changed()) {
            const auto ref = w.borrow_and_update();
            seen.push_back(ref->phase);
            last_reason = ref->reason;
            if (ref->phase == SystemState::running) saw_running = true;
          }
          watcher_ended = true;
        },
        asio::detached);
    watcher_thread = std::thread([&] { watcher_context.run(); });
    ASSERT_TRUE(supervisor.start());
    auto guard = asio::make_work_guard(ioc);
    std::thread runner([&] { ioc.run(); });
    while (!saw_running.load()) std::this_thread::yield();
    supervisor.request_shutdown("test done");
    supervisor.finished().get();
    guard.reset();
    runner.join();
    const auto late = supervisor.state();  // a watcher that comes after the end sees it at once
    EXPECT_EQ(late.borrow()->phase, SystemState::finished);
    EXPECT_EQ(late.borrow()->reason, "test done");
    EXPECT_TRUE(late.borrow()->error.empty());
    EXPECT_FALSE(watcher_ended.load());  // the supervisor still lives
  }
  watcher_thread.join();  // ends once the supervisor is gone
  EXPECT_TRUE(watcher_ended.load());
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.front(), SystemState::running);
  EXPECT_EQ(seen.back(), SystemState::finished);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_EQ(std::adjacent_find(seen.begin(), seen.end()), seen.end());
  EXPECT_EQ(last_reason, "test done");
}

// A failure that brings the system down is in the state's `error`.
TEST(Supervisor, ItsStateNamesTheFailureThatBroughtItDown) {
  auto shared = std::make_shared<Shared>();
  asio::io_context ioc;
  Supervisor<Shared> supervisor(ioc.get_executor(), shared, quiet({2, 60s}));
  supervisor.add_service({.name = "crasher",
                          .main = [](Context&) -> asio::awaitable<void> {
                            throw std::runtime_error("boom");
                            co_return;
                          }}).value();
  ASSERT_TRUE(supervisor.start());
  const auto report = run_until_finished(ioc, supervisor);
  const auto state = supervisor.state();
  EXPECT_EQ(state.borrow()->phase, SystemState::finished);
  EXPECT_EQ(state.borrow()->reason, report.reason);
  EXPECT_NE(state.borrow()->error.find("crasher"), std::string::npos) << state.borrow()->error;
}

}  // namespace

}  // namespace supervisor_test
