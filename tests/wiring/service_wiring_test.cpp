// The wiring registry: every operation and error, leases, and the seed's usage pattern.

#include <swarmsync/wiring/service_channels.hpp>
#include <swarmsync/wiring/service_wiring.hpp>

#include "support/async.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>
#include <variant>

namespace service_wiring_test {

namespace app {

enum class ChannelType { SchedulerToDispatcher, DispatcherToHarvester, Unnamed };

constexpr std::string_view to_string(ChannelType c) {
  switch (c) {
    case ChannelType::SchedulerToDispatcher: return "SchedulerToDispatcher";
    case ChannelType::DispatcherToHarvester: return "DispatcherToHarvester";
    default: return "Unnamed";
  }
}

enum class Plain { A, B };  // no to_string: printed as a number

struct SchedulerEvent {
  int job;
};
struct DispatcherEvent {
  int job;
  int worker;
};
using EventPayload = std::variant<SchedulerEvent, DispatcherEvent>;

}  // namespace app

namespace {

using namespace swarmsync;
using app::ChannelType;
using Wiring = ServiceWiring<ChannelType, app::EventPayload>;

TEST(ServiceWiring, AddTakeAndTalk) {
  Wiring wiring;
  ASSERT_TRUE(wiring.add_channel(ChannelType::SchedulerToDispatcher));
  EXPECT_TRUE(wiring.tx_exists(ChannelType::SchedulerToDispatcher));
  EXPECT_TRUE(wiring.rx_exists(ChannelType::SchedulerToDispatcher));
  auto tx = wiring.take_tx(ChannelType::SchedulerToDispatcher, "scheduler");
  auto rx = wiring.take_rx(ChannelType::SchedulerToDispatcher, "dispatcher");
  ASSERT_TRUE(tx);
  ASSERT_TRUE(rx);
  EXPECT_FALSE(wiring.tx_exists(ChannelType::SchedulerToDispatcher));
  EXPECT_FALSE(wiring.rx_exists(ChannelType::SchedulerToDispatcher));
  tx->send(app::SchedulerEvent{7}).value();
  auto msg = rx->try_recv();
  ASSERT_TRUE(msg);
  EXPECT_EQ(std::get<app::SchedulerEvent>(*msg).job, 7);
}

TEST(ServiceWiring, AddingAChannelTwiceIsAnErrorNamingIt) {
  Wiring wiring;
  wiring.add_channel(ChannelType::DispatcherToHarvester).value();
  auto again = wiring.add_channel(ChannelType::DispatcherToHarvester);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind, WiringError::already_added);
  EXPECT_EQ(again.error().channel, "DispatcherToHarvester");
  EXPECT_EQ(again.error().message(), "channel DispatcherToHarvester: added twice");
}

TEST(ServiceWiring, TakingAnEndTwiceNamesTheSideAndTheHolder) {
  Wiring wiring;
  wiring.add_channel(ChannelType::SchedulerToDispatcher).value();
  auto first = wiring.take_rx(ChannelType::SchedulerToDispatcher, "dispatcher");
  ASSERT_TRUE(first);
  auto second = wiring.take_rx(ChannelType::SchedulerToDispatcher, "intruder");
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().kind, WiringError::already_taken);
  EXPECT_EQ(second.error().side, ChannelSide::rx);
  EXPECT_EQ(second.error().holder, "dispatcher");
  EXPECT_EQ(second.error().message(), "channel SchedulerToDispatcher: rx already taken by dispatcher");
  auto tx1 = wiring.take_tx(ChannelType::SchedulerToDispatcher, "scheduler");
  auto tx2 = wiring.take_tx(ChannelType::SchedulerToDispatcher, "other");
  ASSERT_FALSE(tx2);
  EXPECT_EQ(tx2.error().message(), "channel SchedulerToDispatcher: tx already taken by scheduler");
  EXPECT_THROW(tx2.value(), ChannelError);
}

TEST(ServiceWiring, UnknownChannelIsAnError) {
  Wiring wiring;
  auto tx = wiring.take_tx(ChannelType::Unnamed);
  ASSERT_FALSE(tx);
  EXPECT_EQ(tx.error().kind, WiringError::unknown_channel);
  EXPECT_EQ(tx.error().message(), "channel Unnamed: no such channel in the wiring");
  EXPECT_EQ(wiring.take_rx(ChannelType::Unnamed).error().side, ChannelSide::rx);
  EXPECT_FALSE(wiring.get_tx(ChannelType::Unnamed));
  EXPECT_FALSE(wiring.tx_exists(ChannelType::Unnamed));
  EXPECT_FALSE(wiring.rx_exists(ChannelType::Unnamed));
  EXPECT_FALSE(wiring.remove_if_empty(ChannelType::Unnamed));
}

TEST(ServiceWiring, KeysWithoutToStringPrintAsNumbers) {
  ServiceWiring<app::Plain, int> wiring;
  wiring.add_channel(app::Plain::B).value();
  EXPECT_EQ(wiring.add_channel(app::Plain::B).error().channel, "#1");
}

TEST(ServiceWiring, GetTxClonesWithoutTaking) {
  Wiring wiring;
  wiring.add_channel(ChannelType::SchedulerToDispatcher).value();
  auto a = wiring.get_tx(ChannelType::SchedulerToDispatcher).value();
  auto b = wiring.get_tx(ChannelType::SchedulerToDispatcher).value();
  EXPECT_TRUE(wiring.tx_exists(ChannelType::SchedulerToDispatcher));
  a.send(app::SchedulerEvent{1}).value();
  b.send(app::SchedulerEvent{2}).value();
  auto rx = wiring.take_rx(ChannelType::SchedulerToDispatcher).value();
  EXPECT_TRUE(rx.same_channel(a));
  EXPECT_EQ(std::get<app::SchedulerEvent>(rx.try_recv().value()).job, 1);
  EXPECT_EQ(std::get<app::SchedulerEvent>(rx.try_recv().value()).job, 2);
}

TEST(ServiceWiring, AddAPairMadeElsewhere) {
  Wiring wiring;
  auto [tx, rx] = mpsc::unbounded_channel<app::EventPayload>();
  tx.send(app::DispatcherEvent{3, 4}).value();
  wiring.add_channel(ChannelType::DispatcherToHarvester, tx, std::move(rx)).value();
  auto lease = wiring.take_rx(ChannelType::DispatcherToHarvester).value();
  EXPECT_EQ(std::get<app::DispatcherEvent>(lease.try_recv().value()).worker, 4);
}

TEST(ServiceWiring, AGivenBackReceiverKeepsItsQueueForTheNextHolder) {
  Wiring wiring;
  wiring.add_channel(ChannelType::SchedulerToDispatcher).value();
  auto tx = wiring.take_tx(ChannelType::SchedulerToDispatcher, "scheduler").value();
  {
    auto rx = wiring.take_rx(ChannelType::SchedulerToDispatcher, "dispatcher#1").value();
    for (int i = 0; i < 3; ++i) tx.send(app::SchedulerEvent{i}).value();
    EXPECT_EQ(std::get<app::SchedulerEvent>(rx.try_recv().value()).job, 0);
  }  // dispatcher#1 stops: its end goes back, two values still queued
  EXPECT_TRUE(wiring.rx_exists(ChannelType::SchedulerToDispatcher));
  EXPECT_FALSE(tx.is_closed());  // the sender never saw the channel close
  tx.send(app::SchedulerEvent{3}).value();
  auto rx = wiring.take_rx(ChannelType::SchedulerToDispatcher, "dispatcher#2").value();
  for (int i = 1; i < 4; ++i) EXPECT_EQ(std::get<app::SchedulerEvent>(rx.try_recv().value()).job, i);
}

TEST(ServiceWiring, AGivenBackSenderCanBeTakenAgain) {
  Wiring wiring;
  wiring.add_channel(ChannelType::SchedulerToDispatcher).value();
  { auto tx = wiring.take_tx(ChannelType::SchedulerToDispatcher, "scheduler#1").value(); }
  EXPECT_TRUE(wiring.tx_exists(ChannelType::SchedulerToDispatcher));
  EXPECT_TRUE(wiring.take_tx(ChannelType::SchedulerToDispatcher, "scheduler#2"));
}

TEST(ServiceWiring, RemoveIfEmptyRemovesOnlyWhenNothingIsLost) {
  Wiring wiring;
  wiring.add_channel(ChannelType::SchedulerToDispatcher).value();
  {
    auto rx = wiring.take_rx(ChannelType::SchedulerToDispatcher, "dispatcher").value();
    auto held = wiring.remove_if_empty(ChannelType::SchedulerToDispatcher);
    ASSERT_FALSE(held);
    EXPECT_EQ(held.error().kind, WiringError::in_use);
    EXPECT_EQ(held.error().holder, "dispatcher");
  }
  wiring.get_tx(ChannelType::SchedulerToDispatcher).value().send(app::SchedulerEvent{1}).value();
  auto queued = wiring.remove_if_empty(ChannelType::SchedulerToDispatcher);
  ASSERT_FALSE(queued);
  EXPECT_EQ(queued.error().queued, 1u);
  EXPECT_EQ(queued.error().message(), "channel SchedulerToDispatcher: not removed, 1 value(s) queued");
  wiring.take_rx(ChannelType::SchedulerToDispatcher).value().try_recv().value();
  EXPECT_TRUE(wiring.remove_if_empty(ChannelType::SchedulerToDispatcher).value());
  EXPECT_FALSE(wiring.rx_exists(ChannelType::SchedulerToDispatcher));
  EXPECT_TRUE(wiring.add_channel(ChannelType::SchedulerToDispatcher));
}

TEST(ServiceWiring, SnapshotShowsHoldersAndDepth) {
  Wiring wiring;
  wiring.add_channel(ChannelType::SchedulerToDispatcher).value();
  wiring.add_channel(ChannelType::DispatcherToHarvester).value();
  auto tx = wiring.take_tx(ChannelType::SchedulerToDispatcher, "scheduler").value();
  tx.send(app::SchedulerEvent{1}).value();
  tx.send(app::SchedulerEvent{2}).value();
  auto snap = wiring.snapshot();
  ASSERT_EQ(snap.size(), 2u);
  EXPECT_EQ(snap[0].name, "SchedulerToDispatcher");
  EXPECT_EQ(snap[0].tx_holder, "scheduler");
  EXPECT_EQ(snap[0].rx_holder, "");
  EXPECT_EQ(snap[0].depth, 2u);
  EXPECT_EQ(snap[1].name, "DispatcherToHarvester");
}

// A lease handed back early, without destroying it: the end is free to take at once, its queue
// intact; the lease holds nothing after (its sends refused, the value handed back).
TEST(ServiceWiring, ALeaseGivenBackEarlyFreesItsEndAtOnce) {
  Wiring wiring;
  const auto ch = ChannelType::SchedulerToDispatcher;
  wiring.add_channel(ch).value();
  auto tx = wiring.take_tx(ch, "scheduler").value();
  auto rx = wiring.take_rx(ch, "dispatcher#1").value();
  tx.send(app::SchedulerEvent{1}).value();
  EXPECT_TRUE(rx.held());
  EXPECT_FALSE(wiring.rx_free(ch));
  EXPECT_TRUE(wiring.has_channel(ch));
  rx.give_back();
  EXPECT_FALSE(rx.held());
  EXPECT_TRUE(wiring.rx_free(ch));
  rx.give_back();  // once only
  auto next = wiring.take_rx(ch, "dispatcher#2").value();
  EXPECT_EQ(std::get<app::SchedulerEvent>(next.try_recv().value()).job, 1);

  tx.give_back();
  EXPECT_FALSE(tx.held());
  EXPECT_TRUE(wiring.tx_free(ch));
  auto refused = tx.send(app::SchedulerEvent{2});
  ASSERT_FALSE(refused);
  EXPECT_EQ(std::get<app::SchedulerEvent>(refused.error().value).job, 2);
  EXPECT_TRUE(wiring.take_tx(ch, "scheduler#2"));
}

// Assigning over a lease gives its end back first; assigning a lease to itself keeps it.
TEST(ServiceWiring, AssigningOverALeaseGivesItsEndBack) {
  Wiring wiring;
  const auto a = ChannelType::SchedulerToDispatcher, b = ChannelType::DispatcherToHarvester;
  wiring.add_channel(a).value();
  wiring.add_channel(b).value();
  wiring.get_tx(a).value().send(app::SchedulerEvent{7}).value();
  auto rx = wiring.take_rx(a, "dispatcher").value();
  auto tx = wiring.take_tx(a, "scheduler").value();
  auto& same_rx = rx;
  rx = std::move(same_rx);  // self-assignment: still held
  auto& same_tx = tx;
  tx = std::move(same_tx);
  EXPECT_TRUE(rx.held());
  EXPECT_TRUE(tx.held());
  EXPECT_FALSE(wiring.rx_free(a));
  rx = wiring.take_rx(b, "harvester").value();  // a's end goes back, b's is held
  tx = wiring.take_tx(b, "dispatcher").value();
  EXPECT_TRUE(wiring.rx_free(a));
  EXPECT_TRUE(wiring.tx_free(a));
  EXPECT_FALSE(wiring.rx_free(b));
  EXPECT_FALSE(wiring.tx_free(b));
  EXPECT_EQ(rx.channel(), b);
  tx.send(app::DispatcherEvent{1, 2}).value();
  EXPECT_EQ(std::get<app::DispatcherEvent>(rx.try_recv().value()).worker, 2);
  auto again = wiring.take_rx(a, "dispatcher#2").value();  // a's queue kept
  EXPECT_EQ(std::get<app::SchedulerEvent>(again.try_recv().value()).job, 7);
  auto moved = std::move(rx);
  EXPECT_FALSE(rx.held());  // NOLINT(bugprone-use-after-move): a moved-from lease holds nothing
  EXPECT_TRUE(moved.held());
}

TEST(ServiceWiring, ALeaseOutlivingTheWiringIsJustAChannelEnd) {
  std::optional<Wiring::Rx> rx;
  {
    Wiring wiring;
    wiring.add_channel(ChannelType::SchedulerToDispatcher).value();
    wiring.get_tx(ChannelType::SchedulerToDispatcher).value().send(app::SchedulerEvent{5}).value();
    rx.emplace(wiring.take_rx(ChannelType::SchedulerToDispatcher).value());
  }
  EXPECT_EQ(std::get<app::SchedulerEvent>(rx->try_recv().value()).job, 5);
  EXPECT_EQ(rx->try_recv().error(), mpsc::TryRecvError::disconnected);  // the wiring's senders are gone
}

TEST(ServiceWiring, ARefusedMoveOnlyPayloadComesBackAsTheVeryObject) {
  std::optional<ServiceWiring<ChannelType, std::unique_ptr<int>>::Tx> tx;
  {
    ServiceWiring<ChannelType, std::unique_ptr<int>> wiring;
    wiring.add_channel(ChannelType::SchedulerToDispatcher).value();
    tx.emplace(wiring.take_tx(ChannelType::SchedulerToDispatcher, "scheduler").value());
    ASSERT_TRUE(tx->send(std::make_unique<int>(1)));
  }  // the wiring, and the receiver it kept, are gone
  auto value = std::make_unique<int>(2);
  int* const raw = value.get();
  auto sent = tx->send(std::move(value));
  ASSERT_FALSE(sent);
  std::unique_ptr<int> back = std::move(sent).error().value;
  EXPECT_EQ(back.get(), raw);
}

TEST(ServiceChannels, EverySubscriberGetsEveryEvent) {
  ServiceChannels<int> channels;
  EXPECT_EQ(channels.capacity(), 16u);
  EXPECT_EQ(channels.send_event_to_all_services(0), 0u);  // nobody listens yet
  auto a = channels.subscribe_to_core_event();
  auto b = channels.subscribe_to_core_event();
  EXPECT_EQ(channels.subscriber_count(), 2u);
  EXPECT_EQ(channels.send_event_to_all_services(1), 2u);
  channels.sender().send(2).value();
  for (auto* rx : {&a, &b}) {
    EXPECT_EQ(rx->try_recv().value(), 1);
    EXPECT_EQ(rx->try_recv().value(), 2);
  }
  EXPECT_EQ(ServiceChannels<int>(100).capacity(), 128u);
}

// Built from a transport's RemoteBroadcast, sends go to the transport, which delivers (here: a
// hand-made transport that loops back into the local ring, as NATS delivers to every process);
// an event it refuses sends to no one here; the transport lives as long as the channels.
TEST(ServiceChannels, ThroughATransportSendsGoToTheTransport) {
  auto [local, first] = broadcast::channel<int>(8);
  auto published = std::make_shared<std::vector<int>>();
  auto alive = std::make_shared<int>(0);
  std::weak_ptr<int> watch = alive;
  RemoteBroadcast<int> remote{local, [published, local = local](int&& e) -> std::optional<int> {
                                if (e < 0) return e;  // refused: given back
                                published->push_back(e);
                                (void)local.send(e);
                                return std::nullopt;
                              },
                              "loopback", alive};
  alive.reset();
  {
    ServiceChannels<int> channels(std::move(remote));
    EXPECT_EQ(channels.where(), "loopback");
    EXPECT_EQ(ServiceChannels<int>().where(), "in-process");
    auto rx = channels.subscribe_to_core_event();
    EXPECT_EQ(channels.send_event_to_all_services(1), 2u);  // rx and `first`, in this process
    EXPECT_EQ(channels.send_event_to_all_services(-1), 0u);
    EXPECT_EQ(channels.send_event_to_all_services(2), 2u);
    EXPECT_EQ(*published, (std::vector<int>{1, 2}));
    EXPECT_EQ(rx.try_recv().value(), 1);
    EXPECT_EQ(rx.try_recv().value(), 2);
    EXPECT_FALSE(watch.expired());
  }
  EXPECT_TRUE(watch.expired());
}

// The seed's usage pattern: services take their ends from the shared wiring on startup and
// subscribe to the core events, then talk through typed payloads.
TEST(ServiceWiring, TheSeedsUsagePattern) {
  struct Shared {
    ServiceChannels<std::string> channels;
    Wiring wiring;
  };
  auto shared = std::make_shared<Shared>();
  shared->wiring.add_channel(ChannelType::SchedulerToDispatcher).value();

  asio::io_context ioc;
  std::vector<int> dispatched;
  std::string last_event;
  asio::co_spawn(ioc, [shared, &dispatched, &last_event]() -> asio::awaitable<void> {
    auto dispatcher_rx = shared->wiring.take_rx(ChannelType::SchedulerToDispatcher, "dispatcher");
    auto global_events = shared->channels.subscribe_to_core_event();
    if (!dispatcher_rx) co_return;
    while (auto msg = co_await dispatcher_rx->recv()) {
      dispatched.push_back(std::get<app::SchedulerEvent>(*msg).job);
      if (dispatched.size() == 3) break;
    }
    if (auto ev = co_await global_events.recv()) last_event = *ev;
  }, asio::detached);
  asio::co_spawn(ioc, [shared]() -> asio::awaitable<void> {
    auto scheduler_tx = shared->wiring.take_tx(ChannelType::SchedulerToDispatcher, "scheduler");
    if (!scheduler_tx) co_return;
    for (int job = 1; job <= 3; ++job) scheduler_tx->send(app::SchedulerEvent{job}).value();
    shared->channels.send_event_to_all_services("startup");
    co_return;
  }, asio::detached);
  ioc.run();
  EXPECT_EQ(dispatched, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(last_event, "startup");
  EXPECT_TRUE(shared->wiring.rx_exists(ChannelType::SchedulerToDispatcher));  // given back
}

}  // namespace

}  // namespace service_wiring_test
