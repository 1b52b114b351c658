// The metrics view of a supervisor (observe/snapshot_metrics.hpp) and its HTTP exporter
// (observe/http_exporter.hpp): the exposition's families, values and escaping; the routes,
// refusals and the listen addresses, through real sockets on 127.0.0.1.

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <string>
#include <swarmsync/observe/http_exporter.hpp>
#include <swarmsync/observe/snapshot_metrics.hpp>
#include <swarmsync/runtime/supervisor.hpp>
#include <swarmsync/runtime/shared_resource.hpp>
#include <atomic>
#include <thread>

namespace metrics_test {

namespace app {
enum class Ch { Jobs };
constexpr std::string_view to_string(Ch) { return "Jobs"; }
}  // namespace app

namespace {

using namespace swarmsync;
using namespace std::chrono_literals;
using app::Ch;
using Shared = SharedResource<CoreEventOf<>, Ch, int>;
using Context = ServiceContext<Shared>;
using tcp = boost::asio::ip::tcp;

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}

TEST(SnapshotMetrics, EveryFamilyHasItsHelpTypeAndOneSeriesPerServiceOrChannel) {
  Snapshot snap;
  snap.services.push_back({"scheduler", ServiceState::running, 2, 3, 1, "boom \"quoted\"\nsecond line", 1,
                           std::chrono::microseconds(1500), 4, 9});
  snap.services.push_back({"archive", ServiceState::restarting, 0, 0, 0, "", 0});
  snap.channels.push_back({"ToScheduler", 5, 120, 115, "receiver", "scheduler", 64, 2, 3, 1, "in-process"});
  snap.events_sent = 42;
  snap.events_lagged = 7;
  observe::Metrics metrics;
  metrics.add(std::make_shared<observe::SnapshotCollector>([&] { return snap; }));
  const auto text = metrics.exposition();
  for (const char* line : {
           "# HELP swarmsync_channel_depth Values queued in the channel now.",
           "# TYPE swarmsync_channel_depth gauge",
           "swarmsync_channel_depth{channel=\"ToScheduler\"} 5",
           "# TYPE swarmsync_channel_sent_total counter",
           "swarmsync_channel_sent_total{channel=\"ToScheduler\"} 120",
           "swarmsync_channel_received_total{channel=\"ToScheduler\"} 115",
           "# TYPE swarmsync_channel_depth_high_water gauge",
           "swarmsync_channel_depth_high_water{channel=\"ToScheduler\"} 64",
           "# TYPE swarmsync_channel_refused_total counter",
           "swarmsync_channel_refused_total{channel=\"ToScheduler\"} 2",
           "swarmsync_channel_senders{channel=\"ToScheduler\"} 3",
           "swarmsync_channel_receivers{channel=\"ToScheduler\"} 1",
           "# TYPE swarmsync_service_last_swap_seconds gauge",
           "swarmsync_service_last_swap_seconds{service=\"scheduler\"} 0.0015",
           "swarmsync_service_last_swap_seconds{service=\"archive\"} 0",
           "swarmsync_service_core_events_behind{service=\"scheduler\"} 4",
           "# TYPE swarmsync_service_core_events_missed_total counter",
           "swarmsync_service_core_events_missed_total{service=\"scheduler\"} 9",
           "swarmsync_service_up{service=\"scheduler\"} 1",
           "swarmsync_service_up{service=\"archive\"} 0",
           "swarmsync_service_state{service=\"archive\",state=\"restarting\"} 1",
           "swarmsync_service_state{service=\"archive\",state=\"running\"} 0",
           "swarmsync_service_restarts_total{service=\"scheduler\"} 2",
           "swarmsync_service_failures_total{service=\"scheduler\"} 3",
           "swarmsync_service_swaps_total{service=\"scheduler\"} 1",
           "swarmsync_service_lost_in_hand_total{service=\"scheduler\"} 1",
           // A label value is escaped as the text format says: backslash, quote, newline.
           "swarmsync_service_last_error_info{service=\"scheduler\",error=\"boom \\\"quoted\\\"\\nsecond line\"} 1",
           "swarmsync_core_events_sent_total 42",
           "swarmsync_core_events_lagged_total 7",
       })
    EXPECT_TRUE(has_line(text, line)) << "missing: " << line << "\nin:\n" << text;
  EXPECT_EQ(text.find("last_error_info{service=\"archive\""), std::string::npos)
      << "a service that never failed has no last error";
  std::size_t states = 0;
  for (auto at = text.find("swarmsync_service_state{service=\"scheduler\""); at != std::string::npos;
       at = text.find("swarmsync_service_state{service=\"scheduler\"", at + 1))
    ++states;
  EXPECT_EQ(states, 6u) << "one series a state";
}

// The counts are the supervisor's, read at each scrape.
TEST(SnapshotMetrics, AScrapeReadsTheSupervisorAsItIsThen) {
  auto shared = std::make_shared<Shared>();
  shared->wiring->add_channel(Ch::Jobs).value();
  boost::asio::io_context ioc;
  Supervisor<Shared> supervisor(ioc.get_executor(), shared, SupervisorOptions{{100, 60s}, {0ms, 0ms}, false});
  supervisor.add_service({.name = "producer",
                          .main = [](Context& ctx) -> boost::asio::awaitable<void> {
                            auto tx = ctx.shared()->wiring->take_tx(Ch::Jobs, ctx.name()).value();
                            for (int i = 0; i < 10; ++i) tx.send(i).value();
                            co_return;
                          },
                          .restart = RestartPolicy::temporary,
                          .produces = {Ch::Jobs}}).value();
  std::atomic<int> taken{0};
  supervisor.add_service({.name = "consumer",
                          .main = [&](Context& ctx) -> boost::asio::awaitable<void> {
                            auto rx = ctx.shared()->wiring->take_rx(Ch::Jobs, ctx.name()).value();
                            for (int i = 0; i < 4; ++i) {
                              (void)co_await ctx.recv(rx);
                              taken.fetch_add(1);
                            }
                            while (co_await ctx.recv(rx)) {
                            }  // takes the rest until stopped
                          },
                          .consumes = {Ch::Jobs}}).value();
  observe::Metrics metrics;
  metrics.add(std::make_shared<observe::SnapshotCollector>([&] { return supervisor.snapshot(); }));
  const auto before = metrics.exposition();
  EXPECT_TRUE(has_line(before, "swarmsync_service_up{service=\"consumer\"} 0")) << before;
  ASSERT_TRUE(supervisor.start());
  std::thread runner([&] { ioc.run(); });
  while (taken.load() < 4) std::this_thread::sleep_for(1ms);
  const auto during = metrics.exposition();
  EXPECT_TRUE(has_line(during, "swarmsync_channel_sent_total{channel=\"Jobs\"} 10")) << during;
  EXPECT_TRUE(has_line(during, "swarmsync_service_up{service=\"consumer\"} 1")) << during;
  supervisor.request_shutdown("test");
  (void)supervisor.finished().get();
  runner.join();
}

// A minimal HTTP/1.1 client: one request on a fresh connection, the whole response back.
std::string fetch(const tcp::endpoint& at, const std::string& request) {
  boost::asio::io_context ioc;
  tcp::socket socket(ioc);
  socket.connect(at);
  boost::asio::write(socket, boost::asio::buffer(request));
  std::string response;
  boost::system::error_code ec;
  boost::asio::read(socket, boost::asio::dynamic_buffer(response), ec);  // until the server closes
  return response;
}

std::string get(const tcp::endpoint& at, const std::string& path, const std::string& method = "GET") {
  return fetch(at, method + " " + path + " HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
}

class HttpExporterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    metrics = std::make_shared<observe::Metrics>();
    snap.channels.push_back({"Jobs", 3, 9, 6, "", ""});
    metrics->add(std::make_shared<observe::SnapshotCollector>([this] { return snap; }));
    auto at = observe::parse_listen_address("127.0.0.1:0");
    ASSERT_TRUE(at) << at.error();
    auto started = observe::HttpExporter::start(ioc.get_executor(), *at, metrics);
    ASSERT_TRUE(started) << started.error();
    exporter = std::move(*started);
    runner = std::thread([this] { ioc.run(); });
  }
  void TearDown() override {
    if (exporter) exporter->stop();
    guard.reset();
    if (runner.joinable()) runner.join();
  }
  Snapshot snap;
  std::shared_ptr<observe::Metrics> metrics;
  boost::asio::io_context ioc;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard{ioc.get_executor()};
  std::shared_ptr<observe::HttpExporter> exporter;
  std::thread runner;
};

TEST_F(HttpExporterTest, MetricsAreServedWithTheTextFormatsContentType) {
  const auto at = exporter->local_endpoint();
  EXPECT_NE(at.port(), 0) << "the system chose a port";
  const auto r = get(at, "/metrics");
  EXPECT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r;
  EXPECT_NE(r.find("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"), std::string::npos) << r;
  EXPECT_NE(r.find("\nswarmsync_channel_depth{channel=\"Jobs\"} 3\n"), std::string::npos) << r;
  // A later scrape sees what changed.
  boost::asio::post(ioc, [this] { snap.channels[0].depth = 11; });
  std::string again;
  for (int i = 0; i < 100 && again.find("depth{channel=\"Jobs\"} 11") == std::string::npos; ++i) again = get(at, "/metrics");
  EXPECT_NE(again.find("\nswarmsync_channel_depth{channel=\"Jobs\"} 11\n"), std::string::npos) << again;
}

TEST_F(HttpExporterTest, OtherPathsMethodsAndBadRequestsAreRefusedByStatus) {
  const auto at = exporter->local_endpoint();
  EXPECT_EQ(get(at, "/").rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  const auto missing = get(at, "/nope");
  EXPECT_EQ(missing.rfind("HTTP/1.1 404 Not Found\r\n", 0), 0u) << missing;
  const auto post = get(at, "/metrics", "POST");
  EXPECT_EQ(post.rfind("HTTP/1.1 405 Method Not Allowed\r\n", 0), 0u) << post;
  EXPECT_NE(post.find("Allow: GET, HEAD\r\n"), std::string::npos) << post;
  const auto head = get(at, "/metrics", "HEAD");
  EXPECT_EQ(head.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << head;
  EXPECT_EQ(head.find("swarmsync_channel_depth"), std::string::npos) << "HEAD has no body";
  const auto garbage = fetch(at, "this is not http\r\n\r\n");
  EXPECT_EQ(garbage.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u) << garbage;
  const auto huge = fetch(at, "GET /metrics HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(10000, 'x') + "\r\n\r\n");
  EXPECT_EQ(huge.rfind("HTTP/1.1 413 Payload Too Large\r\n", 0), 0u) << huge.substr(0, 200);
}

TEST_F(HttpExporterTest, AConnectionServesSeveralRequestsInTurn) {
  const auto r = fetch(exporter->local_endpoint(),
                       "GET /metrics HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  const auto first = r.find("HTTP/1.1 200 OK");
  ASSERT_NE(first, std::string::npos) << r;
  EXPECT_NE(r.find("HTTP/1.1 200 OK", first + 1), std::string::npos) << "two answers on one connection: " << r;
}

TEST_F(HttpExporterTest, StoppedItRefusesNewConnections) {
  const auto at = exporter->local_endpoint();
  exporter->stop();
  exporter->stop();  // idempotent
  bool refused = false;
  for (int i = 0; i < 200 && !refused; ++i) {
    boost::asio::io_context client;
    tcp::socket socket(client);
    boost::system::error_code ec;
    socket.connect(at, ec);
    refused = static_cast<bool>(ec);
    if (!refused) std::this_thread::sleep_for(5ms);
  }
  EXPECT_TRUE(refused);
}

// Pages and server-sent events beside /metrics: a page by its path (the query string aside), a
// stream that sends an event each period until the exporter stops.
TEST(HttpExporter, PagesAndEventStreamsAreServedAtTheirPaths) {
  boost::asio::io_context ioc;
  auto guard = boost::asio::make_work_guard(ioc);
  std::atomic<int> events{0};
  observe::HttpRoutes routes;
  routes.pages["/"] = {"text/html; charset=utf-8", [] { return std::string("<p>page</p>"); }};
  routes.pages["/api/state"] = {"application/json", [] { return std::string("{\"n\":1}"); }};
  routes.streams["/events"] = {20ms, [&] { return "{\"event\":" + std::to_string(events.fetch_add(1)) + "}"; }};
  auto exporter = observe::HttpExporter::start(ioc.get_executor(), *observe::parse_listen_address("127.0.0.1:0"),
                                               std::make_shared<observe::Metrics>(), std::move(routes));
  ASSERT_TRUE(exporter) << exporter.error();
  std::thread runner([&] { ioc.run(); });
  const auto at = (*exporter)->local_endpoint();
  const auto page = get(at, "/");
  EXPECT_NE(page.find("Content-Type: text/html; charset=utf-8\r\n"), std::string::npos) << page;
  EXPECT_NE(page.find("<p>page</p>"), std::string::npos) << page;
  const auto state = get(at, "/api/state?x=1");
  EXPECT_NE(state.find("\r\n\r\n{\"n\":1}"), std::string::npos) << state;

  // The stream: its head, then events in order, until stop() closes it.
  boost::asio::io_context client;
  tcp::socket socket(client);
  socket.connect(at);
  boost::asio::write(socket, boost::asio::buffer(std::string("GET /events HTTP/1.1\r\nHost: t\r\n\r\n")));
  std::string got;
  while (got.find("data: {\"event\":2}\n\n") == std::string::npos) {
    char buf[512];
    boost::system::error_code ec;
    const auto n = socket.read_some(boost::asio::buffer(buf), ec);
    ASSERT_FALSE(ec) << ec.message() << " after: " << got;
    got.append(buf, n);
  }
  EXPECT_EQ(got.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << got;
  EXPECT_NE(got.find("Content-Type: text/event-stream\r\n"), std::string::npos) << got;
  EXPECT_LT(got.find("data: {\"event\":0}\n\n"), got.find("data: {\"event\":1}\n\n"));
  (*exporter)->stop();
  boost::system::error_code ec;
  std::string rest;
  boost::asio::read(socket, boost::asio::dynamic_buffer(rest), ec);  // returns once the server closes
  EXPECT_TRUE(ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset) << ec.message();
  guard.reset();
  runner.join();
}

// An action needs its token and the server's own origin; it is given the query string.
TEST(HttpExporter, ActionsNeedTheTokenAndTheSameOrigin) {
  boost::asio::io_context ioc;
  auto guard = boost::asio::make_work_guard(ioc);
  std::vector<std::string> queries;
  observe::HttpRoutes routes;
  routes.token = "s3cret";
  routes.actions["/api/poke"] = {[&](std::string_view query) {
    queries.emplace_back(query);
    return observe::HttpAnswer{202, "poked"};
  }};
  auto exporter = observe::HttpExporter::start(ioc.get_executor(), *observe::parse_listen_address("127.0.0.1:0"),
                                               std::make_shared<observe::Metrics>(), std::move(routes));
  ASSERT_TRUE(exporter) << exporter.error();
  std::thread runner([&] { ioc.run(); });
  const auto at = (*exporter)->local_endpoint();
  const std::string host = "127.0.0.1:" + std::to_string(at.port());
  auto post = [&](const std::string& headers) {
    return fetch(at, "POST /api/poke?service=scheduler HTTP/1.1\r\nHost: " + host +
                         "\r\nContent-Length: 0\r\nConnection: close\r\n" + headers + "\r\n");
  };
  const auto none = post("");
  EXPECT_EQ(none.rfind("HTTP/1.1 401 Unauthorized\r\n", 0), 0u) << none;
  EXPECT_NE(none.find("WWW-Authenticate: Bearer\r\n"), std::string::npos) << none;
  EXPECT_EQ(post("Authorization: Bearer wrong\r\n").rfind("HTTP/1.1 401", 0), 0u);
  const auto elsewhere = post("Authorization: Bearer s3cret\r\nOrigin: http://evil.example\r\n");
  EXPECT_EQ(elsewhere.rfind("HTTP/1.1 403 Forbidden\r\n", 0), 0u) << elsewhere;
  EXPECT_EQ(post("Authorization: Bearer s3cret\r\nSec-Fetch-Site: cross-site\r\n").rfind("HTTP/1.1 403", 0), 0u);
  EXPECT_TRUE(queries.empty()) << "a refused request acted";
  const auto ok = post("Authorization: Bearer s3cret\r\nOrigin: http://" + host + "\r\n");
  EXPECT_EQ(ok.rfind("HTTP/1.1 202 Accepted\r\n", 0), 0u) << ok;
  EXPECT_NE(ok.find("\r\n\r\npoked\n"), std::string::npos) << ok;
  ASSERT_EQ(queries, std::vector<std::string>{"service=scheduler"});
  const auto got = get(at, "/api/poke");
  EXPECT_EQ(got.rfind("HTTP/1.1 405 Method Not Allowed\r\n", 0), 0u) << got;
  EXPECT_NE(got.find("Allow: POST\r\n"), std::string::npos) << got;
  (*exporter)->stop();
  guard.reset();
  runner.join();
}

TEST(HttpExporter, AnAddressInUseIsNamed) {
  boost::asio::io_context ioc;
  auto metrics = std::make_shared<observe::Metrics>();
  auto first = observe::HttpExporter::start(ioc.get_executor(), *observe::parse_listen_address("127.0.0.1:0"), metrics);
  ASSERT_TRUE(first) << first.error();
  const auto taken = (*first)->local_endpoint();
  // reuse_address lets a port in TIME_WAIT be bound again, not one that listens.
  auto second = observe::HttpExporter::start(ioc.get_executor(), taken, metrics);
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().find("listen at 127.0.0.1:" + std::to_string(taken.port()) + ": "), std::string::npos)
      << second.error();
}

TEST(ListenAddress, PortAloneIsLoopbackAndBadOnesAreNamed) {
  auto port_only = observe::parse_listen_address("9464");
  ASSERT_TRUE(port_only);
  EXPECT_EQ(port_only->address().to_string(), "127.0.0.1");
  EXPECT_EQ(port_only->port(), 9464);
  auto v6 = observe::parse_listen_address("[::1]:80");
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->address().is_v6());
  auto any = observe::parse_listen_address("0.0.0.0:9464");
  ASSERT_TRUE(any);
  EXPECT_EQ(any->address().to_string(), "0.0.0.0");
  for (const char* bad : {"", "localhost:9464", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "[::1]80",
                          "[::1", "1.2.3:80", "9464x"}) {
    auto r = observe::parse_listen_address(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().find(std::string("'") + bad + "'"), std::string::npos) << r.error();
    EXPECT_NE(r.error().find("expected PORT, IPv4:PORT or [IPv6]:PORT"), std::string::npos) << r.error();
  }
}

}  // namespace

}  // namespace metrics_test
