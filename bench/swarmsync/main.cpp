// The cases of bench/README.md on swarmsync's channels, and the Core's jobs per second.

#include <swarmsync/channels/broadcast.hpp>
#include <swarmsync/channels/mpsc.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench.hpp"
#include "core_app.hpp"
#if SWARMSYNC_CORE_WITH_NATS
#include "nats_cases.hpp"
#endif
#include "heap_bytes.hpp"
#include "io_pool.hpp"
#include "model/workload.hpp"

namespace {

namespace asio = boost::asio;
using bench::Metrics;
using bench::Value;

constexpr std::uint64_t kMessages = 4'000'000;  // mpsc, all producers together
constexpr std::size_t kCapacity = 1024;         // bounded mpsc
constexpr std::size_t kBatch = 256;             // recv_many limit
constexpr std::uint64_t kYieldEvery = 64;       // a broadcast sender yields this often
constexpr std::uint64_t kProducerYield = 1024;  // the _y1024 cases: a producer yields this often

// --- mpsc -------------------------------------------------------------------------------------

// T is the item: a Value, or a Payload64 carrying one (mpsc_1_1_p64). A producer yields to the
// executor once every kYield sends; a template parameter, so that the cases without (kYield 0)
// pay no test per send.
template <class T, std::uint64_t kYield>
asio::awaitable<void> produce(swarmsync::mpsc::UnboundedSender<T> tx, unsigned id, std::uint64_t count) {
  for (std::uint64_t i = 0; i < count; ++i) {
    if (!tx.send(bench::mpsc_item<T>(bench::mpsc_value(id, i)))) bench::fail("unbounded send refused");
    if constexpr (kYield != 0)
      if (i % kYield == kYield - 1) co_await bench::yield();
  }
  co_return;
}

template <class T, std::uint64_t kYield>
asio::awaitable<void> produce_bounded(swarmsync::mpsc::Sender<T> tx, unsigned id, std::uint64_t count) {
  for (std::uint64_t i = 0; i < count; ++i) {
    if (!co_await tx.send(bench::mpsc_item<T>(bench::mpsc_value(id, i)))) bench::fail("bounded send refused");
    if constexpr (kYield != 0)
      if (i % kYield == kYield - 1) co_await bench::yield();
  }
}

// Receives until the channel ends (`batch` 0: recv(), else recv_many(batch)).
template <class T>
asio::awaitable<void> consume(swarmsync::mpsc::Receiver<T> rx, unsigned producers, std::uint64_t expected,
                              std::size_t batch) {
  bench::OrderCheck order(producers);
  if (batch == 0) {
    while (auto v = co_await rx.recv()) order.accept(*v);
  } else {
    std::vector<T> buffer;
    buffer.reserve(batch);
    while (co_await rx.recv_many(buffer, batch) != 0) {
      for (const T& v : buffer) order.accept(v);
      buffer.clear();
    }
  }
  order.finish(expected);
}

// The mpsc cases: `producers` tasks share kMessages values, one consumer checks them all.
template <class T = Value, std::uint64_t kYield = 0>
Metrics mpsc(double scale, unsigned producers, bool bounded, std::size_t batch) {
  const std::uint64_t per_producer = bench::scaled(kMessages / producers, scale);
  const std::uint64_t total = per_producer * producers;
  bench::IoPool pool;
  const bench::Stopwatch clock;
  if (bounded) {
    auto [tx, rx] = swarmsync::mpsc::channel<T>(kCapacity);
    pool.spawn(consume(std::move(rx), producers, total, 0));
    for (unsigned p = 0; p < producers; ++p) pool.spawn(produce_bounded<T, kYield>(tx, p, per_producer));
  } else {
    auto [tx, rx] = swarmsync::mpsc::unbounded_channel<T>();
    pool.spawn(consume(std::move(rx), producers, total, batch));
    for (unsigned p = 0; p < producers; ++p) pool.spawn(produce<T, kYield>(tx, p, per_producer));
  }
  pool.run();  // the original senders are gone: the channel ends when the producers finish
  return {{"mmsg_per_s", static_cast<double>(total) / clock.seconds() / 1e6}};
}

// --- broadcast --------------------------------------------------------------------------------

// Values a subscriber has accounted for (received or skipped), for a paced sender to read.
struct alignas(64) Progress {
  std::atomic<std::uint64_t> accounted{0};
  std::uint64_t received = 0;
  std::uint64_t skipped = 0;
};

asio::awaitable<void> broadcast_send(swarmsync::broadcast::Sender<Value> tx, std::uint64_t count,
                                     std::vector<Progress>* subscribers, std::size_t max_ahead) {
  std::uint64_t slowest = 0;  // a lower bound of the slowest subscriber's progress
  for (Value i = 0; i < count; ++i) {
    while (max_ahead && i - slowest >= max_ahead) {
      slowest = UINT64_MAX;
      for (const Progress& p : *subscribers) slowest = std::min(slowest, p.accounted.load(std::memory_order_acquire));
      if (i - slowest >= max_ahead) co_await bench::yield();
    }
    if (!tx.send(i)) bench::fail("broadcast send found no receiver");
    if (i % kYieldEvery == kYieldEvery - 1) co_await bench::yield();
  }
}

// Value i is sent at position i: every value received is the next one expected, a lag moving the
// expectation on by the number skipped.
asio::awaitable<void> broadcast_receive(swarmsync::broadcast::Receiver<Value> rx, std::uint64_t sent, Progress* me) {
  using swarmsync::broadcast::RecvError;
  Value next = 0;
  for (;;) {
    auto r = co_await rx.recv();
    if (r) {
      if (*r != next) bench::fail("broadcast: expected " + std::to_string(next) + ", got " + std::to_string(*r));
      ++next;
      ++me->received;
    } else if (r.error().kind == RecvError::lagged) {
      next += r.error().skipped;
      me->skipped += r.error().skipped;
    } else if (r.error().kind == RecvError::closed) {
      break;
    } else {
      bench::fail("broadcast: unexpected error kind " + std::to_string(static_cast<int>(r.error().kind)));
    }
    me->accounted.store(next, std::memory_order_release);
  }
  if (next != sent)
    bench::fail("broadcast: a receiver accounted for " + std::to_string(next) + " of " + std::to_string(sent));
}

Metrics broadcast(double scale, unsigned subscribers, std::size_t capacity, bool paced) {
  // 1,000,000 values to 4 subscribers; 16,000,000 deliveries' worth to more (250,000 values to 64).
  const std::uint64_t count = bench::scaled(subscribers > 4 ? 16'000'000 / subscribers : 1'000'000, scale);
  std::vector<Progress> progress(subscribers);
  bench::IoPool pool;
  const bench::Stopwatch clock;
  {
    auto [tx, first] = swarmsync::broadcast::channel<Value>(capacity);
    pool.spawn(broadcast_receive(std::move(first), count, &progress[0]));
    for (unsigned s = 1; s < subscribers; ++s) pool.spawn(broadcast_receive(tx.subscribe(), count, &progress[s]));
    pool.spawn(broadcast_send(std::move(tx), count, &progress, paced ? capacity / 2 : 0));
  }
  pool.run();
  const double seconds = clock.seconds();
  std::uint64_t received = 0, skipped = 0;
  for (const Progress& p : progress) {
    received += p.received;
    skipped += p.skipped;
  }
  return {{"mdeliveries_per_s", static_cast<double>(received) / seconds / 1e6},
          {"lagged_pct", 100.0 * static_cast<double>(skipped) / static_cast<double>(count * subscribers)}};
}

// --- ping-pong --------------------------------------------------------------------------------

asio::awaitable<void> ping(swarmsync::mpsc::UnboundedSender<Value> tx, swarmsync::mpsc::Receiver<Value> rx,
                           std::vector<std::uint64_t>* round_trips) {
  for (Value i = 0; i < round_trips->size(); ++i) {
    const auto start = std::chrono::steady_clock::now();
    if (!tx.send(i)) bench::fail("ping: send refused");
    const auto back = co_await rx.recv();
    (*round_trips)[i] = static_cast<std::uint64_t>((std::chrono::steady_clock::now() - start).count());
    if (!back || *back != i) bench::fail("ping: round " + std::to_string(i) + " came back wrong");
  }
}

asio::awaitable<void> pong(swarmsync::mpsc::Receiver<Value> rx, swarmsync::mpsc::UnboundedSender<Value> tx) {
  while (auto v = co_await rx.recv())
    if (!tx.send(*v)) bench::fail("pong: send refused");
}

Metrics pingpong(double scale) {
  std::vector<std::uint64_t> round_trips(bench::scaled(200'000, scale, 100));
  bench::IoPool pool;
  const bench::Stopwatch clock;
  {
    auto [to_pong, pong_rx] = swarmsync::mpsc::unbounded_channel<Value>();
    auto [to_ping, ping_rx] = swarmsync::mpsc::unbounded_channel<Value>();
    pool.spawn(pong(std::move(pong_rx), std::move(to_ping)));
    pool.spawn(ping(std::move(to_pong), std::move(ping_rx), &round_trips));
  }
  pool.run();
  return bench::round_trip_metrics(round_trips, clock.seconds());
}

// --- memory -----------------------------------------------------------------------------------

Metrics memory_mpsc(double scale) {
  const std::uint64_t count = bench::scaled(1'000'000, scale);
  auto [tx, rx] = swarmsync::mpsc::unbounded_channel<Value>();
  (void)tx.send(0);
  if (!rx.try_recv()) bench::fail("memory_mpsc: warm-up value missing");
  const std::int64_t before = bench::heap_bytes();
  for (std::uint64_t i = 0; i < count; ++i) (void)tx.send(bench::mpsc_value(0, i));
  const std::int64_t after = bench::heap_bytes();
  bench::OrderCheck order(1);
  while (auto v = rx.try_recv()) order.accept(*v);
  order.finish(count);
  return {{"bytes_per_msg", static_cast<double>(after - before) / static_cast<double>(count)}};
}

Metrics memory_broadcast(double) {
  constexpr std::size_t kSlots = 1024;
  constexpr unsigned kMore = 64;
  const std::int64_t before = bench::heap_bytes();
  auto [tx, rx] = swarmsync::broadcast::channel<Value>(kSlots);
  for (Value i = 0; i < kSlots; ++i) (void)tx.send(i);
  const std::int64_t full = bench::heap_bytes();
  std::vector<swarmsync::broadcast::Receiver<Value>> more;
  more.reserve(kMore);
  const std::int64_t reserved = bench::heap_bytes();
  for (unsigned s = 0; s < kMore; ++s) more.push_back(tx.subscribe());
  const std::int64_t subscribed = bench::heap_bytes();
  for (Value i = 0; i < kSlots; ++i)
    if (auto v = rx.try_recv(); !v || *v != i) bench::fail("memory_broadcast: value " + std::to_string(i) + " missing");
  return {{"bytes_per_slot", static_cast<double>(full - before) / kSlots},
          {"bytes_per_subscriber", static_cast<double>(subscribed - reserved) / kMore}};
}

// --- the Core ---------------------------------------------------------------------------------

// `n` immediate jobs of no work that never fail: the Core's own cost per job.
core::WorkloadOptions instant_jobs(std::size_t n) {
  core::WorkloadOptions workload;
  workload.jobs = n;
  workload.delayed_share = 0;
  workload.failing_share = 0;
  workload.max_work = std::chrono::milliseconds(0);
  return workload;
}

// The Core on instant jobs, and what one job costs in channel hops: a hop is half the median
// round trip of a short ping-pong run just before, in the same process (the yardstick).
Metrics core_jobs(double scale) {
  double hop_ns = 0;
  for (const auto& [name, value] : pingpong(0.1))  // 20,000 round trips
    if (name == "rt_p50_ns") hop_ns = value / 2;
  if (hop_ns <= 0) bench::fail("core: no ping-pong round trip to measure a hop by");
  const auto workload = instant_jobs(bench::scaled(20'000, scale, 100));
  auto specs = core::generate_workload(workload);
  core::CoreOptions options;
  options.workers = 8;
  const std::uint64_t allocations_before = bench::heap_allocations();
  const core::Summary summary = core::run_core(std::move(specs), options);
  const std::uint64_t allocations = bench::heap_allocations() - allocations_before;
  if (!summary.error.empty()) bench::fail("core: " + summary.error);
  if (summary.done != workload.jobs || summary.unaccounted != 0)
    bench::fail("core: " + std::to_string(summary.done) + " of " + std::to_string(workload.jobs) + " jobs done");
  const double jobs = static_cast<double>(workload.jobs);
  return {{"jobs_per_s", summary.jobs_per_second},
          {"hops_per_job", 1e9 / summary.jobs_per_second / hop_ns},
          {"allocations_per_job", static_cast<double>(allocations) / jobs}};
}

#if SWARMSYNC_CORE_WITH_METRICS
// GETs `path` from `host:port` on a fresh connection; the bytes of the answer (0 on failure).
std::size_t http_get(const std::string& host, unsigned short port, const std::string& path,
                     std::string* body = nullptr) {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::socket socket(ioc);
  boost::system::error_code ec;
  socket.connect({boost::asio::ip::make_address(host), port}, ec);
  if (ec) return 0;
  const std::string request = "GET " + path + " HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n";
  boost::asio::write(socket, boost::asio::buffer(request), ec);
  std::string answer;
  boost::asio::read(socket, boost::asio::dynamic_buffer(answer), ec);
  if (body) *body = answer;
  return answer.size();
}

// The cost of serving the metrics and the dashboard: the `core_jobs` workload (five times the
// jobs) run twice in this case, without `--http`, then with it and a scraper that takes
// /metrics and /api/state every 100 ms (ten times a usual scrape interval) throughout.
Metrics core_jobs_http(double scale) {
  const auto workload = instant_jobs(bench::scaled(100'000, scale, 100));
  const auto jobs = core::generate_workload(workload);
  auto check = [&](const core::Summary& s, const char* how) {
    if (!s.error.empty()) bench::fail(std::string(how) + ": " + s.error);
    if (s.done != workload.jobs || s.unaccounted != 0)
      bench::fail(std::string(how) + ": " + std::to_string(s.done) + " of " + std::to_string(workload.jobs) + " jobs done");
  };
  core::CoreOptions plain;
  plain.workers = 8;
  const auto without = core::run_core(jobs, plain);
  check(without, "without --http");

  core::CoreOptions served = plain;
  served.http = "127.0.0.1:0";
  std::atomic<unsigned short> port{0};
  served.on_http = [&](const std::string& url) {
    port.store(static_cast<unsigned short>(std::stoi(url.substr(url.rfind(':') + 1))));
  };
  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> scrapes{0}, failed{0};
  std::thread scraper([&] {
    while (!done.load()) {
      if (const auto p = port.load()) {
        const bool ok = http_get("127.0.0.1", p, "/metrics") > 0 && http_get("127.0.0.1", p, "/api/state") > 0;
        (ok ? scrapes : failed).fetch_add(1);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  const auto with = core::run_core(jobs, served);
  done.store(true);
  scraper.join();
  check(with, "with --http");
  if (scrapes.load() == 0 && with.seconds > 0.3) bench::fail("no scrape succeeded during the run");
  return {{"jobs_per_s", without.jobs_per_second},
          {"jobs_per_s_http", with.jobs_per_second},
          {"scrapes", static_cast<double>(scrapes.load())}};
}

// The dashboard under load: 1,000,000 jobs handed to the Core at once (in flight until done), the
// page's state and the metrics fetched every 100 ms throughout, each fetch timed. What the page
// and /metrics serve does not grow with the jobs (counts and histograms, the worker table, the
// last log lines), so a fetch should take about as long with a million jobs in flight as with
// none. The figures: the fetch times (median and slowest) and the most jobs in flight a fetch of
// the state reported (its "unfinished").
Metrics core_dashboard_loaded(double scale) {
  const auto workload = instant_jobs(bench::scaled(1'000'000, scale, 100));
  const auto jobs = core::generate_workload(workload);
  core::CoreOptions served;
  served.workers = 8;
  served.http = "127.0.0.1:0";
  std::atomic<unsigned short> port{0};
  served.on_http = [&](const std::string& url) {
    port.store(static_cast<unsigned short>(std::stoi(url.substr(url.rfind(':') + 1))));
  };
  std::atomic<bool> done{false};
  std::vector<double> state_ms, metrics_ms;
  // Failed fetches, and those of them before the last fetch that succeeded: the run stopping
  // its server may fail the fetches at the end, never one in between.
  std::uint64_t failed = 0, failed_before_last = 0;
  std::uint64_t in_flight = 0;
  auto timed = [&in_flight](unsigned short p, const char* path, std::vector<double>& into) {
    const auto start = std::chrono::steady_clock::now();
    std::string body;
    const bool ok = http_get("127.0.0.1", p, path, &body) > 0;
    if (const auto at = body.find("\"unfinished\":"); at != std::string::npos)
      in_flight = std::max<std::uint64_t>(in_flight, std::strtoull(body.c_str() + at + 13, nullptr, 10));
    into.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    return ok;
  };
  std::thread scraper([&] {
    while (!done.load()) {
      if (const auto p = port.load()) {
        for (auto [path, into] : {std::pair{"/api/state", &state_ms}, std::pair{"/metrics", &metrics_ms}}) {
          if (timed(p, path, *into)) failed_before_last = failed;
          else ++failed;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  const auto summary = core::run_core(jobs, served);
  done.store(true);
  scraper.join();
  if (!summary.error.empty()) bench::fail("core: " + summary.error);
  if (summary.done != workload.jobs || summary.unaccounted != 0)
    bench::fail(std::to_string(summary.done) + " of " + std::to_string(workload.jobs) + " jobs done");
  if (failed_before_last) bench::fail(std::to_string(failed_before_last) + " fetches failed during the run");
  if (std::getenv("BENCH_TRACE"))
    for (std::size_t i = 0; i < state_ms.size(); ++i)
      if (state_ms[i] > 20 || (i < metrics_ms.size() && metrics_ms[i] > 20))
        std::fprintf(stderr, "fetch %zu: state %.1f ms, metrics %.1f ms\n", i, state_ms[i], i < metrics_ms.size() ? metrics_ms[i] : 0.0);
  auto percentile = [](std::vector<double> v, double p) {
    if (v.empty()) return 0.0;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
  };
  return {{"jobs_per_s", summary.jobs_per_second},
          {"fetches", static_cast<double>(state_ms.size() + metrics_ms.size())},
          {"most_in_flight", static_cast<double>(in_flight)},
          {"state_p50_ms", percentile(state_ms, 0.5)},
          {"state_max_ms", percentile(state_ms, 1.0)},
          {"metrics_p50_ms", percentile(metrics_ms, 0.5)},
          {"metrics_max_ms", percentile(metrics_ms, 1.0)}};
}
#endif

}  // namespace

int main(int argc, char** argv) {
  std::vector<bench::Case> cases = {
      {"mpsc_1_1", [](double s) { return mpsc(s, 1, false, 0); }},
      {"mpsc_4_1", [](double s) { return mpsc(s, 4, false, 0); }},
      {"mpsc_8_1", [](double s) { return mpsc(s, 8, false, 0); }},
      {"mpsc_16_1", [](double s) { return mpsc(s, 16, false, 0); }},
      {"mpsc_4_1_batch", [](double s) { return mpsc(s, 4, false, kBatch); }},
      {"mpsc_4_1_y1024", [](double s) { return mpsc<Value, kProducerYield>(s, 4, false, 0); }},
      {"mpsc_1_1_p64", [](double s) { return mpsc<bench::Payload64>(s, 1, false, 0); }},
      {"mpsc_1_1_y1024", [](double s) { return mpsc<Value, kProducerYield>(s, 1, false, 0); }},
      {"mpsc_1_1_p64_y1024", [](double s) { return mpsc<bench::Payload64, kProducerYield>(s, 1, false, 0); }},
      {"bounded_4_1", [](double s) { return mpsc(s, 4, true, 0); }},
      {"bounded_16_1", [](double s) { return mpsc(s, 16, true, 0); }},
  };
  for (const unsigned subscribers : {4u, 64u, 256u})
    for (const std::size_t capacity : {std::size_t{16}, std::size_t{1024}})
      for (const bool paced : {false, true})
        cases.push_back({"broadcast_" + std::to_string(subscribers) + "_c" + std::to_string(capacity) +
                             (paced ? "_paced" : "_unpaced"),
                         [=](double s) { return broadcast(s, subscribers, capacity, paced); }});
  cases.push_back({"pingpong", pingpong});
  cases.push_back({"memory_mpsc", memory_mpsc});
  cases.push_back({"memory_broadcast", memory_broadcast});
  cases.push_back({"core_jobs", core_jobs});
#if SWARMSYNC_CORE_WITH_METRICS
  cases.push_back({"core_jobs_http", core_jobs_http});
  cases.push_back({"core_dashboard_loaded", core_dashboard_loaded});
#endif
#if SWARMSYNC_CORE_WITH_NATS
  for (auto& c : bench::nats::swarmsync_cases()) cases.push_back(std::move(c));
#endif
  return bench::run(argc, argv, "swarmsync", cases);
}
