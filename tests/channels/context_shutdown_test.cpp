// An execution context destroyed while a coroutine is parked on a channel, at the very moment
// another thread wakes that coroutine: the wake-up either lands in the context's queue before it
// goes (and is destroyed with it) or finds the coroutine already destroyed; it never reaches a
// destroyed scheduler. Run under AddressSanitizer and ThreadSanitizer by CI, where a use after
// free shows; in the release build it checks that nothing hangs or crashes.

#include <swarmsync/channels/broadcast.hpp>
#include <swarmsync/channels/mpsc.hpp>

#include "support/watchdog.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <random>
#include <thread>

namespace context_shutdown_test {

namespace {

using namespace swarmsync;
using swarmsync::test::Watchdog;

// A thread that runs one wake-up per round, started by `go()`; `wait()` returns once it is done.
class Waker {
 public:
  Waker() : thread_([this] { loop(); }) {}
  Waker(const Waker&) = delete;
  Waker& operator=(const Waker&) = delete;
  ~Waker() {
    stop_.store(true);
    go([] {});
    thread_.join();
  }

  void go(std::function<void()> wake) {
    wake_ = std::move(wake);
    round_.fetch_add(1, std::memory_order_release);
  }
  void wait() {
    while (done_.load(std::memory_order_acquire) != round_.load(std::memory_order_relaxed)) std::this_thread::yield();
  }

 private:
  void loop() {
    std::uint64_t seen = 0;
    for (;;) {
      while (round_.load(std::memory_order_acquire) == seen) std::this_thread::yield();
      ++seen;
      if (stop_.load()) return;
      wake_();
      done_.store(seen, std::memory_order_release);
    }
  }

  std::function<void()> wake_;
  std::atomic<std::uint64_t> round_{0};
  std::atomic<std::uint64_t> done_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

constexpr int rounds = 20000;  // not scaled down under sanitizers: that is where a race shows

// Per round: a fresh channel, a coroutine parked on it in a fresh context, a wake-up from the
// waker thread and the context's destruction at about the same instant.
template <class Round>
void race(Round round) {
  Watchdog watchdog;
  Waker waker;
  std::mt19937 rng(7);
  for (int i = 0; i < rounds; ++i) {
    const unsigned spin = rng() % 512;
    round(waker, spin);
  }
}

void spin_for(unsigned n) {
  for (unsigned k = 0; k < n; ++k) asm volatile("" ::: "memory");  // a loop the compiler keeps
}

TEST(ContextShutdown, MpscReceiverWokenWhileItsContextIsDestroyed) {
  race([](Waker& waker, unsigned spin) {
    auto [tx_end, rx_end] = mpsc::unbounded_channel<int>();
    auto& tx = tx_end;
    auto& rx = rx_end;
    {
      asio::io_context ctx;
      asio::co_spawn(ctx, [&]() -> asio::awaitable<void> { (void)co_await rx.recv(); }, asio::detached);
      ctx.poll();  // parked
      waker.go([&] { (void)tx.send(1); });
      spin_for(spin);
    }
    waker.wait();
  });
}

TEST(ContextShutdown, BroadcastReceiverWokenWhileItsContextIsDestroyed) {
  race([](Waker& waker, unsigned spin) {
    auto [tx_end, rx_end] = broadcast::channel<int>(4);
    auto& tx = tx_end;
    auto& rx = rx_end;
    {
      asio::io_context ctx;
      asio::co_spawn(ctx, [&]() -> asio::awaitable<void> { (void)co_await rx.recv(); }, asio::detached);
      ctx.poll();
      waker.go([&] { (void)tx.send(1); });
      spin_for(spin);
    }
    waker.wait();
  });
}

TEST(ContextShutdown, BoundedSenderWokenWhileItsContextIsDestroyed) {
  race([](Waker& waker, unsigned spin) {
    auto [tx_end, rx_end] = mpsc::channel<int>(1);
    auto& tx = tx_end;
    auto& rx = rx_end;
    (void)tx.try_send(0);
    {
      asio::io_context ctx;
      asio::co_spawn(ctx, [&]() -> asio::awaitable<void> { (void)co_await tx.send(1); }, asio::detached);
      ctx.poll();  // parked: the channel is full
      waker.go([&] { (void)rx.try_recv(); });
      spin_for(spin);
    }
    waker.wait();
    EXPECT_EQ(rx.waiting_senders(), 0u) << "a destroyed sender must leave the queue";
  });
}

TEST(ContextShutdown, ReceiverWithADeadlineWokenWhileItsContextIsDestroyed) {
  race([](Waker& waker, unsigned spin) {
    auto [tx_end, rx_end] = mpsc::unbounded_channel<int>();
    auto& tx = tx_end;
    auto& rx = rx_end;
    {
      asio::io_context ctx;
      asio::co_spawn(
          ctx, [&]() -> asio::awaitable<void> { (void)co_await rx.recv_for(std::chrono::seconds(10)); },
          asio::detached);
      ctx.poll();
      waker.go([&] { (void)tx.send(1); });
      spin_for(spin);
    }
    waker.wait();
  });
}

}  // namespace

}  // namespace context_shutdown_test
