// Cancellation and deadlines: receives that lose a race against a timer, another channel or a
// deadline must consume nothing; every value sent is received exactly once.

#include <swarmsync/channels/broadcast.hpp>
#include <swarmsync/channels/mpsc.hpp>

#include "support/async.hpp"
#include "support/races.hpp"
#include "support/watchdog.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <type_traits>
#include <variant>
#include <vector>

namespace cancellation_test {

namespace {

using namespace swarmsync;
using namespace boost::asio::experimental::awaitable_operators;
using namespace std::chrono_literals;
using swarmsync::test::run_on_threads;
using swarmsync::test::run_sync;
using swarmsync::test::scaled;
using Clock = std::chrono::steady_clock;

using swarmsync::test::InOrder;
using swarmsync::test::PacedProducer;
using swarmsync::test::Watchdog;

// The number of values each race sends.
constexpr std::uint64_t race_values = scaled(20'000);

// Small random pauses of a producer: a quarter of the values wait up to 100 us, and every 500th
// value waits until the consumer has caught up and then 2 ms more, long enough for any racing timer
// or deadline to pass.
class Pauses {
 public:
  Pauses(std::uint32_t seed, const std::atomic<std::uint64_t>& consumer_next) : rng_(seed), next_(consumer_next) {}
  void after(std::uint64_t i) {
    if (i % 500 == 499) {
      const auto give_up = Clock::now() + 1s;  // a consumer that lost `i` never catches up
      while (next_.load(std::memory_order_acquire) <= i && Clock::now() < give_up) std::this_thread::yield();
      std::this_thread::sleep_for(2ms);
    } else if (rng_() % 4 == 0) {
      std::this_thread::sleep_for(std::chrono::microseconds(1 + rng_() % 100));
    }
  }

 private:
  std::mt19937 rng_;
  const std::atomic<std::uint64_t>& next_;
};


std::chrono::microseconds short_wait(std::mt19937& rng) { return std::chrono::microseconds(rng() % 61); }

// ---------------------------------------------------------------------------------------------
// recv() || timer, on a strand of a four-thread io_context

asio::awaitable<void> race_mpsc(mpsc::Receiver<std::uint64_t>& rx, InOrder& t) {
  std::mt19937 rng(7);
  const auto ex = co_await asio::this_coro::executor;
  for (;;) {
    asio::steady_timer timer(ex, short_wait(rng));
    auto r = co_await (rx.recv(asio::use_awaitable) || timer.async_wait(asio::use_awaitable));
    if (r.index() == 1) {
      ++t.timeouts;
      continue;
    }
    const auto& v = std::get<0>(r);
    if (!v) co_return;
    t.see(*v);
  }
}

TEST(Cancellation, UnboundedRecvRacingATimerOnAStrandLosesNothing) {
  Watchdog watchdog;
  constexpr std::uint64_t total = race_values;
  auto ch = mpsc::unbounded_channel<std::uint64_t>();
  auto rx = std::move(ch.second);
  asio::io_context ioc;
  InOrder t;
  auto done = asio::co_spawn(asio::make_strand(ioc), race_mpsc(rx, t), asio::use_future);
  PacedProducer producer(std::move(ch.first), total, Pauses(1, t.next));
  run_on_threads(ioc, 4);
  EXPECT_TRUE(producer.join()) << "a send was refused";
  EXPECT_NO_THROW(done.get());
  t.expect_all(total);
  EXPECT_GT(t.timeouts, 0u) << "the timer never won: the race was not exercised";
}

TEST(Cancellation, UnboundedRecvRacingATimerOnAOneThreadContextLosesNothing) {
  Watchdog watchdog;
  constexpr std::uint64_t total = race_values;
  auto ch = mpsc::unbounded_channel<std::uint64_t>();
  auto rx = std::move(ch.second);
  asio::io_context ioc;
  InOrder t;
  auto done = asio::co_spawn(ioc, race_mpsc(rx, t), asio::use_future);
  PacedProducer producer(std::move(ch.first), total, Pauses(2, t.next));
  ioc.run();
  EXPECT_TRUE(producer.join()) << "a send was refused";
  EXPECT_NO_THROW(done.get());
  t.expect_all(total);
  EXPECT_GT(t.timeouts, 0u) << "the timer never won: the race was not exercised";
}

TEST(Cancellation, BoundedRecvRacingATimerOnAStrandLosesNothing) {
  Watchdog watchdog;
  constexpr std::uint64_t total = race_values;
  auto ch = mpsc::channel<std::uint64_t>(4);
  auto rx = std::move(ch.second);
  asio::io_context ioc;
  InOrder t;
  auto done = asio::co_spawn(asio::make_strand(ioc), race_mpsc(rx, t), asio::use_future);
  PacedProducer producer(std::move(ch.first), total, Pauses(3, t.next));
  run_on_threads(ioc, 4);
  EXPECT_TRUE(producer.join()) << "a send was refused";
  EXPECT_NO_THROW(done.get());
  t.expect_all(total);
  EXPECT_GT(t.timeouts, 0u) << "the timer never won: the race was not exercised";
}

asio::awaitable<void> race_broadcast(broadcast::Receiver<std::uint64_t>& rx, InOrder& t) {
  std::mt19937 rng(11);
  const auto ex = co_await asio::this_coro::executor;
  for (;;) {
    asio::steady_timer timer(ex, short_wait(rng));
    auto r = co_await (rx.recv(asio::use_awaitable) || timer.async_wait(asio::use_awaitable));
    if (r.index() == 1) {
      ++t.timeouts;
      continue;
    }
    auto& v = std::get<0>(r);
    if (v) {
      t.see(*v);
    } else if (v.error().kind == broadcast::RecvError::closed) {
      co_return;
    } else {
      ++t.other_errors;
      t.note("receive error kind " + std::to_string(v.error().kind) + " skipped " +
             std::to_string(v.error().skipped));
      if (v.error().kind != broadcast::RecvError::lagged) co_return;
    }
  }
}

TEST(Cancellation, BroadcastRecvRacingATimerOnAStrandLosesNothing) {
  Watchdog watchdog;
  constexpr std::uint64_t total = race_values;
  auto ch = broadcast::channel<std::uint64_t>(total);  // room for everything: nothing can lag
  auto rx = std::move(ch.second);
  auto rx2 = rx.resubscribe();
  asio::io_context ioc;
  InOrder t, t2;
  auto done = asio::co_spawn(asio::make_strand(ioc), race_broadcast(rx, t), asio::use_future);
  auto done2 = asio::co_spawn(asio::make_strand(ioc), race_broadcast(rx2, t2), asio::use_future);
  std::uint64_t lagged_total = ~std::uint64_t{0};
  PacedProducer producer(std::move(ch.first), total, Pauses(4, t.next),
                         [&lagged_total](auto& tx) { lagged_total = tx.lagged_count(); });
  run_on_threads(ioc, 4);
  EXPECT_TRUE(producer.join()) << "a send was refused";
  EXPECT_NO_THROW(done.get());
  EXPECT_NO_THROW(done2.get());
  t.expect_all(total);
  t2.expect_all(total);
  EXPECT_EQ(lagged_total, 0u);
  EXPECT_GT(t.timeouts, 0u) << "the timer never won: the race was not exercised";
}

// ---------------------------------------------------------------------------------------------
// recv_for / recv_until with short deadlines, on a four-thread io_context without a strand

TEST(Cancellation, UnboundedRecvForWithoutAStrandLosesNothing) {
  Watchdog watchdog;
  constexpr std::uint64_t total = race_values;
  auto ch = mpsc::unbounded_channel<std::uint64_t>();
  auto rx = std::move(ch.second);
  asio::io_context ioc;
  InOrder t;
  auto consumer = [&]() -> asio::awaitable<void> {
    std::mt19937 rng(21);
    for (;;) {
      const auto d = short_wait(rng);
      const auto deadline = Clock::now() + d;
      auto r = co_await rx.recv_for(d);
      if (r) {
        t.see(*r);
      } else if (r.error() == mpsc::RecvTimeoutError::timed_out) {
        ++t.timeouts;
        if (Clock::now() < deadline) ++t.early_timeouts;
      } else {
        co_return;  // disconnected
      }
    }
  };
  auto done = asio::co_spawn(ioc, consumer(), asio::use_future);
  PacedProducer producer(std::move(ch.first), total, Pauses(5, t.next));
  run_on_threads(ioc, 4);
  EXPECT_TRUE(producer.join()) << "a send was refused";
  EXPECT_NO_THROW(done.get());
  t.expect_all(total);
  EXPECT_GT(t.timeouts, 0u) << "no deadline passed: the race was not exercised";
  EXPECT_EQ(t.early_timeouts, 0u) << "recv_for reported timed_out before its deadline";
}

TEST(Cancellation, BoundedRecvUntilWithoutAStrandLosesNothing) {
  Watchdog watchdog;
  constexpr std::uint64_t total = race_values;
  auto ch = mpsc::channel<std::uint64_t>(4);
  auto rx = std::move(ch.second);
  asio::io_context ioc;
  InOrder t;
  auto consumer = [&]() -> asio::awaitable<void> {
    std::mt19937 rng(22);
    for (;;) {
      const auto deadline = Clock::now() + short_wait(rng);
      auto r = co_await rx.recv_until(deadline);
      if (r) {
        t.see(*r);
      } else if (r.error() == mpsc::RecvTimeoutError::timed_out) {
        ++t.timeouts;
        if (Clock::now() < deadline) ++t.early_timeouts;
      } else {
        co_return;
      }
    }
  };
  auto done = asio::co_spawn(ioc, consumer(), asio::use_future);
  PacedProducer producer(std::move(ch.first), total, Pauses(6, t.next));
  run_on_threads(ioc, 4);
  EXPECT_TRUE(producer.join()) << "a send was refused";
  EXPECT_NO_THROW(done.get());
  t.expect_all(total);
  EXPECT_GT(t.timeouts, 0u) << "no deadline passed: the race was not exercised";
  EXPECT_EQ(t.early_timeouts, 0u) << "recv_until reported timed_out before its deadline";
}

TEST(Cancellation, BroadcastRecvForAndRecvUntilWithoutAStrandLoseNothing) {
  Watchdog watchdog;
  constexpr std::uint64_t total = race_values;
  auto ch = broadcast::channel<std::uint64_t>(total);  // room for everything: nothing can lag
  auto rx = std::move(ch.second);
  asio::io_context ioc;
  InOrder t;
  auto consumer = [&]() -> asio::awaitable<void> {
    std::mt19937 rng(23);
    for (std::uint64_t round = 0;; ++round) {
      const auto d = short_wait(rng);
      const auto deadline = Clock::now() + d;
      Result<std::uint64_t, broadcast::RecvError> r(broadcast::RecvError{broadcast::RecvError::empty});
      if (round % 2) r = co_await rx.recv_for(d);
      else r = co_await rx.recv_until(deadline);
      if (r) {
        t.see(*r);
      } else if (r.error().kind == broadcast::RecvError::timed_out) {
        ++t.timeouts;
        if (Clock::now() < deadline) ++t.early_timeouts;
      } else if (r.error().kind == broadcast::RecvError::closed) {
        co_return;
      } else {
        ++t.other_errors;
        t.note("receive error kind " + std::to_string(r.error().kind));
      }
    }
  };
  auto done = asio::co_spawn(ioc, consumer(), asio::use_future);
  PacedProducer producer(std::move(ch.first), total, Pauses(7, t.next));
  run_on_threads(ioc, 4);
  EXPECT_TRUE(producer.join()) << "a send was refused";
  EXPECT_NO_THROW(done.get());
  t.expect_all(total);
  EXPECT_GT(t.timeouts, 0u) << "no deadline passed: the race was not exercised";
  EXPECT_EQ(t.early_timeouts, 0u) << "timed_out reported before the deadline";
}

TEST(Cancellation, MpscRecvForTimesOutWhenEmptyAndIsDisconnectedWhenEnded) {
  auto ch = mpsc::unbounded_channel<int>();
  auto tx = std::move(ch.first);
  auto rx = std::move(ch.second);
  run_sync([&]() -> asio::awaitable<void> {
    auto start = Clock::now();
    auto r = co_await rx.recv_for(5ms);
    EXPECT_FALSE(r);
    if (!r) {
      EXPECT_EQ(r.error(), mpsc::RecvTimeoutError::timed_out);
    }
    EXPECT_GE(Clock::now() - start, 5ms);

    tx.send(7).value();
    auto v = co_await rx.recv_for(5ms);
    EXPECT_TRUE(v && *v == 7);
    auto past = co_await rx.recv_until(Clock::now() - 1s);
    EXPECT_FALSE(past);
    if (!past) {
      EXPECT_EQ(past.error(), mpsc::RecvTimeoutError::timed_out);
    }

    tx.send(8).value();
    { auto gone = std::move(tx); }
    auto last = co_await rx.recv_for(5s);  // what was queued comes first
    EXPECT_TRUE(last && *last == 8);
    start = Clock::now();
    auto end = co_await rx.recv_for(5s);
    EXPECT_FALSE(end);
    if (!end) {
      EXPECT_EQ(end.error(), mpsc::RecvTimeoutError::disconnected);
    }
    EXPECT_LT(Clock::now() - start, 1s) << "an ended channel must not wait for the deadline";
  }());

  auto bch = mpsc::channel<int>(2);
  auto brx = std::move(bch.second);
  run_sync([&]() -> asio::awaitable<void> {
    auto r = co_await brx.recv_for(2ms);
    EXPECT_FALSE(r);
    if (!r) {
      EXPECT_EQ(r.error(), mpsc::RecvTimeoutError::timed_out);
    }
    brx.close();  // the sender is still alive
    const auto start = Clock::now();
    auto end = co_await brx.recv_for(5s);
    EXPECT_FALSE(end);
    if (!end) {
      EXPECT_EQ(end.error(), mpsc::RecvTimeoutError::disconnected);
    }
    EXPECT_LT(Clock::now() - start, 1s);
  }());
}

TEST(Cancellation, BroadcastRecvForTimesOutWhenEmptyAndIsClosedWhenEnded) {
  auto ch = broadcast::channel<int>(4);
  auto tx = std::move(ch.first);
  auto rx = std::move(ch.second);
  run_sync([&]() -> asio::awaitable<void> {
    auto start = Clock::now();
    auto r = co_await rx.recv_for(5ms);
    EXPECT_FALSE(r);
    if (!r) {
      EXPECT_EQ(r.error().kind, broadcast::RecvError::timed_out);
    }
    EXPECT_GE(Clock::now() - start, 5ms);

    tx.send(7).value();
    auto v = co_await rx.recv_for(5ms);
    EXPECT_TRUE(v && *v == 7);

    tx.send(8).value();
    { auto gone = std::move(tx); }
    auto last = co_await rx.recv_for(5s);
    EXPECT_TRUE(last && *last == 8);
    start = Clock::now();
    auto end = co_await rx.recv_for(5s);
    EXPECT_FALSE(end);
    if (!end) {
      EXPECT_EQ(end.error().kind, broadcast::RecvError::closed);
    }
    EXPECT_LT(Clock::now() - start, 1s) << "a closed channel must not wait for the deadline";
  }());
}

// ---------------------------------------------------------------------------------------------
// Select between two channels

TEST(Cancellation, SelectBetweenTwoChannelsOnAStrandLosesNothing) {
  Watchdog watchdog;
  constexpr std::uint64_t total = scaled(50'000);
  auto a = mpsc::unbounded_channel<std::uint64_t>();
  auto b = mpsc::unbounded_channel<std::uint64_t>();
  auto arx = std::move(a.second);
  auto brx = std::move(b.second);
  asio::io_context ioc;
  InOrder ta, tb;
  auto consumer = [&]() -> asio::awaitable<void> {
    bool a_open = true, b_open = true;
    while (a_open || b_open) {
      if (a_open && b_open) {
        auto r = co_await (arx.recv(asio::use_awaitable) || brx.recv(asio::use_awaitable));
        if (r.index() == 0) {
          if (auto& v = std::get<0>(r)) ta.see(*v);
          else a_open = false;
        } else {
          if (auto& v = std::get<1>(r)) tb.see(*v);
          else b_open = false;
        }
      } else if (a_open) {
        if (auto v = co_await arx.recv()) ta.see(*v);
        else a_open = false;
      } else {
        if (auto v = co_await brx.recv()) tb.see(*v);
        else b_open = false;
      }
    }
  };
  auto done = asio::co_spawn(asio::make_strand(ioc), consumer(), asio::use_future);
  auto produce = [](mpsc::UnboundedSender<std::uint64_t> tx, std::uint32_t seed) {
    std::mt19937 rng(seed);
    for (std::uint64_t i = 0; i < total; ++i) {
      tx.send(i).value();
      if (rng() % 16 == 0) std::this_thread::sleep_for(std::chrono::microseconds(1 + rng() % 100));
    }
  };
  std::thread pa(produce, std::move(a.first), 31);
  std::thread pb(produce, std::move(b.first), 32);
  run_on_threads(ioc, 4);
  pa.join();
  pb.join();
  EXPECT_NO_THROW(done.get());
  {
    SCOPED_TRACE("channel a");
    ta.expect_all(total);
  }
  {
    SCOPED_TRACE("channel b");
    tb.expect_all(total);
  }
}

// ---------------------------------------------------------------------------------------------
// A parked receive wakes when the last sender is destroyed on another thread

template <class MakeChannel>
void parked_recv_ends_when_last_sender_goes(MakeChannel make_channel) {
  Watchdog watchdog;
  const int rounds = static_cast<int>(scaled(2000));
  std::mt19937 rng(41);
  int ended = 0;
  for (int round = 0; round < rounds; ++round) {
    auto ch = make_channel();
    auto rx = std::move(ch.second);
    asio::io_context ioc;
    std::atomic<bool> waiting{false};
    bool got_end = false;
    auto consumer = [&]() -> asio::awaitable<void> {
      waiting = true;
      auto v = co_await rx.recv();
      got_end = !v;
    };
    auto done = asio::co_spawn(ioc, consumer(), asio::use_future);
    const auto pause = std::chrono::microseconds(round % 100 == 0 ? 2000 : rng() % 50);
    std::thread leaver([&waiting, pause, tx = std::move(ch.first)]() mutable {
      while (!waiting) std::this_thread::yield();
      std::this_thread::sleep_for(pause);
      auto gone = std::move(tx);
    });
    run_on_threads(ioc, 2);
    leaver.join();
    EXPECT_NO_THROW(done.get());
    EXPECT_TRUE(got_end) << "round " << round;
    ended += got_end;
  }
  EXPECT_EQ(ended, rounds);
}

TEST(Cancellation, ParkedUnboundedRecvEndsWhenTheLastSenderIsDestroyedOnAnotherThread) {
  parked_recv_ends_when_last_sender_goes([] { return mpsc::unbounded_channel<int>(); });
}

TEST(Cancellation, ParkedBoundedRecvEndsWhenTheLastSenderIsDestroyedOnAnotherThread) {
  parked_recv_ends_when_last_sender_goes([] { return mpsc::channel<int>(8); });
}

TEST(Cancellation, ParkedBroadcastRecvsEndWhenTheLastSenderIsDestroyedOnAnotherThread) {
  Watchdog watchdog;
  const int rounds = static_cast<int>(scaled(2000));
  std::mt19937 rng(42);
  int ended = 0;
  for (int round = 0; round < rounds; ++round) {
    auto ch = broadcast::channel<int>(8);
    std::vector<broadcast::Receiver<int>> rxs;
    rxs.push_back(std::move(ch.second));
    rxs.push_back(ch.first.subscribe());
    asio::io_context ioc;
    std::atomic<int> waiting{0};
    std::vector<std::optional<broadcast::RecvError>> errors(rxs.size());
    auto consumer = [&](std::size_t i) -> asio::awaitable<void> {
      waiting.fetch_add(1);
      auto r = co_await rxs[i].recv();
      errors[i] = r ? broadcast::RecvError{broadcast::RecvError::empty} : r.error();
    };
    auto done0 = asio::co_spawn(ioc, consumer(0), asio::use_future);
    auto done1 = asio::co_spawn(ioc, consumer(1), asio::use_future);
    const auto pause = std::chrono::microseconds(round % 100 == 0 ? 2000 : rng() % 50);
    std::thread leaver([&waiting, pause, tx = std::move(ch.first)]() mutable {
      while (waiting.load() < 2) std::this_thread::yield();
      std::this_thread::sleep_for(pause);
      auto gone = std::move(tx);
    });
    run_on_threads(ioc, 2);
    leaver.join();
    EXPECT_NO_THROW(done0.get());
    EXPECT_NO_THROW(done1.get());
    for (std::size_t i = 0; i < errors.size(); ++i) {
      const bool closed = errors[i] && errors[i]->kind == broadcast::RecvError::closed;
      EXPECT_TRUE(closed) << "round " << round << " receiver " << i;
      ended += closed;
    }
  }
  EXPECT_EQ(ended, 2 * rounds);
}

// ---------------------------------------------------------------------------------------------
// A cancelled bounded reserve() holds no permit

TEST(Cancellation, CancelledReserveHoldsNoPermit) {
  auto ch = mpsc::channel<int>(1);
  auto tx = std::move(ch.first);
  auto rx = std::move(ch.second);
  ASSERT_TRUE(tx.try_send(1));
  run_sync([&]() -> asio::awaitable<void> {
    for (int i = 0; i < 100; ++i) {  // each loses to the timer: the channel stays full
      asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::microseconds(i % 3 * 100));
      auto r = co_await (tx.reserve() || timer.async_wait(asio::use_awaitable));
      EXPECT_EQ(r.index(), 1u);
    }
  }());
  auto full = tx.try_send(2);
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().kind, TrySendErrorKind::full);
  EXPECT_EQ(rx.try_recv().value(), 1);
  EXPECT_TRUE(tx.try_send(3)) << "the room freed must be available, not held by a cancelled reserve";
  auto again = tx.try_send(4);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind, TrySendErrorKind::full) << "exactly one value fits";
  EXPECT_EQ(rx.try_recv().value(), 3);
  EXPECT_EQ(rx.try_recv().error(), mpsc::TryRecvError::empty);
}

// The room is freed at about the moment the timer fires: whichever wins, exactly one value fits
// afterwards.
TEST(Cancellation, ReserveRacingATimerWhileRoomIsFreedHoldsExactlyWhatItReturns) {
  Watchdog watchdog;
  const int rounds = static_cast<int>(scaled(5000));
  auto ch = mpsc::channel<int>(1);
  auto tx = std::move(ch.first);
  auto rx = std::move(ch.second);
  ASSERT_TRUE(tx.try_send(-1));
  asio::io_context ioc;
  int reserve_won = 0, timer_won = 0, drained = 0, accounting_errors = 0, refused_sends = 0;
  auto drain = [&](std::uint32_t seed) -> asio::awaitable<void> {
    std::mt19937 rng(seed);
    asio::steady_timer wait(co_await asio::this_coro::executor, short_wait(rng));
    co_await wait.async_wait(asio::use_awaitable);
    if (rx.try_recv()) ++drained;
  };
  auto consumer = [&]() -> asio::awaitable<void> {
    std::mt19937 rng(51);
    for (int round = 0; round < rounds; ++round) {
      asio::steady_timer timer(co_await asio::this_coro::executor, short_wait(rng));
      auto r = co_await ((tx.reserve() || timer.async_wait(asio::use_awaitable)) &&
                         asio::co_spawn(ioc.get_executor(), drain(rng()), asio::use_awaitable));
      if (r.index() == 0) {
        ++reserve_won;
        auto& permit = std::get<0>(r);
        if (!permit) {
          ++accounting_errors;
          continue;
        }
        if (!std::move(*permit).send(round)) ++refused_sends;
      } else {
        ++timer_won;
        if (!tx.try_send(round)) ++accounting_errors;  // the freed room is there
      }
      if (tx.try_send(-2)) ++accounting_errors;  // and no more than that
    }
  };
  auto done = asio::co_spawn(asio::make_strand(ioc), consumer(), asio::use_future);
  run_on_threads(ioc, 2);
  EXPECT_NO_THROW(done.get());
  EXPECT_EQ(drained, rounds);
  EXPECT_EQ(accounting_errors, 0);
  EXPECT_EQ(refused_sends, 0);
  EXPECT_EQ(reserve_won + timer_won, rounds);
  EXPECT_EQ(rx.len(), 1u);
  ::testing::Test::RecordProperty("reserve_won", std::to_string(reserve_won));
  ::testing::Test::RecordProperty("timer_won", std::to_string(timer_won));
}

}  // namespace

}  // namespace cancellation_test
