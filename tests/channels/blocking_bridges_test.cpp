// The blocking bridges for plain threads outside Asio: `blocking_send` (bounded mpsc) and
// `blocking_recv` (mpsc, broadcast, oneshot), and their refusal on a thread that runs an Asio
// execution context.

#include <swarmsync/channels/broadcast.hpp>
#include <swarmsync/channels/mpsc.hpp>
#include <swarmsync/channels/oneshot.hpp>

#include "support/async.hpp"
#include "support/counted.hpp"
#include "support/watchdog.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace blocking_bridges_test {
namespace {

using namespace swarmsync;
using namespace std::chrono_literals;
using swarmsync::test::Counted;
using swarmsync::test::scaled;

// Runs `f` inside a handler of a running io_context and reports the logic_error's text it threw
// (empty if it threw none).
std::string refusal_inside_io_context(const std::function<void()>& f) {
  asio::io_context ioc;
  std::string what;
  asio::post(ioc, [&] {
    try {
      f();
    } catch (const std::logic_error& e) {
      what = e.what();
    }
  });
  ioc.run();
  return what;
}

TEST(BlockingBridges, MpscBlockingSendWaitsForRoomThatACoroutineFrees) {
  swarmsync::test::Watchdog watchdog;
  constexpr int n = static_cast<int>(scaled(50'000));
  auto [tx_end, rx_end] = mpsc::channel<int>(2);
  std::thread producer([tx = std::move(tx_end)] {
    for (int i = 0; i < n; ++i) ASSERT_TRUE(tx.blocking_send(i));
  });
  asio::io_context ioc;
  auto got = asio::co_spawn(
      ioc,
      [rx = std::move(rx_end)]() mutable -> asio::awaitable<int> {
        int expected = 0;
        while (auto v = co_await rx.recv()) {
          EXPECT_EQ(*v, expected);
          ++expected;
        }
        co_return expected;
      },
      asio::use_future);
  ioc.run();
  producer.join();
  EXPECT_EQ(got.get(), n);
}

TEST(BlockingBridges, MpscBlockingRecvTakesWhatACoroutineSendsThenEnds) {
  swarmsync::test::Watchdog watchdog;
  constexpr int n = static_cast<int>(scaled(50'000));
  auto [tx_end, rx_end] = mpsc::channel<int>(4);
  int received = 0;
  bool in_order = true;
  std::thread consumer([&, rx = std::move(rx_end)]() mutable {
    while (auto v = rx.blocking_recv()) {
      in_order = in_order && *v == received;
      ++received;
    }
  });
  asio::io_context ioc;
  asio::co_spawn(
      ioc,
      [tx = std::move(tx_end)]() -> asio::awaitable<void> {
        for (int i = 0; i < n; ++i) EXPECT_TRUE(co_await tx.send(i));
      },
      asio::detached);
  ioc.run();
  consumer.join();
  EXPECT_EQ(received, n);
  EXPECT_TRUE(in_order);
}

TEST(BlockingBridges, MpscManyPlainThreadsOnBothEnds) {
  swarmsync::test::Watchdog watchdog;
  constexpr std::int64_t per = static_cast<std::int64_t>(scaled(40'000));
  constexpr int producers = 4;
  auto [tx_end, rx_end] = mpsc::channel<std::int64_t>(8);
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p)
    threads.emplace_back([tx = tx_end, p] {
      for (std::int64_t i = 0; i < per; ++i) ASSERT_TRUE(tx.blocking_send(p * per + i));
    });
  { auto drop = std::move(tx_end); }
  std::int64_t count = 0, sum = 0;
  std::vector<std::int64_t> last(producers, -1);
  bool fifo = true;
  while (auto v = rx_end.blocking_recv()) {
    const auto p = *v / per;
    fifo = fifo && *v > last[p];
    last[p] = *v;
    ++count;
    sum += *v;
  }
  for (auto& t : threads) t.join();
  const std::int64_t total = producers * per;
  EXPECT_EQ(count, total);
  EXPECT_EQ(sum, total * (total - 1) / 2);
  EXPECT_TRUE(fifo);
}

TEST(BlockingBridges, MpscBlockingSendToAGoneReceiverGivesTheValueBack) {
  Counted::reset();
  {
    auto [tx_end, rx_end] = mpsc::channel<Counted>(1);
    auto& tx = tx_end;
    ASSERT_TRUE(tx.blocking_send(Counted(1)));
    std::thread closer([rx = std::move(rx_end)]() mutable {
      std::this_thread::sleep_for(5ms);
      auto drop = std::move(rx);  // while the sender below waits for room
    });
    auto r = tx.blocking_send(Counted(2));
    closer.join();
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().value.id, 2);
    auto again = tx.blocking_send(Counted(3));
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().value.id, 3);
    mpsc::Sender<Counted> moved = std::move(tx);
    EXPECT_EQ(tx.blocking_send(Counted(4)).error().value.id, 4);
  }
  EXPECT_EQ(Counted::alive, 0);
}

TEST(BlockingBridges, MpscBlockingRecvOfAClosedChannelDrainsThenEnds) {
  auto [tx_end, rx_end] = mpsc::unbounded_channel<int>();
  ASSERT_TRUE(tx_end.send(1));
  rx_end.close();
  EXPECT_EQ(rx_end.blocking_recv(), std::optional<int>(1));
  EXPECT_EQ(rx_end.blocking_recv(), std::nullopt);
}

TEST(BlockingBridges, BroadcastBlockingRecvGetsValuesLagAndClose) {
  swarmsync::test::Watchdog watchdog;
  auto [tx_end, rx_end] = broadcast::channel<int>(2);
  auto& rx = rx_end;
  for (int i = 0; i < 3; ++i) ASSERT_EQ(tx_end.send(i).value(), 1u);
  auto lag = rx.blocking_recv();
  ASSERT_FALSE(lag);
  EXPECT_EQ(lag.error().kind, broadcast::RecvError::lagged);
  EXPECT_EQ(lag.error().skipped, 1u);
  EXPECT_EQ(rx.blocking_recv().value(), 1);
  EXPECT_EQ(rx.blocking_recv().value(), 2);
  std::thread sender([tx = std::move(tx_end)] {
    std::this_thread::sleep_for(5ms);
    (void)tx.send(7);  // to the receiver waiting below
  });
  EXPECT_EQ(rx.blocking_recv().value(), 7);
  sender.join();
  auto end = rx.blocking_recv();
  ASSERT_FALSE(end);
  EXPECT_EQ(end.error().kind, broadcast::RecvError::closed);
}

TEST(BlockingBridges, OneshotBlockingRecvGetsTheValueOrClosed) {
  swarmsync::test::Watchdog watchdog;
  {
    auto [tx_end, rx_end] = oneshot::channel<Counted>();
    std::thread sender([tx = std::move(tx_end)]() mutable {
      std::this_thread::sleep_for(5ms);
      ASSERT_TRUE(std::move(tx).send(Counted(5)));
    });
    auto got = rx_end.blocking_recv();
    sender.join();
    ASSERT_TRUE(got);
    EXPECT_EQ(got->id, 5);
  }
  {
    auto [tx_end, rx_end] = oneshot::channel<int>();
    std::thread dropper([tx = std::move(tx_end)]() mutable {
      std::this_thread::sleep_for(5ms);
      auto drop = std::move(tx);
    });
    auto got = rx_end.blocking_recv();
    dropper.join();
    ASSERT_FALSE(got);
    EXPECT_EQ(got.error(), oneshot::RecvError::closed);
    EXPECT_EQ(rx_end.blocking_recv().error(), oneshot::RecvError::closed);  // already ended
  }
  EXPECT_EQ(Counted::alive, 0);
}

// Blocking a thread that runs an execution context could deadlock: refused, naming the call,
// also when a value is there and the call would not have waited (the refusal does not depend on
// timing).
TEST(BlockingBridges, RefusedOnAThreadThatRunsAnExecutionContext) {
  auto [tx_end, rx_end] = mpsc::channel<int>(1);
  auto& tx = tx_end;
  auto& rx = rx_end;
  EXPECT_NE(refusal_inside_io_context([&] { (void)tx.blocking_send(1); }).find("mpsc::Sender::blocking_send"),
            std::string::npos);
  EXPECT_EQ(rx.len(), 0u);  // nothing was sent
  ASSERT_TRUE(tx.try_send(1));
  const auto recv_refusal = refusal_inside_io_context([&] { (void)rx.blocking_recv(); });
  EXPECT_NE(recv_refusal.find("mpsc::Receiver::blocking_recv"), std::string::npos);
  EXPECT_NE(recv_refusal.find("co_await"), std::string::npos);
  EXPECT_EQ(rx.len(), 1u);  // nothing was taken

  auto [btx, brx_end] = broadcast::channel<int>(2);
  auto& brx = brx_end;
  EXPECT_NE(refusal_inside_io_context([&] { (void)brx.blocking_recv(); }).find("broadcast::Receiver::blocking_recv"),
            std::string::npos);
  auto [otx, orx_end] = oneshot::channel<int>();
  auto& orx = orx_end;
  EXPECT_NE(refusal_inside_io_context([&] { (void)orx.blocking_recv(); }).find("oneshot::Receiver::blocking_recv"),
            std::string::npos);

  // On a strand of a thread pool too.
  asio::thread_pool pool(1);
  std::promise<std::string> what;
  asio::post(asio::make_strand(pool), [&] {
    try {
      (void)rx.blocking_recv();
      what.set_value("");
    } catch (const std::logic_error& e) {
      what.set_value(e.what());
    }
  });
  EXPECT_NE(what.get_future().get().find("blocking_recv"), std::string::npos);
  pool.join();
  EXPECT_EQ(rx.blocking_recv(), std::optional<int>(1));  // from this plain thread it works
}

// A thread that ran an io_context before (and returned from run) is a plain thread again.
TEST(BlockingBridges, AllowedOnAThreadThatOnlyRanAContextBefore) {
  asio::io_context ioc;
  asio::post(ioc, [] {});
  ioc.run();
  auto [tx_end, rx_end] = mpsc::channel<int>(1);
  EXPECT_TRUE(tx_end.blocking_send(3));
  EXPECT_EQ(rx_end.blocking_recv(), std::optional<int>(3));
}

}  // namespace
}  // namespace blocking_bridges_test
