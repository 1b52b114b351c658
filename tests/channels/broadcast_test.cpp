// The broadcast channel, operation by operation (cases after tokio's tests/sync_broadcast.rs).

#include <swarmsync/channels/broadcast.hpp>

#include "support/async.hpp"
#include "support/counted.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace broadcast_test {

namespace {

using namespace swarmsync;
using broadcast::RecvError;
using swarmsync::test::run_sync;

RecvError lagged(std::uint64_t n) { return RecvError{RecvError::lagged, n}; }
const RecvError closed{RecvError::closed};
const RecvError empty{RecvError::empty};

TEST(Broadcast, SendThenTryRecv) {
  auto [tx_end, rx_end] = broadcast::channel<int>(16);
  auto& tx = tx_end;
  auto& rx = rx_end;
  ASSERT_EQ(tx.send(1).value(), 1u);
  auto v = rx.try_recv();
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, 1);
  EXPECT_EQ(rx.try_recv().error(), empty);
}

TEST(Broadcast, EveryReceiverSeesEveryValueInOrder) {
  auto [tx_end, rx1_end] = broadcast::channel<int>(16);
  auto& tx = tx_end;
  auto& rx1 = rx1_end;
  auto rx2 = tx.subscribe();
  EXPECT_EQ(tx.send(1).value(), 2u);
  EXPECT_EQ(tx.send(2).value(), 2u);
  for (auto* rx : {&rx1, &rx2}) {
    EXPECT_EQ(rx->try_recv().value(), 1);
    EXPECT_EQ(rx->try_recv().value(), 2);
    EXPECT_EQ(rx->try_recv().error(), empty);
  }
}

TEST(Broadcast, SubscriberSeesOnlyValuesSentAfterSubscribing) {
  auto [tx_end, rx_end] = broadcast::channel<int>(16);
  auto& tx = tx_end;
  auto& rx = rx_end;
  tx.send(1).value();
  auto late = tx.subscribe();
  tx.send(2).value();
  EXPECT_EQ(late.try_recv().value(), 2);
  EXPECT_EQ(rx.try_recv().value(), 1);
}

TEST(Broadcast, SendWithoutReceiverGivesTheValueBack) {
  auto [tx_end, rx_end] = broadcast::channel<std::string>(4);
  auto& tx = tx_end;
  auto& rx = rx_end;
  { auto drop = std::move(rx); }
  EXPECT_EQ(tx.receiver_count(), 0u);
  auto r = tx.send(std::string("kept"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().value, "kept");
  EXPECT_THROW(r.value(), ChannelError);
}

TEST(Broadcast, LaggedReportsTheExactNumberMissedAndResumesAtTheOldest) {
  auto [tx_end, rx1_end] = broadcast::channel<int>(2);
  auto& tx = tx_end;
  auto& rx1 = rx1_end;
  auto rx2 = tx.subscribe();
  tx.send(1).value();
  tx.send(2).value();
  EXPECT_EQ(rx1.try_recv().value(), 1);
  tx.send(3).value();
  // rx2 has not read 1, which 3 overwrote.
  EXPECT_EQ(rx2.try_recv().error(), lagged(1));
  EXPECT_EQ(rx2.try_recv().value(), 2);
  EXPECT_EQ(rx2.try_recv().value(), 3);
  EXPECT_EQ(rx1.try_recv().value(), 2);
  EXPECT_EQ(rx1.try_recv().value(), 3);
  EXPECT_EQ(tx.lagged_count(), 1u);
}

TEST(Broadcast, LaggedByMoreThanAWholeRing) {
  auto [tx_end, rx_end] = broadcast::channel<int>(4);
  auto& tx = tx_end;
  auto& rx = rx_end;
  for (int i = 0; i < 10; ++i) tx.send(i).value();
  EXPECT_EQ(rx.len(), 10u);
  EXPECT_EQ(rx.try_recv().error(), lagged(6));
  for (int i = 6; i < 10; ++i) EXPECT_EQ(rx.try_recv().value(), i);
  EXPECT_TRUE(rx.is_empty());
}

TEST(Broadcast, AwaitedRecvReportsLagThenValues) {
  auto [tx_end, rx_end] = broadcast::channel<int>(2);
  auto& tx = tx_end;
  auto& rx = rx_end;
  for (int i = 0; i < 5; ++i) tx.send(i).value();
  run_sync([&]() -> asio::awaitable<void> {
    auto r = co_await rx.recv();
    EXPECT_EQ(r.error(), lagged(3));
    EXPECT_EQ((co_await rx.recv()).value(), 3);
    EXPECT_EQ((co_await rx.recv()).value(), 4);
  }());
}

TEST(Broadcast, ClosedAfterDrainingWhenEverySenderIsGone) {
  auto [tx_end, rx_end] = broadcast::channel<int>(4);
  auto& tx = tx_end;
  auto& rx = rx_end;
  auto tx2 = tx;
  tx.send(1).value();
  { auto drop = std::move(tx); }
  EXPECT_FALSE(rx.is_closed());  // tx2 remains
  tx2.send(2).value();
  { auto drop = std::move(tx2); }
  EXPECT_TRUE(rx.is_closed());
  EXPECT_EQ(rx.try_recv().value(), 1);
  EXPECT_EQ(rx.try_recv().value(), 2);
  EXPECT_EQ(rx.try_recv().error(), closed);
  run_sync([&]() -> asio::awaitable<void> { EXPECT_EQ((co_await rx.recv()).error(), closed); }());
}

TEST(Broadcast, LaggedReceiverOfAClosedChannelStillGetsTheRest) {
  auto [tx_end, rx_end] = broadcast::channel<int>(2);
  auto& tx = tx_end;
  auto& rx = rx_end;
  for (int i = 0; i < 3; ++i) tx.send(i).value();
  { auto drop = std::move(tx); }
  EXPECT_EQ(rx.try_recv().error(), lagged(1));
  EXPECT_EQ(rx.try_recv().value(), 1);
  EXPECT_EQ(rx.try_recv().value(), 2);
  EXPECT_EQ(rx.try_recv().error(), closed);
}

// What an awaited recv() completes with when `wake` runs on another thread while it is parked.
template <class Wake>
std::optional<Result<int, RecvError>> recv_woken_by(broadcast::Receiver<int>& rx, Wake wake) {
  asio::io_context ioc;
  std::optional<Result<int, RecvError>> got;
  asio::co_spawn(ioc, [&]() -> asio::awaitable<void> { got.emplace(co_await rx.recv()); }, asio::detached);
  ioc.poll();  // the receiver parks
  EXPECT_FALSE(got) << "completed before it was woken";
  std::thread waker(std::move(wake));
  waker.join();
  ioc.run();
  return got;
}

TEST(Broadcast, WaitingReceiverWakesOnSend) {
  auto [tx, rx] = broadcast::channel<int>(4);
  const auto got = recv_woken_by(rx, [&tx = tx] { tx.send(42).value(); });
  ASSERT_TRUE(got);
  EXPECT_EQ(got->value(), 42);
}

TEST(Broadcast, WaitingReceiverWakesWhenTheLastSenderLeaves) {
  auto [tx, rx] = broadcast::channel<int>(4);
  const auto got = recv_woken_by(rx, [t = std::move(tx)]() mutable { auto drop = std::move(t); });
  ASSERT_TRUE(got);
  EXPECT_EQ(got->error(), closed);
}

TEST(Broadcast, CapacityIsRoundedUpToAPowerOfTwo) {
  EXPECT_EQ(broadcast::channel<int>(1).first.capacity(), 1u);
  EXPECT_EQ(broadcast::channel<int>(3).first.capacity(), 4u);
  EXPECT_EQ(broadcast::channel<int>(16).first.capacity(), 16u);
  EXPECT_EQ(broadcast::channel<int>(17).first.capacity(), 32u);
  EXPECT_THROW(broadcast::channel<int>(0), std::invalid_argument);
}

TEST(Broadcast, CapacityOneKeepsTheLatest) {
  auto [tx_end, rx_end] = broadcast::channel<int>(1);
  auto& tx = tx_end;
  auto& rx = rx_end;
  tx.send(1).value();
  EXPECT_EQ(rx.try_recv().value(), 1);
  tx.send(2).value();
  tx.send(3).value();
  EXPECT_EQ(rx.try_recv().error(), lagged(1));
  EXPECT_EQ(rx.try_recv().value(), 3);
}

TEST(Broadcast, ResubscribeStartsAtTheTail) {
  auto [tx_end, rx_end] = broadcast::channel<int>(4);
  auto& tx = tx_end;
  auto& rx = rx_end;
  tx.send(1).value();
  auto rx2 = rx.resubscribe();
  EXPECT_EQ(rx.receiver_count(), 2u);
  tx.send(2).value();
  EXPECT_EQ(rx2.try_recv().value(), 2);
  EXPECT_EQ(rx.try_recv().value(), 1);
  EXPECT_TRUE(rx2.same_channel(rx));
}

TEST(Broadcast, ResubscribeToAClosedChannelIsClosed) {
  auto [tx_end, rx_end] = broadcast::channel<int>(4);
  auto& tx = tx_end;
  auto& rx = rx_end;
  tx.send(1).value();
  { auto drop = std::move(tx); }
  auto rx2 = rx.resubscribe();
  EXPECT_EQ(rx2.try_recv().error(), closed);
  EXPECT_EQ(rx.try_recv().value(), 1);
}

TEST(Broadcast, LenAndIsEmpty) {
  auto [tx_end, rx_end] = broadcast::channel<int>(8);
  auto& tx = tx_end;
  auto& rx = rx_end;
  EXPECT_TRUE(rx.is_empty());
  tx.send(1).value();
  tx.send(2).value();
  EXPECT_EQ(rx.len(), 2u);
  rx.try_recv().value();
  EXPECT_EQ(rx.len(), 1u);
}

TEST(Broadcast, ReceiverCountAndSameChannel) {
  auto [tx_end, rx_end] = broadcast::channel<int>(8);
  auto& tx = tx_end;
  auto& rx = rx_end;
  auto [other_tx_end, other_rx_end] = broadcast::channel<int>(8);
  auto& other_tx = other_tx_end;
  auto& other_rx = other_rx_end;
  EXPECT_EQ(tx.receiver_count(), 1u);
  {
    auto rx2 = tx.subscribe();
    EXPECT_EQ(tx.receiver_count(), 2u);
  }
  EXPECT_EQ(tx.receiver_count(), 1u);
  auto tx2 = tx;
  EXPECT_TRUE(tx.same_channel(tx2));
  EXPECT_TRUE(tx.same_channel(rx));
  EXPECT_TRUE(rx.same_channel(tx));
  EXPECT_FALSE(tx.same_channel(other_tx));
  EXPECT_FALSE(rx.same_channel(other_rx));
}

TEST(Broadcast, SentCountCountsEveryValue) {
  auto [tx, rx] = broadcast::channel<int>(2);
  for (int i = 0; i < 5; ++i) tx.send(i).value();
  EXPECT_EQ(tx.sent_count(), 5u);
  EXPECT_EQ(rx.len(), 5u);
}

TEST(Broadcast, EachValueIsStoredOnceWhateverTheNumberOfReceivers) {
  swarmsync::test::Counted::reset();
  {
    auto [tx, rx] = broadcast::channel<swarmsync::test::Counted>(8);
    std::vector<broadcast::Receiver<swarmsync::test::Counted>> more;
    for (int i = 0; i < 63; ++i) more.push_back(tx.subscribe());
    tx.send(swarmsync::test::Counted(1)).value();
    // The temporary is gone: one stored copy for 64 receivers.
    EXPECT_EQ(swarmsync::test::Counted::alive.load(), 1);
    EXPECT_EQ(rx.try_recv().value().id, 1);
  }
  EXPECT_EQ(swarmsync::test::Counted::alive.load(), 0);
}

TEST(Broadcast, ValuesLeftInTheRingAreDestroyedWithTheChannel) {
  swarmsync::test::Counted::reset();
  {
    auto [tx_end, rx_end] = broadcast::channel<swarmsync::test::Counted>(4);
    auto& tx = tx_end;
    auto& rx = rx_end;
    for (int i = 0; i < 10; ++i) tx.send(swarmsync::test::Counted(i)).value();
    EXPECT_EQ(swarmsync::test::Counted::alive.load(), 4);  // overwritten values were destroyed
    auto v = rx.try_recv();
    EXPECT_FALSE(v);  // lagged
    EXPECT_EQ(rx.try_recv().value().id, 6);
  }
  EXPECT_EQ(swarmsync::test::Counted::alive.load(), 0);
}

// Values lost before reaching the channel (a transport's gap) are reported in their place.
TEST(Broadcast, AReportOfMissedValuesReachesEveryReceiverInItsPlace) {
  auto [tx_end, rx1_end] = broadcast::channel<int>(16);
  auto& tx = tx_end;
  auto& rx1 = rx1_end;
  auto rx2 = tx.subscribe();
  tx.send(1).value();
  EXPECT_EQ(tx.report_missed(5), 2u);
  tx.send(2).value();
  EXPECT_EQ(rx1.len(), 3u);
  for (auto* rx : {&rx1, &rx2}) {
    EXPECT_EQ(rx->try_recv().value(), 1);
    EXPECT_EQ(rx->try_recv().error(), lagged(5));
    EXPECT_EQ(rx->try_recv().value(), 2);
    EXPECT_EQ(rx->try_recv().error(), empty);
  }
  EXPECT_EQ(tx.lagged_count(), 10u);  // 5 for each receiver
  EXPECT_EQ(tx.sent_count(), 2u);     // a report is not a value
}

TEST(Broadcast, AReportWithNobodyToTellOrNothingMissedStoresNothing) {
  auto [tx_end, rx_end] = broadcast::channel<int>(4);
  auto& tx = tx_end;
  auto& rx = rx_end;
  EXPECT_EQ(tx.report_missed(0), 0u);
  EXPECT_TRUE(rx.is_empty());
  { auto drop = std::move(rx); }
  EXPECT_EQ(tx.report_missed(3), 0u);
  auto late = tx.subscribe();
  tx.send(7).value();
  EXPECT_EQ(late.try_recv().value(), 7);  // no report before the value
  EXPECT_EQ(late.try_recv().error(), empty);
}

TEST(Broadcast, AWaitingReceiverWakesOnAReportOfMissedValues) {
  auto [tx, rx] = broadcast::channel<int>(4);
  const auto got = recv_woken_by(rx, [&tx = tx] { EXPECT_EQ(tx.report_missed(9), 1u); });
  ASSERT_TRUE(got);
  EXPECT_EQ(got->error(), lagged(9));
}

// A receiver that falls a whole ring behind counts a report as one of the places it missed, as it
// does a value; the reports it does read say exactly what they carry.
TEST(Broadcast, AReceiverLaggingPastAReportCountsItsPlace) {
  auto [tx_end, rx_end] = broadcast::channel<int>(2);
  auto& tx = tx_end;
  auto& rx = rx_end;
  tx.report_missed(100);
  tx.send(1).value();
  tx.send(2).value();
  EXPECT_EQ(rx.try_recv().error(), lagged(1));  // the report's place, overwritten
  EXPECT_EQ(rx.try_recv().value(), 1);
  tx.report_missed(4);
  EXPECT_EQ(rx.try_recv().value(), 2);
  EXPECT_EQ(rx.try_recv().error(), lagged(4));
}

// Senders and reporters at once, from several threads: each receiver that keeps up accounts for
// every value and every value reported missed, exactly.
TEST(Broadcast, ReportsRacingSendsAddUpExactly) {
  constexpr int threads = 4, rounds = 20'000;
  auto [tx_end, rx_end] = broadcast::channel<int>(1 << 17);  // room for everything: no ring lag
  auto& tx = tx_end;
  auto& rx = rx_end;
  std::vector<std::thread> writers;
  for (int t = 0; t < threads; ++t)
    writers.emplace_back([&tx, t] {
      for (int i = 0; i < rounds; ++i) {
        if ((i + t) % 3 == 0) tx.report_missed(2);
        else tx.send(1).value();
      }
    });
  std::uint64_t values = 0, missed = 0, seen = 0;
  const std::uint64_t expected = static_cast<std::uint64_t>(threads) * rounds;
  while (seen < expected) {
    auto r = rx.try_recv();
    if (r) {
      values += static_cast<std::uint64_t>(*r);
      ++seen;
    } else if (r.error().kind == RecvError::lagged) {
      missed += r.error().skipped;
      ++seen;
    } else {
      std::this_thread::yield();
    }
  }
  for (auto& w : writers) w.join();
  std::uint64_t reports = 0;
  for (int t = 0; t < threads; ++t)
    for (int i = 0; i < rounds; ++i) reports += (i + t) % 3 == 0 ? 1 : 0;
  EXPECT_EQ(missed, 2 * reports);
  EXPECT_EQ(values, expected - reports);
  EXPECT_EQ(rx.try_recv().error(), empty);
}

// Each receiver counts what it missed; a move keeps its position and its count.
TEST(Broadcast, AReceiverCountsWhatItMissed) {
  auto [tx, rx] = broadcast::channel<int>(4);
  auto keeping_up = tx.subscribe();
  for (int i = 0; i < 10; ++i) {
    tx.send(i).value();
    ASSERT_EQ(keeping_up.try_recv().value(), i);
  }
  EXPECT_EQ(rx.len(), 10u);
  EXPECT_EQ(rx.try_recv().error(), lagged(6));
  EXPECT_EQ(rx.missed_count(), 6u);
  EXPECT_EQ(rx.try_recv().value(), 6);
  tx.report_missed(3);
  auto moved = std::move(rx);
  EXPECT_EQ(moved.missed_count(), 6u);
  EXPECT_EQ(moved.len(), 4u);  // three values and the report
  for (int i = 7; i < 10; ++i) ASSERT_EQ(moved.try_recv().value(), i);
  EXPECT_EQ(moved.try_recv().error(), lagged(3));
  EXPECT_EQ(moved.missed_count(), 9u);
  EXPECT_EQ(keeping_up.missed_count(), 0u);
  EXPECT_EQ(tx.lagged_count(), 9u);
}

// A monitor reads a receiver's backlog from another thread while it receives (the
// ThreadSanitizer build checks the reads).
TEST(Broadcast, AReceiversBacklogIsReadableFromAnotherThread) {
  constexpr int values = 50'000;
  auto [tx, rx] = broadcast::channel<int>(1 << 16);
  std::atomic<bool> done{false};
  std::size_t largest = 0;
  std::thread monitor([&, &r = rx] {
    while (!done.load()) largest = std::max(largest, r.len() + static_cast<std::size_t>(r.missed_count()));
  });
  for (int i = 0; i < values; ++i) tx.send(i).value();
  for (int i = 0; i < values; ++i) ASSERT_EQ(rx.try_recv().value(), i);
  done = true;
  monitor.join();
  EXPECT_LE(largest, static_cast<std::size_t>(values));
  EXPECT_EQ(rx.len(), 0u);
}

}  // namespace

}  // namespace broadcast_test
