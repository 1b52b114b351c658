// The supervisor's decision log: each decision (start, failure, restart, swap, restart on demand,
// stop, giving up, shutdown and what it left) logged once, with the service's name and its fields,
// as a structured line (swarmsync/runtime/log_record.hpp).

#include <swarmsync/runtime/log_record.hpp>
#include <swarmsync/runtime/shared_resource.hpp>
#include <swarmsync/runtime/supervisor.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <atomic>
#include <cctype>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace supervisor_log_test {

namespace app {

enum class Ch { Numbers };

constexpr std::string_view to_string(Ch) { return "Numbers"; }

}  // namespace app

namespace {

using namespace swarmsync;
using namespace std::chrono_literals;
using app::Ch;
using Event = CoreEventOf<>;
using Shared = SharedResource<Event, Ch, std::uint64_t>;
using Context = ServiceContext<Shared>;

// The decision log, read back from a logger's lines ("LEVEL MESSAGE"): its records with their
// levels, in order. Plain lines (the boot table) are left out.
struct DecisionLog {
  std::ostringstream out;
  std::shared_ptr<spdlog::logger> logger;
  std::vector<std::pair<std::string, LogRecord>> records;

  DecisionLog() : logger(std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::ostream_sink_mt>(out))) {
    logger->set_pattern("%l %v");
    logger->set_level(spdlog::level::info);
  }

  // Reads what was written; call once every thread that logs is done.
  void read() {
    std::istringstream lines(out.str());
    for (std::string line; std::getline(lines, line);) {
      const auto space = line.find(' ');
      if (space == std::string::npos) continue;
      if (auto r = parse_log_record(std::string_view(line).substr(space + 1)))
        records.emplace_back(line.substr(0, space), std::move(*r));
    }
  }

  // The records of `service` with `event`, with their levels.
  std::vector<std::pair<std::string, LogRecord>> of(const std::string& service, const std::string& event) const {
    std::vector<std::pair<std::string, LogRecord>> found;
    for (const auto& r : records)
      if (r.second.service == service && r.second.event == event) found.push_back(r);
    return found;
  }

  // The one record of `service` with `event` and its fields, checked at `level`; empty fields
  // when there is not exactly one.
  std::vector<std::pair<std::string, std::string>> once(const std::string& service, const std::string& event,
                                                        const std::string& level) const {
    const auto found = of(service, event);
    EXPECT_EQ(found.size(), 1u) << service << ": " << event << "\n" << out.str();
    if (found.size() != 1) return {};
    EXPECT_EQ(found[0].first, level) << service << ": " << event;
    return found[0].second.fields;
  }
};

using Fields = std::vector<std::pair<std::string, std::string>>;

// True for a count of milliseconds with three decimals ("0.412").
bool is_millis(const std::string& s) {
  const auto dot = s.find('.');
  if (dot == std::string::npos || dot == 0 || s.size() != dot + 4) return false;
  for (std::size_t i = 0; i < s.size(); ++i)
    if (i != dot && !std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  return true;
}

// Every decision of the supervisor is logged once, with the service's name and its fields: a
// start, a failure with its error and the message lost in hand, the restart with its backoff, a
// hot swap and a restart on demand with their durations, a service its policy leaves stopped, the
// shutdown with its reason, and at its end what was left in a channel and who was cancelled.
TEST(Supervisor, LogsEachDecisionOnceWithTheServiceName) {
  DecisionLog log;
  auto shared = std::make_shared<Shared>(Shared::Options{.logger = log.logger});
  shared->wiring->add_channel(Ch::Numbers).value();
  asio::io_context ioc;
  Supervisor<Shared> supervisor(ioc.get_executor(), shared,
                                SupervisorOptions{{100, 60s}, RestartBackoff{5ms, 5ms}, false});
  // Waits on the core events until told to stop.
  auto idle = [](Context& ctx) -> asio::awaitable<void> {
    while (co_await ctx.recv(ctx.core_events())) {
    }
  };
  std::atomic<int> worker_instances{0};
  supervisor.add_service({.name = "producer",
                          .main = [idle](Context& ctx) -> asio::awaitable<void> {
                            auto tx = ctx.shared()->wiring->take_tx(Ch::Numbers, ctx.name()).value();
                            for (std::uint64_t i = 0; i < 10; ++i) tx.send(i).value();
                            co_await idle(ctx);
                          },
                          .produces = {Ch::Numbers}}).value();
  // Its first instance fails holding one of the 10 values; the later ones leave the other 9 queued.
  supervisor.add_service({.name = "worker",
                          .main = [&, idle](Context& ctx) -> asio::awaitable<void> {
                            auto rx = ctx.shared()->wiring->take_rx(Ch::Numbers, ctx.name()).value();
                            if (worker_instances.fetch_add(1) == 0) {
                              (void)co_await ctx.recv(rx);
                              throw std::runtime_error("boom: \"bad\" value");
                            }
                            co_await idle(ctx);
                          },
                          .consumes = {Ch::Numbers}}).value();
  supervisor.add_service({.name = "oneshot",
                          .main = [](Context&) -> asio::awaitable<void> { co_return; },
                          .restart = RestartPolicy::transient}).value();
  supervisor.add_service({.name = "stubborn",
                          .main = [](Context&) -> asio::awaitable<void> {
                            asio::steady_timer timer(co_await asio::this_coro::executor);
                            for (;;) {  // never looks at its stop request
                              timer.expires_after(2ms);
                              co_await timer.async_wait(asio::use_awaitable);
                            }
                          },
                          .shutdown_grace = 20ms}).value();
  ASSERT_TRUE(supervisor.start());
  auto guard = asio::make_work_guard(ioc);
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i) threads.emplace_back([&] { ioc.run(); });

  while (worker_instances.load() < 2) std::this_thread::sleep_for(1ms);  // restarted after its failure
  while (supervisor.snapshot().services[2].state != ServiceState::stopped) std::this_thread::sleep_for(1ms);
  auto swapped = supervisor.replace("worker", [idle](Context& ctx) -> asio::awaitable<void> { co_await idle(ctx); }).get();
  ASSERT_TRUE(swapped) << swapped.error().message;
  auto restarted = supervisor.restart("worker").get();
  ASSERT_TRUE(restarted) << restarted.error().message;
  supervisor.request_shutdown("test over");
  const auto report = supervisor.finished().get();
  guard.reset();
  for (auto& t : threads) t.join();
  ASSERT_EQ(report.unhandled.size(), 1u);
  ASSERT_EQ(report.unhandled[0].queued, 9u);

  log.read();
  for (const char* service : {"producer", "worker", "oneshot", "stubborn"})
    EXPECT_EQ(log.once(service, "started", "info").size(), 1u) << service;
  EXPECT_EQ(log.once("worker", "started", "info"), (Fields{{"policy", "permanent"}}));
  EXPECT_EQ(log.once("oneshot", "started", "info"), (Fields{{"policy", "transient"}}));
  EXPECT_EQ(log.once("worker", "failed", "warning"), (Fields{{"error", "boom: \"bad\" value"}, {"lost_in_hand", "1"}}));
  EXPECT_EQ(log.once("worker", "restarting", "info"),
            (Fields{{"restart", "1"}, {"backoff_ms", "5"}, {"after", "failure"}}));
  const auto swap = log.once("worker", "swapped", "info");
  ASSERT_EQ(swap.size(), 2u);
  EXPECT_EQ(swap[0].first, "took_ms");
  EXPECT_TRUE(is_millis(swap[0].second)) << swap[0].second;
  EXPECT_EQ(swap[1], (std::pair<std::string, std::string>{"swaps", "1"}));
  const auto on_demand = log.once("worker", "restarted", "info");
  ASSERT_EQ(on_demand.size(), 2u);
  EXPECT_EQ(on_demand[0].first, "took_ms");
  EXPECT_TRUE(is_millis(on_demand[0].second)) << on_demand[0].second;
  EXPECT_EQ(on_demand[1], (std::pair<std::string, std::string>{"restarts", "2"}));
  EXPECT_EQ(log.once("oneshot", "stopped", "info"), (Fields{{"policy", "transient"}, {"state", "stopped"}}));
  EXPECT_EQ(log.once("supervisor", "shutdown", "info"), (Fields{{"reason", "test over"}}));
  EXPECT_EQ(log.once("supervisor", "shutdown_done", "warning"),
            (Fields{{"unhandled", "9"}, {"left.numbers", "9"}, {"cancelled", "stubborn"}}));
  // Nothing else: 4 starts, then one line per decision.
  EXPECT_EQ(log.records.size(), 11u) << log.out.str();
  EXPECT_EQ(log.records.back().second.event, "shutdown_done") << "the last line";
}

// A service that fails past its restart intensity: each failure, the restart between them, the
// giving up and the shutdown it causes are logged once; a temporary service that failed is left
// stopped.
TEST(Supervisor, LogsGivingUpOnceAndTheShutdownItCauses) {
  DecisionLog log;
  auto shared = std::make_shared<Shared>(Shared::Options{.logger = log.logger});
  asio::io_context ioc;
  Supervisor<Shared> supervisor(ioc.get_executor(), shared,
                                SupervisorOptions{{1, 10s}, RestartBackoff{1ms, 1ms}, false});
  std::atomic<bool> go{false};
  std::atomic<int> crasher_instances{0};
  supervisor.add_service({.name = "crasher",
                          .main = [&](Context&) -> asio::awaitable<void> {
                            if (crasher_instances.fetch_add(1) == 0) {
                              asio::steady_timer timer(co_await asio::this_coro::executor);
                              while (!go.load()) {
                                timer.expires_after(1ms);
                                co_await timer.async_wait(asio::use_awaitable);
                              }
                            }
                            throw std::runtime_error("disk on fire");
                          }}).value();
  supervisor.add_service({.name = "once",
                          .main = [](Context&) -> asio::awaitable<void> {
                            throw std::runtime_error("gone");
                            co_return;
                          },
                          .restart = RestartPolicy::temporary}).value();
  ASSERT_TRUE(supervisor.start());
  auto guard = asio::make_work_guard(ioc);
  std::thread runner([&] { ioc.run(); });
  while (supervisor.snapshot().services[1].state != ServiceState::failed) std::this_thread::sleep_for(1ms);
  go = true;
  const auto report = supervisor.finished().get();
  guard.reset();
  runner.join();
  ASSERT_FALSE(report.ok());

  log.read();
  EXPECT_EQ(log.once("once", "failed", "warning"), (Fields{{"error", "gone"}, {"lost_in_hand", "0"}}));
  EXPECT_EQ(log.once("once", "stopped", "info"), (Fields{{"policy", "temporary"}, {"state", "failed"}}));
  EXPECT_EQ(log.of("crasher", "failed").size(), 2u);
  EXPECT_EQ(log.once("crasher", "restarting", "info"),
            (Fields{{"restart", "1"}, {"backoff_ms", "1"}, {"after", "failure"}}));
  EXPECT_EQ(log.once("crasher", "gave_up", "error"),
            (Fields{{"max_restarts", "1"}, {"period_ms", "10000"}, {"last_error", "disk on fire"}}));
  EXPECT_EQ(log.once("supervisor", "shutdown", "warning"),
            (Fields{{"reason", "restart intensity exceeded"}, {"error", report.error}}));
  EXPECT_EQ(log.once("supervisor", "shutdown_done", "info"), (Fields{{"unhandled", "0"}}));
  // 2 starts, 3 failures, 1 restart, 1 left stopped, giving up, the shutdown and its end.
  EXPECT_EQ(log.records.size(), 10u) << log.out.str();
}

}  // namespace

}  // namespace supervisor_log_test
