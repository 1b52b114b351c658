// Channel handles at their edges: move- and self-assignment, moved-from senders, capacities at
// their limits, refused move-only values coming back as the very object, dropping the receiver,
// and `try_recv` behind a send that is still writing its value.

#include <swarmsync/channels/broadcast.hpp>
#include <swarmsync/channels/mpsc.hpp>

#include "support/async.hpp"
#include "support/counted.hpp"
#include "support/watchdog.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace handles_test {

namespace {

using namespace swarmsync;
using swarmsync::test::Counted;
using swarmsync::test::run_sync;
using swarmsync::test::Watchdog;

// An alias of `x`, so that a self-assignment reads as one to the reader and not to the compiler.
template <class T>
T& same(T& x) {
  return x;
}

// ---------------------------------------------------------------------------------------------
// Receiver move-assignment

TEST(MpscHandles, ReceiverMoveAssignedTakesTheClosePositionOfItsNewChannel) {
  Watchdog watchdog;
  auto a = mpsc::unbounded_channel<int>();
  auto b = mpsc::unbounded_channel<int>();
  for (int i = 0; i < 10; ++i) a.first.send(i).value();
  for (int i = 100; i < 103; ++i) b.first.send(i).value();
  b.second.close();  // closed while its senders live: 3 values stay receivable
  a.second = std::move(b.second);
  auto& rx = a.second;
  for (int i = 100; i < 103; ++i) EXPECT_EQ(rx.try_recv().value(), i);
  EXPECT_EQ(rx.try_recv().error(), mpsc::TryRecvError::disconnected);
  EXPECT_EQ(run_sync(rx.recv()), std::nullopt) << "recv must end, not park for ever";
  EXPECT_TRUE(a.first.is_closed()) << "assigning over a's receiver dropped it: a is closed";
}

TEST(MpscHandles, ReceiverMoveAssignedOverAClosedOneStillReceivesEverything) {
  auto a = mpsc::unbounded_channel<int>();
  auto b = mpsc::unbounded_channel<int>();
  for (int i = 0; i < 3; ++i) a.first.send(i).value();
  a.second.close();  // a's receiver knows a's close position (3)
  for (int i = 0; i < 10; ++i) b.first.send(i).value();
  a.second = std::move(b.second);
  auto& rx = a.second;
  for (int i = 0; i < 10; ++i) EXPECT_EQ(rx.try_recv().value(), i) << "no value of b may be lost";
  EXPECT_EQ(rx.try_recv().error(), mpsc::TryRecvError::empty);
  b.first.send(10).value();
  EXPECT_EQ(rx.try_recv().value(), 10);
}

TEST(MpscHandles, ReceiverMoveConstructedKeepsTheClosePosition) {
  auto b = mpsc::unbounded_channel<int>();
  for (int i = 0; i < 3; ++i) b.first.send(i).value();
  b.second.close();
  auto rx = std::move(b.second);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(rx.try_recv().value(), i);
  EXPECT_EQ(rx.try_recv().error(), mpsc::TryRecvError::disconnected);
}

TEST(MpscHandles, ReceiverSelfMoveAssignmentKeepsTheChannel) {
  auto [tx_end, rx_end] = mpsc::unbounded_channel<int>();
  auto& tx = tx_end;
  auto& rx = rx_end;
  tx.send(1).value();
  rx = std::move(same(rx));
  EXPECT_FALSE(tx.is_closed());
  EXPECT_EQ(rx.try_recv().value(), 1);
}

TEST(BroadcastHandles, ReceiverMoveAndSelfAssignment) {
  auto [tx_end, rx_end] = broadcast::channel<int>(4);
  auto& tx = tx_end;
  auto& rx = rx_end;
  auto other = broadcast::channel<int>(4);
  tx.send(1).value();
  other.first.send(7).value();  // other's receiver sees it
  rx = std::move(same(rx));
  EXPECT_EQ(tx.receiver_count(), 1u);
  EXPECT_EQ(rx.try_recv().value(), 1);
  rx = std::move(other.second);
  EXPECT_EQ(tx.receiver_count(), 0u) << "the old receiver left at once";
  EXPECT_EQ(rx.try_recv().value(), 7);
}

// ---------------------------------------------------------------------------------------------
// Sender move-, copy- and self-assignment

TEST(MpscHandles, SenderMoveAssignmentLeavesTheOldChannelAtOnce) {
  auto a = mpsc::unbounded_channel<int>();
  auto b = mpsc::unbounded_channel<int>();
  auto moved_from = b.first;
  a.first = std::move(moved_from);  // a's only sender is gone
  EXPECT_EQ(a.second.sender_count(), 0u);
  EXPECT_EQ(a.second.try_recv().error(), mpsc::TryRecvError::disconnected);
  EXPECT_EQ(b.second.sender_count(), 2u);
  auto refused = moved_from.send(5);  // NOLINT: a moved-from sender refuses and hands back
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().value, 5);
  EXPECT_EQ(a.second.try_recv().error(), mpsc::TryRecvError::disconnected) << "nothing lands in a";
  a.first.send(6).value();
  EXPECT_EQ(b.second.try_recv().value(), 6);
}

TEST(MpscHandles, BoundedSenderMoveAssignmentLeavesTheOldChannelAtOnce) {
  auto a = mpsc::channel<int>(2);
  auto b = mpsc::channel<int>(2);
  auto moved_from = b.first;
  a.first = std::move(moved_from);
  EXPECT_EQ(a.second.try_recv().error(), mpsc::TryRecvError::disconnected);
  auto refused = moved_from.try_send(5);  // NOLINT
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, TrySendErrorKind::closed);
  EXPECT_EQ(refused.error().value, 5);
  auto sent = run_sync(moved_from.send(6));  // NOLINT
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().value, 6);
  EXPECT_FALSE(run_sync(moved_from.reserve()).has_value());  // NOLINT
}

TEST(MpscHandles, SenderCopyAndSelfAssignment) {
  auto a = mpsc::unbounded_channel<int>();
  auto b = mpsc::unbounded_channel<int>();
  a.first = same(a.first);
  a.first = std::move(same(a.first));
  EXPECT_EQ(a.second.sender_count(), 1u);
  a.first.send(1).value();
  a.first = b.first;  // copy-assigned: a's channel loses its only sender at once
  EXPECT_EQ(a.second.sender_count(), 0u);
  EXPECT_EQ(b.second.sender_count(), 2u);
  EXPECT_EQ(a.second.try_recv().value(), 1);
  EXPECT_EQ(a.second.try_recv().error(), mpsc::TryRecvError::disconnected);
}

TEST(BroadcastHandles, SenderMoveAndSelfAssignment) {
  auto a = broadcast::channel<int>(2);
  auto b = broadcast::channel<int>(2);
  a.first = same(a.first);
  a.first = std::move(same(a.first));
  EXPECT_FALSE(a.second.is_closed());
  auto moved_from = b.first;
  a.first = std::move(moved_from);
  EXPECT_TRUE(a.second.is_closed()) << "a's only sender left at once";
  EXPECT_EQ(a.second.try_recv().error().kind, broadcast::RecvError::closed);
  auto refused = moved_from.send(3);  // NOLINT
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().value, 3);
  a.first.send(4).value();
  EXPECT_EQ(b.second.try_recv().value(), 4);
}

// ---------------------------------------------------------------------------------------------
// Capacities at their limits

TEST(MpscHandles, CapacityAboveTheLimitIsRefused) {
  EXPECT_THROW(mpsc::channel<int>(std::numeric_limits<std::size_t>::max()), std::invalid_argument);
  EXPECT_THROW(mpsc::channel<int>(std::size_t{1} << 63), std::invalid_argument);
  EXPECT_THROW(mpsc::channel<int>(mpsc::max_capacity + 1), std::invalid_argument);
  EXPECT_THROW(mpsc::channel<int>(0), std::invalid_argument);
}

TEST(MpscHandles, CapacityAtTheLimitWorks) {
  auto [tx_end, rx_end] = mpsc::channel<int>(mpsc::max_capacity);
  auto& tx = tx_end;
  auto& rx = rx_end;
  EXPECT_EQ(tx.capacity(), mpsc::max_capacity);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(tx.try_send(i)) << "an empty channel is not full";
  EXPECT_TRUE(run_sync(tx.send(100)));
  for (int i = 0; i <= 100; ++i) EXPECT_EQ(rx.try_recv().value(), i);
}

TEST(BroadcastHandles, CapacityLimits) {
  EXPECT_THROW(broadcast::channel<int>(0), std::invalid_argument);
  EXPECT_THROW(broadcast::channel<int>(std::numeric_limits<std::size_t>::max()), std::invalid_argument);
  EXPECT_EQ(broadcast::channel<int>(1).first.capacity(), 1u);
  EXPECT_EQ(broadcast::channel<int>(5).first.capacity(), 8u);
}

// ---------------------------------------------------------------------------------------------
// A refused value comes back as the very object, move-only ones included

TEST(MpscHandles, RefusedMoveOnlyValuesComeBackAsTheVeryObject) {
  auto [tx_end, rx_end] = mpsc::unbounded_channel<std::unique_ptr<int>>();
  auto& tx = tx_end;
  auto btx_rx = mpsc::channel<std::unique_ptr<int>>(1);
  auto& btx = btx_rx.first;
  auto permit = run_sync(btx.reserve());
  ASSERT_TRUE(permit.has_value());
  { auto gone = std::move(rx_end); }
  { auto gone = std::move(btx_rx.second); }  // gone: even the permit cannot send

  auto value = std::make_unique<int>(1);
  int* const raw = value.get();
  auto sent = tx.send(std::move(value));
  ASSERT_FALSE(sent);
  std::unique_ptr<int> back = std::move(sent).error().value;
  EXPECT_EQ(back.get(), raw) << "unbounded send";

  auto tried = btx.try_send(std::move(back));
  ASSERT_FALSE(tried);
  EXPECT_EQ(tried.error().kind, TrySendErrorKind::closed);
  back = std::move(tried).error().value;
  EXPECT_EQ(back.get(), raw) << "try_send";

  auto awaited = run_sync(btx.send(std::move(back)));
  ASSERT_FALSE(awaited);
  back = std::move(awaited).error().value;
  EXPECT_EQ(back.get(), raw) << "bounded send";

  auto through_permit = std::move(*permit).send(std::move(back));
  ASSERT_FALSE(through_permit);
  back = std::move(through_permit).error().value;
  EXPECT_EQ(back.get(), raw) << "Permit::send";
  EXPECT_EQ(*back, 1);
}

TEST(MpscHandles, TrySendOnAFullChannelGivesTheMoveOnlyValueBack) {
  auto [tx_end, rx_end] = mpsc::channel<std::unique_ptr<int>>(1);
  auto& tx = tx_end;
  ASSERT_TRUE(tx.try_send(std::make_unique<int>(0)));
  auto value = std::make_unique<int>(1);
  int* const raw = value.get();
  auto full = tx.try_send(std::move(value));
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().kind, TrySendErrorKind::full);
  EXPECT_EQ(full.error().value.get(), raw) << "readable in place";
  auto back = std::move(full).error().value;
  EXPECT_EQ(back.get(), raw);
  EXPECT_EQ(*rx_end.try_recv().value(), 0);
}

TEST(BroadcastHandles, RefusedValueComesBackAsTheVeryObject) {
  auto [tx_end, rx_end] = broadcast::channel<std::vector<int>>(2);
  auto& tx = tx_end;
  { auto gone = std::move(rx_end); }
  std::vector<int> value(1000, 7);
  const int* const data = value.data();
  auto sent = tx.send(std::move(value));
  ASSERT_FALSE(sent);
  std::vector<int> back = std::move(sent).error().value;
  EXPECT_EQ(back.data(), data) << "moved back, not copied";
}

TEST(ResultType, ValueErrorAndThrowing) {
  Result<int, mpsc::TryRecvError> ok = 3;
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, 3);
  EXPECT_EQ(ok.value(), 3);
  Result<int, mpsc::TryRecvError> bad = mpsc::TryRecvError::empty;
  ASSERT_FALSE(bad);
  EXPECT_TRUE(bad.has_error());
  EXPECT_EQ(bad.error(), mpsc::TryRecvError::empty);
  EXPECT_THROW(bad.value(), ChannelError);
  Result<void, SendError<std::unique_ptr<int>>> fine;
  EXPECT_TRUE(fine);
  EXPECT_NO_THROW(fine.value());
  Result<void, SendError<std::unique_ptr<int>>> refused = SendError<std::unique_ptr<int>>{std::make_unique<int>(4)};
  EXPECT_THROW(refused.value(), ChannelError);
  EXPECT_EQ(*refused.error().value, 4);
}

// ---------------------------------------------------------------------------------------------
// Dropping the receiver destroys what is queued at once

TEST(MpscHandles, DroppingTheReceiverDestroysTheQueuedValuesWhileSendersLive) {
  Counted::reset();
  {
    auto [tx_end, rx_end] = mpsc::unbounded_channel<Counted>();
    auto& tx = tx_end;
    for (int i = 0; i < 100; ++i) tx.send(Counted(i)).value();
    EXPECT_EQ(Counted::alive.load(), 100);
    { auto gone = std::move(rx_end); }
    EXPECT_EQ(Counted::alive.load(), 0) << "the backlog goes with the receiver";
    EXPECT_EQ(tx.len(), 0u);
    EXPECT_FALSE(tx.send(Counted(100)));
    EXPECT_EQ(Counted::alive.load(), 0);
  }
  EXPECT_EQ(Counted::alive.load(), 0);
}

TEST(MpscHandles, DroppingABoundedReceiverDestroysTheQueuedValuesAndFreesTheRoom) {
  Counted::reset();
  {
    auto [tx_end, rx_end] = mpsc::channel<Counted>(4);
    auto& tx = tx_end;
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(tx.try_send(Counted(i)));
    { auto gone = std::move(rx_end); }
    EXPECT_EQ(Counted::alive.load(), 0);
    auto r = tx.try_send(Counted(9));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, TrySendErrorKind::closed);
    EXPECT_EQ(r.error().value.id, 9);
  }
  EXPECT_EQ(Counted::alive.load(), 0);
}

TEST(MpscHandles, AssigningOverAReceiverDestroysItsQueuedValues) {
  Counted::reset();
  {
    auto a = mpsc::unbounded_channel<Counted>();
    auto b = mpsc::unbounded_channel<Counted>();
    for (int i = 0; i < 10; ++i) a.first.send(Counted(i)).value();
    a.second = std::move(b.second);
    EXPECT_EQ(Counted::alive.load(), 0);
  }
  EXPECT_EQ(Counted::alive.load(), 0);
}

// ---------------------------------------------------------------------------------------------
// try_recv behind a send that has claimed its place and not yet written its value

// Its move constructor (the one that writes it into the channel) waits at a gate.
struct Stalling {
  struct Gate {
    std::atomic<bool> reached{false};
    std::atomic<bool> open{false};
  };
  Gate* gate = nullptr;
  int id = 0;
  std::shared_ptr<int> token;  // counts the live copies of what a test sends
  Stalling(Gate* g, int i, std::shared_ptr<int> t = {}) : gate(g), id(i), token(std::move(t)) {}
  Stalling(Stalling&& o) noexcept : gate(o.gate), id(o.id), token(std::move(o.token)) {
    if (gate) {
      gate->reached.store(true);
      while (!gate->open.load()) std::this_thread::yield();
    }
  }
  Stalling& operator=(Stalling&&) noexcept = default;
};

TEST(MpscHandles, TryRecvDoesNotSayEmptyWhileACompletedSendIsQueuedBehindAStalledOne) {
  Watchdog watchdog;
  auto [tx_end, rx_end] = mpsc::unbounded_channel<Stalling>();
  auto& tx = tx_end;
  auto& rx = rx_end;
  Stalling::Gate gate;
  // jthreads: joined on every path out of the test, also when an assertion returns early.
  std::jthread stalled([&] { tx.send(Stalling(&gate, 1)).value(); });  // claims place 0, stalls
  while (!gate.reached.load()) std::this_thread::yield();
  ASSERT_TRUE(tx.send(Stalling(nullptr, 2)));  // place 1: this send has returned
  EXPECT_EQ(rx.len(), 2u);
  std::jthread opener([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    gate.open.store(true);
  });
  auto first = rx.try_recv();  // waits for the stalled send, as tokio's does
  ASSERT_TRUE(first) << "try_recv said empty with a completed send queued";
  EXPECT_EQ(first->id, 1);
  auto second = rx.try_recv();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->id, 2);
  EXPECT_EQ(rx.try_recv().error(), mpsc::TryRecvError::empty);
}

TEST(MpscHandles, DroppingTheReceiverWaitsForASendStillWritingAndDestroysEverything) {
  Watchdog watchdog;
  auto token = std::make_shared<int>(0);
  {
    auto [tx_end, rx_end] = mpsc::unbounded_channel<Stalling>();
    auto& tx = tx_end;
    Stalling::Gate gate;
    std::jthread stalled([&] { tx.send(Stalling(&gate, 1, token)).value(); });  // claims place 0, stalls
    while (!gate.reached.load()) std::this_thread::yield();
    ASSERT_TRUE(tx.send(Stalling(nullptr, 2, token)));  // place 1, behind the stalled one
    EXPECT_EQ(token.use_count(), 3);
    std::jthread opener([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      gate.open.store(true);
    });
    { auto gone = std::move(rx_end); }  // waits for place 0 to be written, destroys both
    EXPECT_EQ(token.use_count(), 1) << "values behind a send still writing stayed in the channel";
    EXPECT_FALSE(tx.send(Stalling(nullptr, 3, token)));
    EXPECT_EQ(token.use_count(), 1);
  }
  EXPECT_EQ(token.use_count(), 1);
}

}  // namespace

}  // namespace handles_test
