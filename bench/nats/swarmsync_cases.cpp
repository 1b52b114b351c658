// nats_1_1, nats_4_1 and core_jobs_nats through swarmsync's NATS transport (nats_cases.hpp).

#include <atomic>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <chrono>
#include <string>
#include <swarmsync/transport/nats/bridged_channel.hpp>
#include <thread>
#include <vector>

#include "core_app.hpp"
#include "model/payload_json.hpp"
#include "model/workload.hpp"
#include "nats_cases.hpp"
#include "remote/nodes.hpp"
#include "remote/remote_worker.hpp"
#include "stamped.hpp"
#include "transport/nats_server.hpp"

namespace bench::nats {

namespace {

namespace sn = swarmsync::nats;

sn::Connection open(const std::string& url) {
  auto conn = sn::connect(url);
  if (!conn) fail(conn.error().message);
  return std::move(*conn);
}

// Producers send through their bridged channel's local sender (each on a connection of its own,
// as a process would be); the consumer takes each value from its local receiver and acknowledges
// what it took every 64 values, as `ctx.recv` would.
Metrics bridged(double scale, unsigned producers) {
  swarmsync::test::NatsServer server;
  if (auto why = server.start()) fail(*why);
  const std::uint64_t per = scaled(kValues / producers, scale);
  const std::uint64_t total = per * producers;
  const sn::ChannelAddress address{"bench", "Values"};

  sn::Connection consumer_conn = open(server.url());
  std::vector<sn::Connection> conns;
  for (unsigned p = 0; p < producers; ++p) conns.push_back(open(server.url()));
  {
    auto rx_ends = sn::bridge_channel<Stamped>(consumer_conn, address, {.consume_here = true, .sender = "consumer"});
    if (!rx_ends) fail(rx_ends.error().message);
    std::vector<sn::BridgedEnds<Stamped>> tx_ends;
    for (unsigned p = 0; p < producers; ++p) {
      auto ends = sn::bridge_channel<Stamped>(conns[p], address, {.sender = "producer" + std::to_string(p)});
      if (!ends) fail(ends.error().message);
      tx_ends.push_back(std::move(*ends));
    }
    OrderCheck check(producers);
    std::vector<std::uint64_t> hops;
    const Stopwatch clock;
    std::vector<std::thread> threads;
    for (unsigned p = 0; p < producers; ++p)
      threads.emplace_back([&, p] {
        for (std::uint64_t i = 0; i < per; ++i) (void)tx_ends[p].tx.send(Stamped{mpsc_value(p, i), now_ns()});
      });
    auto& rx = *rx_ends->rx;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (check.received() < total && std::chrono::steady_clock::now() < deadline) {
      if (auto v = rx.try_recv()) {
        check.accept(v->v);
        if (check.received() % 64 == 0) rx_ends->acknowledge();
      } else {
        std::this_thread::yield();
      }
    }
    const double seconds = clock.seconds();
    rx_ends->acknowledge();
    for (auto& t : threads) t.join();
    check.finish(total);
    // The hop unloaded: one value at a time, each received before the next is sent.
    hops.clear();
    const std::uint64_t paced = scaled(kPaced, scale, 20);
    for (std::uint64_t i = 0; i < paced; ++i) {
      (void)tx_ends[0].tx.send(Stamped{mpsc_value(0, per + i), now_ns()});
      std::optional<Stamped> v;
      while (!v && std::chrono::steady_clock::now() < deadline) {
        if (auto r = rx.try_recv()) v = std::move(*r);
        else std::this_thread::yield();
      }
      if (!v) fail("paced value " + std::to_string(i) + " not received");
      hops.push_back(static_cast<std::uint64_t>(now_ns() - v->sent_ns));
      rx_ends->acknowledge();
    }
    return {{"msg_per_s", static_cast<double>(total) / seconds},
            {"hop_p50_ns", percentile(hops, 0.50)},
            {"hop_p99_ns", percentile(hops, 0.99)}};
  }  // the bridges go before their connections
}

// Runs `jobs` on the Core split as the README shows it: node a with the Scheduler and the
// Dispatcher, node b with the Harvester and the Hibernator (each on a connection and threads of
// its own, as a process would be), and the run with the rest; the workers already serve `url`.
core::Summary run_split(const std::vector<core::JobSpec>& jobs, const std::string& url) {
  std::atomic<bool> stop{false};
  std::vector<std::ostringstream> outs(2), errs(2);
  std::vector<int> exits(2, 0);
  std::vector<std::thread> nodes;
  const std::pair<const char*, std::set<std::string>> placement[] = {{"a", {"scheduler", "dispatcher"}},
                                                                     {"b", {"harvester", "hibernator"}}};
  for (std::size_t n = 0; n < 2; ++n)
    nodes.emplace_back([&, n] {
      core::NodeOptions o;
      o.nats_url = url;
      o.name = placement[n].first;
      o.services = placement[n].second;
      exits[n] = core::run_node(o, outs[n], errs[n], &stop);
    });
  // Both nodes answer once they are in the roster.
  {
    sn::Connection conn = open(url);
    auto roster = core::NodeRoster::open(conn, "core", nullptr);
    if (!roster) fail(roster.error().message);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (roster->listed() != std::set<std::string>{"node.a", "node.b"}) {
      if (std::chrono::steady_clock::now() > deadline) fail("the nodes did not start in 30 s");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  core::CoreOptions run;
  run.workers = 0;
  run.nats_url = url;
  run.heartbeat_timeout = std::chrono::seconds(2);
  run.no_worker_stop = std::chrono::seconds(30);
  auto summary = core::run_core(jobs, run);
  stop.store(true);
  for (auto& t : nodes) t.join();
  for (std::size_t n = 0; n < 2; ++n)
    if (exits[n] != 0) fail(std::string("node ") + placement[n].first + ": " + errs[n].str());
  return summary;
}

// The same workload run three times in this case: by 8 in-process workers; by 4 remote workers
// of capacity 2 (the same 8 slots) over NATS, each on a connection of its own; and by the same
// remote workers with the Core split in three processes (`run_split`).
Metrics core_jobs_nats(double scale) {
  core::WorkloadOptions workload;
  workload.jobs = scaled(2'000, scale, 100);
  workload.delayed_share = 0;
  workload.failing_share = 0;
  workload.max_work = std::chrono::milliseconds(0);
  const auto jobs = core::generate_workload(workload);
  auto check = [&](const core::Summary& s, const char* how) {
    if (!s.error.empty()) fail(std::string(how) + ": " + s.error);
    if (s.done != workload.jobs || s.unaccounted != 0)
      fail(std::string(how) + ": " + std::to_string(s.done) + " of " + std::to_string(workload.jobs) + " jobs done");
  };
  core::CoreOptions local;
  local.workers = 8;
  const auto in_process = core::run_core(jobs, local);
  check(in_process, "in-process");

  swarmsync::test::NatsServer server;
  if (auto why = server.start()) fail(*why);
  std::atomic<bool> stop{false};
  std::vector<std::ostringstream> errors(4);
  std::vector<int> exits(4, 0);
  std::vector<std::thread> workers;
  for (unsigned w = 0; w < 4; ++w)
    workers.emplace_back([&, w] {
      core::RemoteWorkerOptions o;
      o.url = server.url();
      o.name = "bench-w" + std::to_string(w);
      o.capacity = 2;
      exits[w] = core::run_remote_worker(o, stop, errors[w]);
    });
  core::CoreOptions remote;
  remote.workers = 0;
  remote.nats_url = server.url();
  remote.heartbeat_timeout = std::chrono::seconds(2);
  remote.no_worker_stop = std::chrono::seconds(30);
  const auto over_nats = core::run_core(jobs, remote);
  const auto split = run_split(jobs, server.url());
  stop.store(true);
  for (auto& t : workers) t.join();
  for (unsigned w = 0; w < 4; ++w)
    if (exits[w] != 0) fail("remote worker " + std::to_string(w) + ": " + errors[w].str());
  check(over_nats, "over NATS");
  check(split, "split in three processes");
  return {{"jobs_per_s", over_nats.jobs_per_second},
          {"jobs_per_s_in_process", in_process.jobs_per_second},
          {"jobs_per_s_split", split.jobs_per_second}};
}

// The codecs on the Core's busiest messages (a Dispatch carrying a job with its history, as
// the Scheduler sends it, and the Archive record the Harvester sends): encode and decode, one
// message at a time, JSON against MessagePack. Per message, in ns, and its size in bytes.
Metrics codec_core(double scale) {
  core::Job job;
  job.id = (core::JobId{0x5eed} << 32) + 12345;
  job.spec.name = "job-12345";
  job.spec.priority = 5;
  job.spec.work = std::chrono::milliseconds(3);
  job.attempt = 1;
  job.placement = 77;
  job.submitted_at = std::chrono::steady_clock::now();
  job.ready_at = job.submitted_at + std::chrono::microseconds(250);
  job.history = {core::JobStatus::submitted, core::JobStatus::ready, core::JobStatus::dispatched,
                 core::JobStatus::retrying, core::JobStatus::ready, core::JobStatus::dispatched};
  core::ArchiveRecord record;
  record.job = job;
  record.worker = 3;
  record.ok = true;
  record.attempts = 2;
  record.submitted = job.submitted_at;
  record.started = job.ready_at;
  record.finished = job.ready_at + std::chrono::milliseconds(3);
  const core::EventPayload messages[] = {core::Dispatch{job}, core::Archive{record}};
  const std::uint64_t n = scaled(100'000, scale, 1000);
  auto measure = [&](auto codec) {
    std::size_t bytes = 0;
    const Stopwatch clock;
    for (std::uint64_t i = 0; i < n; ++i) {
      const auto& message = messages[i % 2];
      const std::string encoded = codec.encode(message);
      bytes += encoded.size();
      auto decoded = codec.decode(encoded);
      if (!decoded || decoded->index() != message.index()) fail("codec round trip failed");
    }
    return std::pair{clock.seconds() * 1e9 / static_cast<double>(n), static_cast<double>(bytes) / static_cast<double>(n)};
  };
  const auto [json_ns, json_bytes] = measure(sn::JsonCodec<core::EventPayload>{});
  const auto [msgpack_ns, msgpack_bytes] = measure(sn::MsgPackCodec<core::EventPayload>{});
  return {{"json_ns_per_msg", json_ns},
          {"msgpack_ns_per_msg", msgpack_ns},
          {"json_bytes_per_msg", json_bytes},
          {"msgpack_bytes_per_msg", msgpack_bytes}};
}

}  // namespace

std::vector<Case> swarmsync_cases() {
  return {{"nats_1_1", [](double s) { return bridged(s, 1); }},
          {"nats_4_1", [](double s) { return bridged(s, 4); }},
          {"core_jobs_nats", core_jobs_nats},
          {"codec_core", codec_core}};
}

}  // namespace bench::nats
