// nats_1_1 and nats_4_1 on plain cnats (nats_cases.hpp): each producer publishes on a connection
// of its own, one subscriber decodes and checks every value. Core NATS stores nothing and
// acknowledges nothing: the ceiling of the engine on this machine, not a delivery guarantee.

#include <nats/nats.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "nats_cases.hpp"
#include "stamped.hpp"
#include "transport/nats_server.hpp"

namespace bench::nats {

namespace {

struct Subscriber {
  OrderCheck check;
  std::vector<std::uint64_t> hops;
  std::atomic<std::uint64_t> received{0};
  bool paced = false;  // set between the phases, while nothing is in flight
  std::string failure;  // the first bad message, set on cnats's thread, read after it stopped
  explicit Subscriber(unsigned producers) : check(producers) {}
};

void on_message(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
  auto* s = static_cast<Subscriber*>(closure);
  const auto now = now_ns();
  try {
    const auto j = nlohmann::json::parse(natsMsg_GetData(msg), natsMsg_GetData(msg) + natsMsg_GetDataLength(msg));
    const auto value = j.get<Stamped>();
    if (s->paced) s->hops.push_back(static_cast<std::uint64_t>(now - value.sent_ns));
    s->check.accept(value.v);
  } catch (const std::exception& e) {
    if (s->failure.empty()) s->failure = e.what();
  }
  natsMsg_Destroy(msg);
  s->received.fetch_add(1, std::memory_order_release);  // the hops and the check before it
}

natsConnection* open(const std::string& url) {
  natsConnection* nc = nullptr;
  if (const natsStatus s = natsConnection_ConnectTo(&nc, url.c_str()); s != NATS_OK)
    fail("connect " + url + ": " + natsStatus_GetText(s));
  return nc;
}

Metrics plain(double scale, unsigned producers) {
  swarmsync::test::NatsServer server;
  if (auto why = server.start()) fail(*why);
  const std::uint64_t per = scaled(kValues / producers, scale);
  const std::uint64_t total = per * producers;
  Subscriber sub(producers);
  natsConnection* consumer = open(server.url());
  natsSubscription* subscription = nullptr;
  if (natsConnection_Subscribe(&subscription, consumer, "bench.plain", on_message, &sub) != NATS_OK ||
      natsSubscription_SetPendingLimits(subscription, -1, -1) != NATS_OK || natsConnection_Flush(consumer) != NATS_OK)
    fail("subscribe failed");
  std::vector<natsConnection*> conns;
  for (unsigned p = 0; p < producers; ++p) conns.push_back(open(server.url()));
  const Stopwatch clock;
  std::vector<std::thread> threads;
  for (unsigned p = 0; p < producers; ++p)
    threads.emplace_back([&, p] {
      for (std::uint64_t i = 0; i < per; ++i) {
        const std::string bytes = nlohmann::json(Stamped{mpsc_value(p, i), now_ns()}).dump();
        natsConnection_Publish(conns[p], "bench.plain", bytes.data(), static_cast<int>(bytes.size()));
      }
      natsConnection_Flush(conns[p]);
    });
  for (auto& t : threads) t.join();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (sub.received.load(std::memory_order_acquire) < total && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  const double seconds = clock.seconds();
  // The hop unloaded: one value at a time, each received before the next is sent.
  sub.paced = sub.received.load(std::memory_order_acquire) == total;
  const std::uint64_t paced = scaled(kPaced, scale, 20);
  for (std::uint64_t i = 0; sub.paced && i < paced; ++i) {
    const std::string bytes = nlohmann::json(Stamped{mpsc_value(0, per + i), now_ns()}).dump();
    natsConnection_Publish(conns[0], "bench.plain", bytes.data(), static_cast<int>(bytes.size()));
    natsConnection_Flush(conns[0]);
    while (sub.received.load(std::memory_order_acquire) < total + i + 1 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::yield();
  }
  natsSubscription_Unsubscribe(subscription);
  natsSubscription_Destroy(subscription);  // cnats's thread has delivered all it will
  for (auto* nc : conns) natsConnection_Destroy(nc);
  natsConnection_Destroy(consumer);
  if (!sub.failure.empty()) fail("bad message: " + sub.failure);
  sub.check.finish(total + (sub.paced ? paced : 0));  // core NATS may drop: a run that lost values fails
  return {{"msg_per_s", static_cast<double>(total) / seconds},
          {"hop_p50_ns", percentile(sub.hops, 0.50)},
          {"hop_p99_ns", percentile(sub.hops, 0.99)}};
}

}  // namespace

std::vector<Case> plain_cases() {
  return {{"nats_1_1", [](double s) { return plain(s, 1); }}, {"nats_4_1", [](double s) { return plain(s, 4); }}};
}

}  // namespace bench::nats
