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
#include <sstream>
#include <string>
#include <swarmsync/observe/metrics.hpp>
#include <thread>

#include <nlohmann/json.hpp>
#include <spdlog/logger.h>

#include "core_metrics.hpp"
#include "dashboard/dashboard.hpp"
#include "support/http_client.hpp"
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
  snap.services.push_back(
      {"scheduler", swarmsync::ServiceState::running, 1, 1, 0, "boom", 0, std::chrono::microseconds(2500), 3, 7});
  snap.channels.push_back({"ToScheduler", 4, 10, 6, "", "", 9, 2, 3, 1, "in-process"});
  core::DashboardSources sources{[&] { return snap; },
                                 {archive, std::make_shared<core::HarvesterState>(),
                                  std::make_shared<core::DispatcherState>(), 3, 3},
                                 ring,
                                 {}};
  const auto j = nlohmann::json::parse(core::dashboard_state_json(sources));
  EXPECT_EQ(j["services"][0]["name"], "scheduler");
  EXPECT_EQ(j["services"][0]["state"], "running");
  EXPECT_EQ(j["services"][0]["last_error"], "boom");
  EXPECT_EQ(j["services"][0]["last_swap_ms"], 2.5);
  EXPECT_EQ(j["services"][0]["events_behind"], 3);
  EXPECT_EQ(j["services"][0]["events_missed"], 7);
  EXPECT_EQ(j["channels"][0]["depth"], 4);
  EXPECT_EQ(j["channels"][0]["high_water"], 9);
  EXPECT_EQ(j["channels"][0]["refused"], 2);
  EXPECT_EQ(j["jobs"]["submitted"], 3);
  EXPECT_EQ(j["jobs"]["done"], 1);
  EXPECT_EQ(j["jobs"]["unfinished"], 2);
  EXPECT_EQ(j["jobs"]["runs"], 1);
  EXPECT_EQ(j["latency"].size(), 3u);
  EXPECT_EQ(j["latency"][1]["p50"], 0.005);
  ASSERT_EQ(j["log"].size(), 1u);
  EXPECT_NE(j["log"][0].get<std::string>().find("a line with"), std::string::npos);
  EXPECT_EQ(j["stopping"], false);
  EXPECT_TRUE(j["workers"].is_array());
  EXPECT_EQ(j["control"], false);
  sources.swap = [](const std::string&) { return swarmsync::observe::HttpAnswer{200, "swapped"}; };
  EXPECT_EQ(nlohmann::json::parse(core::dashboard_state_json(sources))["control"], true);
}

// With the control on, the restart and swap actions take a service's name and need the token.
TEST(Dashboard, TheControlsActionsNameTheirServiceAndCarryTheToken) {
  std::vector<std::string> asked;
  core::DashboardSources sources{[] { return swarmsync::Snapshot{}; },
                                 {std::make_shared<core::TaskArchiveStore>(), std::make_shared<core::HarvesterState>(),
                                  std::make_shared<core::DispatcherState>(), 0, 0},
                                 nullptr,
                                 {}};
  const auto off = core::dashboard_routes(sources, "digraph {}");
  EXPECT_TRUE(off.actions.empty());
  sources.restart = [&](const std::string& service) {
    asked.push_back("restart " + service);
    return swarmsync::observe::HttpAnswer{202, "restarting " + service};
  };
  sources.swap = [&](const std::string& service) {
    asked.push_back("swap " + service);
    return swarmsync::observe::HttpAnswer{202, "swapping " + service};
  };
  const auto on = core::dashboard_routes(sources, "digraph {}", "secret");
  EXPECT_EQ(on.token, "secret");
  ASSERT_EQ(on.actions.count("/api/restart"), 1u);
  ASSERT_EQ(on.actions.count("/api/swap"), 1u);
  EXPECT_EQ(on.actions.at("/api/swap").run("service=dispatcher").status, 202u);
  EXPECT_EQ(on.actions.at("/api/restart").run("service=scheduler").body, "restarting scheduler");
  const auto unnamed = on.actions.at("/api/swap").run("");
  EXPECT_EQ(unnamed.status, 400u);
  EXPECT_EQ(unnamed.body, "name the service: /api/swap?service=NAME");
  EXPECT_EQ(on.actions.at("/api/restart").run("who=x").status, 400u);
  EXPECT_EQ(asked, (std::vector<std::string>{"swap dispatcher", "restart scheduler"}));
}

std::string scrape(const std::string& url) {
  return swarmsync::test::http_request(url, "GET", "/metrics");
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
  // The worker table: 4 workers of 4 slots by default, each with its last heartbeat.
  const std::regex capacity_line(R"(swarmsync_core_worker_capacity\{worker="[0-9]+"\} 4)");
  auto workers_in = [&](const std::string& scraped) {
    int n = 0;
    std::istringstream lines(scraped);
    for (std::string line; std::getline(lines, line);) n += std::regex_match(line, capacity_line) ? 1 : 0;
    return n;
  };
  std::string text;
  for (int i = 0; i < 200; ++i) {
    text = scrape(url);
    if (text.find("swarmsync_core_jobs_finished_total{outcome=\"done\"} ") != std::string::npos &&
        text.find("swarmsync_core_jobs_finished_total{outcome=\"done\"} 0\n") == std::string::npos &&
        workers_in(text) == 4)
      break;
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(text.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << text;
  EXPECT_TRUE(has_line(text, "swarmsync_service_up{service=\"scheduler\"} 1")) << text;
  EXPECT_TRUE(has_line(text, "swarmsync_core_jobs_submitted_total 300")) << text;
  EXPECT_EQ(text.find("swarmsync_core_jobs_finished_total{outcome=\"done\"} 0\n"), std::string::npos)
      << "no job finished in 4 s: " << text;
  EXPECT_NE(text.find("swarmsync_channel_sent_total{channel=\"ToScheduler\"} "), std::string::npos) << text;
  EXPECT_NE(text.find("swarmsync_channel_depth_high_water{channel=\"ToScheduler\"} "), std::string::npos) << text;
  EXPECT_EQ(workers_in(text), 4) << text;
  EXPECT_NE(text.find("swarmsync_core_worker_last_heartbeat_timestamp_seconds{worker="), std::string::npos) << text;
  EXPECT_EQ(run.wait(60s), 0) << run.output();
  EXPECT_NE(scrape(url).rfind("connect: ", 0), std::string::npos) << "still served after the run";
}

std::string post(const std::string& base, const std::string& path, const std::string& token) {
  return swarmsync::test::http_request(base, "POST", path, "Authorization: Bearer " + token + "\r\n");
}

// Every service of the Core swapped from the dashboard's control while jobs run: each counted as
// a swap, and no job lost (the summary accounts for every one).
TEST(CoreMetrics, EveryServiceSwappedFromTheControlLosesNoJob) {
  swarmsync::test::Program run({"run", "--count", "2000", "--cron-share", "0.5", "--cron-speed", "600", "--duration",
                                "4s", "--http", "127.0.0.1:0", "--control", "--json"},
                               true);
  ASSERT_TRUE(run.wait_for_output("control token: ")) << run.output();
  ASSERT_TRUE(run.wait_for_output("\n", 5s));
  const std::regex said(R"(dashboard at (http://127\.0\.0\.1:[0-9]+)/[^]*control token: ([0-9a-f]{32}))");
  std::smatch m;
  std::string head;
  for (int i = 0; i < 100 && !std::regex_search(head = run.output(), m, said); ++i) std::this_thread::sleep_for(20ms);
  ASSERT_TRUE(std::regex_search(head, m, said)) << head;
  const std::string base = m[1], token = m[2];
  const std::vector<std::string> services = {"receiver", "hibernator", "scheduler", "dispatcher",
                                             "harvester", "task-archive", "logger"};
  for (const auto& service : services) {
    const auto answer = post(base, "/api/swap?service=" + service, token);
    EXPECT_TRUE(answer.rfind("HTTP/1.1 200", 0) == 0 || answer.rfind("HTTP/1.1 202", 0) == 0) << service << ": " << answer;
    std::this_thread::sleep_for(100ms);  // the hand-over, before the next (one at a time per service anyway)
  }
  const auto unknown = post(base, "/api/swap?service=nobody", token);
  EXPECT_EQ(unknown.rfind("HTTP/1.1 409", 0), 0u) << unknown;
  EXPECT_NE(unknown.find("no service named nobody to swap"), std::string::npos) << unknown;
  EXPECT_EQ(run.wait(60s), 0) << run.output();
  const std::string out = run.output();
  const auto at = out.rfind("\n{\"submitted\"");
  ASSERT_NE(at, std::string::npos) << out;
  const auto summary = nlohmann::json::parse(out.substr(at + 1));
  EXPECT_EQ(summary["swaps"], services.size()) << out;
  EXPECT_GT(summary["swap_took_ns"].get<std::uint64_t>(), 0u) << out;
  EXPECT_EQ(summary["unaccounted"], 0) << out;
  EXPECT_EQ(summary["done"].get<std::uint64_t>() + summary["failed"].get<std::uint64_t>() +
                summary["left_total"].get<std::uint64_t>(),
            summary["submitted"].get<std::uint64_t>())
      << out;
}

TEST(CoreMetrics, ABadOrTakenAddressIsNamed) {
  swarmsync::test::Program bad({"run", "--count", "5", "--http", "localhost:9464"}, true);
  EXPECT_EQ(bad.wait(30s), 2);
  EXPECT_NE(bad.output().find("error: --http 'localhost:9464' has no IP address ('localhost': names are not looked up)"),
            std::string::npos)
      << bad.output();
  swarmsync::test::Program empty({"run", "--count", "5", "--http", ""}, true);
  EXPECT_EQ(empty.wait(30s), 2);
  EXPECT_NE(empty.output().find("error: --http: the address is empty"), std::string::npos) << empty.output();
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
