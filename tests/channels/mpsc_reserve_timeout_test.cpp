// Bounded senders that reserve room for many values at once (`reserve_many`, `try_reserve_many`,
// `Permits`) or give up after a timeout (`send_timeout`), and timeouts at the clock's limits.

#include <swarmsync/channels/broadcast.hpp>
#include <swarmsync/channels/mpsc.hpp>

#include "support/async.hpp"
#include "support/counted.hpp"
#include "support/watchdog.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <future>
#include <optional>
#include <thread>
#include <vector>

namespace mpsc_reserve_timeout_test {
namespace {

using namespace swarmsync;
using namespace std::chrono_literals;
using swarmsync::test::Counted;
using swarmsync::test::run_sync;
using swarmsync::test::scaled;

// --- send_timeout ---------------------------------------------------------------------------------

TEST(MpscSendTimeout, FullChannelTimesOutAndGivesTheValueBack) {
  Counted::reset();
  {
    auto [tx_end, rx_end] = mpsc::channel<Counted>(1);
    auto& tx = tx_end;
    auto& rx = rx_end;
    ASSERT_TRUE(tx.try_send(Counted(1)));
    auto r = run_sync(tx.send_timeout(Counted(2), 5ms));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().kind, SendTimeoutErrorKind::timed_out);
    EXPECT_EQ(r.error().value.id, 2);
    EXPECT_EQ(tx.refused_count(), 1u);
    EXPECT_EQ(tx.waiting_senders(), 0u);  // the timed-out wait left the queue
    EXPECT_EQ(rx.len(), 1u);
    EXPECT_EQ(rx.try_recv()->id, 1);
    // The room freed is free: nothing kept it.
    EXPECT_TRUE(tx.try_reserve());
  }
  EXPECT_EQ(Counted::alive, 0);
}

TEST(MpscSendTimeout, ClosedReceiverGivesTheValueBackAsClosed) {
  auto [tx_end, rx_end] = mpsc::channel<Counted>(1);
  auto& tx = tx_end;
  rx_end.close();
  auto r = run_sync(tx.send_timeout(Counted(3), 1s));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, SendTimeoutErrorKind::closed);
  EXPECT_EQ(r.error().value.id, 3);
  EXPECT_THROW((void)r.value(), ChannelError);
  mpsc::Sender<Counted> moved = std::move(tx);
  auto from_moved = run_sync(tx.send_timeout(Counted(4), 1s));
  ASSERT_FALSE(from_moved);
  EXPECT_EQ(from_moved.error().kind, SendTimeoutErrorKind::closed);
}

TEST(MpscSendTimeout, ReceiverClosingWhileItWaitsGivesTheValueBack) {
  auto [tx_end, rx_end] = mpsc::channel<int>(1);
  auto& tx = tx_end;
  auto& rx = rx_end;
  ASSERT_TRUE(tx.try_send(1));
  asio::io_context ioc;
  auto fut = asio::co_spawn(ioc, tx.send_timeout(2, 1h), asio::use_future);
  ioc.poll();
  EXPECT_EQ(tx.waiting_senders(), 1u);
  rx.close();
  ioc.run();
  auto r = fut.get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, SendTimeoutErrorKind::closed);
  EXPECT_EQ(r.error().value, 2);
}

TEST(MpscSendTimeout, RoomFreedInTimeSends) {
  auto [tx_end, rx_end] = mpsc::channel<int>(1);
  auto& tx = tx_end;
  auto& rx = rx_end;
  ASSERT_TRUE(tx.try_send(1));
  asio::io_context ioc;
  auto fut = asio::co_spawn(ioc, tx.send_timeout(2, 1h), asio::use_future);
  ioc.poll();
  EXPECT_EQ(rx.try_recv().value(), 1);
  ioc.run();
  EXPECT_TRUE(fut.get());
  EXPECT_EQ(rx.try_recv().value(), 2);
}

TEST(MpscSendTimeout, ZeroOrNegativeTimeoutStillTakesFreeRoom) {
  auto [tx_end, rx_end] = mpsc::channel<int>(2);
  auto& tx = tx_end;
  auto& rx = rx_end;
  EXPECT_TRUE(run_sync(tx.send_timeout(1, 0ms)));
  EXPECT_TRUE(run_sync(tx.send_timeout(2, -5s)));
  auto r = run_sync(tx.send_timeout(3, 0ms));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, SendTimeoutErrorKind::timed_out);
  EXPECT_EQ(rx.try_recv().value(), 1);
  EXPECT_EQ(rx.try_recv().value(), 2);
}

// A timeout at the end of the clock's range never expires (now + hours::max() would overflow).
TEST(MpscSendTimeout, TimeoutAtTheClocksLimitNeverExpires) {
  auto [tx_end, rx_end] = mpsc::channel<int>(1);
  auto& tx = tx_end;
  auto& rx = rx_end;
  ASSERT_TRUE(tx.try_send(1));
  asio::io_context ioc;
  auto a = asio::co_spawn(ioc, tx.send_timeout(2, std::chrono::hours::max()), asio::use_future);
  auto b = asio::co_spawn(ioc, tx.send_timeout(3, std::chrono::nanoseconds::max()), asio::use_future);
  for (int i = 0; i < 20; ++i) ioc.poll();
  EXPECT_EQ(tx.waiting_senders(), 2u);  // both still wait: neither timed out at once
  EXPECT_EQ(rx.try_recv().value(), 1);
  for (int i = 0; i < 20; ++i) ioc.poll();
  EXPECT_EQ(rx.try_recv().value(), 2);
  ioc.run();
  EXPECT_TRUE(a.get());
  EXPECT_TRUE(b.get());
  EXPECT_EQ(rx.try_recv().value(), 3);
}

TEST(MpscRecvFor, TimeoutAtTheClocksLimitNeverExpires) {
  auto [tx_end, rx_end] = mpsc::unbounded_channel<int>();
  auto& tx = tx_end;
  auto& rx = rx_end;
  auto [btx_end, brx_end] = broadcast::channel<int>(4);
  auto& btx = btx_end;
  auto& brx = brx_end;
  asio::io_context ioc;
  auto a = asio::co_spawn(ioc, rx.recv_for(std::chrono::hours::max()), asio::use_future);
  auto b = asio::co_spawn(ioc, brx.recv_for(std::chrono::hours::max()), asio::use_future);
  for (int i = 0; i < 20; ++i) ioc.poll();
  EXPECT_EQ(a.wait_for(0s), std::future_status::timeout);
  EXPECT_EQ(b.wait_for(0s), std::future_status::timeout);
  ASSERT_TRUE(tx.send(5));
  ASSERT_TRUE(btx.send(6));
  ioc.run();
  EXPECT_EQ(a.get().value(), 5);
  EXPECT_EQ(b.get().value(), 6);
}

TEST(MpscSendTimeout, CancelledSendTimeoutLeavesNothingBehind) {
  Counted::reset();
  {
    auto [tx_end, rx_end] = mpsc::channel<Counted>(1);
    auto& tx = tx_end;
    auto& rx = rx_end;
    ASSERT_TRUE(tx.try_send(Counted(1)));
    asio::io_context ioc;
    asio::cancellation_signal cancel;
    auto fut = asio::co_spawn(ioc, tx.send_timeout(Counted(2), 1h),
                              asio::bind_cancellation_slot(cancel.slot(), asio::use_future));
    ioc.poll();
    EXPECT_EQ(tx.waiting_senders(), 1u);
    cancel.emit(asio::cancellation_type::terminal);
    ioc.run();
    EXPECT_THROW((void)fut.get(), boost::system::system_error);
    EXPECT_EQ(tx.waiting_senders(), 0u);
    EXPECT_EQ(rx.try_recv()->id, 1);
    EXPECT_EQ(rx.try_recv().error(), mpsc::TryRecvError::empty);
    EXPECT_TRUE(tx.try_reserve());  // no room kept by the cancelled send
  }
  EXPECT_EQ(Counted::alive, 0);
}

// Senders with short timeouts against a receiver freeing room on another thread: every value is
// received or handed back, none twice, and no room is lost (the room handed to a sender as its
// timer fires is used).
TEST(MpscSendTimeout, TimeoutsRacingFreedRoomLoseNothing) {
  swarmsync::test::Watchdog watchdog;
  constexpr int capacity = 4;
  const std::int64_t per_sender = static_cast<std::int64_t>(scaled(20'000));
  constexpr int senders = 2;
  auto [tx_end, rx_end] = mpsc::channel<std::int64_t>(capacity);
  auto& rx = rx_end;
  std::atomic<std::int64_t> handed_back{0}, handed_back_sum{0};
  asio::io_context ioc;
  for (int s = 0; s < senders; ++s) {
    asio::co_spawn(
        ioc,
        [&, tx = tx_end, s]() -> asio::awaitable<void> {
          for (std::int64_t i = 0; i < per_sender; ++i) {
            const std::int64_t v = s * per_sender + i;
            auto r = co_await tx.send_timeout(v, std::chrono::microseconds(i % 7 * 20));
            if (!r) {
              EXPECT_EQ(r.error().kind, SendTimeoutErrorKind::timed_out);
              EXPECT_EQ(r.error().value, v);
              handed_back.fetch_add(1);
              handed_back_sum.fetch_add(v);
            }
          }
        },
        asio::detached);
  }
  { auto drop = std::move(tx_end); }  // the coroutines' copies are the senders now
  std::int64_t received = 0, received_sum = 0;
  std::thread consumer([&] {
    std::int64_t spin = 0;
    for (;;) {
      auto v = rx.blocking_recv();
      if (!v) break;
      ++received;
      received_sum += *v;
      if (++spin % 64 == 0) std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  });
  std::thread second([&] { ioc.run(); });
  ioc.run();
  second.join();
  consumer.join();
  const std::int64_t total = senders * per_sender;
  EXPECT_EQ(received + handed_back.load(), total);
  EXPECT_EQ(received_sum + handed_back_sum.load(), total * (total - 1) / 2);
}

// --- reserve_many ---------------------------------------------------------------------------------

TEST(MpscReserveMany, ReservesRoomForManyAtOnceAndSendsInOrder) {
  auto [tx_end, rx_end] = mpsc::channel<int>(4);
  auto& tx = tx_end;
  auto& rx = rx_end;
  auto permits = run_sync(tx.reserve_many(3));
  ASSERT_TRUE(permits);
  EXPECT_EQ(permits->size(), 3u);
  EXPECT_TRUE(tx.try_send(100));                                       // the fourth slot
  EXPECT_EQ(tx.try_send(101).error().kind, TrySendErrorKind::full);    // the other three are held
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(permits->send(i));
  EXPECT_TRUE(permits->empty());
  auto none_left = permits->send(9);
  ASSERT_FALSE(none_left);
  EXPECT_EQ(none_left.error().value, 9);
  EXPECT_EQ(rx.try_recv().value(), 100);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(rx.try_recv().value(), i);
}

TEST(MpscReserveMany, UnusedRoomComesBackWhenThePermitsGo) {
  auto [tx_end, rx_end] = mpsc::channel<int>(4);
  auto& tx = tx_end;
  {
    auto permits = tx.try_reserve_many(4);
    ASSERT_TRUE(permits);
    EXPECT_TRUE(permits->send(1));
    EXPECT_EQ(tx.try_reserve_many(1).error(), TrySendErrorKind::full);
  }
  EXPECT_TRUE(tx.try_reserve_many(3));  // three came back; one is queued
  EXPECT_EQ(tx.try_reserve_many(4).error(), TrySendErrorKind::full);
  EXPECT_EQ(rx_end.len(), 1u);
}

TEST(MpscReserveMany, LimitsZeroAboveCapacityClosedAndMovedFrom) {
  auto [tx_end, rx_end] = mpsc::channel<int>(2);
  auto& tx = tx_end;
  auto zero = run_sync(tx.reserve_many(0));
  ASSERT_TRUE(zero);
  EXPECT_TRUE(zero->empty());
  EXPECT_FALSE(zero->next());
  EXPECT_FALSE(run_sync(tx.reserve_many(3)));  // could never be served: refused at once
  EXPECT_EQ(tx.try_reserve_many(3).error(), TrySendErrorKind::full);
  EXPECT_FALSE(run_sync(tx.reserve_many(static_cast<std::size_t>(-1))));
  rx_end.close();
  EXPECT_FALSE(run_sync(tx.reserve_many(1)));
  EXPECT_EQ(tx.try_reserve_many(1).error(), TrySendErrorKind::closed);
  mpsc::Sender<int> moved = std::move(tx);
  EXPECT_FALSE(run_sync(tx.reserve_many(1)));
  EXPECT_EQ(tx.try_reserve_many(1).error(), TrySendErrorKind::closed);
}

// A waiting reserve_many collects room as it is freed, and nobody behind it overtakes it.
TEST(MpscReserveMany, WaitersAreServedInFullInTheirTurn) {
  auto [tx_end, rx_end] = mpsc::channel<int>(3);
  auto& tx = tx_end;
  auto& rx = rx_end;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(tx.try_send(i));
  asio::io_context ioc;
  auto many = asio::co_spawn(ioc, tx.reserve_many(3), asio::use_future);
  ioc.poll();
  auto one = asio::co_spawn(ioc, tx.reserve(), asio::use_future);
  ioc.poll();
  EXPECT_EQ(tx.waiting_senders(), 2u);
  EXPECT_EQ(rx.try_recv().value(), 0);
  ioc.poll();
  EXPECT_EQ(one.wait_for(0s), std::future_status::timeout);  // the freed slot went to reserve_many
  EXPECT_EQ(tx.try_send(9).error().kind, TrySendErrorKind::full);
  EXPECT_EQ(rx.try_recv().value(), 1);
  EXPECT_EQ(rx.try_recv().value(), 2);
  ioc.poll();
  ASSERT_EQ(many.wait_for(0s), std::future_status::ready);
  auto permits = many.get();
  ASSERT_TRUE(permits);
  EXPECT_EQ(permits->size(), 3u);
  EXPECT_EQ(one.wait_for(0s), std::future_status::timeout);
  { auto drop = std::move(permits); }  // room back: the single reserve is served now
  ioc.run();
  EXPECT_TRUE(one.get());
}

// Two reserve_many that each need the whole channel do not end up holding half of it each.
TEST(MpscReserveMany, TwoWholeChannelReservesDoNotDeadlock) {
  swarmsync::test::Watchdog watchdog;
  auto [tx_end, rx_end] = mpsc::channel<int>(4);
  auto& rx = rx_end;
  asio::io_context ioc;
  std::atomic<int> batches{0};
  for (int w = 0; w < 2; ++w) {
    asio::co_spawn(
        ioc,
        [&, tx = tx_end, w]() -> asio::awaitable<void> {
          for (int round = 0; round < 200; ++round) {
            auto permits = co_await tx.reserve_many(4);
            EXPECT_TRUE(permits);
            if (!permits) co_return;
            for (int i = 0; i < 4; ++i) EXPECT_TRUE(permits->send(w * 1000 + i));
            batches.fetch_add(1);
          }
        },
        asio::detached);
  }
  { auto drop = std::move(tx_end); }
  int got = 0;
  std::thread consumer([&] {
    while (rx.blocking_recv()) ++got;
  });
  std::thread second([&] { ioc.run(); });
  ioc.run();
  second.join();
  consumer.join();
  EXPECT_EQ(batches.load(), 400);
  EXPECT_EQ(got, 1600);
}

TEST(MpscReserveMany, CancelledWaiterPassesTheRoomItCollectedOn) {
  auto [tx_end, rx_end] = mpsc::channel<int>(2);
  auto& tx = tx_end;
  auto& rx = rx_end;
  ASSERT_TRUE(tx.try_send(1));
  ASSERT_TRUE(tx.try_send(2));
  asio::io_context ioc;
  asio::cancellation_signal cancel;
  auto many = asio::co_spawn(ioc, tx.reserve_many(2), asio::bind_cancellation_slot(cancel.slot(), asio::use_future));
  ioc.poll();
  auto one = asio::co_spawn(ioc, tx.reserve(), asio::use_future);
  ioc.poll();
  EXPECT_EQ(rx.try_recv().value(), 1);  // reserve_many collects this slot and waits for another
  ioc.poll();
  EXPECT_EQ(one.wait_for(0s), std::future_status::timeout);
  cancel.emit(asio::cancellation_type::terminal);
  ioc.run();
  EXPECT_THROW((void)many.get(), boost::system::system_error);
  EXPECT_TRUE(one.get());  // the collected slot went on
  EXPECT_EQ(tx.waiting_senders(), 0u);
}

TEST(MpscReserveMany, PermitsKeepTheChannelOpenAndSendAfterClose) {
  auto [tx_end, rx_end] = mpsc::channel<int>(3);
  auto& rx = rx_end;
  auto permits = tx_end.try_reserve_many(3);
  ASSERT_TRUE(permits);
  { auto drop = std::move(tx_end); }
  EXPECT_EQ(rx.sender_count(), 1u);  // the permits count as a sender
  rx.close();
  EXPECT_TRUE(permits->send(1));  // reserved before the close: still sends
  auto one = permits->next();
  ASSERT_TRUE(one);
  EXPECT_EQ(permits->size(), 1u);
  EXPECT_TRUE(std::move(*one).send(2));
  EXPECT_EQ(rx.try_recv().value(), 1);
  EXPECT_EQ(rx.try_recv().value(), 2);
  EXPECT_EQ(rx.try_recv().error(), mpsc::TryRecvError::empty);  // one unit still held
  { auto drop = std::move(*permits); }
  EXPECT_EQ(rx.try_recv().error(), mpsc::TryRecvError::disconnected);
}

TEST(MpscReserveMany, PermitsMoveAssignmentGivesBackTheOldRoomFirst) {
  auto [tx_end, rx_end] = mpsc::channel<int>(4);
  auto& tx = tx_end;
  auto a = tx.try_reserve_many(2);
  auto b = tx.try_reserve_many(2);
  ASSERT_TRUE(a);
  ASSERT_TRUE(b);
  auto none = tx.try_reserve();
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error(), TrySendErrorKind::full);
  *a = std::move(*b);  // a's two units go back
  EXPECT_EQ(a->size(), 2u);
  EXPECT_EQ(b->size(), 0u);
  auto three = tx.try_reserve_many(3);  // a holds b's two units now: two are free
  ASSERT_FALSE(three);
  EXPECT_EQ(three.error(), TrySendErrorKind::full);
  EXPECT_TRUE(tx.try_reserve_many(2));
  auto& self = *a;
  *a = std::move(self);
  EXPECT_EQ(a->size(), 2u);
  auto after_self = tx.try_reserve_many(3);  // self-assignment gave nothing back
  ASSERT_FALSE(after_self);
  EXPECT_EQ(after_self.error(), TrySendErrorKind::full);
  EXPECT_FALSE(b->send(5));  // moved-from: nothing left, the value comes back
  EXPECT_EQ(rx_end.len(), 0u);
}

TEST(MpscReserveMany, CountedPayloadsSentOrDestroyedOnce) {
  Counted::reset();
  {
    auto [tx_end, rx_end] = mpsc::channel<Counted>(8);
    auto permits = tx_end.try_reserve_many(5);
    ASSERT_TRUE(permits);
    EXPECT_TRUE(permits->send(Counted(1)));
    EXPECT_TRUE(permits->send(Counted(2)));
    { auto drop = std::move(rx_end); }  // receiver gone: sends hand the value back
    auto back = permits->send(Counted(3));
    ASSERT_FALSE(back);
    EXPECT_EQ(back.error().value.id, 3);
  }
  EXPECT_EQ(Counted::alive, 0);
}

}  // namespace
}  // namespace mpsc_reserve_timeout_test
