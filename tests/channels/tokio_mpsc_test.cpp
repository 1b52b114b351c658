// tokio's own mpsc suite (tokio-1.24.2/tests/sync_mpsc.rs), test by test: each TEST is named after
// the tokio test it ports and keeps its assertions.
//
// Translation:
// - `x.await` in the body of a tokio test: `block_on(x)`, which runs the awaitable on an
//   io_context until it completes, at most 10 s (a lost wake-up fails the test, never hangs it).
//   `tokio::spawn` in a `#[tokio::test]` (a one-thread runtime): a co_spawn on the same io_context.
// - `tokio_test::task::spawn(fut)`: `Task`, the awaitable on an io_context of its own that only
//   `Task::poll()` runs, so that it advances only when the test polls it, as a mock task does.
//   `assert_pending!(t.poll())` is `EXPECT_FALSE(t.poll())`; `assert_ready!(t.poll())` is
//   `ASSERT_TRUE(t.poll())` and `t.take()`. `t.is_woken()` is `t.woken()`: a wake-up shows as a
//   handler queued on the task's context, so `woken()` polls the task and reports whether anything
//   ran (a task never polled has no waker to wake: false). Dropping a mock task destroys its
//   context, and with it the coroutine, as dropping a future does; dropping the future a task
//   polls while the task stays (start_send_past_cap) is `drop_future()`: a terminal cancellation,
//   after which the coroutine has unwound.
// - `mpsc::channel(n)`: `mpsc::channel<T>(n)`; `unbounded_channel()`: `mpsc::unbounded_channel<T>()`;
//   `()` is `std::monostate`, `&str` is `std::string`, `Arc<()>` is `std::shared_ptr<int>`
//   (`Arc::strong_count` is `use_count()`); `drop(x)` ends x's life (`{ auto drop = std::move(x); }`).
//   `unwrap()`/`assert_ok!` on a send: `ASSERT_TRUE`/`EXPECT_TRUE` of the `Result`; `assert_err!`:
//   `EXPECT_FALSE`. tokio's `Permit::send` cannot fail: its swarmsync `Result` is checked true.
//
// Not ported (they do not apply to swarmsync):
// - send_recv_stream_with_buffer, send_recv_stream_unbounded: they test the `Stream` adapters of
//   tests/support/mpsc_stream.rs with `tokio_stream::StreamExt`; swarmsync has no stream adapter
//   (its `recv()` loop is what async_send_recv_with_buffer / async_send_recv_unbounded test).
// - recv_timeout_panic: `#[should_panic]` of `send_timeout` polled outside a runtime; swarmsync
//   has no global reactor to be missing (an awaitable runs only on an executor).
// - test_tx_capacity: tests that `Sender::capacity()` (the free room now) drops by one per reserve
//   and per send while `max_capacity()` stays; swarmsync has no query of the free room: its
//   `Sender::capacity()` is tokio's `max_capacity()`.
// Ported with a translation:
// - blocking_recv_async, blocking_send_async: tokio panics when a blocking call is made inside a
//   runtime; swarmsync throws `std::logic_error` on a thread that runs an Asio execution context
//   (the test body runs in a handler of an io_context, as a `#[tokio::test]` body runs in a task).
// - recv_timeout: `start_paused` time makes tokio's 1 s timeout instant; here the timeout is 50 ms
//   of real time (the assertions are the same).
// Ported in part:
// - no_t_bounds_buffer, no_t_bounds_unbounded: their `is_debug(&tx)` / `is_debug(&rx)` checks
//   (the handles implement `Debug` for any T) have no C++ counterpart; the rest (a T with no
//   copy, no comparison, no printing; the sender copyable all the same) is ported.
// - dropping_rx_closes_channel_for_try: its `try_reserve_owned()` line is left out: swarmsync's
//   permits are all owned (a `Permit` holds the channel), so `try_reserve()` is both.

#include <swarmsync/channels/mpsc.hpp>

#include "support/async.hpp"
#include "support/mock_task.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <thread>
#include <functional>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace tokio_mpsc_test {

namespace {

using namespace swarmsync;
using swarmsync::test::Task;
using mpsc::TryRecvError;

// --- Running awaitables the way tokio's tests run futures ---------------------------------------

constexpr std::chrono::seconds await_limit{10};

// `fut.await` in the body of a tokio test: runs `a` on `ioc` (and whatever else is ready there)
// until it completes; throws if it has not completed within `await_limit`.
template <class T>
T block_on(asio::io_context& ioc, asio::awaitable<T> a) {
  struct Outcome {
    bool done = false;
    std::exception_ptr error;
    std::optional<T> value;
  };
  auto out = std::make_shared<Outcome>();
  asio::co_spawn(ioc, std::move(a), [out, &ioc](std::exception_ptr e, T v) {
    out->done = true;
    out->error = e;
    if (!e) out->value.emplace(std::move(v));
    ioc.stop();
  });
  ioc.restart();
  ioc.run_for(await_limit);
  if (!out->done) throw std::runtime_error("an awaited operation did not complete within 10 s (a lost wake-up?)");
  if (out->error) std::rethrow_exception(out->error);
  return std::move(*out->value);
}

template <class T>
T block_on(asio::awaitable<T> a) {
  asio::io_context ioc;
  return block_on(ioc, std::move(a));
}

// The same for an operation (`rx.recv()`): awaited by a coroutine, as a service awaits it.
template <class Op>
  requires asio::is_async_operation<Op>::value
auto block_on(asio::io_context& ioc, Op op) {
  return block_on(ioc, std::move(op)(asio::use_awaitable));
}
template <class Op>
  requires asio::is_async_operation<Op>::value
auto block_on(Op op) {
  return block_on(std::move(op)(asio::use_awaitable));
}

// Rethrows what a coroutine spawned with `tokio::spawn` threw, out of the io_context's run.
void rethrow(std::exception_ptr e) {
  if (e) std::rethrow_exception(e);
}


using ReserveTask = Task<std::optional<mpsc::Permit<int>>>;

// tokio's `assert_eq!(rx.try_recv(), Ok(v))`.
template <class T, class U>
::testing::AssertionResult ok_eq(const Result<T, TryRecvError>& r, const U& expected) {
  if (!r)
    return ::testing::AssertionFailure() << "try_recv failed with "
                                         << (r.error() == TryRecvError::empty ? "Empty" : "Disconnected");
  if (!(*r == expected)) return ::testing::AssertionFailure() << "try_recv returned another value";
  return ::testing::AssertionSuccess();
}

// tokio's `assert_eq!(rx.try_recv(), Err(e))`.
template <class T>
::testing::AssertionResult err_eq(const Result<T, TryRecvError>& r, TryRecvError expected) {
  if (r) return ::testing::AssertionFailure() << "try_recv returned a value";
  if (r.error() != expected)
    return ::testing::AssertionFailure() << "try_recv failed with "
                                         << (r.error() == TryRecvError::empty ? "Empty" : "Disconnected");
  return ::testing::AssertionSuccess();
}

// A payload with no copy, no comparison, no printing.
struct NoImpls {
  NoImpls() = default;
  NoImpls(NoImpls&&) noexcept = default;
  NoImpls& operator=(NoImpls&&) noexcept = default;
  NoImpls(const NoImpls&) = delete;
  NoImpls& operator=(const NoImpls&) = delete;
};

// --- The tests ------------------------------------------------------------------------------------

TEST(TokioMpsc, send_recv_with_buffer) {
  auto [tx_end, rx_end] = mpsc::channel<int>(16);
  auto& rx = rx_end;
  {
    auto tx = std::move(tx_end);
    // Using poll_ready / try_send
    auto permit = block_on(tx.reserve());
    ASSERT_TRUE(permit);  // unwrap
    EXPECT_TRUE(std::move(*permit).send(1));

    // Without poll_ready
    ASSERT_TRUE(tx.try_send(2));  // unwrap
  }  // drop(tx)

  EXPECT_EQ(block_on(rx.recv()), std::optional<int>(1));
  EXPECT_EQ(block_on(rx.recv()), std::optional<int>(2));
  EXPECT_FALSE(block_on(rx.recv()).has_value());
}

TEST(TokioMpsc, reserve_disarm) {
  auto [tx_end, rx_end] = mpsc::channel<int>(2);
  auto& rx = rx_end;
  auto tx1 = tx_end;
  auto tx2 = tx_end;
  auto tx3 = tx_end;
  auto tx4 = std::move(tx_end);

  // We should be able to `poll_ready` two handles without problem
  auto permit1 = block_on(tx1.reserve());
  ASSERT_TRUE(permit1);
  auto permit2 = block_on(tx2.reserve());
  ASSERT_TRUE(permit2);

  // But a third should not be ready
  ReserveTask r3(tx3.reserve());
  EXPECT_FALSE(r3.poll());

  ReserveTask r4(tx4.reserve());
  EXPECT_FALSE(r4.poll());

  // Using one of the reserved slots should allow a new handle to become ready
  EXPECT_TRUE(std::move(*permit1).send(1));

  // We also need to receive for the slot to be free
  EXPECT_FALSE(r3.woken());
  EXPECT_TRUE(block_on(rx.recv()).has_value());  // unwrap
  // Now there's a free slot!
  EXPECT_TRUE(r3.woken());
  EXPECT_FALSE(r4.woken());

  // Dropping a permit should also open up a slot
  permit2.reset();
  EXPECT_TRUE(r4.woken());

  ReserveTask r1(tx1.reserve());
  EXPECT_FALSE(r1.poll());
}

asio::awaitable<void> send_1_2(mpsc::Sender<int> tx) {
  auto first = co_await tx.send(1);
  EXPECT_TRUE(first);
  auto second = co_await tx.send(2);
  EXPECT_TRUE(second);
}

TEST(TokioMpsc, async_send_recv_with_buffer) {
  auto [tx_end, rx_end] = mpsc::channel<int>(16);
  auto& rx = rx_end;
  asio::io_context rt;

  asio::co_spawn(rt, send_1_2(std::move(tx_end)), rethrow);

  EXPECT_EQ(block_on(rt, rx.recv()), std::optional<int>(1));
  EXPECT_EQ(block_on(rt, rx.recv()), std::optional<int>(2));
  EXPECT_EQ(block_on(rt, rx.recv()), std::nullopt);
}

TEST(TokioMpsc, start_send_past_cap) {
  auto [tx_end, rx_end] = mpsc::channel<std::monostate>(1);
  auto& rx = rx_end;
  auto tx1 = std::move(tx_end);
  auto tx2 = tx1;

  ASSERT_TRUE(tx1.try_send(std::monostate{}));

  // t1 polls r1, a reserve of tx1
  std::optional<Task<std::optional<mpsc::Permit<std::monostate>>>> t1;
  t1.emplace(tx1.reserve());
  EXPECT_FALSE(t1->poll());

  {
    Task<std::optional<mpsc::Permit<std::monostate>>> r2(tx2.reserve());
    EXPECT_FALSE(r2.poll());

    ASSERT_TRUE(t1->drop_future());  // drop(r1)

    EXPECT_TRUE(block_on(rx.recv()).has_value());

    EXPECT_TRUE(r2.woken());
    EXPECT_FALSE(t1->woken());
  }

  t1.reset();
  { auto drop = std::move(tx1); }
  { auto drop = std::move(tx2); }

  EXPECT_FALSE(block_on(rx.recv()).has_value());
}

// #[should_panic]: a capacity of 0 is a broken precondition, which swarmsync throws.
TEST(TokioMpsc, buffer_gteq_one) { EXPECT_THROW(mpsc::channel<int>(0), std::invalid_argument); }

TEST(TokioMpsc, send_recv_unbounded) {
  auto [tx_end, rx_end] = mpsc::unbounded_channel<int>();
  auto& rx = rx_end;

  // Using `try_send`
  EXPECT_TRUE(tx_end.send(1));
  EXPECT_TRUE(tx_end.send(2));

  EXPECT_EQ(block_on(rx.recv()), std::optional<int>(1));
  EXPECT_EQ(block_on(rx.recv()), std::optional<int>(2));

  { auto drop = std::move(tx_end); }

  EXPECT_FALSE(block_on(rx.recv()).has_value());
}

asio::awaitable<void> send_1_2_unbounded(mpsc::UnboundedSender<int> tx) {
  EXPECT_TRUE(tx.send(1));
  EXPECT_TRUE(tx.send(2));
  co_return;
}

TEST(TokioMpsc, async_send_recv_unbounded) {
  auto [tx_end, rx_end] = mpsc::unbounded_channel<int>();
  auto& rx = rx_end;
  asio::io_context rt;

  asio::co_spawn(rt, send_1_2_unbounded(std::move(tx_end)), rethrow);

  EXPECT_EQ(block_on(rt, rx.recv()), std::optional<int>(1));
  EXPECT_EQ(block_on(rt, rx.recv()), std::optional<int>(2));
  EXPECT_EQ(block_on(rt, rx.recv()), std::nullopt);
}

TEST(TokioMpsc, no_t_bounds_buffer) {
  auto [tx_end, rx_end] = mpsc::channel<NoImpls>(100);
  auto& tx = tx_end;
  auto& rx = rx_end;

  // (is_debug(&tx), is_debug(&rx): no C++ counterpart.)
  // and sender should be Clone even though T isn't Clone
  auto clone = tx;
  EXPECT_TRUE(clone.try_send(NoImpls{}));

  EXPECT_TRUE(block_on(rx.recv()).has_value());
}

TEST(TokioMpsc, no_t_bounds_unbounded) {
  auto [tx_end, rx_end] = mpsc::unbounded_channel<NoImpls>();
  auto& tx = tx_end;
  auto& rx = rx_end;

  // (is_debug(&tx), is_debug(&rx): no C++ counterpart.)
  // and sender should be Clone even though T isn't Clone
  auto clone = tx;
  EXPECT_TRUE(clone.send(NoImpls{}));

  EXPECT_TRUE(block_on(rx.recv()).has_value());
}

TEST(TokioMpsc, send_recv_buffer_limited) {
  auto [tx_end, rx_end] = mpsc::channel<int>(1);
  auto& tx = tx_end;
  auto& rx = rx_end;

  // Reserve capacity
  auto p1 = block_on(tx.reserve());
  ASSERT_TRUE(p1);

  // Send first message
  EXPECT_TRUE(std::move(*p1).send(1));

  // Not ready
  ReserveTask p2(tx.reserve());
  EXPECT_FALSE(p2.poll());

  // Take the value
  EXPECT_TRUE(block_on(rx.recv()).has_value());

  // Notified
  EXPECT_TRUE(p2.woken());

  // Trying to send fails
  EXPECT_FALSE(tx.try_send(1337));

  // Send second
  ASSERT_TRUE(p2.poll());
  auto permit = p2.take();
  ASSERT_TRUE(permit);
  EXPECT_TRUE(std::move(*permit).send(2));

  EXPECT_TRUE(block_on(rx.recv()).has_value());
}

TEST(TokioMpsc, recv_close_gets_none_idle) {
  auto [tx_end, rx_end] = mpsc::channel<int>(10);
  auto& tx = tx_end;
  auto& rx = rx_end;

  rx.close();

  EXPECT_FALSE(block_on(rx.recv()).has_value());

  EXPECT_FALSE(block_on(tx.send(1)));
}

TEST(TokioMpsc, recv_close_gets_none_reserved) {
  auto [tx_end, rx_end] = mpsc::channel<int>(1);
  auto& tx1 = tx_end;
  auto& rx = rx_end;
  auto tx2 = tx1;

  auto permit1 = block_on(tx1.reserve());
  ASSERT_TRUE(permit1);
  ReserveTask permit2(tx2.reserve());
  EXPECT_FALSE(permit2.poll());

  rx.close();

  EXPECT_TRUE(permit2.woken());
  ASSERT_TRUE(permit2.poll());
  EXPECT_FALSE(permit2.take().has_value());  // assert_ready_err!

  {
    Task<std::optional<int>> recv(rx.recv());
    EXPECT_FALSE(recv.poll());

    EXPECT_TRUE(std::move(*permit1).send(123));
    EXPECT_TRUE(recv.woken());

    ASSERT_TRUE(recv.poll());
    EXPECT_EQ(recv.take(), std::optional<int>(123));
  }

  EXPECT_FALSE(block_on(rx.recv()).has_value());
}

TEST(TokioMpsc, tx_close_gets_none) {
  auto rx = mpsc::channel<int>(10).second;  // let (_, mut rx): the sender is dropped at once
  EXPECT_FALSE(block_on(rx.recv()).has_value());
}

TEST(TokioMpsc, try_send_fail) {
  auto [tx_end, rx_end] = mpsc::channel<std::string>(1);
  auto& rx = rx_end;

  ASSERT_TRUE(tx_end.try_send("hello"));

  // This should fail
  {
    auto fail = tx_end.try_send("fail");
    ASSERT_FALSE(fail);
    EXPECT_EQ(fail.error().kind, TrySendErrorKind::full);
  }

  EXPECT_EQ(block_on(rx.recv()), std::optional<std::string>("hello"));

  EXPECT_TRUE(tx_end.try_send("goodbye"));
  { auto drop = std::move(tx_end); }

  EXPECT_EQ(block_on(rx.recv()), std::optional<std::string>("goodbye"));
  EXPECT_FALSE(block_on(rx.recv()).has_value());
}

TEST(TokioMpsc, try_send_fail_with_try_recv) {
  auto [tx_end, rx_end] = mpsc::channel<std::string>(1);
  auto& rx = rx_end;

  ASSERT_TRUE(tx_end.try_send("hello"));

  // This should fail
  {
    auto fail = tx_end.try_send("fail");
    ASSERT_FALSE(fail);
    EXPECT_EQ(fail.error().kind, TrySendErrorKind::full);
  }

  EXPECT_TRUE(ok_eq(rx.try_recv(), "hello"));

  EXPECT_TRUE(tx_end.try_send("goodbye"));
  { auto drop = std::move(tx_end); }

  EXPECT_TRUE(ok_eq(rx.try_recv(), "goodbye"));
  EXPECT_TRUE(err_eq(rx.try_recv(), TryRecvError::disconnected));
}

TEST(TokioMpsc, drop_permit_releases_permit) {
  // poll_ready reserves capacity, ensure that the capacity is released if tx
  // is dropped w/o sending a value.
  auto [tx_end, rx_end] = mpsc::channel<int>(1);
  auto& tx1 = tx_end;
  auto tx2 = tx1;

  auto permit = block_on(tx1.reserve());
  ASSERT_TRUE(permit);

  ReserveTask reserve2(tx2.reserve());
  EXPECT_FALSE(reserve2.poll());

  permit.reset();

  EXPECT_TRUE(reserve2.woken());
  ASSERT_TRUE(reserve2.poll());
  EXPECT_TRUE(reserve2.take().has_value());
}

TEST(TokioMpsc, dropping_rx_closes_channel) {
  auto [tx_end, rx_end] = mpsc::channel<std::shared_ptr<int>>(100);
  auto& tx = tx_end;

  auto msg = std::make_shared<int>(0);
  EXPECT_TRUE(tx.try_send(msg));

  { auto drop = std::move(rx_end); }
  EXPECT_FALSE(block_on(tx.reserve()).has_value());
  EXPECT_EQ(msg.use_count(), 1);
}

TEST(TokioMpsc, dropping_rx_closes_channel_for_try) {
  auto [tx_end, rx_end] = mpsc::channel<std::shared_ptr<int>>(100);
  auto& tx = tx_end;

  auto msg = std::make_shared<int>(0);
  ASSERT_TRUE(tx.try_send(msg));

  { auto drop = std::move(rx_end); }

  {
    auto refused = tx.try_send(msg);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().kind, TrySendErrorKind::closed);
  }
  {
    auto refused = tx.try_reserve();
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error(), TrySendErrorKind::closed);
  }

  EXPECT_EQ(msg.use_count(), 1);
}

TEST(TokioMpsc, try_reserve_fails) {
  auto [tx_end, rx_end] = mpsc::channel<std::string>(1);
  auto& tx = tx_end;
  auto& rx = rx_end;
  auto permit = tx.try_reserve();
  ASSERT_TRUE(permit);
  // This should fail: the one slot is reserved.
  auto full = tx.try_reserve();
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error(), TrySendErrorKind::full);
  ASSERT_TRUE(std::move(*permit).send("foo"));
  EXPECT_EQ(swarmsync::test::run_sync([&]() -> asio::awaitable<std::optional<std::string>> { co_return co_await rx.recv(); }()),
            std::optional<std::string>("foo"));
  // Dropping a permit releases the slot.
  {
    auto again = tx.try_reserve();
    ASSERT_TRUE(again);
  }
  EXPECT_TRUE(tx.try_reserve());
}

TEST(TokioMpsc, unconsumed_messages_are_dropped) {
  auto msg = std::make_shared<int>(0);
  {
    auto [tx, rx] = mpsc::channel<std::shared_ptr<int>>(100);

    ASSERT_TRUE(tx.try_send(msg));

    EXPECT_EQ(msg.use_count(), 2);
  }  // drop((tx, rx))
  EXPECT_EQ(msg.use_count(), 1);
}

TEST(TokioMpsc, ready_close_cancel_bounded) {
  auto [tx_end, rx_end] = mpsc::channel<std::monostate>(100);
  auto& tx = tx_end;
  auto& rx = rx_end;
  auto tx2 = tx;

  auto permit = block_on(tx.reserve());
  ASSERT_TRUE(permit);

  rx.close();

  Task<std::optional<std::monostate>> recv(rx.recv());
  EXPECT_FALSE(recv.poll());

  permit.reset();

  EXPECT_TRUE(recv.woken());
  ASSERT_TRUE(recv.poll());
  EXPECT_FALSE(recv.take().has_value());
}

TEST(TokioMpsc, permit_available_not_acquired_close) {
  auto [tx_end, rx_end] = mpsc::channel<std::monostate>(1);
  auto& tx1 = tx_end;
  auto& rx = rx_end;
  auto tx2 = tx1;

  auto permit1 = block_on(tx1.reserve());
  ASSERT_TRUE(permit1);

  std::optional<Task<std::optional<mpsc::Permit<std::monostate>>>> permit2;
  permit2.emplace(tx2.reserve());
  EXPECT_FALSE(permit2->poll());

  rx.close();

  permit1.reset();
  EXPECT_TRUE(permit2->woken());

  permit2.reset();
  EXPECT_FALSE(block_on(rx.recv()).has_value());
}

TEST(TokioMpsc, try_recv_bounded) {
  auto [tx_end, rx_end] = mpsc::channel<std::string>(5);
  auto& rx = rx_end;

  for (int i = 0; i < 5; ++i) ASSERT_TRUE(tx_end.try_send("hello"));
  EXPECT_FALSE(tx_end.try_send("hello"));

  for (int i = 0; i < 5; ++i) EXPECT_TRUE(ok_eq(rx.try_recv(), "hello"));
  EXPECT_TRUE(err_eq(rx.try_recv(), TryRecvError::empty));

  for (int i = 0; i < 4; ++i) ASSERT_TRUE(tx_end.try_send("hello"));
  EXPECT_TRUE(ok_eq(rx.try_recv(), "hello"));
  ASSERT_TRUE(tx_end.try_send("hello"));
  ASSERT_TRUE(tx_end.try_send("hello"));
  EXPECT_FALSE(tx_end.try_send("hello"));
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(ok_eq(rx.try_recv(), "hello"));
  EXPECT_TRUE(err_eq(rx.try_recv(), TryRecvError::empty));

  for (int i = 0; i < 3; ++i) ASSERT_TRUE(tx_end.try_send("hello"));
  { auto drop = std::move(tx_end); }
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(ok_eq(rx.try_recv(), "hello"));
  EXPECT_TRUE(err_eq(rx.try_recv(), TryRecvError::disconnected));
}

TEST(TokioMpsc, try_recv_unbounded) {
  for (int num = 0; num < 100; ++num) {
    auto [tx_end, rx_end] = mpsc::unbounded_channel<int>();
    auto& rx = rx_end;

    for (int i = 0; i < num; ++i) ASSERT_TRUE(tx_end.send(i));

    for (int i = 0; i < num; ++i) EXPECT_TRUE(ok_eq(rx.try_recv(), i)) << "num " << num << ", i " << i;

    EXPECT_TRUE(err_eq(rx.try_recv(), TryRecvError::empty)) << "num " << num;
    { auto drop = std::move(tx_end); }
    EXPECT_TRUE(err_eq(rx.try_recv(), TryRecvError::disconnected)) << "num " << num;
  }
}

TEST(TokioMpsc, try_recv_close_while_empty_bounded) {
  auto [tx_end, rx_end] = mpsc::channel<std::monostate>(5);
  auto& rx = rx_end;

  EXPECT_TRUE(err_eq(rx.try_recv(), TryRecvError::empty));
  { auto drop = std::move(tx_end); }
  EXPECT_TRUE(err_eq(rx.try_recv(), TryRecvError::disconnected));
}

TEST(TokioMpsc, try_recv_close_while_empty_unbounded) {
  auto [tx_end, rx_end] = mpsc::unbounded_channel<std::monostate>();
  auto& rx = rx_end;

  EXPECT_TRUE(err_eq(rx.try_recv(), TryRecvError::empty));
  { auto drop = std::move(tx_end); }
  EXPECT_TRUE(err_eq(rx.try_recv(), TryRecvError::disconnected));
}

// --- Blocking bridges and send_timeout --------------------------------------------------------------

// A `#[tokio::test]` body that must panic: `f` runs in a handler of an io_context; true if it threw
// `std::logic_error` (tokio's panic for a blocking call inside a runtime).
bool throws_logic_error_inside_runtime(const std::function<void()>& f) {
  asio::io_context ioc;
  bool threw = false;
  asio::post(ioc, [&] {
    try {
      f();
    } catch (const std::logic_error&) {
      threw = true;
    }
  });
  ioc.run();
  return threw;
}

TEST(TokioMpsc, blocking_recv) {
  auto [tx_end, rx_end] = mpsc::channel<std::uint8_t>(1);
  std::thread sync_code([rx = std::move(rx_end)]() mutable { EXPECT_EQ(rx.blocking_recv(), std::optional<std::uint8_t>(10)); });
  asio::io_context runtime;
  block_on(runtime, [](mpsc::Sender<std::uint8_t> tx) -> asio::awaitable<int> {
    (void)co_await tx.send(10);
    co_return 0;
  }(std::move(tx_end)));
  sync_code.join();
}

TEST(TokioMpsc, blocking_recv_async) {
  auto [tx_end, rx_end] = mpsc::channel<std::monostate>(1);
  auto& rx = rx_end;
  EXPECT_TRUE(throws_logic_error_inside_runtime([&] { (void)rx.blocking_recv(); }));
}

TEST(TokioMpsc, blocking_send) {
  auto [tx_end, rx_end] = mpsc::channel<std::uint8_t>(1);
  std::thread sync_code([tx = std::move(tx_end)] { EXPECT_TRUE(tx.blocking_send(10)); });
  asio::io_context runtime;
  auto got = block_on(runtime, [](mpsc::Receiver<std::uint8_t>& rx) -> asio::awaitable<std::optional<std::uint8_t>> {
    co_return co_await rx.recv();
  }(rx_end));
  EXPECT_EQ(got, std::optional<std::uint8_t>(10));
  sync_code.join();
}

TEST(TokioMpsc, blocking_send_async) {
  auto [tx_end, rx_end] = mpsc::channel<std::monostate>(1);
  auto& tx = tx_end;
  EXPECT_TRUE(throws_logic_error_inside_runtime([&] { (void)tx.blocking_send(std::monostate{}); }));
}

TEST(TokioMpsc, recv_timeout) {
  auto [tx_end, rx_end] = mpsc::channel<int>(5);
  auto& tx = tx_end;
  constexpr auto timeout = std::chrono::milliseconds(50);
  for (int v : {10, 20, 30, 40, 50}) EXPECT_TRUE(block_on(tx.send_timeout(v, timeout)));
  auto timed_out = block_on(tx.send_timeout(60, timeout));
  ASSERT_FALSE(timed_out);
  EXPECT_EQ(timed_out.error().kind, SendTimeoutErrorKind::timed_out);
  EXPECT_EQ(timed_out.error().value, 60);

  { auto drop = std::move(rx_end); }
  auto closed = block_on(tx.send_timeout(70, timeout));
  ASSERT_FALSE(closed);
  EXPECT_EQ(closed.error().kind, SendTimeoutErrorKind::closed);
  EXPECT_EQ(closed.error().value, 70);
}

}  // namespace

}  // namespace tokio_mpsc_test
