// The Core's metrics: the collector's families on a real archive, and `swarmsync-core run
// --http` scraped over a socket while it runs.

#include <gtest/gtest.h>
#include <signal.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <regex>
#include <string>
#include <swarmsync/observe/metrics.hpp>
#include <thread>

#include <nlohmann/json.hpp>
#include <spdlog/logger.h>

#include "core_metrics.hpp"
#include "dashboard/dashboard.hpp"
#include "support/program.hpp"

namespace core_metrics_test {

namespace {

using namespace std::chrono_literals;
using tcp = boost::asio::ip::tcp;

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

core::ArchiveRecord record(core::JobId id, bool ok, std::chrono::milliseconds to_ready,
                           std::chrono::milliseconds waiting, std::chrono::milliseconds running) {
  core::ArchiveRecord r;
  r.job.id = id;
  r.ok = ok;
  r.submitted = std::chrono::steady_clock::time_point(std::chrono::seconds(100));
  r.job.ready_at = r.submitted + to_ready;
  r.started = r.job.ready_at + waiting;
  r.finished = r.started + running;
  return r;
}

TEST(CoreMetrics, JobsByOutcomeAndTheHopsAsHistograms) {
  auto archive = std::make_shared<core::TaskArchiveStore>();
  ASSERT_TRUE(archive->add(record(1, true, 0ms, 3ms, 20ms)));
  ASSERT_TRUE(archive->add(record(2, true, 0ms, 700ms, 40ms)));
  ASSERT_TRUE(archive->add(record(3, false, 2000ms, 1ms, 90s)));  // past the last bound: +Inf only
  swarmsync::observe::Metrics metrics;
  metrics.add(std::make_shared<core::CoreCollector>(core::CoreMetricsSources{
      archive, std::make_shared<core::HarvesterState>(), std::make_shared<core::DispatcherState>(), 5, 5}));
  const auto text = metrics.exposition();
  for (const char* line : {
           "# TYPE swarmsync_core_jobs_submitted_total counter",
           "swarmsync_core_jobs_submitted_total 5",
           "swarmsync_core_jobs_finished_total{outcome=\"done\"} 2",
           "swarmsync_core_jobs_finished_total{outcome=\"failed\"} 1",
           "swarmsync_core_jobs_unfinished 2",
           "# TYPE swarmsync_core_latency_seconds histogram",
           "swarmsync_core_latency_seconds_count{hop=\"ready_to_started\"} 3",
           "swarmsync_core_latency_seconds_bucket{hop=\"ready_to_started\",le=\"0.001\"} 1",
           "swarmsync_core_latency_seconds_bucket{hop=\"ready_to_started\",le=\"0.005\"} 2",
           "swarmsync_core_latency_seconds_bucket{hop=\"ready_to_started\",le=\"0.5\"} 2",
           "swarmsync_core_latency_seconds_bucket{hop=\"ready_to_started\",le=\"1\"} 3",
           "swarmsync_core_latency_seconds_bucket{hop=\"started_to_finished\",le=\"60\"} 2",
           "swarmsync_core_latency_seconds_bucket{hop=\"started_to_finished\",le=\"+Inf\"} 3",
           "swarmsync_core_latency_seconds_sum{hop=\"submitted_to_ready\"} 2",
       })
    EXPECT_TRUE(has_line(text, line)) << "missing: " << line << "\nin:\n" << text;
  // A duplicate record changes nothing.
  EXPECT_FALSE(archive->add(record(1, true, 0ms, 3ms, 20ms)));
  EXPECT_EQ(archive->histograms().run.count, 3u);
}

TEST(Dashboard, PercentilesAreTheBoundOfTheirBucket) {
  core::TaskArchiveStore::Histogram h;
  EXPECT_EQ(core::histogram_percentile(h, 0.5), 0.0) << "empty";
  for (int i = 0; i < 98; ++i) h.observe(2ms);  // <= 0.0025
  h.observe(300ms);                             // <= 0.5
  h.observe(120s);                              // beyond the last bound
  EXPECT_EQ(core::histogram_percentile(h, 0.50), 0.0025);
  EXPECT_EQ(core::histogram_percentile(h, 0.99), 0.5);
  EXPECT_EQ(core::histogram_percentile(h, 1.0), 60.0) << "the last bound for what lies beyond";
}

TEST(Dashboard, TheStateIsOneJsonObjectOfTheSnapshotAndTheJobs) {
  auto archive = std::make_shared<core::TaskArchiveStore>();
  ASSERT_TRUE(archive->add(record(1, true, 0ms, 3ms, 20ms)));
  auto ring = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(10);
  spdlog::logger logger("test", ring);
  logger.warn("a line with \xff, not UTF-8");
  swarmsync::Snapshot snap;
  snap.services.push_back({"scheduler", swarmsync::ServiceState::running, 1, 1, 0, "boom", 0});
  snap.channels.push_back({"ToScheduler", 4, 10, 6, "", ""});
  core::DashboardSources sources{[&] { return snap; },
                                 {archive, std::make_shared<core::HarvesterState>(),
                                  std::make_shared<core::DispatcherState>(), 3, 3},
                                 ring,
                                 {}};
  const auto j = nlohmann::json::parse(core::dashboard_state_json(sources));
  EXPECT_EQ(j["services"][0]["name"], "scheduler");
  EXPECT_EQ(j["services"][0]["state"], "running");
  EXPECT_EQ(j["services"][0]["last_error"], "boom");
  EXPECT_EQ(j["channels"][0]["depth"], 4);
  EXPECT_EQ(j["jobs"]["submitted"], 3);
  EXPECT_EQ(j["jobs"]["done"], 1);
  EXPECT_EQ(j["jobs"]["unfinished"], 2);
  EXPECT_EQ(j["jobs"]["runs"], 1);
  EXPECT_EQ(j["latency"].size(), 3u);
  EXPECT_EQ(j["latency"][1]["p50"], 0.005);
  ASSERT_EQ(j["log"].size(), 1u);
  EXPECT_NE(j["log"][0].get<std::string>().find("a line with"), std::string::npos);
  EXPECT_EQ(j["stopping"], false);
}

std::string scrape(const std::string& url) {
  const std::regex parts(R"(http://([0-9.]+):([0-9]+)/metrics)");
  std::smatch m;
  if (!std::regex_match(url, m, parts)) return "bad url: " + url;
  boost::asio::io_context ioc;
  tcp::socket socket(ioc);
  boost::system::error_code ec;
  socket.connect(tcp::endpoint(boost::asio::ip::make_address(m[1].str()), static_cast<unsigned short>(std::stoi(m[2]))), ec);
  if (ec) return "connect: " + ec.message();
  const std::string request = "GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
  boost::asio::write(socket, boost::asio::buffer(request));
  std::string response;
  boost::asio::read(socket, boost::asio::dynamic_buffer(response), ec);
  return response;
}

// While the Core runs: the URL is said on standard error, and a scrape sees the services up and
// jobs finishing.
TEST(CoreMetrics, RunWithHttpServesTheMetricsWhileItRuns) {
  swarmsync::test::Program run({"run", "--count", "300", "--cron-share", "0.5", "--cron-speed", "600", "--duration",
                                "3s", "--http", "127.0.0.1:0", "--json"},
                               true);
  ASSERT_TRUE(run.wait_for_output("/metrics\n")) << run.output();
  const std::regex said(R"(dashboard at http://127\.0\.0\.1:[0-9]+/, metrics at (http://127\.0\.0\.1:[0-9]+/metrics))");
  std::smatch m;
  const std::string head = run.output();
  ASSERT_TRUE(std::regex_search(head, m, said)) << head;
  const std::string url = m[1];
  std::string text;
  for (int i = 0; i < 200; ++i) {
    text = scrape(url);
    if (text.find("swarmsync_core_jobs_finished_total{outcome=\"done\"} ") != std::string::npos &&
        text.find("swarmsync_core_jobs_finished_total{outcome=\"done\"} 0\n") == std::string::npos)
      break;
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(text.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << text;
  EXPECT_TRUE(has_line(text, "swarmsync_service_up{service=\"scheduler\"} 1")) << text;
  EXPECT_TRUE(has_line(text, "swarmsync_core_jobs_submitted_total 300")) << text;
  EXPECT_EQ(text.find("swarmsync_core_jobs_finished_total{outcome=\"done\"} 0\n"), std::string::npos)
      << "no job finished in 4 s: " << text;
  EXPECT_NE(text.find("swarmsync_channel_sent_total{channel=\"ToScheduler\"} "), std::string::npos) << text;
  EXPECT_EQ(run.wait(60s), 0) << run.output();
  EXPECT_NE(scrape(url).rfind("connect: ", 0), std::string::npos) << "still served after the run";
}

TEST(CoreMetrics, ABadOrTakenAddressIsNamed) {
  swarmsync::test::Program bad({"run", "--count", "5", "--http", "localhost:9464"}, true);
  EXPECT_EQ(bad.wait(30s), 2);
  EXPECT_NE(bad.output().find("error: --http 'localhost:9464' has no IP address ('localhost': names are not looked up)"),
            std::string::npos)
      << bad.output();
  swarmsync::test::Program control({"run", "--count", "5", "--control"}, true);
  EXPECT_EQ(control.wait(30s), 2);
  EXPECT_NE(control.output().find("error: --control needs --http: it acts through the dashboard"), std::string::npos)
      << control.output();
  boost::asio::io_context ioc;
  tcp::acceptor holder(ioc, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  const auto port = std::to_string(holder.local_endpoint().port());
  swarmsync::test::Program taken({"run", "--count", "5", "--http", "127.0.0.1:" + port}, true);
  EXPECT_EQ(taken.wait(30s), 1);
  EXPECT_NE(taken.output().find("error: --http listen at 127.0.0.1:" + port + ": "), std::string::npos)
      << taken.output();
  EXPECT_EQ(taken.output().find("jobs: "), std::string::npos) << "a run that never started has no summary";
}

}  // namespace

}  // namespace core_metrics_test
