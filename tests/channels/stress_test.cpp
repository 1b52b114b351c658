// Stress tests: many values through each kind of channel from many threads, every value counted.

#include <swarmsync/channels/broadcast.hpp>
#include <swarmsync/channels/mpsc.hpp>

#include "support/async.hpp"
#include "support/counted.hpp"
#include "support/watchdog.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <limits>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace stress_test {

namespace {

using namespace swarmsync;
using swarmsync::test::Counted;
using swarmsync::test::run_on_threads;
using swarmsync::test::run_sync;
using swarmsync::test::scaled;

using swarmsync::test::Watchdog;

// A value is (source << 40) | sequence number.
constexpr unsigned source_shift = 40;
constexpr std::uint64_t seq_mask = (std::uint64_t{1} << source_shift) - 1;
constexpr std::uint64_t encode(std::uint64_t source, std::uint64_t seq) { return (source << source_shift) | seq; }

// Checks that each source's values arrive exactly once and in increasing order.
class SourceOrder {
 public:
  SourceOrder(std::size_t sources, std::uint64_t per_source)
      : last_(sources, -1), count_(sources, 0), per_source_(per_source) {}

  void see(std::uint64_t value) {
    const std::uint64_t source = value >> source_shift;
    const std::uint64_t seq = value & seq_mask;
    if (source >= last_.size() || seq >= per_source_) {
      note("value out of range", value);
      return;
    }
    ++count_[source];
    if (static_cast<std::int64_t>(seq) <= last_[source]) {
      note(static_cast<std::int64_t>(seq) == last_[source] ? "duplicate" : "out of order", value);
      return;
    }
    last_[source] = static_cast<std::int64_t>(seq);
  }

  // Every source delivered 0..per_source-1, each once, in order.
  void expect_complete() const {
    EXPECT_EQ(errors_, 0u) << "first: " << first_error_;
    for (std::size_t s = 0; s < count_.size(); ++s) {
      EXPECT_EQ(count_[s], per_source_) << "values received from source " << s;
      EXPECT_EQ(last_[s], static_cast<std::int64_t>(per_source_) - 1) << "last value of source " << s;
    }
  }

  std::uint64_t total() const {
    std::uint64_t t = 0;
    for (auto c : count_) t += c;
    return t;
  }

 private:
  void note(const char* what, std::uint64_t value) {
    if (errors_++ == 0) {
      std::ostringstream os;
      os << what << ": source " << (value >> source_shift) << " seq " << (value & seq_mask);
      first_error_ = os.str();
    }
  }

  std::vector<std::int64_t> last_;
  std::vector<std::uint64_t> count_;
  std::uint64_t per_source_;
  std::uint64_t errors_ = 0;
  std::string first_error_;
};

template <class S>
std::vector<S> split_senders(S tx, std::size_t n) {
  std::vector<S> out;
  for (std::size_t i = 0; i + 1 < n; ++i) out.push_back(tx);
  out.push_back(std::move(tx));
  return out;
}

// ---------------------------------------------------------------------------------------------
// mpsc, unbounded

asio::awaitable<void> unbounded_producer(mpsc::UnboundedSender<std::uint64_t> tx, std::uint64_t source,
                                         std::uint64_t count) {
  for (std::uint64_t i = 0; i < count; ++i) {
    if (!tx.send(encode(source, i))) throw std::runtime_error("send refused while the receiver is alive");
    if (i % 128 == 127) co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
  }
}

asio::awaitable<void> consume_recv(mpsc::Receiver<std::uint64_t>& rx, SourceOrder& order) {
  while (auto v = co_await rx.recv()) order.see(*v);
}

struct BatchStats {
  std::uint64_t batches = 0;
  std::size_t largest = 0;
  std::uint64_t bad = 0;  // returned count differs from what was appended, or exceeds the limit
};

asio::awaitable<void> consume_recv_many(mpsc::Receiver<std::uint64_t>& rx, SourceOrder& order, std::size_t limit,
                                        BatchStats& stats) {
  std::vector<std::uint64_t> buffer;
  for (;;) {
    buffer.assign(3, 0);  // recv_many appends after what is there
    const std::size_t n = co_await rx.recv_many(buffer, limit);
    if (n > limit || buffer.size() != n + 3) ++stats.bad;
    if (n == 0) break;
    ++stats.batches;
    stats.largest = std::max(stats.largest, n);
    for (std::size_t i = 3; i < buffer.size(); ++i) order.see(buffer[i]);
  }
}

enum class Producers { coroutines, threads };
enum class Receive { one, many };

void unbounded_stress(Producers producers, Receive receive) {
  Watchdog watchdog;
  constexpr std::size_t sources = 4;
  const std::uint64_t per_source = scaled(2'000'000) / sources;
  auto ch = mpsc::unbounded_channel<std::uint64_t>();
  auto rx = std::move(ch.second);
  auto senders = split_senders(std::move(ch.first), sources);

  asio::io_context ioc;
  SourceOrder order(sources, per_source);
  BatchStats stats;
  auto consumer = receive == Receive::one ? asio::co_spawn(ioc, consume_recv(rx, order), asio::use_future)
                                          : asio::co_spawn(ioc, consume_recv_many(rx, order, 256, stats),
                                                           asio::use_future);
  std::vector<std::future<void>> spawned;
  std::vector<std::thread> threads;
  std::atomic<std::uint64_t> refused{0};
  for (std::size_t s = 0; s < sources; ++s) {
    if (producers == Producers::coroutines) {
      spawned.push_back(
          asio::co_spawn(ioc, unbounded_producer(std::move(senders[s]), s, per_source), asio::use_future));
    } else {
      threads.emplace_back([&, s, tx = std::move(senders[s])]() mutable {
        for (std::uint64_t i = 0; i < per_source; ++i)
          if (!tx.send(encode(s, i))) refused.fetch_add(1);
        auto gone = std::move(tx);
      });
    }
  }
  senders.clear();
  run_on_threads(ioc, 4);
  for (auto& t : threads) t.join();
  for (auto& f : spawned) EXPECT_NO_THROW(f.get());
  EXPECT_NO_THROW(consumer.get());

  EXPECT_EQ(refused.load(), 0u);
  order.expect_complete();
  EXPECT_EQ(order.total(), sources * per_source);
  EXPECT_EQ(rx.try_recv().error(), mpsc::TryRecvError::disconnected);
  if (receive == Receive::many) {
    EXPECT_EQ(stats.bad, 0u);
    EXPECT_GT(stats.batches, 0u);
    EXPECT_LE(stats.largest, 256u);
  }
}

TEST(MpscStress, UnboundedCoroutineProducersRecv) { unbounded_stress(Producers::coroutines, Receive::one); }
TEST(MpscStress, UnboundedCoroutineProducersRecvMany) { unbounded_stress(Producers::coroutines, Receive::many); }
TEST(MpscStress, UnboundedThreadProducersRecv) { unbounded_stress(Producers::threads, Receive::one); }
TEST(MpscStress, UnboundedThreadProducersRecvMany) { unbounded_stress(Producers::threads, Receive::many); }

// ---------------------------------------------------------------------------------------------
// mpsc, bounded

asio::awaitable<void> bounded_producer(mpsc::Sender<std::uint64_t> tx, std::uint64_t source, std::uint64_t count) {
  for (std::uint64_t i = 0; i < count; ++i) {
    auto sent = co_await tx.send(encode(source, i));
    if (!sent) throw std::runtime_error("send refused while the receiver is alive");
  }
}

asio::awaitable<void> consume_bounded(mpsc::Receiver<std::uint64_t>& rx, SourceOrder& order, std::size_t& max_len) {
  for (;;) {
    max_len = std::max(max_len, rx.len());
    auto v = co_await rx.recv();
    max_len = std::max(max_len, rx.len());
    if (!v) break;
    order.see(*v);
  }
}

// `producers_on_own_threads`: each producer runs on its own thread's io_context instead of the
// consumer's.
void bounded_stress(std::size_t capacity, std::uint64_t total, bool producers_on_own_threads) {
  Watchdog watchdog;
  constexpr std::size_t sources = 4;
  const std::uint64_t per_source = total / sources;
  auto ch = mpsc::channel<std::uint64_t>(capacity);
  auto rx = std::move(ch.second);
  auto senders = split_senders(std::move(ch.first), sources);

  asio::io_context ioc;
  SourceOrder order(sources, per_source);
  std::size_t max_len = 0;
  auto consumer = asio::co_spawn(ioc, consume_bounded(rx, order, max_len), asio::use_future);
  std::vector<std::future<void>> spawned;
  std::vector<std::thread> threads;
  std::atomic<int> producer_failures{0};
  for (std::size_t s = 0; s < sources; ++s) {
    if (!producers_on_own_threads) {
      spawned.push_back(
          asio::co_spawn(ioc, bounded_producer(std::move(senders[s]), s, per_source), asio::use_future));
    } else {
      threads.emplace_back([&, s, tx = std::move(senders[s])]() mutable {
        try {
          run_sync(bounded_producer(std::move(tx), s, per_source));
        } catch (...) {
          producer_failures.fetch_add(1);
        }
      });
    }
  }
  senders.clear();
  run_on_threads(ioc, 4);
  for (auto& t : threads) t.join();
  for (auto& f : spawned) EXPECT_NO_THROW(f.get());
  EXPECT_NO_THROW(consumer.get());

  EXPECT_EQ(producer_failures.load(), 0);
  order.expect_complete();
  EXPECT_EQ(order.total(), sources * per_source);
  EXPECT_LE(max_len, capacity) << "len() seen by the consumer exceeded the capacity";
  EXPECT_EQ(rx.try_recv().error(), mpsc::TryRecvError::disconnected);
}

TEST(MpscStress, BoundedCapacity64) { bounded_stress(64, scaled(2'000'000), false); }
TEST(MpscStress, BoundedCapacity1) { bounded_stress(1, scaled(500'000), false); }
TEST(MpscStress, BoundedCapacity1ProducersOnOwnThreads) { bounded_stress(1, scaled(200'000), true); }

// ---------------------------------------------------------------------------------------------
// broadcast, one sender

struct Tally {
  std::uint64_t received = 0;
  std::uint64_t skipped = 0;
  std::uint64_t lag_events = 0;
  std::uint64_t errors = 0;
  std::string first_error;
  bool closed = false;

  void note(std::string what) {
    if (errors++ == 0) first_error = std::move(what);
  }
};

// Values are the positions 0, 1, 2...: each value received must be the next position, counting
// the positions a lag skipped.
asio::awaitable<void> broadcast_positions(broadcast::Receiver<std::uint64_t> rx, Tally& t,
                                          std::atomic<std::uint64_t>* progress) {
  std::uint64_t expected = 0;
  std::int64_t previous = -1;
  for (;;) {
    auto r = co_await rx.recv();
    if (r) {
      const std::uint64_t v = *r;
      if (static_cast<std::int64_t>(v) <= previous)
        t.note("not increasing: " + std::to_string(v) + " after " + std::to_string(previous));
      else if (v != expected)
        t.note("expected position " + std::to_string(expected) + ", got " + std::to_string(v));
      previous = static_cast<std::int64_t>(v);
      expected = v + 1;
      ++t.received;
      if (progress) progress->store(t.received, std::memory_order_release);
    } else if (r.error().kind == broadcast::RecvError::lagged) {
      if (r.error().skipped == 0) t.note("lagged by 0");
      t.skipped += r.error().skipped;
      expected += r.error().skipped;
      ++t.lag_events;
    } else if (r.error().kind == broadcast::RecvError::closed) {
      t.closed = true;
      co_return;
    } else {
      t.note("unexpected error kind " + std::to_string(r.error().kind));
      co_return;
    }
  }
}

// `paced`: the sender stays less than capacity/2 ahead of the slowest receiver.
void broadcast_one_sender(bool paced) {
  Watchdog watchdog;
  constexpr std::size_t receivers = 4;
  const std::uint64_t total = scaled(1'000'000);
  auto ch = broadcast::channel<std::uint64_t>(1024);
  auto tx = std::move(ch.first);
  std::vector<broadcast::Receiver<std::uint64_t>> rxs;
  rxs.push_back(std::move(ch.second));
  for (std::size_t i = 1; i < receivers; ++i) rxs.push_back(tx.subscribe());
  const std::uint64_t window = tx.capacity() / 2;

  asio::io_context ioc;
  std::vector<Tally> tallies(receivers);
  std::vector<std::atomic<std::uint64_t>> progress(receivers);
  std::vector<std::future<void>> spawned;
  for (std::size_t i = 0; i < receivers; ++i)
    spawned.push_back(asio::co_spawn(ioc, broadcast_positions(std::move(rxs[i]), tallies[i], &progress[i]),
                                     asio::use_future));
  rxs.clear();

  std::atomic<std::uint64_t> refused{0};
  std::thread sender([&, tx = std::move(tx)]() mutable {
    for (std::uint64_t i = 0; i < total; ++i) {
      if (paced) {
        for (;;) {
          std::uint64_t slowest = std::numeric_limits<std::uint64_t>::max();
          for (auto& p : progress) slowest = std::min(slowest, p.load(std::memory_order_acquire));
          if (i - slowest < window) break;
          std::this_thread::yield();
        }
      }
      if (!tx.send(i)) refused.fetch_add(1);
    }
    auto gone = std::move(tx);
  });
  run_on_threads(ioc, 4);
  sender.join();
  for (auto& f : spawned) EXPECT_NO_THROW(f.get());

  EXPECT_EQ(refused.load(), 0u);
  std::uint64_t lags = 0;
  for (std::size_t i = 0; i < receivers; ++i) {
    const Tally& t = tallies[i];
    EXPECT_EQ(t.errors, 0u) << "receiver " << i << ", first: " << t.first_error;
    EXPECT_TRUE(t.closed) << "receiver " << i;
    EXPECT_EQ(t.received + t.skipped, total) << "receiver " << i;
    if (paced) {
      EXPECT_EQ(t.lag_events, 0u) << "receiver " << i;
      EXPECT_EQ(t.received, total) << "receiver " << i;
    }
    lags += t.lag_events;
  }
  ::testing::Test::RecordProperty("lag_events", std::to_string(lags));
}

TEST(BroadcastStress, FreeRunningSenderReceivedPlusSkippedIsEverythingSent) { broadcast_one_sender(false); }
TEST(BroadcastStress, PacedSenderNobodyLagsAndEveryoneGetsEverything) { broadcast_one_sender(true); }

// ---------------------------------------------------------------------------------------------
// broadcast, two sender threads

asio::awaitable<void> broadcast_sources(broadcast::Receiver<std::uint64_t> rx, std::size_t sources,
                                        std::uint64_t per_source, Tally& t) {
  std::vector<std::int64_t> last(sources, -1);
  for (;;) {
    auto r = co_await rx.recv();
    if (r) {
      const std::uint64_t source = *r >> source_shift;
      const std::uint64_t seq = *r & seq_mask;
      if (source >= sources || seq >= per_source) {
        t.note("value out of range: " + std::to_string(*r));
      } else if (static_cast<std::int64_t>(seq) <= last[source]) {
        t.note("source " + std::to_string(source) + ": " + std::to_string(seq) + " after " +
               std::to_string(last[source]));
      } else {
        last[source] = static_cast<std::int64_t>(seq);
      }
      ++t.received;
    } else if (r.error().kind == broadcast::RecvError::lagged) {
      t.skipped += r.error().skipped;
      ++t.lag_events;
    } else if (r.error().kind == broadcast::RecvError::closed) {
      t.closed = true;
      co_return;
    } else {
      t.note("unexpected error kind " + std::to_string(r.error().kind));
      co_return;
    }
  }
}

TEST(BroadcastStress, TwoSenderThreadsTwoReceivers) {
  Watchdog watchdog;
  constexpr std::size_t sources = 2;
  constexpr std::size_t receivers = 2;
  const std::uint64_t per_source = scaled(1'000'000) / sources;
  auto ch = broadcast::channel<std::uint64_t>(1024);
  auto tx = std::move(ch.first);
  std::vector<broadcast::Receiver<std::uint64_t>> rxs;
  rxs.push_back(std::move(ch.second));
  rxs.push_back(tx.subscribe());

  asio::io_context ioc;
  std::vector<Tally> tallies(receivers);
  std::vector<std::future<void>> spawned;
  for (std::size_t i = 0; i < receivers; ++i)
    spawned.push_back(
        asio::co_spawn(ioc, broadcast_sources(std::move(rxs[i]), sources, per_source, tallies[i]), asio::use_future));
  rxs.clear();

  std::atomic<std::uint64_t> refused{0};
  std::vector<std::thread> threads;
  auto senders = split_senders(std::move(tx), sources);
  for (std::size_t s = 0; s < sources; ++s) {
    threads.emplace_back([&, s, t = std::move(senders[s])]() mutable {
      for (std::uint64_t i = 0; i < per_source; ++i)
        if (!t.send(encode(s, i))) refused.fetch_add(1);
      auto gone = std::move(t);
    });
  }
  senders.clear();
  run_on_threads(ioc, 4);
  for (auto& t : threads) t.join();
  for (auto& f : spawned) EXPECT_NO_THROW(f.get());

  EXPECT_EQ(refused.load(), 0u);
  for (std::size_t i = 0; i < receivers; ++i) {
    const Tally& t = tallies[i];
    EXPECT_EQ(t.errors, 0u) << "receiver " << i << ", first: " << t.first_error;
    EXPECT_TRUE(t.closed) << "receiver " << i;
    EXPECT_EQ(t.received + t.skipped, sources * per_source) << "receiver " << i;
  }
}

// ---------------------------------------------------------------------------------------------
// Lifetime: every Counted value given to a channel is destroyed exactly once, including values
// still queued when the channel goes away.

constexpr std::int64_t id_of(std::int64_t thread, std::int64_t seq) { return thread * 1'000'000'000 + seq; }

TEST(MpscStress, UnboundedLifetimeReceiverDestroyedFirstWhileSendersSend) {
  Watchdog watchdog;
  Counted::reset();
  {
    auto ch = mpsc::unbounded_channel<Counted>();
    auto tx = std::move(ch.first);
    auto rx = std::make_unique<mpsc::Receiver<Counted>>(std::move(ch.second));
    constexpr int threads = 4;
    std::atomic<std::int64_t> accepted{0};
    std::atomic<std::int64_t> refused{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t, s = tx] {
        for (std::int64_t i = 0;; ++i) {  // until the receiver is gone
          auto r = s.send(Counted(id_of(t, i)));
          if (r) {
            accepted.fetch_add(1);
            continue;
          }
          refused.fetch_add(1);
          break;
        }
      });
    }
    // Receive some while the senders run, then destroy the receiver under them.
    const std::int64_t to_receive = 2000;
    std::vector<std::int64_t> last(threads, -1);
    std::int64_t received = 0;
    int order_errors = 0;
    while (received < to_receive) {
      auto v = rx->try_recv();
      if (!v) {
        std::this_thread::yield();
        continue;
      }
      const auto t = v->id / 1'000'000'000;
      const auto seq = v->id % 1'000'000'000;
      if (t < 0 || t >= threads || seq <= last[t]) ++order_errors;
      else last[t] = seq;
      ++received;
    }
    rx.reset();
    for (auto& th : pool) th.join();
    EXPECT_EQ(order_errors, 0);
    EXPECT_EQ(refused.load(), threads) << "each thread stops at its first refused send";
    EXPECT_GE(accepted.load(), to_receive);
    // Destroying the receiver destroyed everything accepted, though a sender remains (it waited
    // for sends still writing their values); refused values went back to their senders.
    EXPECT_EQ(Counted::alive.load(), 0);
    auto late = tx.send(Counted(-5));
    ASSERT_FALSE(late);
    EXPECT_EQ(Counted::alive.load(), 1);  // the refused value, handed back
  }
  EXPECT_EQ(Counted::alive.load(), 0);
}

TEST(MpscStress, UnboundedLifetimeSendersDestroyedFirst) {
  Watchdog watchdog;
  Counted::reset();
  {
    auto ch = mpsc::unbounded_channel<Counted>();
    auto rx = std::move(ch.second);
    constexpr int threads = 4;
    constexpr std::int64_t per_thread = 5000;
    {
      auto tx = std::move(ch.first);
      std::vector<std::thread> pool;
      for (int t = 0; t < threads; ++t)
        pool.emplace_back([t, s = tx] {
          for (std::int64_t i = 0; i < per_thread; ++i) s.send(Counted(id_of(t, i))).value();
        });
      // Receive some concurrently with the senders.
      std::int64_t received = 0;
      while (received < 3 * per_thread) {
        if (rx.try_recv()) ++received;
        else std::this_thread::yield();
      }
      for (auto& th : pool) th.join();
    }
    EXPECT_EQ(rx.sender_count(), 0u);
    EXPECT_EQ(Counted::alive.load(), threads * per_thread - 3 * per_thread);
    EXPECT_EQ(rx.len(), static_cast<std::size_t>(threads * per_thread - 3 * per_thread));
  }  // the receiver goes with the values still queued
  EXPECT_EQ(Counted::alive.load(), 0);
}

TEST(MpscStress, BoundedLifetimeReceiverDestroyedFirstWhileSendersWait) {
  Watchdog watchdog;
  Counted::reset();
  {
    constexpr std::size_t capacity = 16;
    auto ch = mpsc::channel<Counted>(capacity);
    auto tx = std::move(ch.first);
    auto rx = std::make_unique<mpsc::Receiver<Counted>>(std::move(ch.second));
    constexpr int threads = 4;
    std::atomic<std::int64_t> accepted{0};
    std::atomic<std::int64_t> refused{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t, s = tx] {
        run_sync([&, t]() -> asio::awaitable<void> {
          for (std::int64_t i = 0;; ++i) {  // until the receiver is gone
            auto r = co_await s.send(Counted(id_of(t, i)));
            if (r) {
              accepted.fetch_add(1);
              continue;
            }
              refused.fetch_add(1);
            co_return;
          }
        }());
      });
    }
    const std::int64_t to_receive = 500;
    std::int64_t received = run_sync([&]() -> asio::awaitable<std::int64_t> {
      std::int64_t n = 0;
      while (n < to_receive) {
        auto v = co_await rx->recv();
        if (!v) break;
        ++n;
      }
      co_return n;
    }());
    EXPECT_EQ(received, to_receive);
    rx.reset();  // senders waiting for room get their values back
    for (auto& th : pool) th.join();
    EXPECT_EQ(refused.load(), threads);
    const std::int64_t queued = accepted.load() - received;
    EXPECT_GE(queued, 0);
    EXPECT_LE(queued, static_cast<std::int64_t>(capacity));
    // What was queued went with the receiver, though a sender still holds the channel.
    EXPECT_EQ(Counted::alive.load(), 0);
  }
  EXPECT_EQ(Counted::alive.load(), 0);
}

TEST(MpscStress, BoundedLifetimeSendersDestroyedFirst) {
  Watchdog watchdog;
  Counted::reset();
  {
    constexpr std::size_t capacity = 16;
    constexpr int threads = 4;
    constexpr std::int64_t per_thread = 1000;
    constexpr std::int64_t left = 10;  // < capacity: every send can complete
    auto ch = mpsc::channel<Counted>(capacity);
    auto rx = std::move(ch.second);
    {
      auto tx = std::move(ch.first);
      std::vector<std::thread> pool;
      for (int t = 0; t < threads; ++t)
        pool.emplace_back([t, s = tx] {
          run_sync([&]() -> asio::awaitable<void> {
            for (std::int64_t i = 0; i < per_thread; ++i) (co_await s.send(Counted(id_of(t, i)))).value();
          }());
        });
      const std::int64_t received = run_sync([&]() -> asio::awaitable<std::int64_t> {
        std::int64_t n = 0;
        while (n < threads * per_thread - left) {
          auto v = co_await rx.recv();
          if (!v) break;
          ++n;
        }
        co_return n;
      }());
      EXPECT_EQ(received, threads * per_thread - left);
      for (auto& th : pool) th.join();
    }
    EXPECT_EQ(Counted::alive.load(), left);
    EXPECT_EQ(rx.len(), static_cast<std::size_t>(left));
  }
  EXPECT_EQ(Counted::alive.load(), 0);
}

TEST(BroadcastStress, LifetimeReceiversDestroyedFirstWhileSendersSend) {
  Watchdog watchdog;
  Counted::reset();
  {
    auto ch = broadcast::channel<Counted>(64);
    auto tx = std::move(ch.first);
    std::vector<broadcast::Receiver<Counted>> rxs;
    rxs.push_back(std::move(ch.second));
    rxs.push_back(tx.subscribe());
    constexpr int threads = 4;
    std::atomic<std::int64_t> refused{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t, s = tx] {
        for (std::int64_t i = 0;; ++i) {  // until no receiver is left
          auto r = s.send(Counted(id_of(t, i)));
          if (r) continue;
          refused.fetch_add(1);
          break;
        }
      });
    }
    // Both receivers read concurrently with the senders (copies race with overwrites).
    std::uint64_t received = 0;
    int bad_ids = 0;
    while (received < 2000) {
      for (auto& r : rxs) {
        auto v = r.try_recv();
        if (v) {
          ++received;
          if (v->id < 0 || v->id / 1'000'000'000 >= threads) ++bad_ids;
        }
      }
    }
    rxs.clear();
    for (auto& th : pool) th.join();
    EXPECT_EQ(bad_ids, 0);
    EXPECT_EQ(refused.load(), threads);
    // The last receiver to go destroyed what the ring held; only a send racing it (one per
    // thread at most, which saw a receiver just before) may have written a value after.
    EXPECT_GE(tx.sent_count(), tx.capacity());
    const std::int64_t stragglers = Counted::alive.load();
    EXPECT_GE(stragglers, 0);
    EXPECT_LE(stragglers, threads);
    auto late = tx.send(Counted(-5));
    ASSERT_FALSE(late);
    EXPECT_EQ(Counted::alive.load(), stragglers + 1);  // the refused value, handed back
  }
  EXPECT_EQ(Counted::alive.load(), 0);
}

TEST(BroadcastStress, LifetimeSendersDestroyedFirst) {
  Watchdog watchdog;
  Counted::reset();
  {
    constexpr int threads = 4;
    constexpr std::int64_t per_thread = 20'000;
    auto ch = broadcast::channel<Counted>(64);
    auto rx = std::move(ch.second);
    auto rx2 = rx.resubscribe();
    std::uint64_t received = 0, skipped = 0;
    int bad_ids = 0;
    auto take = [&](broadcast::Receiver<Counted>& r) {
      auto v = r.try_recv();
      if (v) {
        ++received;
        if (v->id < 0 || v->id / 1'000'000'000 >= threads) ++bad_ids;
        return true;
      }
      if (v.error().kind == broadcast::RecvError::lagged) skipped += v.error().skipped;
      return v.error().kind != broadcast::RecvError::closed;
    };
    {
      auto tx = std::move(ch.first);
      std::vector<std::thread> pool;
      for (int t = 0; t < threads; ++t)
        pool.emplace_back([t, s = tx] {
          for (std::int64_t i = 0; i < per_thread; ++i) s.send(Counted(id_of(t, i))).value();
        });
      for (int i = 0; i < 5000; ++i) take(rx);
      for (auto& th : pool) th.join();
    }
    EXPECT_TRUE(rx.is_closed());
    EXPECT_EQ(Counted::alive.load(), 64);  // the ring holds the last 64 values
    while (take(rx)) {
    }
    EXPECT_EQ(received + skipped, static_cast<std::uint64_t>(threads * per_thread));
    EXPECT_EQ(bad_ids, 0);
    EXPECT_EQ(Counted::alive.load(), 64);  // reading copies; the ring keeps its values
  }  // both receivers go, one of them never having read anything
  EXPECT_EQ(Counted::alive.load(), 0);
}

}  // namespace

}  // namespace stress_test
