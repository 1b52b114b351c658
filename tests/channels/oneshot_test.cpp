// swarmsync::oneshot: every operation and error, moves of the handles, a counted payload, a
// cancellation race on a multi-threaded io_context and drops racing from two threads.

#include <swarmsync/channels/oneshot.hpp>

#include "support/async.hpp"
#include "support/counted.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>
#include <variant>
#include <vector>

namespace oneshot_test {
namespace {

using namespace swarmsync;
using namespace boost::asio::experimental::awaitable_operators;
using namespace std::chrono_literals;
using swarmsync::test::Counted;

TEST(Oneshot, SendThenRecvMoveOnly) {
  auto [tx, rx_end] = oneshot::channel<std::unique_ptr<int>>();
  auto& rx = rx_end;
  EXPECT_TRUE(std::move(tx).send(std::make_unique<int>(7)));
  auto got = test::run_sync(rx.recv());
  ASSERT_TRUE(got);
  EXPECT_EQ(**got, 7);
  auto again = test::run_sync(rx.recv());
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), oneshot::RecvError::closed);
}

TEST(Oneshot, SendToGoneReceiverGivesTheValueBack) {
  auto [tx, rx] = oneshot::channel<std::unique_ptr<int>>();
  { auto drop = std::move(rx); }
  EXPECT_TRUE(tx.is_closed());
  auto sent = std::move(tx).send(std::make_unique<int>(3));
  ASSERT_FALSE(sent);
  ASSERT_TRUE(std::move(sent).error().value);
  EXPECT_THROW(sent.value(), ChannelError);
}

TEST(Oneshot, SendAfterCloseFailsAndTryRecvSaysClosed) {
  auto [tx, rx] = oneshot::channel<int>();
  EXPECT_EQ(rx.try_recv().error(), oneshot::TryRecvError::empty);
  rx.close();
  rx.close();  // idempotent
  auto sent = std::move(tx).send(5);
  ASSERT_FALSE(sent);
  EXPECT_EQ(sent.error().value, 5);
  EXPECT_EQ(rx.try_recv().error(), oneshot::TryRecvError::closed);
  EXPECT_THROW((void)rx.try_recv().value(), ChannelError);
}

TEST(Oneshot, RecvWaitsAcrossThreads) {
  auto [tx_end, rx_end] = oneshot::channel<int>();
  auto& rx = rx_end;
  asio::io_context ioc;
  auto fut = asio::co_spawn(ioc, rx.recv(), asio::use_future);
  std::thread sender([tx = std::move(tx_end)]() mutable {
    std::this_thread::sleep_for(5ms);
    (void)std::move(tx).send(42);
  });
  ioc.run();
  sender.join();
  EXPECT_EQ(fut.get().value(), 42);
}

TEST(Oneshot, SenderClosedCompletesWhenReceiverGoesFromAnotherThread) {
  auto [tx_end, rx_end] = oneshot::channel<int>();
  auto& tx = tx_end;
  asio::io_context ioc;
  auto fut = asio::co_spawn(ioc, tx.closed(), asio::use_future);
  std::thread other([rx = std::move(rx_end)]() mutable {
    std::this_thread::sleep_for(5ms);
    auto drop = std::move(rx);
  });
  ioc.run();
  other.join();
  fut.get();
  EXPECT_TRUE(tx.is_closed());
}

TEST(Oneshot, ClosedIsCancellableAndAwaitableAgain) {
  auto [tx_end, rx_end] = oneshot::channel<int>();
  auto& tx = tx_end;
  auto& rx = rx_end;
  asio::io_context ioc;
  auto first = asio::co_spawn(ioc, [&]() -> asio::awaitable<int> {
    asio::steady_timer t(co_await asio::this_coro::executor, 2ms);
    auto r = co_await (tx.closed() || t.async_wait(asio::use_awaitable));
    co_return static_cast<int>(r.index());
  }(), asio::use_future);
  ioc.run();
  EXPECT_EQ(first.get(), 1);  // the timer won
  ioc.restart();
  auto second = asio::co_spawn(ioc, tx.closed(), asio::use_future);
  asio::post(ioc, [&] { rx.close(); });
  ioc.run();
  second.get();
}

TEST(Oneshot, CountedPayloadNeitherLeaksNorDoubleFrees) {
  Counted::reset();
  {  // received
    auto [tx, rx] = oneshot::channel<Counted>();
    EXPECT_TRUE(std::move(tx).send(Counted(1)));
    auto v = rx.try_recv();
    EXPECT_EQ(v->id, 1);
  }
  {  // sent, never received: the receiver's destruction drops it
    auto [tx, rx] = oneshot::channel<Counted>();
    EXPECT_TRUE(std::move(tx).send(Counted(2)));
    EXPECT_EQ(Counted::alive.load(), 1);
  }
  EXPECT_EQ(Counted::alive.load(), 0);
  {  // refused: comes back, once
    auto [tx, rx] = oneshot::channel<Counted>();
    rx.close();
    auto sent = std::move(tx).send(Counted(3));
    ASSERT_FALSE(sent);
    EXPECT_EQ(sent.error().value.id, 3);
    EXPECT_EQ(Counted::alive.load(), 1);
  }
  {  // sent, receiver closed after: still receivable
    auto [tx, rx] = oneshot::channel<Counted>();
    EXPECT_TRUE(std::move(tx).send(Counted(4)));
    rx.close();
    EXPECT_EQ(rx.try_recv()->id, 4);
  }
  EXPECT_EQ(Counted::alive.load(), 0);
}

TEST(Oneshot, MoveAssignmentOfEveryHandle) {
  Counted::reset();
  {
    auto [tx1, rx1] = oneshot::channel<Counted>();
    auto [tx2, rx2] = oneshot::channel<Counted>();
    EXPECT_TRUE(std::move(tx1).send(Counted(1)));
    rx1 = std::move(rx2);  // drops channel 1 and its value
    EXPECT_EQ(Counted::alive.load(), 0);
    EXPECT_EQ(rx1.try_recv().error(), oneshot::TryRecvError::empty);
    EXPECT_EQ(rx2.try_recv().error(), oneshot::TryRecvError::closed);  // moved-from
    EXPECT_TRUE(rx2.is_closed());

    auto [tx3, rx3] = oneshot::channel<Counted>();
    tx2 = std::move(tx3);  // channel 2's sender leaves: rx1 (now channel 2) sees closed
    EXPECT_EQ(rx1.try_recv().error(), oneshot::TryRecvError::closed);
    EXPECT_TRUE(tx3.is_closed());  // moved-from
    EXPECT_FALSE(std::move(tx3).send(Counted(9)));
    EXPECT_TRUE(std::move(tx2).send(Counted(3)));
    EXPECT_EQ(rx3.try_recv()->id, 3);
  }
  {
    auto [tx, rx] = oneshot::channel<Counted>();
    auto& tx_self = tx;
    auto& rx_self = rx;
    tx = std::move(tx_self);
    rx = std::move(rx_self);
    EXPECT_FALSE(tx.is_closed());
    EXPECT_TRUE(std::move(tx).send(Counted(5)));
    EXPECT_EQ(rx.try_recv()->id, 5);
  }
  EXPECT_EQ(Counted::alive.load(), 0);
}

// A receive raced against a timer with `||`, each race on a strand of a 4-thread io_context (the
// sender posts from any of its threads), many times: a value is received by the winning receive
// or, if the timer won, by a receive after it; never lost.
TEST(Oneshot, CancelledReceiveLosesNothing) {
  const int rounds = static_cast<int>(test::scaled(5000));
  Counted::reset();
  std::atomic<int> received{0}, timer_won{0};
  asio::io_context ioc;
  for (int i = 0; i < rounds; ++i) {
    auto [tx_end, rx_end] = oneshot::channel<Counted>();
    auto shared_rx = std::make_shared<oneshot::Receiver<Counted>>(std::move(rx_end));
    asio::co_spawn(asio::make_strand(ioc), [shared_rx, &received, &timer_won, i]() -> asio::awaitable<void> {
      asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::microseconds(i % 50));
      auto r = co_await (shared_rx->recv() || t.async_wait(asio::use_awaitable));
      if (r.index() == 0) {
        EXPECT_EQ(std::get<0>(r).value().id, i);
      } else {
        ++timer_won;
        auto late = co_await shared_rx->recv();
        EXPECT_EQ(late.value().id, i);
      }
      ++received;
    }, asio::detached);
    auto tx = std::make_shared<oneshot::Sender<Counted>>(std::move(tx_end));
    asio::co_spawn(ioc, [tx, i]() -> asio::awaitable<void> {
      asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::microseconds((i * 7) % 60));
      co_await t.async_wait(asio::use_awaitable);
      EXPECT_TRUE(std::move(*tx).send(Counted(i)));
    }, asio::detached);
  }
  test::run_on_threads(ioc, 4);
  EXPECT_EQ(received.load(), rounds);
  EXPECT_EQ(Counted::alive.load(), 0);
  std::printf("timer won %d of %d races\n", timer_won.load(), rounds);
}

// Both handles destroyed (or the sender sending) at once from two threads: every value is
// destroyed exactly once, nothing leaks (run under ThreadSanitizer in CI).
TEST(Oneshot, DropsRaceFromTwoThreads) {
  const int rounds = static_cast<int>(test::scaled(2000));
  Counted::reset();
  for (int i = 0; i < rounds; ++i) {
    auto [tx_end, rx_end] = oneshot::channel<Counted>();
    std::atomic<bool> go{false};
    std::thread a([&go, tx = std::move(tx_end), i]() mutable {
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      if (i % 2) (void)std::move(tx).send(Counted(i));
      else auto drop = std::move(tx);
    });
    std::thread b([&go, rx = std::move(rx_end), i]() mutable {
      go.store(true, std::memory_order_release);
      if (i % 3 == 0) rx.close();
      if (i % 5 == 0) (void)rx.try_recv();
      auto drop = std::move(rx);
    });
    a.join();
    b.join();
  }
  EXPECT_EQ(Counted::alive.load(), 0);
}

}  // namespace
}  // namespace oneshot_test
