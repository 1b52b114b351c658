// The broadcast across processes over core NATS (transport/nats/broadcast_bridge.hpp), against a
// real nats-server: every process sees every sender's events in order, a gap upstream reaches
// every subscriber as the exact `Lagged(n)`, bad messages are counted and named, a value that
// cannot be encoded comes back, and a server restart mid-stream is reported, never silent.
// Each "process" is a connection of its own. Deadlines here are hang guards only.

#include <gtest/gtest.h>

#include <atomic>
#include <charconv>
#include <stdexcept>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <swarmsync/transport/nats/broadcast_bridge.hpp>
#include <swarmsync/transport/nats/connection.hpp>
#include <swarmsync/runtime/shared_resource.hpp>
#include <swarmsync/wiring/service_channels.hpp>
#include <thread>
#include <vector>

#include "support/eventually.hpp"
#include "transport/boxed_codec.hpp"
#include "transport/nats_server.hpp"
#include "transport/nats_test_support.hpp"

namespace nats_broadcast_test {

namespace {

namespace sn = swarmsync::nats;
using swarmsync::broadcast::RecvError;
using Clock = std::chrono::steady_clock;
using swarmsync::test::fast_reconnect;
using swarmsync::test::hang_guard;

struct Event {
  std::string from;
  int n = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Event, from, n)

using swarmsync::test::eventually;

// What a subscriber got: the values, and the lags in their places (as -n in `order`).
struct Seen {
  std::vector<Event> values;
  std::uint64_t lagged = 0;
  std::vector<long long> order;  // n of each value, -missed for each lag
};

// Receives until `done(seen)` or the guard.
template <class Done>
Seen receive(swarmsync::broadcast::Receiver<Event>& rx, Done done) {
  Seen seen;
  const auto deadline = Clock::now() + hang_guard;
  while (!done(seen) && Clock::now() < deadline) {
    auto r = rx.try_recv();
    if (r) {
      seen.order.push_back(r->n);
      seen.values.push_back(std::move(*r));
    } else if (r.error().kind == RecvError::lagged) {
      seen.lagged += r.error().skipped;
      seen.order.push_back(-static_cast<long long>(r.error().skipped));
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }
  return seen;
}

class NatsBroadcast : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = server.start()) GTEST_SKIP() << *why;
  }

  sn::Connection connect() {
    auto c = sn::connect(server.url(), fast_reconnect());
    if (!c) throw std::runtime_error(c.error().message);
    return std::move(*c);
  }

  swarmsync::test::NatsServer server;
};

TEST_F(NatsBroadcast, BadNamesAndOptionsAreRefused) {
  auto conn = connect();
  auto bad = sn::bridge_broadcast<Event>(conn, {.core = "a.b", .channel = "events"});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("a.b"), std::string::npos) << bad.error().message;
  EXPECT_FALSE(sn::bridge_broadcast<Event>(conn, {.core = "ok", .channel = "x y"}));
  EXPECT_FALSE(sn::bridge_broadcast<Event>(conn, {.core = "ok"}, {.capacity = 0}));
  sn::BroadcastOptions no_room;
  no_room.pending_messages = 0;
  EXPECT_FALSE(sn::bridge_broadcast<Event>(conn, {.core = "ok"}, no_room));
}

// Two processes, each publishing 1,000 events through ServiceChannels: each process's
// subscriber gets all 2,000, its own included, each sender's in the order sent.
TEST_F(NatsBroadcast, EveryProcessSeesEverySendersEventsInOrder) {
  auto conn_a = connect();
  auto conn_b = connect();
  sn::BroadcastOptions options;
  options.capacity = 4096;  // room for everything: no lag in the local ring
  auto ends_a = sn::bridge_broadcast<Event>(conn_a, {.core = "two"}, options);
  auto ends_b = sn::bridge_broadcast<Event>(conn_b, {.core = "two"}, options);
  ASSERT_TRUE(ends_a && ends_b);
  const auto stats_a = ends_a->stats;
  swarmsync::ServiceChannels<Event> a(std::move(*ends_a));
  swarmsync::ServiceChannels<Event> b(std::move(*ends_b));
  EXPECT_EQ(a.where(), "nats subject swarmsync:broadcast.two.events");
  EXPECT_EQ(swarmsync::ServiceChannels<Event>().where(), "in-process");
  auto rx_a = a.subscribe_to_core_event();
  auto rx_b = b.subscribe_to_core_event();
  std::thread sender_b([&] {
    for (int i = 0; i < 1000; ++i) b.send_event_to_all_services(Event{"b", i});
  });
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(a.send_event_to_all_services(Event{"a", i}), 1u);  // one subscriber here
  sender_b.join();
  for (auto* rx : {&rx_a, &rx_b}) {
    const auto seen = receive(*rx, [](const Seen& s) { return s.values.size() == 2000; });
    ASSERT_EQ(seen.values.size(), 2000u);
    EXPECT_EQ(seen.lagged, 0u);
    std::map<std::string, int> next;
    for (const auto& e : seen.values) {
      EXPECT_EQ(e.n, next[e.from]) << e.from;
      next[e.from] = e.n + 1;
    }
    EXPECT_EQ(next["a"], 1000);
    EXPECT_EQ(next["b"], 1000);
  }
  EXPECT_EQ(stats_a->published.load(), 1000u);
  EXPECT_EQ(stats_a->received.load(), 2000u);
  EXPECT_EQ(stats_a->missed.load(), 0u);
}

// A SharedResource built with remote events: its services' broadcast is the bridged one.
enum class Channel { only };
TEST_F(NatsBroadcast, ASharedResourceWithRemoteEventsCarriesThemAcross) {
  auto conn_a = connect();
  auto conn_b = connect();
  using Shared = swarmsync::SharedResource<Event, Channel, int>;
  Shared::Options options;
  options.remote_events = sn::bridge_broadcast<Event>(conn_a, {.core = "shared"}).value();
  auto shared = std::make_shared<Shared>(std::move(options));
  EXPECT_EQ(shared->channels->where(), "nats subject swarmsync:broadcast.shared.events");
  swarmsync::ServiceChannels<Event> other(sn::bridge_broadcast<Event>(conn_b, {.core = "shared"}).value());
  auto rx = shared->channels->subscribe_to_core_event();
  other.send_event_to_all_services(Event{"b", 1});
  const auto seen = receive(rx, [](const Seen& s) { return !s.values.empty(); });
  ASSERT_EQ(seen.values.size(), 1u);
  EXPECT_EQ(seen.values[0].from, "b");
}

// A codec whose decoding of the first value waits until released: the subscription's handler is
// held, messages pile up in cnats past the pending limit and are dropped, as for a slow consumer.
struct DecodeGate {
  std::mutex mutex;
  std::condition_variable cv;
  bool entered = false;
  bool released = false;
};

struct HeldCodec {
  std::shared_ptr<DecodeGate> gate;
  std::string encode(const Event& e) const { return nlohmann::json(e).dump(); }
  swarmsync::Result<Event, sn::DecodeError> decode(std::string_view bytes) const {
    {
      std::unique_lock lock(gate->mutex);
      if (!gate->entered) {
        gate->entered = true;
        gate->cv.notify_all();
        gate->cv.wait(lock, [&] { return gate->released; });
      }
    }
    return sn::JsonCodec<Event>{}.decode(bytes);
  }
};

// Values dropped before the local ring are reported, in their place, as the exact number
// missed: every value is either received or counted in a lag; cnats's own drop count agrees.
TEST_F(NatsBroadcast, ValuesDroppedUpstreamReachSubscribersAsTheExactLag) {
  auto conn_pub = connect();
  auto conn_sub = connect();
  auto gate = std::make_shared<DecodeGate>();
  sn::BroadcastOptions slow;
  slow.capacity = 4096;
  slow.pending_messages = 10;
  auto sub_ends = sn::bridge_broadcast<Event, HeldCodec>(conn_sub, {.core = "slow"}, slow, HeldCodec{gate});
  auto pub_ends = sn::bridge_broadcast<Event>(conn_pub, {.core = "slow"});
  ASSERT_TRUE(sub_ends && pub_ends);
  const auto sub_stats = sub_ends->stats;
  swarmsync::ServiceChannels<Event> sub(std::move(*sub_ends));
  swarmsync::ServiceChannels<Event> pub(std::move(*pub_ends));
  auto rx = sub.subscribe_to_core_event();
  auto rx_other = sub.subscribe_to_core_event();

  constexpr int burst = 1000;
  pub.send_event_to_all_services(Event{"p", 0});
  {
    std::unique_lock lock(gate->mutex);
    ASSERT_TRUE(gate->cv.wait_for(lock, hang_guard, [&] { return gate->entered; }));
  }
  for (int i = 1; i < burst; ++i) pub.send_event_to_all_services(Event{"p", i});
  ASSERT_EQ(natsConnection_Flush(conn_pub.native()), NATS_OK);
  // The subscriber's PONG comes after the burst on its connection: the burst is in cnats's hands.
  ASSERT_EQ(natsConnection_Flush(conn_sub.native()), NATS_OK);
  {
    std::lock_guard lock(gate->mutex);
    gate->released = true;
  }
  gate->cv.notify_all();
  // Values after the burst, until one is heard (one that arrives while the pile-up is still
  // draining may be dropped too): the gap before it is then seen.
  std::atomic<bool> heard{false};
  std::thread closer([&] {
    for (int n = burst; !heard.load(); ++n) {
      pub.send_event_to_all_services(Event{"p", n});
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  std::vector<Seen> seen_by;
  for (auto* r : {&rx, &rx_other})
    seen_by.push_back(receive(*r, [&](const Seen& s) { return !s.values.empty() && s.values.back().n >= burst; }));
  heard.store(true);
  closer.join();
  for (const auto& seen : seen_by) {
    ASSERT_FALSE(seen.values.empty());
    const int last = seen.values.back().n;
    EXPECT_GE(last, burst);
    EXPECT_GT(seen.lagged, 0u) << "the pending limit of 10 was not passed";
    EXPECT_EQ(seen.values.size() + seen.lagged, static_cast<std::size_t>(last + 1));
    // Received values are in order, and each lag stands exactly for the values it skipped.
    long long expect = 0;
    for (const long long x : seen.order) {
      if (x < 0) {
        expect += -x;
      } else {
        EXPECT_EQ(x, expect);
        ++expect;
      }
    }
  }
  ASSERT_EQ(seen_by[0].order, seen_by[1].order);  // both subscribers were told the same, in the same places
  EXPECT_EQ(sub.lagged_count(), 2 * seen_by[0].lagged);
}

// A subscriber that falls behind the local ring lags as with a local broadcast.
TEST_F(NatsBroadcast, ASubscriberBehindTheLocalRingLagsAsLocally) {
  auto conn = connect();
  auto ends = sn::bridge_broadcast<Event>(conn, {.core = "ring"}, {.capacity = 4});
  ASSERT_TRUE(ends);
  const auto stats = ends->stats;
  swarmsync::ServiceChannels<Event> channels(std::move(*ends));
  auto rx = channels.subscribe_to_core_event();
  for (int i = 0; i < 100; ++i) channels.send_event_to_all_services(Event{"x", i});
  ASSERT_TRUE(eventually([&] { return stats->received.load() == 100; }));
  const auto seen = receive(rx, [](const Seen& s) { return !s.values.empty() && s.values.back().n == 99; });
  EXPECT_EQ(seen.lagged, 96u);
  ASSERT_EQ(seen.values.size(), 4u);
  EXPECT_EQ(seen.values.front().n, 96);
  EXPECT_EQ(stats->missed.load(), 0u);  // nothing was lost before the ring
}

// A message that does not decode is counted, named with its subject and the reason, and dropped;
// a message from another client (no sequence headers) is delivered.
TEST_F(NatsBroadcast, AMessageThatDoesNotDecodeIsCountedAndNamed) {
  auto conn = connect();
  std::mutex mutex;
  std::vector<std::string> reports;
  sn::BroadcastOptions options;
  options.on_undecodable = [&](std::string_view subject, std::string_view why) {
    std::lock_guard lock(mutex);
    reports.push_back(std::string(subject) + ": " + std::string(why));
  };
  auto ends = sn::bridge_broadcast<Event>(conn, {.core = "bad"}, options);
  ASSERT_TRUE(ends);
  const auto stats = ends->stats;
  swarmsync::ServiceChannels<Event> channels(std::move(*ends));
  auto rx = channels.subscribe_to_core_event();
  const std::string subject = "swarmsync:broadcast.bad.events";
  ASSERT_EQ(natsConnection_PublishString(conn.native(), subject.c_str(), "not json"), NATS_OK);
  ASSERT_EQ(natsConnection_PublishString(conn.native(), subject.c_str(), R"({"from":"raw","n":7})"), NATS_OK);
  const auto seen = receive(rx, [](const Seen& s) { return !s.values.empty(); });
  ASSERT_EQ(seen.values.size(), 1u);
  EXPECT_EQ(seen.values[0].from, "raw");
  EXPECT_EQ(seen.lagged, 0u);
  EXPECT_EQ(stats->undecodable.load(), 1u);
  std::lock_guard lock(mutex);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].rfind(subject + ": not valid JSON", 0), 0u) << reports[0];
}

// A value whose copy and move throw once it is armed; the codec arms 13 as it decodes it, so it
// throws on its way into the ring (or out of the codec): on cnats's thread, where nothing may be
// thrown into C code.
struct Fragile {
  int n = 0;
  bool armed = false;
  explicit Fragile(int v) : n(v) {}
  Fragile(const Fragile& o) : n(o.n), armed(o.armed) {
    if (armed) throw std::runtime_error("copy of an armed value");
  }
  Fragile(Fragile&& o) : Fragile(static_cast<const Fragile&>(o)) {}
  Fragile& operator=(const Fragile&) = default;
};
struct FragileCodec {
  std::string encode(const Fragile& f) const { return std::to_string(f.n); }
  swarmsync::Result<Fragile, sn::DecodeError> decode(std::string_view bytes) const {
    int v = 0;
    (void)std::from_chars(bytes.data(), bytes.data() + bytes.size(), v);
    swarmsync::Result<Fragile, sn::DecodeError> r(swarmsync::in_place_value, Fragile(v));
    r->armed = v == 13;
    return r;
  }
};

TEST_F(NatsBroadcast, AValueWhoseCopyThrowsIsCountedAndReportedAsMissed) {
  auto conn = connect();
  std::mutex mutex;
  std::vector<std::string> reports;
  sn::BroadcastOptions options;
  options.on_undecodable = [&](std::string_view, std::string_view why) {
    std::lock_guard lock(mutex);
    reports.emplace_back(why);
  };
  auto ends = sn::bridge_broadcast<Fragile, FragileCodec>(conn, {.core = "fragile"}, options);
  ASSERT_TRUE(ends);
  auto rx = ends->local.subscribe();
  for (int n : {12, 13, 14}) ASSERT_FALSE(ends->publish(Fragile(n)));
  std::vector<long long> order;  // n of each value, -missed for each lag
  ASSERT_TRUE(eventually([&] {
    if (auto r = rx.try_recv()) order.push_back(r->n);
    else if (r.error().kind == RecvError::lagged) order.push_back(-static_cast<long long>(r.error().skipped));
    return !order.empty() && order.back() == 14;
  }));
  EXPECT_EQ(order, (std::vector<long long>{12, -1, 14}));
  EXPECT_EQ(ends->stats->undecodable.load(), 1u);
  std::lock_guard lock(mutex);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_NE(reports[0].find("could not be stored: copy of an armed value"), std::string::npos) << reports[0];
}

// Copyable, as a broadcast's values are; the int's address tells the very object.
using SharedBoxed = swarmsync::test::Boxed<std::shared_ptr<int>>;
using SharedBoxedCodec = swarmsync::test::ThirteenHasNoEncoding<SharedBoxed>;

// Refused values come back as the very object, counted; they take no place in
// the sequence, so receivers see no gap for them.
TEST_F(NatsBroadcast, AValueThatCannotBeEncodedComesBackAsTheVeryObject) {
  auto conn = connect();
  auto ends = sn::bridge_broadcast<SharedBoxed, SharedBoxedCodec>(conn, {.core = "encode"});
  ASSERT_TRUE(ends);
  auto rx = ends->local.subscribe();
  SharedBoxed thirteen{std::make_shared<int>(13)};
  const int* where = thirteen.n.get();
  auto back = ends->publish(std::move(thirteen));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->n.get(), where);
  EXPECT_FALSE(ends->publish(SharedBoxed{std::make_shared<int>(14)}));
  EXPECT_FALSE(ends->publish(SharedBoxed{std::make_shared<int>(15)}));
  std::vector<int> got;
  ASSERT_TRUE(eventually([&] {
    if (auto r = rx.try_recv()) got.push_back(*r->n);
    else EXPECT_NE(r.error().kind, RecvError::lagged);
    return got.size() == 2;
  }));
  EXPECT_EQ(got, (std::vector<int>{14, 15}));
  EXPECT_EQ(ends->stats->publish_failed.load(), 1u);
  EXPECT_EQ(ends->stats->published.load(), 2u);
  EXPECT_EQ(ends->stats->missed.load(), 0u);
}

// nats-server killed and restarted while a process publishes: what was lost in the outage shows
// as lags at the next value, so every value published is received or counted, none is silent.
TEST_F(NatsBroadcast, AServerRestartMidStreamIsReportedNotSilent) {
  auto conn_pub = connect();
  auto conn_sub = connect();
  auto pub_ends = sn::bridge_broadcast<Event>(conn_pub, {.core = "restart"});
  auto sub_ends = sn::bridge_broadcast<Event>(conn_sub, {.core = "restart"}, {.capacity = 1 << 16});
  ASSERT_TRUE(pub_ends && sub_ends);
  const auto sub_stats = sub_ends->stats;
  auto publish = pub_ends->publish;  // gives back what cnats refuses
  auto pub_bridge = std::move(pub_ends->transport);
  swarmsync::ServiceChannels<Event> sub(std::move(*sub_ends));
  auto rx = sub.subscribe_to_core_event();

  std::atomic<bool> stop{false};
  std::atomic<int> next{0};
  std::thread publisher([&] {
    while (!stop.load()) {
      // A value refused (cnats's buffer full while disconnected) takes no number: sent again.
      if (!publish(Event{"p", next.load()})) next.fetch_add(1);
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  ASSERT_TRUE(eventually([&] { return sub_stats->received.load() >= 200; }));
  server.kill9();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ASSERT_FALSE(server.restart());
  // Both reconnect; the subscriber hears from the publisher again.
  const auto before = sub_stats->received.load();
  ASSERT_TRUE(eventually([&] { return sub_stats->received.load() >= before + 200; }));
  stop.store(true);
  publisher.join();
  // Values after the outage until one is heard: a gap before it is then seen.
  const int first_after = next.load();
  std::atomic<bool> heard{false};
  std::thread closer([&] {
    while (!heard.load()) {
      if (!publish(Event{"p", next.load()})) next.fetch_add(1);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  const auto seen = receive(rx, [&](const Seen& s) { return !s.values.empty() && s.values.back().n >= first_after; });
  heard.store(true);
  closer.join();
  ASSERT_FALSE(seen.values.empty());
  const int last = seen.values.back().n;
  ASSERT_GE(last, first_after);
  EXPECT_EQ(seen.values.size() + seen.lagged, static_cast<std::size_t>(last + 1));
  EXPECT_EQ(sub_stats->missed.load(), seen.lagged);
  EXPECT_GE(conn_sub.reconnects(), 1u);
}

// Bridges closed while messages arrive, many times over: the subscription's last call into a
// bridge happens before it is freed (checked by the sanitizer builds).
TEST_F(NatsBroadcast, ABridgeClosedWhileMessagesArriveIsSafe) {
  auto conn_pub = connect();
  auto conn_sub = connect();
  auto pub_ends = sn::bridge_broadcast<Event>(conn_pub, {.core = "close"});
  ASSERT_TRUE(pub_ends);
  swarmsync::ServiceChannels<Event> pub(std::move(*pub_ends));
  std::atomic<bool> stop{false};
  std::thread publisher([&] {
    for (int n = 0; !stop.load(); ++n) pub.send_event_to_all_services(Event{"p", n});
  });
  std::uint64_t heard = 0;
  for (int round = 0; round < 20; ++round) {
    auto ends = sn::bridge_broadcast<Event>(conn_sub, {.core = "close"});
    ASSERT_TRUE(ends);
    auto stats = ends->stats;
    {
      swarmsync::ServiceChannels<Event> sub(std::move(*ends));
      auto rx = sub.subscribe_to_core_event();
      ASSERT_TRUE(eventually([&] { return stats->received.load() > 0; }));
    }
    heard += stats->received.load();  // the counters outlive the bridge through `stats`
  }
  stop.store(true);
  publisher.join();
  EXPECT_GE(heard, 20u);
}

}  // namespace

}  // namespace nats_broadcast_test
