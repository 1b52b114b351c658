// The exception paths of every channel operation that copies or allocates a user's value: a copy
// that throws (on the sender's or a receiver's side of a broadcast), a buffer that cannot grow
// (`recv_many`). After each, nothing is stuck, lost or destroyed twice.

#include <swarmsync/channels/broadcast.hpp>
#include <swarmsync/channels/mpsc.hpp>

#include "support/allocation_counter.hpp"
#include "support/async.hpp"
#include "support/fragile.hpp"
#include "support/watchdog.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <new>
#include <stdexcept>
#include <vector>

namespace exception_safety_test {

namespace {

using namespace swarmsync;
using swarmsync::test::Fragile;
using swarmsync::test::run_sync;
using swarmsync::test::Watchdog;

// ---------------------------------------------------------------------------------------------
// Broadcast: a receiver's copy throws

TEST(BroadcastExceptions, AReceiversCopyThatThrowsReleasesItsPinAndMovesOn) {
  Watchdog watchdog;  // without the fix, the sends below spin for ever on the pinned slot
  Fragile::reset();
  {
    auto [tx_end, rx_end] = broadcast::channel<Fragile>(4);
    auto& tx = tx_end;
    auto& rx = rx_end;
    auto rx2 = tx.subscribe();
    tx.send(Fragile(0)).value();
    tx.send(Fragile(1)).value();
    Fragile::throw_on_next_copy();
    EXPECT_THROW((void)rx.try_recv(), std::runtime_error);
    EXPECT_EQ(rx.try_recv().value().id, 1) << "the receiver moved past the value it could not copy";
    EXPECT_EQ(rx.try_recv().error().kind, broadcast::RecvError::empty);

    Fragile::throw_on_next_copy();
    EXPECT_THROW(run_sync([&]() -> asio::awaitable<void> { (void)co_await rx2.recv(); }()),
                 std::runtime_error);  // awaited, too; rx2 is at 1 now
    for (int i = 2; i <= 21; ++i) tx.send(Fragile(i)).value();  // wraps the ring 5 times
    auto lag = rx2.try_recv();
    ASSERT_FALSE(lag);
    EXPECT_EQ(lag.error().kind, broadcast::RecvError::lagged);
    EXPECT_EQ(lag.error().skipped, 17u);
    for (int i = 18; i <= 21; ++i) EXPECT_EQ(rx2.try_recv().value().id, i);
    EXPECT_EQ(rx2.try_recv().error().kind, broadcast::RecvError::empty);
    auto rx_lag = rx.try_recv();  // rx read 0 and 1 before the wrap: it lagged too
    ASSERT_FALSE(rx_lag);
    EXPECT_EQ(rx_lag.error().skipped, 16u);
    for (int i = 18; i <= 21; ++i) EXPECT_EQ(rx.try_recv().value().id, i);
  }
  EXPECT_EQ(Fragile::alive.load(), 0);
}

// ---------------------------------------------------------------------------------------------
// Broadcast: the sender's copy throws

TEST(BroadcastExceptions, ASendWhoseCopyThrowsLeavesAHoleThatEveryonePasses) {
  Watchdog watchdog;  // without the fix, a send a lap later spins for ever on the slot
  Fragile::reset();
  {
    auto [tx_end, rx_end] = broadcast::channel<Fragile>(4);
    auto& tx = tx_end;
    auto& rx = rx_end;
    tx.send(Fragile(0)).value();
    const Fragile original(1);
    Fragile::throw_on_next_copy();
    EXPECT_THROW((void)tx.send(original), std::runtime_error);  // a copy: it throws
    tx.send(Fragile(2)).value();
    EXPECT_EQ(rx.try_recv().value().id, 0);
    auto next = rx.try_recv();
    ASSERT_TRUE(next) << "the receiver must pass the hole, not report empty at it";
    EXPECT_EQ(next->id, 2);
    EXPECT_EQ(rx.try_recv().error().kind, broadcast::RecvError::empty);

    // Senders wrap over the hole's slot several times; a parked receiver wakes for each value.
    asio::io_context ioc;
    auto got = asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<std::vector<std::int64_t>> {
          std::vector<std::int64_t> ids;
          while (ids.size() < 3) {
            auto r = co_await rx.recv();
            if (r) ids.push_back(r->id);
          }
          co_return ids;
        },
        asio::use_future);
    ioc.poll();  // parked
    for (int i = 3; i < 6; ++i) {
      tx.send(Fragile(i)).value();
      ioc.restart();  // a context whose work ran out is stopped
      ioc.poll();
    }
    EXPECT_EQ(got.get(), (std::vector<std::int64_t>{3, 4, 5}));
    for (int i = 6; i < 30; ++i) {
      if (i % 5 == 0) {
        Fragile::throw_on_next_copy();
        EXPECT_THROW((void)tx.send(original), std::runtime_error);
      } else {
        tx.send(Fragile(i)).value();
      }
    }
    auto lag = rx.try_recv();
    ASSERT_FALSE(lag);
    EXPECT_EQ(lag.error().kind, broadcast::RecvError::lagged);
    std::vector<std::int64_t> tail;
    while (auto r = rx.try_recv()) tail.push_back(r->id);
    EXPECT_EQ(tail, (std::vector<std::int64_t>{26, 27, 28, 29})) << "the ring's last positions";
  }
  EXPECT_EQ(Fragile::alive.load(), 0) << "every value destroyed once, holes never";
}

TEST(BroadcastExceptions, ASendWhoseCopyThrowsInAFullRingLosesOnlyTheOverwrittenValue) {
  Fragile::reset();
  {
    auto [tx_end, rx_end] = broadcast::channel<Fragile>(2);
    auto& tx = tx_end;
    auto& rx = rx_end;
    tx.send(Fragile(0)).value();
    tx.send(Fragile(1)).value();
    const Fragile original(2);
    Fragile::throw_on_next_copy();
    EXPECT_THROW((void)tx.send(original), std::runtime_error);  // claims position 2, over 0
    auto lag = rx.try_recv();
    ASSERT_FALSE(lag);
    EXPECT_EQ(lag.error().kind, broadcast::RecvError::lagged);
    EXPECT_EQ(lag.error().skipped, 1u);
    EXPECT_EQ(rx.try_recv().value().id, 1);
    EXPECT_EQ(rx.try_recv().error().kind, broadcast::RecvError::empty);
    EXPECT_EQ(Fragile::alive.load(), 2) << "value 1 and the original; the hole holds nothing";
  }
  EXPECT_EQ(Fragile::alive.load(), 0);
}

// ---------------------------------------------------------------------------------------------
// mpsc recv_many: the buffer's growth throws

struct Big {
  std::array<char, 4096> bytes{};
  int id = 0;
  explicit Big(int i) : id(i) {}
};

TEST(MpscExceptions, RecvManyWhoseBufferCannotGrowTakesNothingAndKeepsTheRoom) {
  if (!test::allocation_counting())
    GTEST_SKIP() << "allocation failures are injected through operator new, which sanitizers own";
  auto [tx_end, rx_end] = mpsc::channel<Big>(4);
  auto& tx = tx_end;
  auto& rx = rx_end;
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(tx.try_send(Big(i)));
  std::vector<Big> buffer;
  asio::io_context ioc;
  auto taking = asio::co_spawn(ioc, rx.recv_many(buffer, 4), asio::use_future);
  test::fail_allocations_of_at_least(2 * sizeof(Big));  // room for one value, not two
  ioc.run();
  test::fail_allocations_of_at_least(0);
  EXPECT_THROW(taking.get(), std::bad_alloc);
  EXPECT_EQ(rx.len(), 4u) << "a value taken out was lost";
  auto full = tx.try_send(Big(4));
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().kind, TrySendErrorKind::full);

  EXPECT_EQ(run_sync(rx.recv_many(buffer, 4)), 4u);
  ASSERT_EQ(buffer.size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(buffer[static_cast<std::size_t>(i)].id, i);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(tx.try_send(Big(10 + i))) << "capacity 4 again, slot " << i;
}

TEST(MpscExceptions, RecvManyFillsAnExistingBufferWithoutLosingAValue) {
  auto [tx_end, rx_end] = mpsc::channel<int>(8);
  auto& tx = tx_end;
  auto& rx = rx_end;
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(tx.try_send(i));
  std::vector<int> buffer{-1};
  buffer.shrink_to_fit();
  EXPECT_EQ(run_sync(rx.recv_many(buffer, 5)), 5u);
  EXPECT_EQ(buffer, (std::vector<int>{-1, 0, 1, 2, 3, 4}));
  EXPECT_EQ(run_sync(rx.recv_many(buffer, 100)), 3u);
  EXPECT_EQ(buffer.size(), 9u);
  for (int i = 0; i < 8; ++i) EXPECT_TRUE(tx.try_send(i));
}

}  // namespace

}  // namespace exception_safety_test
