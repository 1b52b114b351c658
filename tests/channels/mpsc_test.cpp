// The mpsc channels, operation by operation (cases after tokio's tests/sync_mpsc.rs).

#include <swarmsync/channels/broadcast.hpp>
#include <swarmsync/channels/mpsc.hpp>

#include "support/allocation_counter.hpp"
#include "support/async.hpp"
#include "support/counted.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>


namespace mpsc_test {

namespace {

using namespace swarmsync;
using swarmsync::test::Counted;
using swarmsync::test::run_sync;

TEST(MpscUnbounded, SendThenRecvInOrder) {
  auto [tx_end, rx_end] = mpsc::unbounded_channel<int>();
  auto& tx = tx_end;
  auto& rx = rx_end;
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(tx.send(i));
  run_sync([&]() -> asio::awaitable<void> {
    for (int i = 0; i < 100; ++i) EXPECT_EQ(co_await rx.recv(), std::optional<int>(i));
  }());
  EXPECT_EQ(rx.try_recv().error(), mpsc::TryRecvError::empty);
}

TEST(MpscUnbounded, RecvEndsWhenEverySenderIsGoneAndTheQueueIsDrained) {
  auto [tx_end, rx_end] = mpsc::unbounded_channel<int>();
  auto& tx = tx_end;
  auto& rx = rx_end;
  auto tx2 = tx;
  tx.send(1).value();
  tx2.send(2).value();
  { auto drop = std::move(tx); }
  EXPECT_FALSE(rx.is_closed());
  EXPECT_EQ(rx.sender_count(), 1u);
  { auto drop = std::move(tx2); }
  EXPECT_TRUE(rx.is_closed());
  run_sync([&]() -> asio::awaitable<void> {
    EXPECT_EQ(co_await rx.recv(), std::optional<int>(1));
    EXPECT_EQ(co_await rx.recv(), std::optional<int>(2));
    EXPECT_EQ(co_await rx.recv(), std::nullopt);
    EXPECT_EQ(co_await rx.recv(), std::nullopt);
  }());
  EXPECT_EQ(rx.try_recv().error(), mpsc::TryRecvError::disconnected);
}

TEST(MpscUnbounded, SendToADroppedReceiverGivesTheValueBack) {
  auto [tx_end, rx_end] = mpsc::unbounded_channel<std::string>();
  auto& tx = tx_end;
  auto& rx = rx_end;
  { auto drop = std::move(rx); }
  EXPECT_TRUE(tx.is_closed());
  auto r = tx.send("kept");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().value, "kept");
  EXPECT_THROW(r.value(), ChannelError);
}

TEST(MpscUnbounded, CloseRefusesNewSendsAndKeepsWhatWasAccepted) {
  auto [tx_end, rx_end] = mpsc::unbounded_channel<int>();
  auto& tx = tx_end;
  auto& rx = rx_end;
  tx.send(1).value();
  tx.send(2).value();
  rx.close();
  EXPECT_TRUE(rx.is_closed());
  EXPECT_TRUE(tx.is_closed());
  auto refused = tx.send(3);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().value, 3);
  run_sync([&]() -> asio::awaitable<void> {
    EXPECT_EQ(co_await rx.recv(), std::optional<int>(1));
    EXPECT_EQ(co_await rx.recv(), std::optional<int>(2));
    EXPECT_EQ(co_await rx.recv(), std::nullopt);  // senders remain, but the channel is closed
  }());
}

// A send refused by a closed channel claims no slot: what the queue holds does not grow (a sender
// that goes on sending after the close must not fill memory with refusals).
TEST(MpscUnbounded, SendsRefusedByAClosedChannelTakeNoRoom) {
  auto [tx, rx] = mpsc::unbounded_channel<int>();
  tx.send(1).value();
  rx.close();
  for (int i = 0; i < 1000; ++i) ASSERT_FALSE(tx.send(i));
  EXPECT_EQ(rx.len(), 1u);
}

TEST(MpscUnbounded, ConcurrentSendsAroundCloseAreEitherReceivedOrGivenBack) {
  for (int round = 0; round < 50; ++round) {
    auto [tx_end, rx_end] = mpsc::unbounded_channel<int>();
    auto& tx = tx_end;
    auto& rx = rx_end;
    std::atomic<int> refused{0};
    std::vector<std::thread> senders;
    constexpr int per_sender = 2000;
    for (int s = 0; s < 3; ++s) {
      senders.emplace_back([&, t = tx] {
        for (int i = 0; i < per_sender; ++i)
          if (!t.send(i)) refused.fetch_add(1);
      });
    }
    { auto drop = std::move(tx); }
    std::this_thread::yield();
    rx.close();
    for (auto& t : senders) t.join();
    int received = 0;
    while (rx.try_recv()) ++received;
    EXPECT_EQ(rx.try_recv().error(), mpsc::TryRecvError::disconnected);
    EXPECT_EQ(received + refused.load(), 3 * per_sender) << "round " << round;
  }
}

TEST(MpscUnbounded, WaitingReceiverWakesOnSendFromAnotherThread) {
  asio::io_context ioc;
  auto [tx_end, rx_end] = mpsc::unbounded_channel<int>();
  auto& tx = tx_end;
  auto& rx = rx_end;
  std::optional<int> got;
  asio::co_spawn(ioc, [&]() -> asio::awaitable<void> { got = co_await rx.recv(); }, asio::detached);
  ioc.poll();
  EXPECT_FALSE(got);
  std::thread([&] { tx.send(5).value(); }).join();
  ioc.run();
  EXPECT_EQ(got, std::optional<int>(5));
}

TEST(MpscUnbounded, WaitingReceiverWakesWhenTheLastSenderLeaves) {
  asio::io_context ioc;
  auto [tx_end, rx_end] = mpsc::unbounded_channel<int>();
  auto& tx = tx_end;
  auto& rx = rx_end;
  bool ended = false;
  asio::co_spawn(ioc, [&]() -> asio::awaitable<void> { ended = !(co_await rx.recv()); }, asio::detached);
  ioc.poll();
  std::thread([t = std::move(tx)]() mutable { auto drop = std::move(t); }).join();
  ioc.run();
  EXPECT_TRUE(ended);
}

TEST(MpscUnbounded, RecvManyTakesUpToTheLimitInOrder) {
  auto [tx_end, rx_end] = mpsc::unbounded_channel<int>();
  auto& tx = tx_end;
  auto& rx = rx_end;
  for (int i = 0; i < 10; ++i) tx.send(i).value();
  run_sync([&]() -> asio::awaitable<void> {
    std::vector<int> buf{-1};
    EXPECT_EQ(co_await rx.recv_many(buf, 4), 4u);
    EXPECT_EQ(buf, (std::vector<int>{-1, 0, 1, 2, 3}));
    EXPECT_EQ(co_await rx.recv_many(buf, 100), 6u);
    EXPECT_EQ(buf.size(), 11u);
    EXPECT_EQ(buf.back(), 9);
    EXPECT_EQ(co_await rx.recv_many(buf, 0), 0u);
  }());
  { auto drop = std::move(tx); }
  run_sync([&]() -> asio::awaitable<void> {
    std::vector<int> buf;
    EXPECT_EQ(co_await rx.recv_many(buf, 4), 0u);  // ended
  }());
}

TEST(MpscUnbounded, LenSameChannelAndCapacity) {
  auto [tx_end, rx_end] = mpsc::unbounded_channel<int>();
  auto& tx = tx_end;
  auto& rx = rx_end;
  auto [other_tx, other_rx] = mpsc::unbounded_channel<int>();
  EXPECT_TRUE(rx.is_empty());
  tx.send(1).value();
  tx.send(2).value();
  EXPECT_EQ(rx.len(), 2u);
  EXPECT_EQ(tx.len(), 2u);
  rx.try_recv().value();
  EXPECT_EQ(rx.len(), 1u);
  EXPECT_EQ(rx.capacity(), 0u);
  auto tx2 = tx;
  EXPECT_TRUE(tx.same_channel(tx2));
  EXPECT_TRUE(tx.same_channel(rx));
  EXPECT_TRUE(rx.same_channel(tx2));
  EXPECT_FALSE(tx.same_channel(other_tx));
  EXPECT_FALSE(rx.same_channel(other_tx));
  EXPECT_FALSE(rx.same_channel(other_rx));
}

TEST(MpscUnbounded, FifoAcrossManyBlocks) {
  auto [tx_end, rx_end] = mpsc::unbounded_channel<int>();
  auto& tx = tx_end;
  auto& rx = rx_end;
  for (int round = 0; round < 20; ++round) {
    for (int i = 0; i < 1000; ++i) tx.send(round * 1000 + i).value();
    for (int i = 0; i < 1000; ++i) ASSERT_EQ(rx.try_recv().value(), round * 1000 + i);
  }
}

TEST(MpscUnbounded, SteadyStreamAllocatesNothing) {
  if (!swarmsync::test::allocation_counting())
    GTEST_SKIP() << "allocation counting needs the program's own operator new, which sanitizers replace";
  auto [tx_end, rx_end] = mpsc::unbounded_channel<std::uint64_t>();
  auto& tx = tx_end;
  auto& rx = rx_end;
  for (std::uint64_t i = 0; i < 10'000; ++i) {  // warm up: blocks get allocated and recycled
    tx.send(i).value();
    if (i % 7 == 0)
      while (rx.try_recv()) {
      }
  }
  while (rx.try_recv()) {
  }
  const std::size_t before = swarmsync::test::allocation_count();
  for (std::uint64_t i = 0; i < 100'000; ++i) {
    tx.send(i).value();
    if (i % 7 == 0)
      while (rx.try_recv()) {
      }
  }
  EXPECT_EQ(swarmsync::test::allocation_count(), before);
}

TEST(MpscUnbounded, ValuesStillQueuedAreDestroyedWithTheChannel) {
  Counted::reset();
  {
    auto [tx_end, rx_end] = mpsc::unbounded_channel<Counted>();
    auto& tx = tx_end;
    auto& rx = rx_end;
    for (int i = 0; i < 100; ++i) tx.send(Counted(i)).value();
    for (int i = 0; i < 40; ++i) EXPECT_EQ(rx.try_recv().value().id, i);
    EXPECT_EQ(Counted::alive.load(), 60);
  }
  EXPECT_EQ(Counted::alive.load(), 0);
}

TEST(MpscBounded, CapacityZeroIsRefused) { EXPECT_THROW(mpsc::channel<int>(0), std::invalid_argument); }

TEST(MpscBounded, TrySendReportsFullAndClosedWithTheValue) {
  auto [tx_end, rx_end] = mpsc::channel<int>(2);
  auto& tx = tx_end;
  auto& rx = rx_end;
  EXPECT_EQ(tx.capacity(), 2u);
  EXPECT_TRUE(tx.try_send(1));
  EXPECT_TRUE(tx.try_send(2));
  auto full = tx.try_send(3);
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().kind, TrySendErrorKind::full);
  EXPECT_EQ(full.error().value, 3);
  EXPECT_EQ(rx.try_recv().value(), 1);
  EXPECT_TRUE(tx.try_send(3));
  rx.close();
  auto closed = tx.try_send(4);
  ASSERT_FALSE(closed);
  EXPECT_EQ(closed.error().kind, TrySendErrorKind::closed);
  EXPECT_EQ(closed.error().value, 4);
}

TEST(MpscBounded, SendWaitsForRoom) {
  asio::io_context ioc;
  auto [tx_end, rx_end] = mpsc::channel<int>(1);
  auto& tx = tx_end;
  auto& rx = rx_end;
  int sent = 0;
  asio::co_spawn(ioc, [&, t = tx]() -> asio::awaitable<void> {
    for (int i = 0; i < 3; ++i) {
      (co_await t.send(i)).value();
      ++sent;
    }
  }, asio::detached);
  ioc.poll();
  EXPECT_EQ(sent, 1);  // the second send waits: the channel holds one value
  EXPECT_EQ(rx.len(), 1u);
  EXPECT_EQ(rx.try_recv().value(), 0);
  ioc.restart();
  ioc.poll();
  EXPECT_EQ(sent, 2);
  EXPECT_EQ(rx.try_recv().value(), 1);
  ioc.restart();
  ioc.run();
  EXPECT_EQ(sent, 3);
  EXPECT_EQ(rx.try_recv().value(), 2);
}

TEST(MpscBounded, WaitingSenderGetsItsValueBackWhenTheReceiverCloses) {
  asio::io_context ioc;
  auto [tx_end, rx_end] = mpsc::channel<std::string>(1);
  auto& tx = tx_end;
  auto& rx = rx_end;
  tx.try_send("first").value();
  std::optional<std::string> returned;
  asio::co_spawn(ioc, [&, t = tx]() -> asio::awaitable<void> {
    auto r = co_await t.send("second");
    if (!r) returned = std::move(r.error().value);
  }, asio::detached);
  ioc.poll();
  EXPECT_FALSE(returned);
  rx.close();
  ioc.restart();
  ioc.run();
  EXPECT_EQ(returned, std::optional<std::string>("second"));
  EXPECT_EQ(rx.try_recv().value(), "first");
}

TEST(MpscBounded, ReservedRoomIsHeldAndGivenBackWhenUnused) {
  auto [tx_end, rx_end] = mpsc::channel<int>(1);
  auto& tx = tx_end;
  auto& rx = rx_end;
  run_sync([&]() -> asio::awaitable<void> {
    {
      auto permit = co_await tx.reserve();
      EXPECT_TRUE(permit);
      EXPECT_EQ(tx.try_send(1).error().kind, TrySendErrorKind::full);
    }  // unused: the room comes back
    auto permit = co_await tx.reserve();
    EXPECT_TRUE(permit);
    EXPECT_TRUE(std::move(*permit).send(7));
  }());
  EXPECT_EQ(rx.try_recv().value(), 7);
}

TEST(MpscBounded, AHeldPermitKeepsTheChannelOpen) {
  auto [tx_end, rx_end] = mpsc::channel<int>(1);
  auto& tx = tx_end;
  auto& rx = rx_end;
  auto permit = run_sync([t = std::move(tx)]() -> asio::awaitable<std::optional<mpsc::Permit<int>>> {
    co_return co_await t.reserve();
  }());
  ASSERT_TRUE(permit);
  EXPECT_EQ(rx.try_recv().error(), mpsc::TryRecvError::empty);  // not disconnected: the permit may send
  std::move(*permit).send(9).value();
  EXPECT_EQ(rx.try_recv().value(), 9);
  EXPECT_EQ(rx.try_recv().error(), mpsc::TryRecvError::disconnected);
}

TEST(MpscBounded, RecvManyGivesRoomBack) {
  auto [tx_end, rx_end] = mpsc::channel<int>(4);
  auto& tx = tx_end;
  auto& rx = rx_end;
  for (int i = 0; i < 4; ++i) tx.try_send(i).value();
  EXPECT_FALSE(tx.try_send(4));
  run_sync([&]() -> asio::awaitable<void> {
    std::vector<int> buf;
    EXPECT_EQ(co_await rx.recv_many(buf, 3), 3u);
  }());
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(tx.try_send(10 + i));
  EXPECT_FALSE(tx.try_send(99));
}

TEST(MpscBounded, ValuesStillQueuedAreDestroyedWithTheChannel) {
  Counted::reset();
  {
    auto [tx_end, rx_end] = mpsc::channel<Counted>(8);
    auto& tx = tx_end;
    auto& rx = rx_end;
    for (int i = 0; i < 8; ++i) tx.try_send(Counted(i)).value();
    EXPECT_FALSE(tx.try_send(Counted(99)));  // the refused value came back and is destroyed
    EXPECT_EQ(rx.try_recv().value().id, 0);
  }
  EXPECT_EQ(Counted::alive.load(), 0);
}


// A wake-up from a coroutine of the receiver's own io_context defers the receiver: it runs after
// the waker's handler returns or suspends, even when another thread of the context is free. The receiver parks first (the context polled by this thread alone); then
// the waker, on a two-thread run, stays busy after its send (at most 20 ms, waiting to see
// whether the receiver runs meanwhile on the other thread); it never does.
TEST(MpscUnbounded, AReceiverWokenFromItsOwnContextRunsAfterTheWakersHandler) {
  for (int round = 0; round < 3; ++round) {
    asio::io_context ioc;
    auto [tx_end, rx_end] = mpsc::unbounded_channel<int>();
    std::atomic<bool> received{false};
    std::atomic<bool> waker_busy{false};
    bool ran_during_the_wakers_handler = false;
    auto receiver = [](mpsc::Receiver<int> rx, std::atomic<bool>& got, std::atomic<bool>& busy,
                       bool& early) -> asio::awaitable<void> {
      if (!co_await rx.recv()) co_return;
      early = busy.load();
      got = true;
    };
    auto waker = [](mpsc::UnboundedSender<int> tx, std::atomic<bool>& got,
                    std::atomic<bool>& busy) -> asio::awaitable<void> {
      busy = true;
      tx.send(1).value();
      const auto give_up = std::chrono::steady_clock::now() + std::chrono::milliseconds(20);
      while (!got.load() && std::chrono::steady_clock::now() < give_up) std::this_thread::yield();
      busy = false;
      co_return;
    };
    asio::co_spawn(ioc, receiver(std::move(rx_end), received, waker_busy, ran_during_the_wakers_handler),
                   asio::detached);
    ioc.poll();  // the receiver runs until it parks
    ioc.restart();
    ASSERT_FALSE(received.load());
    auto done = asio::co_spawn(ioc, waker(std::move(tx_end), received, waker_busy), asio::use_future);
    swarmsync::test::run_on_threads(ioc, 2);
    EXPECT_NO_THROW(done.get());
    EXPECT_TRUE(received.load());
    EXPECT_FALSE(ran_during_the_wakers_handler) << "a woken receiver ran while its waker's handler was running";
  }
}
}  // namespace

namespace {

using namespace swarmsync;

// A context destroyed while coroutines are parked on channels that outlive it destroys those
// coroutines (their frames and the channel ends they hold), and a later send does not touch it.
TEST(Parking, DestroyingTheContextDestroysParkedCoroutines) {
  swarmsync::test::Counted::reset();
  auto [tx_end, rx_end] = mpsc::unbounded_channel<swarmsync::test::Counted>();
  auto& tx = tx_end;
  auto [btx_end, brx_end] = broadcast::channel<swarmsync::test::Counted>(4);
  auto& btx = btx_end;
  auto brx2 = btx.subscribe();
  auto [ftx_end, frx_end] = mpsc::channel<int>(1);
  auto& ftx = ftx_end;
  ftx.try_send(0).value();  // full: a bounded send parks
  auto [deadline_tx_end, deadline_rx_end] = mpsc::unbounded_channel<int>();
  bool finished = false;
  {
    asio::io_context ioc;
    asio::co_spawn(ioc, [rx = std::move(rx_end), &finished]() mutable -> asio::awaitable<void> {
      (void)co_await rx.recv();
      finished = true;
    }, asio::detached);
    asio::co_spawn(ioc, [rx = std::move(brx_end), &finished]() mutable -> asio::awaitable<void> {
      (void)co_await rx.recv();
      finished = true;
    }, asio::detached);
    asio::co_spawn(ioc, [t = ftx, &finished]() -> asio::awaitable<void> {
      (void)co_await t.send(1);
      finished = true;
    }, asio::detached);
    // Parked with a deadline: the timer's handler, destroyed uninvoked, must not leak the wait
    // (the AddressSanitizer build checks for leaks).
    asio::co_spawn(ioc, [rx = std::move(deadline_rx_end), &finished]() mutable -> asio::awaitable<void> {
      (void)co_await rx.recv_for(std::chrono::hours(1));
      finished = true;
    }, asio::detached);
    ioc.poll();
  }
  // The parked receivers were destroyed with their frames: their channels see no receiver.
  EXPECT_TRUE(tx.is_closed());
  EXPECT_EQ(btx.receiver_count(), 1u);  // brx2 only
  EXPECT_FALSE(tx.send(swarmsync::test::Counted(1)));
  EXPECT_EQ(btx.send(swarmsync::test::Counted(2)).value(), 1u);
  EXPECT_FALSE(finished);
  EXPECT_EQ(frx_end.try_recv().value(), 0);
  EXPECT_EQ(frx_end.try_recv().error(), mpsc::TryRecvError::empty);  // the parked send never sent
  EXPECT_TRUE(deadline_tx_end.is_closed());
}

}  // namespace

// The statistics a monitor reads: high-water mark, refused sends, senders.
namespace {

using namespace swarmsync;

// The mark is measured once a block of 32 sends: after 100 sends and a full drain, the claim
// that opened the fourth block (index 96) saw 97 queued.
TEST(MpscStatistics, TheHighWaterMarkKeepsThePeakOnceDrained) {
  auto [tx, rx] = mpsc::unbounded_channel<int>();
  EXPECT_EQ(tx.high_water(), 0u);
  for (int i = 0; i < 100; ++i) tx.send(i).value();
  for (int i = 0; i < 100; ++i) ASSERT_EQ(rx.try_recv().value(), i);
  EXPECT_EQ(tx.len(), 0u);
  EXPECT_EQ(tx.high_water(), 97u);
  EXPECT_EQ(rx.high_water(), 97u);
  // A lower peak later leaves the mark alone.
  for (int i = 0; i < 40; ++i) tx.send(i).value();
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(rx.try_recv());
  EXPECT_EQ(tx.high_water(), 97u);
}

// A query measures the depth too: a peak it saw stays after the drain, to the value.
TEST(MpscStatistics, APeakSeenByAQueryStays) {
  auto [tx, rx] = mpsc::unbounded_channel<int>();
  for (int i = 0; i < 20; ++i) tx.send(i).value();
  EXPECT_EQ(tx.high_water(), 20u);
  while (rx.try_recv()) {
  }
  EXPECT_EQ(tx.high_water(), 20u);
}

// Senders on several threads while the receiver drains: the mark never exceeds what was sent
// and is at most 31 below the largest depth the receiver saw, plus what the receiver took while
// a measuring sender read its position: a block more is allowed for that (the receiver here
// takes a value every few hundred nanoseconds; a sender preempted there could still miss more).
TEST(MpscStatistics, TheHighWaterMarkUnderConcurrentSends) {
  constexpr int threads = 4, per_thread = 20'000;
  auto [tx, rx] = mpsc::unbounded_channel<int>();
  std::vector<std::thread> senders;
  for (int t = 0; t < threads; ++t)
    senders.emplace_back([t = tx] {
      for (int i = 0; i < per_thread; ++i) t.send(i).value();
    });
  std::size_t deepest_seen = 0;
  for (int taken = 0; taken < threads * per_thread;) {
    deepest_seen = std::max(deepest_seen, rx.len());
    if (rx.try_recv()) ++taken;
  }
  for (auto& s : senders) s.join();
  const std::size_t mark = tx.high_water();
  EXPECT_LE(mark, static_cast<std::size_t>(threads * per_thread));
  EXPECT_GE(mark + 31 + 32, deepest_seen);
}

TEST(MpscStatistics, RefusedSendsAreCounted) {
  auto [tx, rx] = mpsc::unbounded_channel<int>();
  tx.send(1).value();
  EXPECT_EQ(tx.refused_count(), 0u);
  rx.close();
  EXPECT_FALSE(tx.send(2));
  EXPECT_FALSE(tx.send(3));
  EXPECT_EQ(tx.refused_count(), 2u);
  EXPECT_EQ(rx.refused_count(), 2u);
  EXPECT_EQ(tx.sent_count(), 1u);  // refused before claiming a place: not counted as sent

  auto [btx_end, brx_end] = mpsc::channel<int>(1);
  auto& btx = btx_end;  // named variables: clang 14 cannot capture structured bindings
  auto& brx = brx_end;
  btx.try_send(1).value();
  EXPECT_EQ(btx.try_send(2).error().kind, swarmsync::TrySendErrorKind::full);
  EXPECT_EQ(btx.refused_count(), 1u);
  auto permit = swarmsync::test::run_sync([&]() -> asio::awaitable<std::optional<mpsc::Permit<int>>> {
    (void)brx.try_recv();
    co_return co_await btx.reserve();
  }());
  ASSERT_TRUE(permit);
  {
    auto dead = std::move(brx);  // the receiver goes: the permit's send is refused too
  }
  EXPECT_FALSE(std::move(*permit).send(3));
  EXPECT_EQ(btx.try_send(4).error().kind, swarmsync::TrySendErrorKind::closed);
  EXPECT_FALSE(swarmsync::test::run_sync(
      [&]() -> asio::awaitable<bool> { co_return static_cast<bool>(co_await btx.send(5)); }()));
  EXPECT_EQ(btx.refused_count(), 4u);

  mpsc::UnboundedSender<int> moved_from = std::move(tx);
  EXPECT_FALSE(tx.send(6));  // NOLINT(bugprone-use-after-move): a handle without a channel
  EXPECT_EQ(moved_from.refused_count(), 2u);
}

TEST(MpscStatistics, SendersAreCountedWithCopiesAndPermits) {
  auto [tx, rx] = mpsc::channel<int>(4);
  EXPECT_EQ(tx.sender_count(), 1u);
  {
    auto copy = tx;
    EXPECT_EQ(rx.sender_count(), 2u);
    auto permit = swarmsync::test::run_sync(
        [&]() -> asio::awaitable<std::optional<mpsc::Permit<int>>> { co_return co_await copy.reserve(); }());
    ASSERT_TRUE(permit);
    EXPECT_EQ(tx.sender_count(), 3u);
  }
  EXPECT_EQ(tx.sender_count(), 1u);
}

}  // namespace

}  // namespace mpsc_test
