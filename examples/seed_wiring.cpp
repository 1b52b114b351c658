// The seed's wiring, supervised: a Scheduler feeds a Dispatcher, which feeds a Harvester, through
// channels registered by name in the wiring; every service hears the core events. The Dispatcher
// fails now and then and is restarted on the same leases; nothing queued is lost, and the one job
// it had in hand at each failure is counted as lost by the supervisor.
//
//   swarmsync-seed-wiring              run 10000 jobs and print the shutdown report
//   swarmsync-seed-wiring --table      print the boot diagnostics (also --json, --dot)

#include <swarmsync/runtime/shared_resource.hpp>
#include <swarmsync/runtime/supervisor.hpp>

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <variant>
#include <vector>

namespace core {

namespace asio = boost::asio;

enum class ChannelType { SchedulerToDispatcher, DispatcherToHarvester };

constexpr std::string_view to_string(ChannelType c) {
  return c == ChannelType::SchedulerToDispatcher ? "SchedulerToDispatcher" : "DispatcherToHarvester";
}

struct SchedulerEvent {
  std::uint64_t job;
};
struct DispatcherEvent {
  std::uint64_t job;
  unsigned worker;
};
using EventPayload = std::variant<SchedulerEvent, DispatcherEvent>;

struct JobDone {
  std::uint64_t job;
};
using CoreEvent = swarmsync::CoreEventOf<JobDone>;

using Shared = swarmsync::SharedResource<CoreEvent, ChannelType, EventPayload>;
using Context = swarmsync::ServiceContext<Shared>;

constexpr std::uint64_t jobs = 10'000;

asio::awaitable<void> scheduler(Context& ctx) {
  auto scheduler_tx = ctx.shared()->wiring->take_tx(ChannelType::SchedulerToDispatcher, ctx.name()).value();
  for (std::uint64_t job = 0; job < jobs; ++job) scheduler_tx.send(SchedulerEvent{job}).value();
  co_return;
}

asio::awaitable<void> dispatcher(Context& ctx) {
  auto dispatcher_rx = ctx.shared()->wiring->take_rx(ChannelType::SchedulerToDispatcher, ctx.name()).value();
  auto harvester_tx = ctx.shared()->wiring->take_tx(ChannelType::DispatcherToHarvester, ctx.name()).value();
  while (auto msg = co_await ctx.recv(dispatcher_rx)) {
    const auto job = std::get<SchedulerEvent>(*msg).job;
    if (job % 2500 == 1234 && ctx.restarts() < 4) throw std::runtime_error("dispatcher lost its worker table");
    harvester_tx.send(DispatcherEvent{job, static_cast<unsigned>(job % 8)}).value();
  }
}

asio::awaitable<void> harvester(Context& ctx, std::atomic<std::uint64_t>& harvested) {
  auto harvester_rx = ctx.shared()->wiring->take_rx(ChannelType::DispatcherToHarvester, ctx.name()).value();
  while (auto msg = co_await ctx.recv(harvester_rx)) {
    ctx.shared()->channels->send_event_to_all_services(JobDone{std::get<DispatcherEvent>(*msg).job});
    harvested.fetch_add(1);
  }
}

}  // namespace core

int main(int argc, char** argv) {
  using namespace core;
  std::string_view mode = argc > 1 ? argv[1] : "";
  constexpr const char* usage =
      "usage: swarmsync-seed-wiring [--table|--json|--dot]\n"
      "  runs the seed's wiring (scheduler -> dispatcher -> harvester, 10,000 jobs, the dispatcher\n"
      "  failing 4 times); with a flag, prints the boot diagnostics instead\n";
  if (mode == "--help" || mode == "-h") {
    std::fputs(usage, stdout);
    return 0;
  }
  if (argc > 2 || (!mode.empty() && mode != "--table" && mode != "--json" && mode != "--dot")) {
    std::fprintf(stderr, "error: unknown argument '%s'\n%s", argv[argc > 2 ? 2 : 1], usage);
    return 2;
  }

  boost::asio::io_context ioc;
  auto shared = std::make_shared<Shared>();
  shared->wiring->add_channel(ChannelType::SchedulerToDispatcher).value();
  shared->wiring->add_channel(ChannelType::DispatcherToHarvester).value();

  std::atomic<std::uint64_t> harvested{0};
  swarmsync::Supervisor<Shared> supervisor(ioc.get_executor(), shared,
                                           {.intensity = {10, std::chrono::seconds(5)}, .run_pulses = false});
  supervisor.add_service({.name = "scheduler", .main = scheduler, .restart = swarmsync::RestartPolicy::transient,
                          .produces = {ChannelType::SchedulerToDispatcher}}).value();
  supervisor.add_service({.name = "dispatcher", .main = dispatcher,
                          .produces = {ChannelType::DispatcherToHarvester},
                          .consumes = {ChannelType::SchedulerToDispatcher}}).value();
  supervisor.add_service({.name = "harvester",
                          .main = [&harvested](Context& ctx) { return harvester(ctx, harvested); },
                          .consumes = {ChannelType::DispatcherToHarvester}}).value();

  const auto boot = supervisor.check_wiring();
  if (mode == "--table") std::fputs(boot.table().c_str(), stdout);
  if (mode == "--json") std::printf("%s\n", boot.json().c_str());
  if (mode == "--dot") std::fputs(boot.dot().c_str(), stdout);
  if (!mode.empty()) return boot.ok() ? 0 : 1;

  if (auto started = supervisor.start(); !started) {
    std::fputs(started.error().table().c_str(), stderr);
    return 1;
  }
  supervisor.handle_signals();
  // Every job is harvested, except the one the dispatcher had in hand at each of its failures,
  // which the supervisor counts as lost.
  std::thread watcher([&] {
    while (supervisor.finished().wait_for(std::chrono::milliseconds(1)) != std::future_status::ready) {
      if (harvested.load() + supervisor.snapshot().services[1].lost_in_hand >= jobs) break;
    }
    supervisor.request_shutdown("every job harvested or counted as lost in hand");
  });
  std::thread second([&] { ioc.run(); });
  ioc.run();
  second.join();
  watcher.join();

  const auto report = supervisor.finished().get();
  std::printf("shutdown: %s%s%s\n", report.reason.c_str(), report.ok() ? "" : ", error: ", report.error.c_str());
  const std::uint64_t lost_in_hand = report.services[1].lost_in_hand;
  std::printf("harvested %llu of %llu jobs, %llu lost in the dispatcher's hand at its failures\n",
              static_cast<unsigned long long>(harvested.load()), static_cast<unsigned long long>(jobs),
              static_cast<unsigned long long>(lost_in_hand));
  for (const auto& s : report.services)
    std::printf("  %-10s %-8s restarts %llu  failures %llu  lost in hand %llu%s%s\n", s.name.c_str(),
                swarmsync::to_string(s.state), static_cast<unsigned long long>(s.restarts),
                static_cast<unsigned long long>(s.failures), static_cast<unsigned long long>(s.lost_in_hand),
                s.last_error.empty() ? "" : "  last error: ", s.last_error.c_str());
  for (const auto& u : report.unhandled)
    std::printf("  unhandled on %s: %zu\n", u.channel.c_str(), u.queued);
  return report.ok() && harvested.load() + lost_in_hand == jobs ? 0 : 1;
}
