// tokio's own watch suite (tokio-1.24.2/tests/sync_watch.rs), test by test: each TEST is named
// after the tokio test it ports and keeps its assertions. The two loom models of
// src/sync/watch.rs (watch_spurious_wakeup, watch_borrow) follow, run as plain threads.
//
// Translation:
// - `tokio_test::task::spawn(fut)`: `Task` below, the awaitable on an io_context of its own that
//   only `Task::poll()` runs, so that it advances only when the test polls it, as a mock task
//   does. `assert_pending!(t.poll())` is `EXPECT_FALSE(t.poll())`; `assert_ready_ok!(t.poll())`
//   is `ASSERT_TRUE(t.poll())` and a check of `t.take()`. `t.is_woken()` is `t.woken()`: whether a
//   handler reached the task's executor since it last ran, without running it (a watch receiver
//   marks a version seen when it runs, so a task must not run before the test polls it). Dropping
//   a task destroys its context, and with it the coroutine, as dropping a future does.
//   `fut.now_or_never()` is a task polled once and dropped.
// - `watch::channel("one")`: `watch::channel<std::string>("one")`. `drop(x)`:
//   `{ auto drop = std::move(x); }`. `tx.closed()` in a task: a task of an awaitable that awaits
//   it and returns true.
// - `catch_unwind` around a `send_modify` whose closure panics: a try/catch around one whose
//   modifier throws.
// - loom's threads: std::thread; loom explores every interleaving, here each model runs once.
//
// Nothing of the suite is left out.

#include <swarmsync/channels/watch.hpp>

#include "support/watchdog.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/execution.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

namespace tokio_watch_test {

namespace {

using namespace swarmsync;

// An io_context executor that counts the handlers queued on it and not yet run, so that a test
// can see a wake-up reach a task without running the task.
class CountingExecutor {
 public:
  CountingExecutor(asio::io_context::executor_type inner, std::shared_ptr<std::atomic<int>> queued) noexcept
      : inner_(inner), queued_(std::move(queued)) {}

  asio::execution_context& query(asio::execution::context_t) const noexcept { return inner_.context(); }
  static constexpr asio::execution::blocking_t query(asio::execution::blocking_t) noexcept {
    return asio::execution::blocking.never;
  }
  CountingExecutor require(asio::execution::blocking_t::never_t) const noexcept { return *this; }

  template <class F>
  void execute(F&& f) const {
    queued_->fetch_add(1);
    asio::require(inner_, asio::execution::blocking.never)
        .execute([queued = queued_, f = std::forward<F>(f)]() mutable {
          queued->fetch_sub(1);
          std::move(f)();
        });
  }

  friend bool operator==(const CountingExecutor& a, const CountingExecutor& b) noexcept {
    return a.inner_ == b.inner_ && a.queued_ == b.queued_;
  }

 private:
  asio::io_context::executor_type inner_;
  std::shared_ptr<std::atomic<int>> queued_;
};

// A future polled by hand (see the header comment).
template <class T>
class Task {
 public:
  explicit Task(asio::awaitable<T> a) {
    asio::co_spawn(CountingExecutor(ioc_.get_executor(), queued_), std::move(a),
                   asio::bind_cancellation_slot(state_->cancel.slot(), [s = state_](std::exception_ptr e, T v) {
                     s->done = true;
                     s->error = e;
                     if (!e) s->value.emplace(std::move(v));
                   }));
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;

  /// Runs what is ready on the task's context; true once the task has completed.
  bool poll() {
    polled_ = true;
    ioc_.restart();
    ioc_.poll();
    return state_->done;
  }

  /// tokio_test's `is_woken()`: a wake-up reached the task since it last ran (a task never polled
  /// has no waker to wake). Runs nothing.
  bool woken() const { return polled_ && queued_->load() > 0; }

  /// The output of a completed task.
  T take() {
    if (state_->error) std::rethrow_exception(state_->error);
    return std::move(*state_->value);
  }

 private:
  struct State {
    bool done = false;
    std::exception_ptr error;
    std::optional<T> value;
    asio::cancellation_signal cancel;
  };
  std::shared_ptr<State> state_ = std::make_shared<State>();
  std::shared_ptr<std::atomic<int>> queued_ = std::make_shared<std::atomic<int>>(0);
  bool polled_ = false;
  asio::io_context ioc_;  // last: destroyed first, and with it a coroutine still parked
};

using Changed = Result<void, watch::RecvError>;
using Str = std::string;

template <class U>
Task<Changed> changed_task(watch::Receiver<U>& rx) {
  return Task<Changed>(rx.changed());
}

template <class U>
asio::awaitable<bool> closed_of(const watch::Sender<U>& tx) {
  co_await tx.closed();
  co_return true;
}

// `assert_ready_ok!(t.poll())`
#define ASSERT_READY_OK(t)   \
  do {                       \
    ASSERT_TRUE((t).poll()); \
    EXPECT_TRUE((t).take()); \
  } while (false)

// `assert_ready_err!(t.poll())`
#define ASSERT_READY_ERR(t)                          \
  do {                                               \
    ASSERT_TRUE((t).poll());                         \
    auto r_ = (t).take();                            \
    ASSERT_FALSE(r_);                                \
    EXPECT_EQ(r_.error(), watch::RecvError::closed); \
  } while (false)

TEST(TokioWatch, single_rx_recv) {
  auto [tx_end, rx_end] = watch::channel<Str>("one");
  auto& rx = rx_end;

  {
    // Not initially notified
    auto t = changed_task(rx);
    EXPECT_FALSE(t.poll());
  }
  EXPECT_EQ(*rx.borrow(), "one");

  {
    auto t = changed_task(rx);
    EXPECT_FALSE(t.poll());

    EXPECT_TRUE(tx_end.send("two"));

    EXPECT_TRUE(t.woken());

    ASSERT_READY_OK(t);
  }
  EXPECT_EQ(*rx.borrow(), "two");

  {
    auto t = changed_task(rx);
    EXPECT_FALSE(t.poll());

    { auto drop = std::move(tx_end); }

    EXPECT_TRUE(t.woken());
    ASSERT_READY_ERR(t);
  }
  EXPECT_EQ(*rx.borrow(), "two");
}

TEST(TokioWatch, multi_rx) {
  auto [tx_end, rx1_end] = watch::channel<Str>("one");
  auto& tx = tx_end;
  auto& rx1 = rx1_end;
  auto rx2 = rx1;

  {
    auto t1 = changed_task(rx1);
    auto t2 = changed_task(rx2);

    EXPECT_FALSE(t1.poll());
    EXPECT_FALSE(t2.poll());
  }
  EXPECT_EQ(*rx1.borrow(), "one");
  EXPECT_EQ(*rx2.borrow(), "one");

  std::optional<Task<Changed>> t2;
  t2.emplace(rx2.changed());

  {
    auto t1 = changed_task(rx1);

    EXPECT_FALSE(t1.poll());
    EXPECT_FALSE(t2->poll());

    EXPECT_TRUE(tx.send("two"));

    EXPECT_TRUE(t1.woken());
    EXPECT_TRUE(t2->woken());

    ASSERT_READY_OK(t1);
  }
  EXPECT_EQ(*rx1.borrow(), "two");

  {
    auto t1 = changed_task(rx1);

    EXPECT_FALSE(t1.poll());

    EXPECT_TRUE(tx.send("three"));

    EXPECT_TRUE(t1.woken());
    EXPECT_TRUE(t2->woken());

    ASSERT_READY_OK(t1);
    ASSERT_READY_OK(*t2);
  }
  EXPECT_EQ(*rx1.borrow(), "three");

  t2.reset();  // drop(t2)

  EXPECT_EQ(*rx2.borrow(), "three");

  {
    auto t1 = changed_task(rx1);
    auto t2b = changed_task(rx2);

    EXPECT_FALSE(t1.poll());
    EXPECT_FALSE(t2b.poll());

    EXPECT_TRUE(tx.send("four"));

    ASSERT_READY_OK(t1);
    ASSERT_READY_OK(t2b);
  }
  EXPECT_EQ(*rx1.borrow(), "four");
  EXPECT_EQ(*rx2.borrow(), "four");
}

TEST(TokioWatch, rx_observes_final_value) {
  // Initial value
  {
    auto [tx, rx_end] = watch::channel<Str>("one");
    auto& rx = rx_end;
    { auto drop = std::move(tx); }

    {
      auto t1 = changed_task(rx);
      ASSERT_READY_ERR(t1);
    }
    EXPECT_EQ(*rx.borrow(), "one");
  }

  // Sending a value
  auto [tx_end, rx_end] = watch::channel<Str>("one");
  auto& rx = rx_end;

  EXPECT_TRUE(tx_end.send("two"));

  {
    auto t1 = changed_task(rx);
    ASSERT_READY_OK(t1);
  }
  EXPECT_EQ(*rx.borrow(), "two");

  {
    auto t1 = changed_task(rx);
    EXPECT_FALSE(t1.poll());

    EXPECT_TRUE(tx_end.send("three"));
    { auto drop = std::move(tx_end); }

    EXPECT_TRUE(t1.woken());

    ASSERT_READY_OK(t1);
  }
  EXPECT_EQ(*rx.borrow(), "three");

  {
    auto t1 = changed_task(rx);
    ASSERT_READY_ERR(t1);
  }
  EXPECT_EQ(*rx.borrow(), "three");
}

TEST(TokioWatch, poll_close) {
  auto [tx_end, rx_end] = watch::channel<Str>("one");
  auto& tx = tx_end;

  {
    Task<bool> t(closed_of(tx));
    EXPECT_FALSE(t.poll());

    { auto drop = std::move(rx_end); }

    EXPECT_TRUE(t.woken());
    ASSERT_TRUE(t.poll());
    EXPECT_TRUE(t.take());
  }

  EXPECT_FALSE(tx.send("two"));
}

TEST(TokioWatch, borrow_and_update) {
  auto [tx_end, rx_end] = watch::channel<Str>("one");
  auto& rx = rx_end;

  EXPECT_FALSE(rx.has_changed().value());

  EXPECT_TRUE(tx_end.send("two"));
  EXPECT_TRUE(rx.has_changed().value());
  {
    auto t = changed_task(rx);
    ASSERT_READY_OK(t);
  }
  {
    auto t = changed_task(rx);
    EXPECT_FALSE(t.poll());
  }
  EXPECT_FALSE(rx.has_changed().value());

  EXPECT_TRUE(tx_end.send("three"));
  EXPECT_TRUE(rx.has_changed().value());
  EXPECT_EQ(*rx.borrow_and_update(), "three");
  {
    auto t = changed_task(rx);
    EXPECT_FALSE(t.poll());
  }
  EXPECT_FALSE(rx.has_changed().value());

  { auto drop = std::move(tx_end); }
  EXPECT_EQ(*rx.borrow_and_update(), "three");
  {
    auto t = changed_task(rx);
    ASSERT_READY_ERR(t);  // `.unwrap_err()`
  }
  EXPECT_FALSE(rx.has_changed());  // `.is_err()`
}

TEST(TokioWatch, reopened_after_subscribe) {
  auto [tx_end, rx_end] = watch::channel<Str>("one");
  auto& tx = tx_end;
  EXPECT_FALSE(tx.is_closed());

  { auto drop = std::move(rx_end); }
  EXPECT_TRUE(tx.is_closed());

  auto rx = tx.subscribe();
  EXPECT_FALSE(tx.is_closed());

  { auto drop = std::move(rx); }
  EXPECT_TRUE(tx.is_closed());
}

TEST(TokioWatch, send_modify_panic) {
  auto [tx_end, rx_end] = watch::channel<Str>("one");
  auto& tx = tx_end;
  auto& rx = rx_end;

  tx.send_modify([](Str& old) { old = "two"; });
  EXPECT_EQ(*rx.borrow_and_update(), "two");

  auto rx2 = rx;
  EXPECT_EQ(*rx2.borrow_and_update(), "two");

  auto task = changed_task(rx2);

  bool panicked = false;
  try {
    tx.send_modify([](Str& old) {
      old = "panicked";
      throw std::runtime_error("panic!");
    });
  } catch (const std::runtime_error&) {
    panicked = true;
  }
  EXPECT_TRUE(panicked);  // `assert!(result.is_err())`

  EXPECT_FALSE(task.poll());
  EXPECT_EQ(*rx.borrow(), "panicked");

  tx.send_modify([](Str& old) { old = "three"; });
  ASSERT_READY_OK(task);
  EXPECT_EQ(*rx.borrow_and_update(), "three");
}

// src/sync/watch.rs, loom model (test for tokio issue 3168): `changed()` polled once at a time
// (`now_or_never`) from several threads in turn, racing sends.
TEST(TokioWatch, watch_spurious_wakeup) {
  test::Watchdog watchdog;
  auto [tx_end, rx_end] = watch::channel<int>(0);
  auto send = std::move(tx_end);
  auto recv = std::move(rx_end);
  const auto now_or_never = [](watch::Receiver<int>& rx) {
    auto t = changed_task(rx);
    (void)t.poll();
  };

  EXPECT_TRUE(send.send(1));

  std::thread send_thread([&send] { EXPECT_TRUE(send.send(2)); });

  now_or_never(recv);

  send_thread.join();
  std::thread recv_thread([&recv, &now_or_never] {
    now_or_never(recv);
    now_or_never(recv);
  });

  EXPECT_TRUE(send.send(3));

  recv_thread.join();
  std::thread send_thread2([&send] { EXPECT_TRUE(send.send(2)); });

  now_or_never(recv);

  send_thread2.join();
}

// src/sync/watch.rs, loom model: borrows of both sides across threads see the last value sent.
TEST(TokioWatch, watch_borrow) {
  test::Watchdog watchdog;
  auto [tx_end, rx_end] = watch::channel<int>(0);
  auto send = std::move(tx_end);
  auto recv = std::move(rx_end);
  const auto now_or_never = [](watch::Receiver<int>& rx) {
    auto t = changed_task(rx);
    (void)t.poll();
  };

  EXPECT_EQ(*send.borrow(), 0);
  EXPECT_EQ(*recv.borrow(), 0);

  EXPECT_TRUE(send.send(1));
  EXPECT_EQ(*send.borrow(), 1);

  std::thread send_thread([&send] { EXPECT_TRUE(send.send(2)); });

  now_or_never(recv);

  send_thread.join();
  std::thread recv_thread([&recv, &now_or_never] {
    now_or_never(recv);
    now_or_never(recv);
  });

  EXPECT_TRUE(send.send(3));

  recv_thread.join();
  EXPECT_EQ(*recv.borrow(), 3);
  EXPECT_EQ(*send.borrow(), 3);

  EXPECT_TRUE(send.send(2));

  std::thread reader([recv = std::move(recv)] { EXPECT_EQ(*recv.borrow(), 2); });
  EXPECT_EQ(*send.borrow(), 2);
  reader.join();
}

#undef ASSERT_READY_OK
#undef ASSERT_READY_ERR

}  // namespace

}  // namespace tokio_watch_test
