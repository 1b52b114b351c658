// The Logger alone: lines written on a slow tick, at 256 buffered lines and at stop; lags counted;
// the supervisor's decisions (shutdown, restarts, swaps) left to the supervisor's own log.

#include "services/logger.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>

#include <sstream>

namespace logger_test {

namespace {

using namespace core;
using namespace std::chrono_literals;
using swarmsync::PulseRate;

struct LoggerRig {
  std::ostringstream out;
  std::shared_ptr<Shared> shared;
  asio::io_context ioc;
  std::shared_ptr<LoggerStats> stats = std::make_shared<LoggerStats>();

  explicit LoggerRig(std::size_t event_capacity = 64) {
    auto log = std::make_shared<spdlog::logger>("core-test", std::make_shared<spdlog::sinks::ostream_sink_mt>(out));
    log->set_pattern("%l %v");
    Shared::Options options;
    options.event_capacity = event_capacity;
    options.pulse_periods.slow = 20ms;
    options.logger = log;
    shared = std::make_shared<Shared>(options);
  }

  void send(CoreEvent event) { shared->channels->send_event_to_all_services(std::move(event)); }
  // A slow tick on the pulse only (no core event).
  void pulse(std::uint64_t n) { (void)shared->pulses->sender(PulseRate::slow).send(swarmsync::Tick{PulseRate::slow, n}); }

  // Starts the Logger on `ctx` and lets it subscribe.
  void start(Context& ctx, bool& done) {
    ctx.spawn(ioc.get_executor(), logger(stats), [&done](std::exception_ptr) { done = true; });
    ioc.poll();
  }
  // Asks it to stop (draining) and runs it to its end.
  void stop(Context& ctx, bool& done) {
    ctx.stop(true);
    ioc.restart();
    ioc.run();
    EXPECT_TRUE(done);
  }
  void poll() {
    ioc.restart();
    ioc.poll();
  }
  bool wrote(const std::string& text) const { return out.str().find(text) != std::string::npos; }
};

TEST(Logger, DescribesEachCoreEventOnOneLine) {
  EXPECT_EQ(describe(swarmsync::Startup{}), "startup");
  EXPECT_EQ(describe(swarmsync::Tick{PulseRate::slow, 4}), "tick slow #4");
  EXPECT_EQ(describe(JobStatusChanged{7, 1, JobStatus::retrying, 2}), "job 7 run 1: retrying (attempt 2)");
}

// The supervisor logs its decisions itself, each once: the Logger does not write them again.
TEST(Logger, LeavesTheSupervisorsDecisionsToTheSupervisor) {
  EXPECT_EQ(describe(swarmsync::Shutdown{"signal"}), std::nullopt);
  EXPECT_EQ(describe(swarmsync::ServiceRestarted{"harvester", 2, false, "boom", 1}), std::nullopt);
  EXPECT_EQ(describe(swarmsync::ServiceRestarted{"scheduler", 1, true}), std::nullopt);

  LoggerRig rig;
  Context ctx("logger", 0, rig.shared);
  bool done = false;
  rig.start(ctx, done);
  rig.send(swarmsync::ServiceRestarted{"harvester", 2, false, "boom", 1});
  rig.send(swarmsync::ServiceRestarted{"scheduler", 1, true});
  rig.send(JobStatusChanged{7, 0, JobStatus::done, 0});
  rig.send(swarmsync::Shutdown{"signal 2"});
  rig.stop(ctx, done);
  EXPECT_EQ(rig.out.str(), "info job 7 run 0: done (attempt 0)\n");
  EXPECT_EQ(rig.stats->events, 4u);
  EXPECT_EQ(rig.stats->lines, 1u);
}

TEST(Logger, WritesOnASlowTickAndAtStop) {
  LoggerRig rig;
  Context ctx("logger", 0, rig.shared);
  bool done = false;
  rig.start(ctx, done);

  rig.send(swarmsync::Startup{});
  rig.send(JobStatusChanged{7, 0, JobStatus::done, 0});
  rig.send(JobStatusChanged{8, 1, JobStatus::failed, 3});
  rig.poll();
  EXPECT_EQ(rig.stats->events, 3u);
  EXPECT_EQ(rig.out.str(), "");  // buffered until a tick

  rig.pulse(1);  // a tick on the pulse alone is observed at the next event
  rig.poll();
  EXPECT_EQ(rig.out.str(), "");
  rig.send(JobStatusChanged{9, 0, JobStatus::retrying, 1});
  rig.poll();
  EXPECT_TRUE(rig.wrote("info startup\n"));
  EXPECT_TRUE(rig.wrote("info job 7 run 0: done (attempt 0)\n"));
  EXPECT_TRUE(rig.wrote("info job 8 run 1: failed (attempt 3)\n"));
  EXPECT_TRUE(rig.wrote("info job 9 run 0: retrying (attempt 1)\n"));
  EXPECT_EQ(rig.stats->lines, 4u);
  EXPECT_EQ(rig.stats->flushes, 1u);

  rig.send(JobStatusChanged{10, 0, JobStatus::ready, 0});
  rig.poll();
  EXPECT_FALSE(rig.wrote("job 10"));
  rig.pulse(2);  // as the supervisor does: the pulse, then the same tick as a core event
  rig.send(swarmsync::Tick{PulseRate::slow, 2});
  rig.poll();
  EXPECT_TRUE(rig.wrote("info job 10 run 0: ready (attempt 0)\ninfo tick slow #2\n"));
  EXPECT_EQ(rig.stats->lines, 6u);
  EXPECT_EQ(rig.stats->flushes, 2u);  // one flush for the tick heard twice

  rig.send(JobStatusChanged{11, 0, JobStatus::dispatched, 0});
  rig.send(swarmsync::Shutdown{"test over"});
  rig.stop(ctx, done);  // drains what is queued, then flushes
  EXPECT_TRUE(rig.wrote("info job 11 run 0: dispatched (attempt 0)\n"));
  EXPECT_FALSE(rig.wrote("shutdown")) << "the supervisor logs the shutdown";
  EXPECT_EQ(rig.stats->events, 8u);
  EXPECT_EQ(rig.stats->lines, 7u);
  EXPECT_EQ(rig.stats->flushes, 3u);
  EXPECT_EQ(rig.stats->missed, 0u);
}

TEST(Logger, FlushesWhen256LinesAreWaiting) {
  LoggerRig rig(512);
  Context ctx("logger", 0, rig.shared);
  for (JobId i = 0; i < 300; ++i) rig.send(JobStatusChanged{i, 0, JobStatus::submitted, 0});
  bool done = false;
  rig.start(ctx, done);
  EXPECT_EQ(rig.stats->events, 300u);
  EXPECT_EQ(rig.stats->lines, 256u);
  EXPECT_EQ(rig.stats->flushes, 1u);
  EXPECT_TRUE(rig.wrote("job 255 run 0"));
  EXPECT_FALSE(rig.wrote("job 256 run 0"));
  rig.stop(ctx, done);
  EXPECT_EQ(rig.stats->lines, 300u);
  EXPECT_TRUE(rig.wrote("job 299 run 0"));
}

TEST(Logger, CountsEventsMissedThroughLag) {
  LoggerRig rig(4);
  Context ctx("logger", 0, rig.shared);  // its receiver of the core events starts here
  for (JobId i = 0; i < 10; ++i) rig.send(JobStatusChanged{i, 0, JobStatus::done, 0});
  bool done = false;
  rig.start(ctx, done);  // 10 events on a channel that holds 4: the first receive lags by 6
  EXPECT_EQ(rig.stats->missed, 6u);
  EXPECT_EQ(rig.stats->events, 4u);
  EXPECT_TRUE(rig.wrote("info logger: missed 6 core event(s)"));
  rig.stop(ctx, done);
  EXPECT_FALSE(rig.wrote("job 5 run"));
  EXPECT_TRUE(rig.wrote("info job 6 run 0: done (attempt 0)\n"));
  EXPECT_TRUE(rig.wrote("info job 9 run 0: done (attempt 0)\n"));
  EXPECT_EQ(rig.stats->lines, 4u);
}

}  // namespace

}  // namespace logger_test
