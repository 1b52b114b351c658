// tokio's own oneshot suite (tokio/tests/sync_oneshot.rs), test by test: each TEST is named after
// the tokio test it ports and keeps its assertions.
//
// Translation:
// - `tokio_test::task::spawn(rx)`: `Task` (support/mock_task.hpp) of `rx.recv()`, advanced only
//   by `poll()`; `assert_pending!` is `EXPECT_FALSE(t.poll())`, `assert_ready*!` is
//   `ASSERT_TRUE(t.poll())` and `t.take()`; `is_woken()` is `woken()`.
// - `tx.poll_closed(cx)` inside a task: a `Task` of `tx.closed()`.
// - `rx.await` in an async test: `co_await rx.recv()`.
// - `drop(x)`: `{ auto drop = std::move(x); }`.
//
// Not ported:
// - close_try_recv_poll: `#[should_panic]` on polling a receiver after `close()` and a failed
//   `try_recv`; swarmsync reports `RecvError::closed` instead of panicking (checked here).
// - drops_tasks, receiver_changes_task, sender_changes_task: they count the references of the
//   tasks' wakers; swarmsync has no wakers. What they protect (a wait abandoned by one task does
//   not get the wake-up of the next one's) is checked through cancellation in oneshot_test.cpp.

#include <swarmsync/channels/oneshot.hpp>

#include "support/async.hpp"
#include "support/mock_task.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include <variant>

namespace tokio_oneshot_test {
namespace {

using namespace swarmsync;
using swarmsync::test::Task;
using Recv = Result<int, oneshot::RecvError>;

Task<Recv> recv_task(oneshot::Receiver<int>& rx) { return Task<Recv>(rx.recv()); }

asio::awaitable<bool> closed_of(oneshot::Sender<int>& tx) {
  co_await tx.closed();
  co_return true;
}

TEST(TokioOneshot, send_recv) {
  auto [tx_end, rx_end] = oneshot::channel<int>();
  auto& rx = rx_end;
  auto t = recv_task(rx);
  EXPECT_FALSE(t.poll());
  EXPECT_TRUE(std::move(tx_end).send(1));
  EXPECT_TRUE(t.woken());
  ASSERT_TRUE(t.poll());
  auto v = t.take();
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, 1);
}

TEST(TokioOneshot, async_send_recv) {
  auto [tx_end, rx_end] = oneshot::channel<int>();
  EXPECT_TRUE(std::move(tx_end).send(1));
  auto& rx = rx_end;
  auto got = test::run_sync([&]() -> asio::awaitable<Recv> { co_return co_await rx.recv(); }());
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, 1);
}

TEST(TokioOneshot, close_tx) {
  auto [tx_end, rx_end] = oneshot::channel<int>();
  auto& rx = rx_end;
  auto t = recv_task(rx);
  EXPECT_FALSE(t.poll());
  { auto drop = std::move(tx_end); }
  EXPECT_TRUE(t.woken());
  ASSERT_TRUE(t.poll());
  auto v = t.take();
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error(), oneshot::RecvError::closed);
}

TEST(TokioOneshot, close_rx) {
  {
    auto [tx, rx] = oneshot::channel<int>();
    { auto drop = std::move(rx); }
    EXPECT_FALSE(std::move(tx).send(1));
  }
  auto [tx_end, rx_end] = oneshot::channel<int>();
  auto& tx = tx_end;
  Task<bool> t(closed_of(tx));
  EXPECT_FALSE(t.poll());
  { auto drop = std::move(rx_end); }
  EXPECT_TRUE(t.woken());
  EXPECT_TRUE(tx.is_closed());
  ASSERT_TRUE(t.poll());
  EXPECT_FALSE(std::move(tx).send(1));
}

TEST(TokioOneshot, async_rx_closed) {
  auto [tx_end, rx_end] = oneshot::channel<std::monostate>();
  auto& tx = tx_end;
  auto& rx = rx_end;
  asio::io_context ioc;
  asio::co_spawn(ioc, [&]() -> asio::awaitable<void> {
    auto drop = std::move(rx);
    co_return;
  }, asio::detached);
  auto done = asio::co_spawn(ioc, tx.closed(), asio::use_future);
  ioc.run();
  done.get();
  EXPECT_TRUE(tx.is_closed());
}

TEST(TokioOneshot, explicit_close_poll) {
  {
    auto [tx_end, rx_end] = oneshot::channel<int>();
    auto& rx = rx_end;
    auto t = recv_task(rx);
    EXPECT_TRUE(std::move(tx_end).send(1));
    rx.close();
    ASSERT_TRUE(t.poll());
    auto v = t.take();
    ASSERT_TRUE(v);
    EXPECT_EQ(*v, 1);
  }
  {
    auto [tx_end, rx_end] = oneshot::channel<int>();
    auto& tx = tx_end;
    auto& rx = rx_end;
    Task<bool> tt(closed_of(tx));
    EXPECT_FALSE(tt.poll());
    rx.close();
    EXPECT_TRUE(tt.woken());
    EXPECT_TRUE(tx.is_closed());
    ASSERT_TRUE(tt.poll());
    EXPECT_FALSE(std::move(tx).send(1));
    auto t = recv_task(rx);
    ASSERT_TRUE(t.poll());
    EXPECT_FALSE(t.take());
  }
  {
    auto [tx_end, rx_end] = oneshot::channel<int>();
    auto& tx = tx_end;
    auto& rx = rx_end;
    Task<bool> tt(closed_of(tx));
    EXPECT_FALSE(tt.poll());
    rx.close();
    EXPECT_TRUE(tt.woken());
    EXPECT_TRUE(tx.is_closed());
    ASSERT_TRUE(tt.poll());
    auto t = recv_task(rx);
    ASSERT_TRUE(t.poll());
    EXPECT_FALSE(t.take());
  }
}

TEST(TokioOneshot, explicit_close_try_recv) {
  {
    auto [tx, rx] = oneshot::channel<int>();
    EXPECT_TRUE(std::move(tx).send(1));
    rx.close();
    auto v = rx.try_recv();
    ASSERT_TRUE(v);
    EXPECT_EQ(*v, 1);
  }
  auto [tx_end, rx_end] = oneshot::channel<int>();
  auto& tx = tx_end;
  auto& rx = rx_end;
  Task<bool> tt(closed_of(tx));
  EXPECT_FALSE(tt.poll());
  rx.close();
  EXPECT_TRUE(tt.woken());
  EXPECT_TRUE(tx.is_closed());
  ASSERT_TRUE(tt.poll());
  EXPECT_FALSE(rx.try_recv());
}

// tokio panics here; swarmsync reports `closed`.
TEST(TokioOneshot, close_try_recv_poll) {
  auto [tx, rx_end] = oneshot::channel<int>();
  auto& rx = rx_end;
  rx.close();
  auto e = rx.try_recv();
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error(), oneshot::TryRecvError::closed);
  auto t = recv_task(rx);
  ASSERT_TRUE(t.poll());
  EXPECT_FALSE(t.take());
}

TEST(TokioOneshot, close_after_recv) {
  auto [tx, rx] = oneshot::channel<int>();
  EXPECT_TRUE(std::move(tx).send(17));
  EXPECT_EQ(rx.try_recv().value(), 17);
  rx.close();
}

TEST(TokioOneshot, try_recv_after_completion) {
  auto [tx, rx] = oneshot::channel<int>();
  EXPECT_TRUE(std::move(tx).send(17));
  EXPECT_EQ(rx.try_recv().value(), 17);
  auto again = rx.try_recv();
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), oneshot::TryRecvError::closed);
  rx.close();
}

TEST(TokioOneshot, try_recv_after_completion_await) {
  auto [tx, rx_end] = oneshot::channel<int>();
  auto& rx = rx_end;
  auto t = recv_task(rx);
  EXPECT_TRUE(std::move(tx).send(17));
  ASSERT_TRUE(t.poll());
  EXPECT_EQ(t.take().value(), 17);
  auto again = rx.try_recv();
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error(), oneshot::TryRecvError::closed);
  rx.close();
}

TEST(TokioOneshot, receiver_is_closed_send) {
  auto [tx, rx] = oneshot::channel<int>();
  EXPECT_FALSE(rx.is_closed()) << "channel is NOT closed before value is sent";
  EXPECT_TRUE(std::move(tx).send(17));
  EXPECT_TRUE(rx.is_closed()) << "channel IS closed after value is sent";
}

TEST(TokioOneshot, receiver_is_closed_drop) {
  auto [tx, rx] = oneshot::channel<int>();
  EXPECT_FALSE(rx.is_closed()) << "channel is NOT closed before sender is dropped";
  { auto drop = std::move(tx); }
  EXPECT_TRUE(rx.is_closed()) << "channel IS closed after sender is dropped";
}

TEST(TokioOneshot, receiver_is_closed_rx_close) {
  auto [tx, rx] = oneshot::channel<int>();
  EXPECT_FALSE(rx.is_closed());
  rx.close();
  EXPECT_TRUE(rx.is_closed());
}

TEST(TokioOneshot, receiver_is_empty_send) {
  auto [tx, rx_end] = oneshot::channel<int>();
  auto& rx = rx_end;
  EXPECT_TRUE(rx.is_empty()) << "channel IS empty before value is sent";
  EXPECT_TRUE(std::move(tx).send(17));
  EXPECT_FALSE(rx.is_empty()) << "channel is NOT empty after value is sent";
  auto t = recv_task(rx);
  ASSERT_TRUE(t.poll());
  EXPECT_EQ(t.take().value(), 17);
  EXPECT_TRUE(rx.is_empty()) << "channel IS empty after value is read";
}

TEST(TokioOneshot, receiver_is_empty_drop) {
  auto [tx, rx_end] = oneshot::channel<int>();
  auto& rx = rx_end;
  EXPECT_TRUE(rx.is_empty()) << "channel IS empty before sender is dropped";
  { auto drop = std::move(tx); }
  EXPECT_TRUE(rx.is_empty()) << "channel IS empty after sender is dropped";
  auto t = recv_task(rx);
  ASSERT_TRUE(t.poll());
  EXPECT_FALSE(t.take());
  EXPECT_TRUE(rx.is_empty()) << "channel IS empty after value is read";
}

TEST(TokioOneshot, receiver_is_empty_rx_close) {
  auto [tx, rx] = oneshot::channel<int>();
  EXPECT_TRUE(rx.is_empty());
  rx.close();
  EXPECT_TRUE(rx.is_empty());
}

}  // namespace
}  // namespace tokio_oneshot_test
