// Bounded senders waiting for room: served in the order they parked, one freed slot each, never
// overtaken by a sender that came later, and gone from the queue as soon as they are cancelled.

#include <swarmsync/channels/mpsc.hpp>

#include "support/allocation_counter.hpp"
#include "support/async.hpp"
#include "support/watchdog.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <vector>

namespace bounded_fairness_test {

namespace {

using namespace swarmsync;
using namespace asio::experimental::awaitable_operators;
using swarmsync::test::run_sync;
using swarmsync::test::Watchdog;

// Runs what is ready on `ioc`. A context whose work ran out is stopped: restart it first.
void poll(asio::io_context& ioc) {
  ioc.restart();
  ioc.poll();
}

// A bounded send of `value` on `ioc`, recording when it completes and how.
struct ParkedSend {
  bool done = false;
  bool sent = false;
  bool aborted = false;
};

std::shared_ptr<ParkedSend> spawn_send(asio::io_context& ioc, const mpsc::Sender<int>& tx, int value,
                                       asio::cancellation_slot slot = {}) {
  auto state = std::make_shared<ParkedSend>();
  asio::co_spawn(
      ioc,
      [tx, value, state]() -> asio::awaitable<void> {
        auto r = co_await tx.send(value);
        state->sent = static_cast<bool>(r);
        state->done = true;
      },
      asio::bind_cancellation_slot(slot, [state](std::exception_ptr e) {
        if (e) {
          state->aborted = true;
          state->done = true;
        }
      }));
  poll(ioc);  // runs until it parks
  return state;
}

std::vector<int> drain(mpsc::Receiver<int>& rx) {
  std::vector<int> out;
  while (auto v = rx.try_recv()) out.push_back(*v);
  return out;
}

TEST(BoundedFairness, ParkedSendersAreServedInTheOrderTheyParked) {
  auto [tx_end, rx_end] = mpsc::channel<int>(1);
  auto& tx = tx_end;
  auto& rx = rx_end;
  ASSERT_TRUE(tx.try_send(0));
  asio::io_context ioc;
  std::vector<std::shared_ptr<ParkedSend>> sends;
  for (int v = 10; v <= 12; ++v) sends.push_back(spawn_send(ioc, tx, v));
  EXPECT_EQ(rx.waiting_senders(), 3u);
  std::vector<int> got;
  for (int i = 0; i < 4; ++i) {
    got.push_back(rx.try_recv().value());
    poll(ioc);
  }
  EXPECT_EQ(got, (std::vector<int>{0, 10, 11, 12}));
  for (auto& s : sends) EXPECT_TRUE(s->sent);
  EXPECT_EQ(rx.waiting_senders(), 0u);
}

TEST(BoundedFairness, EachFreedSlotWakesOneSenderInOrderUnderRecvMany) {
  auto [tx_end, rx_end] = mpsc::channel<int>(2);
  auto& tx = tx_end;
  auto& rx = rx_end;
  ASSERT_TRUE(tx.try_send(0));
  ASSERT_TRUE(tx.try_send(1));
  asio::io_context ioc;
  auto a = spawn_send(ioc, tx, 10);
  auto b = spawn_send(ioc, tx, 11);
  auto c = spawn_send(ioc, tx, 12);
  std::vector<int> buffer;
  EXPECT_EQ(run_sync(rx.recv_many(buffer, 2)), 2u);  // frees two slots
  poll(ioc);
  EXPECT_TRUE(a->sent);
  EXPECT_TRUE(b->sent);
  EXPECT_FALSE(c->done) << "two freed slots wake two senders, not three";
  EXPECT_EQ(rx.waiting_senders(), 1u);
  EXPECT_EQ(run_sync(rx.recv_many(buffer, 2)), 2u);
  poll(ioc);
  EXPECT_TRUE(c->sent);
  EXPECT_EQ(buffer, (std::vector<int>{0, 1, 10, 11}));
  EXPECT_EQ(drain(rx), (std::vector<int>{12}));
}

TEST(BoundedFairness, ASenderThatFindsRoomDoesNotOvertakeAParkedOne) {
  auto [tx_end, rx_end] = mpsc::channel<int>(1);
  auto& tx = tx_end;
  auto& rx = rx_end;
  ASSERT_TRUE(tx.try_send(0));
  asio::io_context ioc;
  auto parked = spawn_send(ioc, tx, 10);
  for (int round = 0; round < 100; ++round) {
    ASSERT_TRUE(rx.try_recv());  // frees the slot: it belongs to the parked sender
    auto barging = tx.try_send(1000 + round);
    ASSERT_FALSE(barging) << "round " << round << ": a newcomer took the parked sender's slot";
    EXPECT_EQ(barging.error().kind, TrySendErrorKind::full);
    poll(ioc);
    ASSERT_TRUE(parked->sent);
    parked = spawn_send(ioc, tx, 11 + round);  // the channel is full again: it parks
    ASSERT_FALSE(parked->done);
  }
}

TEST(BoundedFairness, AWokenSenderThatIsCancelledPassesItsSlotOn) {
  auto [tx_end, rx_end] = mpsc::channel<int>(1);
  auto& tx = tx_end;
  auto& rx = rx_end;
  ASSERT_TRUE(tx.try_send(0));
  asio::io_context ioc;
  asio::cancellation_signal stop_a;
  auto a = spawn_send(ioc, tx, 10, stop_a.slot());
  auto b = spawn_send(ioc, tx, 11);
  // In one handler on a's context: free the slot (it is handed to a, whose resumption queues
  // behind this handler), then cancel a (delivered at once on the context's own thread).
  asio::post(ioc, [&] {
    EXPECT_EQ(rx.try_recv().value(), 0);
    stop_a.emit(asio::cancellation_type::terminal);
  });
  poll(ioc);
  EXPECT_TRUE(a->aborted);
  EXPECT_FALSE(a->sent);
  EXPECT_TRUE(b->sent) << "a's slot must go to b";
  EXPECT_EQ(drain(rx), (std::vector<int>{11}));
  EXPECT_EQ(rx.waiting_senders(), 0u);
}

TEST(BoundedFairness, ACancelledParkedSenderLeavesTheQueueAtOnce) {
  auto [tx_end, rx_end] = mpsc::channel<int>(1);
  auto& tx = tx_end;
  auto& rx = rx_end;
  ASSERT_TRUE(tx.try_send(0));
  asio::io_context ioc;
  asio::cancellation_signal stop_a;
  auto a = spawn_send(ioc, tx, 10, stop_a.slot());
  auto b = spawn_send(ioc, tx, 11);
  EXPECT_EQ(rx.waiting_senders(), 2u);
  stop_a.emit(asio::cancellation_type::terminal);
  poll(ioc);
  EXPECT_TRUE(a->aborted);
  EXPECT_EQ(rx.waiting_senders(), 1u);
  EXPECT_EQ(rx.try_recv().value(), 0);
  poll(ioc);
  EXPECT_TRUE(b->sent);
  EXPECT_EQ(drain(rx), (std::vector<int>{11}));
}

TEST(BoundedFairness, SendsRacingATimerLeaveNothingBehind) {
  Watchdog watchdog;
  auto [tx_end, rx_end] = mpsc::channel<int>(1);
  auto& tx = tx_end;
  auto& rx = rx_end;
  ASSERT_TRUE(tx.try_send(0));  // the receiver stalls: every send loses to its timer
  const int rounds = static_cast<int>(test::scaled(20000));
  run_sync([&]() -> asio::awaitable<void> {
    for (int i = 0; i < rounds; ++i) {
      asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::microseconds(0));
      auto r = co_await (tx.send(i) || timer.async_wait(asio::use_awaitable));
      EXPECT_EQ(r.index(), 1u);
      if (rx.waiting_senders() != 0) {
        ADD_FAILURE() << "round " << i << ": a cancelled send is still queued";
        co_return;
      }
    }
  }());
  EXPECT_EQ(rx.waiting_senders(), 0u);
  EXPECT_EQ(drain(rx), (std::vector<int>{0}));
  EXPECT_TRUE(tx.try_send(1)) << "no cancelled send holds the room";
}

// A send that waits for room, again and again on one context: after the first waits, no heap
// allocation (the wait node comes from the thread's cache, already registered with the context;
// coroutine frames and handlers come from Asio's per-thread recycling caches).
TEST(BoundedFairness, WaitingSendsAllocateNothingInSteadyState) {
  if (!test::allocation_counting())
    GTEST_SKIP() << "allocation counting needs the program's own operator new, which sanitizers replace";
  auto [tx_end, rx_end] = mpsc::channel<int>(1);
  auto& tx = tx_end;
  auto& rx = rx_end;
  asio::io_context ioc;
  int received = 0;
  std::size_t before = 0;
  constexpr int warm_up = 1000, measured = 10000;
  auto producer = [&]() -> asio::awaitable<void> {
    for (int i = 0; i < warm_up + measured; ++i) {
      if (i == warm_up) before = test::allocation_count();
      (void)co_await tx.send(i);  // the channel is full: it waits for the consumer
    }
  };
  auto consumer = [&]() -> asio::awaitable<void> {
    while (received < warm_up + measured) {
      if (co_await rx.recv()) ++received;
    }
  };
  asio::co_spawn(ioc, producer, asio::detached);
  asio::co_spawn(ioc, consumer, asio::detached);
  ioc.run();
  EXPECT_EQ(received, warm_up + measured);
  EXPECT_EQ(test::allocation_count() - before, 0u) << "allocations over " << measured << " waiting sends";
}

TEST(BoundedFairness, ClosingWakesEveryParkedSenderWithItsValue) {
  auto [tx_end, rx_end] = mpsc::channel<int>(1);
  auto& tx = tx_end;
  auto& rx = rx_end;
  ASSERT_TRUE(tx.try_send(0));
  asio::io_context ioc;
  std::vector<std::shared_ptr<ParkedSend>> sends;
  for (int v = 10; v < 15; ++v) sends.push_back(spawn_send(ioc, tx, v));
  rx.close();
  poll(ioc);
  for (auto& s : sends) {
    EXPECT_TRUE(s->done);
    EXPECT_FALSE(s->sent);
  }
  EXPECT_EQ(rx.waiting_senders(), 0u);
  EXPECT_EQ(drain(rx), (std::vector<int>{0}));
}

}  // namespace

}  // namespace bounded_fairness_test
