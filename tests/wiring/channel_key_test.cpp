// Typed channel keys: the same registry, the same channels, results, errors and leases as the
// enum form. (That a key of another payload does not compile is tested by compiling
// compile_fail/typed_key.cpp: the ctest tests wiring.typed_key_*.)

#include <swarmsync/wiring/service_wiring.hpp>

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace channel_key_test {

namespace app {

enum class ChannelType { SchedulerToDispatcher, DispatcherToHarvester, Unnamed };

constexpr std::string_view to_string(ChannelType c) {
  switch (c) {
    case ChannelType::SchedulerToDispatcher: return "SchedulerToDispatcher";
    case ChannelType::DispatcherToHarvester: return "DispatcherToHarvester";
    default: return "Unnamed";
  }
}

struct SchedulerEvent {
  int job;
};
struct DispatcherEvent {
  int job;
  int worker;
};
using EventPayload = std::variant<SchedulerEvent, DispatcherEvent>;

inline constexpr swarmsync::ChannelKey<ChannelType::SchedulerToDispatcher, EventPayload> to_dispatcher{};
inline constexpr swarmsync::ChannelKey<ChannelType::DispatcherToHarvester, EventPayload> to_harvester{};
inline constexpr swarmsync::ChannelKey<ChannelType::Unnamed, EventPayload> unnamed{};

}  // namespace app

namespace {

using namespace swarmsync;
using app::ChannelType;
using Wiring = ServiceWiring<ChannelType, app::EventPayload>;

// The key is its enum value: a literal, empty type that converts to the enum.
static_assert(std::is_empty_v<std::remove_cv_t<decltype(app::to_dispatcher)>>);
static_assert(decltype(app::to_dispatcher)::channel == ChannelType::SchedulerToDispatcher);
static_assert(std::is_same_v<decltype(app::to_dispatcher)::payload_type, app::EventPayload>);
static_assert(static_cast<ChannelType>(app::to_harvester) == ChannelType::DispatcherToHarvester);
// The ends taken through a key are the enum form's leases.
static_assert(std::is_same_v<decltype(std::declval<Wiring&>().take_tx(app::to_dispatcher)),
                             decltype(std::declval<Wiring&>().take_tx(ChannelType::SchedulerToDispatcher))>);
static_assert(
    std::is_same_v<decltype(std::declval<Wiring&>().take_tx(app::to_dispatcher)), Result<Wiring::Tx, WiringError>>);
static_assert(
    std::is_same_v<decltype(std::declval<Wiring&>().take_rx(app::to_dispatcher)), Result<Wiring::Rx, WiringError>>);
static_assert(std::is_same_v<decltype(std::declval<const Wiring&>().get_tx(app::to_dispatcher)),
                             Result<mpsc::UnboundedSender<app::EventPayload>, WiringError>>);

TEST(ChannelKey, AddTakeAndTalk) {
  Wiring wiring;
  ASSERT_TRUE(wiring.add_channel(app::to_dispatcher));
  EXPECT_TRUE(wiring.has_channel(app::to_dispatcher));
  EXPECT_TRUE(wiring.tx_exists(app::to_dispatcher));
  EXPECT_TRUE(wiring.rx_exists(app::to_dispatcher));
  auto tx = wiring.take_tx(app::to_dispatcher, "scheduler");
  auto rx = wiring.take_rx(app::to_dispatcher, "dispatcher");
  ASSERT_TRUE(tx);
  ASSERT_TRUE(rx);
  EXPECT_FALSE(wiring.tx_free(app::to_dispatcher));
  EXPECT_FALSE(wiring.rx_free(app::to_dispatcher));
  EXPECT_EQ(tx->channel(), app::to_dispatcher);
  EXPECT_EQ(rx->channel(), ChannelType::SchedulerToDispatcher);
  tx->send(app::SchedulerEvent{7}).value();
  EXPECT_EQ(std::get<app::SchedulerEvent>(rx->try_recv().value()).job, 7);
}

// Typed and enum forms name the same channel: what one adds the other finds, an end taken through
// one is taken for the other, and the errors are the enum form's, word for word.
TEST(ChannelKey, TypedAndEnumFormsAreTheSameChannel) {
  Wiring wiring;
  wiring.add_channel(ChannelType::SchedulerToDispatcher).value();
  auto twice = wiring.add_channel(app::to_dispatcher);
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().kind, WiringError::already_added);
  EXPECT_EQ(twice.error().message(), "channel SchedulerToDispatcher: added twice");

  auto rx = wiring.take_rx(app::to_dispatcher, "dispatcher").value();
  EXPECT_FALSE(wiring.rx_free(ChannelType::SchedulerToDispatcher));
  auto by_enum = wiring.take_rx(ChannelType::SchedulerToDispatcher, "intruder");
  ASSERT_FALSE(by_enum);
  EXPECT_EQ(by_enum.error().message(), "channel SchedulerToDispatcher: rx already taken by dispatcher");

  auto tx = wiring.take_tx(ChannelType::SchedulerToDispatcher, "scheduler").value();
  auto by_key = wiring.take_tx(app::to_dispatcher, "other");
  ASSERT_FALSE(by_key);
  EXPECT_EQ(by_key.error().kind, WiringError::already_taken);
  EXPECT_EQ(by_key.error().side, ChannelSide::tx);
  EXPECT_EQ(by_key.error().holder, "scheduler");
  EXPECT_EQ(by_key.error().message(), "channel SchedulerToDispatcher: tx already taken by scheduler");
  EXPECT_THROW(by_key.value(), ChannelError);

  tx.send(app::SchedulerEvent{1}).value();
  EXPECT_EQ(std::get<app::SchedulerEvent>(rx.try_recv().value()).job, 1);
  EXPECT_TRUE(rx.same_channel(wiring.get_tx(app::to_dispatcher).value()));
  EXPECT_TRUE(rx.same_channel(wiring.get_tx(ChannelType::SchedulerToDispatcher).value()));
}

TEST(ChannelKey, UnknownChannelIsTheSameError) {
  Wiring wiring;
  auto tx = wiring.take_tx(app::unnamed);
  ASSERT_FALSE(tx);
  EXPECT_EQ(tx.error().kind, WiringError::unknown_channel);
  EXPECT_EQ(tx.error().message(), "channel Unnamed: no such channel in the wiring");
  EXPECT_EQ(wiring.take_rx(app::unnamed).error().side, ChannelSide::rx);
  EXPECT_EQ(wiring.take_rx(app::unnamed).error().holder, "");
  EXPECT_FALSE(wiring.get_tx(app::unnamed));
  EXPECT_FALSE(wiring.has_channel(app::unnamed));
  EXPECT_FALSE(wiring.tx_exists(app::unnamed));
  EXPECT_FALSE(wiring.rx_exists(app::unnamed));
  EXPECT_FALSE(wiring.tx_free(app::unnamed));
  EXPECT_FALSE(wiring.rx_free(app::unnamed));
  EXPECT_EQ(wiring.remove_if_empty(app::unnamed).error().kind, WiringError::unknown_channel);
}

// An end taken through a key is a lease: given back (early, or when destroyed), the next holder
// takes it again, through either form, with its queue intact.
TEST(ChannelKey, LeasesGoBackWithTheirQueue) {
  Wiring wiring;
  wiring.add_channel(app::to_dispatcher).value();
  auto tx = wiring.take_tx(app::to_dispatcher, "scheduler#1").value();
  {
    auto rx = wiring.take_rx(app::to_dispatcher, "dispatcher#1").value();
    for (int i = 0; i < 3; ++i) tx.send(app::SchedulerEvent{i}).value();
    EXPECT_EQ(std::get<app::SchedulerEvent>(rx.try_recv().value()).job, 0);
  }  // dispatcher#1 stops: its end goes back, two values still queued
  EXPECT_TRUE(wiring.rx_free(app::to_dispatcher));
  EXPECT_FALSE(tx.is_closed());
  auto rx = wiring.take_rx(ChannelType::SchedulerToDispatcher, "dispatcher#2").value();
  for (int i = 1; i < 3; ++i) EXPECT_EQ(std::get<app::SchedulerEvent>(rx.try_recv().value()).job, i);

  tx.give_back();
  EXPECT_FALSE(tx.held());
  EXPECT_TRUE(wiring.tx_free(app::to_dispatcher));
  EXPECT_TRUE(wiring.tx_exists(ChannelType::SchedulerToDispatcher));
  auto again = wiring.take_tx(app::to_dispatcher, "scheduler#2").value();
  again.send(app::SchedulerEvent{3}).value();
  EXPECT_EQ(std::get<app::SchedulerEvent>(rx.try_recv().value()).job, 3);
}

// get_tx through a key clones senders without taking anything, as the enum form.
TEST(ChannelKey, GetTxClonesWithoutTaking) {
  Wiring wiring;
  wiring.add_channel(app::to_dispatcher).value();
  auto a = wiring.get_tx(app::to_dispatcher).value();
  auto b = wiring.get_tx(ChannelType::SchedulerToDispatcher).value();
  EXPECT_TRUE(wiring.tx_free(app::to_dispatcher));
  EXPECT_TRUE(a.same_channel(b));
  a.send(app::SchedulerEvent{1}).value();
  b.send(app::SchedulerEvent{2}).value();
  auto lease = wiring.take_tx(app::to_dispatcher, "scheduler").value();  // still free to take
  lease.send(app::SchedulerEvent{3}).value();
  auto rx = wiring.take_rx(app::to_dispatcher).value();
  for (int i = 1; i <= 3; ++i) EXPECT_EQ(std::get<app::SchedulerEvent>(rx.try_recv().value()).job, i);
}

TEST(ChannelKey, AddAPairMadeElsewhereAndRemoveIt) {
  Wiring wiring;
  auto [tx, rx] = mpsc::unbounded_channel<app::EventPayload>();
  tx.send(app::DispatcherEvent{3, 4}).value();
  wiring.add_channel(app::to_harvester, tx, std::move(rx)).value();
  EXPECT_EQ(wiring.remove_if_empty(app::to_harvester).error().queued, 1u);
  {
    auto lease = wiring.take_rx(app::to_harvester, "harvester").value();
    EXPECT_EQ(std::get<app::DispatcherEvent>(lease.try_recv().value()).worker, 4);
    auto held = wiring.remove_if_empty(app::to_harvester);
    ASSERT_FALSE(held);
    EXPECT_EQ(held.error().message(), "channel DispatcherToHarvester: not removed, held by harvester");
  }
  EXPECT_TRUE(wiring.remove_if_empty(app::to_harvester).value());
  EXPECT_FALSE(wiring.has_channel(ChannelType::DispatcherToHarvester));
}

// A channel through a transport, added through a key: the same leases and acknowledgements.
TEST(ChannelKey, AddRemoteEnds) {
  Wiring wiring;
  auto [tx, rx] = mpsc::unbounded_channel<app::EventPayload>();
  int acknowledged = 0;
  wiring
      .add_channel(app::to_dispatcher,
                   RemoteEnds<app::EventPayload>{tx, std::move(rx), "loopback", [&acknowledged] { ++acknowledged; }})
      .value();
  auto elsewhere = mpsc::unbounded_channel<app::EventPayload>().first;
  wiring.add_channel(app::to_harvester, RemoteEnds<app::EventPayload>{elsewhere, std::nullopt, "elsewhere"}).value();
  auto lease = wiring.take_rx(app::to_dispatcher, "dispatcher").value();
  EXPECT_TRUE(lease.needs_acknowledgement());
  lease.acknowledge();
  EXPECT_EQ(acknowledged, 1);
  auto refused = wiring.take_rx(app::to_harvester, "harvester");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message(), "channel DispatcherToHarvester: rx lives in another process (elsewhere)");
  auto snap = wiring.snapshot();
  ASSERT_EQ(snap.size(), 2u);
  EXPECT_EQ(snap[0].where, "loopback");
  EXPECT_EQ(snap[0].rx_holder, "dispatcher");
}

// A key goes wherever the enum does (a ServiceSpec's produces and consumes are such lists).
TEST(ChannelKey, ConvertsToItsEnumValue) {
  const std::vector<ChannelType> produces = {app::to_dispatcher, app::to_harvester};
  EXPECT_EQ(produces,
            (std::vector<ChannelType>{ChannelType::SchedulerToDispatcher, ChannelType::DispatcherToHarvester}));
  EXPECT_EQ(name_of(static_cast<ChannelType>(app::to_harvester)), "DispatcherToHarvester");
}

}  // namespace

}  // namespace channel_key_test
