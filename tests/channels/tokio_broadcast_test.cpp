// tokio's own broadcast suite (tokio-1.24.2/tests/sync_broadcast.rs), test by test: each TEST is
// named after the tokio test it ports and keeps its assertions.
//
// Translation:
// - `tokio_test::task::spawn(fut)`: `Task`, the awaitable on an io_context of its own that only
//   `Task::poll()` runs, so that it advances only when the test polls it, as a mock task does.
//   `assert_pending!(t.poll())` is `EXPECT_FALSE(t.poll())`; `assert_ready_ok!(t.poll())` is
//   `ASSERT_TRUE(t.poll())` and a check of `t.take()`. `t.is_woken()` is `t.woken()`: a wake-up
//   shows as a handler queued on the task's context, so `woken()` polls the task and reports
//   whether anything ran (a task never polled has no waker to wake: false). Dropping a mock task
//   destroys its context, and with it the coroutine, as dropping a future does.
// - `broadcast::channel(n)`: `broadcast::channel<T>(n)`; `()` is `std::monostate`, `&str` is
//   `std::string`, `Arc<()>` is `std::shared_ptr<int>` (`Arc::strong_count` is `use_count()`).
//   tokio's `assert_recv!`, `assert_empty!`, `assert_lagged!`, `assert_closed!` on `try_recv()`
//   are `recv_eq`, `is_empty`, `is_lagged`, `is_closed` below; `TryRecvError::Lagged(n)` is
//   `RecvError{lagged, n}`. `#[should_panic]` on a broken precondition: `EXPECT_THROW` of
//   `std::invalid_argument`, which swarmsync throws there. A panic in `Clone` is a copy
//   constructor that throws; `catch_unwind` is a try/catch.
//
// Not ported (it does not apply to swarmsync):
// - change_tasks: polls one `recv()` future from one task and then from another and checks that
//   the second task's waker replaced the first's. An `asio::awaitable` is started once, by one
//   coroutine, and cannot be handed from one task to another between polls (swarmsync has no
//   poll-based `Receiver::poll_recv`), so there is nothing to port.

#include <swarmsync/channels/broadcast.hpp>

#include "support/async.hpp"
#include "support/mock_task.hpp"
#include "support/watchdog.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace tokio_broadcast_test {

namespace {

using namespace swarmsync;
using swarmsync::test::Task;
using broadcast::RecvError;


const char* kind_name(RecvError::Kind k) {
  switch (k) {
    case RecvError::empty: return "Empty";
    case RecvError::lagged: return "Lagged";
    case RecvError::closed: return "Closed";
    case RecvError::timed_out: return "TimedOut";
  }
  return "?";
}

// `assert_eq!(assert_recv!(rx), expected)`, and `assert_eq!(assert_ready_ok!(recv.poll()), expected)`
// on the outcome.
template <class T, class U>
::testing::AssertionResult recv_eq(const Result<T, RecvError>& r, const U& expected) {
  if (!r)
    return ::testing::AssertionFailure() << "expected recv; got = " << kind_name(r.error().kind) << "("
                                         << r.error().skipped << ")";
  if (!(*r == expected)) return ::testing::AssertionFailure() << "received another value";
  return ::testing::AssertionSuccess();
}

// The error of a failed receive (a copy: fine for `RecvError`), or nothing for a value.
template <class T>
std::optional<RecvError> error_of(const Result<T, RecvError>& r) {
  if (r) return std::nullopt;
  return RecvError(r.error());
}

::testing::AssertionResult failed_with(const std::optional<RecvError>& e, RecvError expected) {
  if (!e) return ::testing::AssertionFailure() << "expected " << kind_name(expected.kind) << "; got a value";
  if (!(*e == expected))
    return ::testing::AssertionFailure() << "expected " << kind_name(expected.kind) << "(" << expected.skipped
                                         << "); got = " << kind_name(e->kind) << "(" << e->skipped << ")";
  return ::testing::AssertionSuccess();
}

// `assert_empty!(rx)`
template <class T>
::testing::AssertionResult is_empty(const Result<T, RecvError>& r) {
  return failed_with(error_of(r), RecvError{RecvError::empty});
}

// `assert_lagged!(rx.try_recv(), n)`
template <class T>
::testing::AssertionResult is_lagged(const Result<T, RecvError>& r, std::uint64_t n) {
  return failed_with(error_of(r), RecvError{RecvError::lagged, n});
}

// `assert_closed!(rx.try_recv())`, and `is_closed(assert_ready_err!(recv.poll()))`
template <class T>
::testing::AssertionResult is_closed(const Result<T, RecvError>& r) {
  return failed_with(error_of(r), RecvError{RecvError::closed});
}

using StrRecv = Task<Result<std::string, RecvError>>;

// --- The tests ------------------------------------------------------------------------------------

TEST(TokioBroadcast, send_try_recv_bounded) {
  auto [tx_end, rx_end] = broadcast::channel<std::string>(16);
  auto& tx = tx_end;
  auto& rx = rx_end;

  EXPECT_TRUE(is_empty(rx.try_recv()));

  auto n = tx.send("hello");
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 1u);

  EXPECT_TRUE(recv_eq(rx.try_recv(), "hello"));

  EXPECT_TRUE(is_empty(rx.try_recv()));
}

TEST(TokioBroadcast, send_two_recv) {
  auto [tx_end, rx1_end] = broadcast::channel<std::string>(16);
  auto& tx = tx_end;
  auto& rx1 = rx1_end;
  auto rx2 = tx.subscribe();

  EXPECT_TRUE(is_empty(rx1.try_recv()));
  EXPECT_TRUE(is_empty(rx2.try_recv()));

  auto n = tx.send("hello");
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 2u);

  EXPECT_TRUE(recv_eq(rx1.try_recv(), "hello"));
  EXPECT_TRUE(recv_eq(rx2.try_recv(), "hello"));

  EXPECT_TRUE(is_empty(rx1.try_recv()));
  EXPECT_TRUE(is_empty(rx2.try_recv()));
}

TEST(TokioBroadcast, send_recv_bounded) {
  auto [tx_end, rx_end] = broadcast::channel<std::string>(16);
  auto& tx = tx_end;
  auto& rx = rx_end;

  StrRecv recv(rx.recv());

  EXPECT_FALSE(recv.poll());

  EXPECT_TRUE(tx.send("hello"));

  EXPECT_TRUE(recv.woken());
  ASSERT_TRUE(recv.poll());
  EXPECT_TRUE(recv_eq(recv.take(), "hello"));
}

TEST(TokioBroadcast, send_two_recv_bounded) {
  auto [tx_end, rx1_end] = broadcast::channel<std::string>(16);
  auto& tx = tx_end;
  auto& rx1 = rx1_end;
  auto rx2 = tx.subscribe();

  std::optional<StrRecv> recv1;
  std::optional<StrRecv> recv2;
  recv1.emplace(rx1.recv());
  recv2.emplace(rx2.recv());

  EXPECT_FALSE(recv1->poll());
  EXPECT_FALSE(recv2->poll());

  EXPECT_TRUE(tx.send("hello"));

  EXPECT_TRUE(recv1->woken());
  EXPECT_TRUE(recv2->woken());

  ASSERT_TRUE(recv1->poll());
  ASSERT_TRUE(recv2->poll());
  EXPECT_TRUE(recv_eq(recv1->take(), "hello"));
  EXPECT_TRUE(recv_eq(recv2->take(), "hello"));

  recv1.reset();  // drop((recv1, recv2))
  recv2.reset();

  recv1.emplace(rx1.recv());
  recv2.emplace(rx2.recv());

  EXPECT_FALSE(recv1->poll());

  EXPECT_TRUE(tx.send("world"));

  EXPECT_TRUE(recv1->woken());
  EXPECT_FALSE(recv2->woken());  // never polled: it has no waker to wake

  ASSERT_TRUE(recv1->poll());
  ASSERT_TRUE(recv2->poll());
  EXPECT_TRUE(recv_eq(recv1->take(), "world"));
  EXPECT_TRUE(recv_eq(recv2->take(), "world"));
}

TEST(TokioBroadcast, send_slow_rx) {
  auto [tx_end, rx1_end] = broadcast::channel<std::string>(16);
  auto& tx = tx_end;
  auto& rx1 = rx1_end;
  auto rx2 = tx.subscribe();

  {
    StrRecv recv2(rx2.recv());

    {
      StrRecv recv1(rx1.recv());

      EXPECT_FALSE(recv1.poll());
      EXPECT_FALSE(recv2.poll());

      EXPECT_TRUE(tx.send("one"));

      EXPECT_TRUE(recv1.woken());
      EXPECT_TRUE(recv2.woken());

      EXPECT_TRUE(tx.send("two"));

      ASSERT_TRUE(recv1.poll());
      EXPECT_TRUE(recv_eq(recv1.take(), "one"));
    }

    {
      StrRecv once(rx1.recv());
      ASSERT_TRUE(once.poll());
      EXPECT_TRUE(recv_eq(once.take(), "two"));
    }

    StrRecv recv1(rx1.recv());

    EXPECT_FALSE(recv1.poll());

    EXPECT_TRUE(tx.send("three"));

    EXPECT_TRUE(recv1.woken());

    ASSERT_TRUE(recv1.poll());
    EXPECT_TRUE(recv_eq(recv1.take(), "three"));

    ASSERT_TRUE(recv2.poll());
    EXPECT_TRUE(recv_eq(recv2.take(), "one"));
  }

  EXPECT_TRUE(recv_eq(rx2.try_recv(), "two"));
  EXPECT_TRUE(recv_eq(rx2.try_recv(), "three"));
}

TEST(TokioBroadcast, drop_rx_while_values_remain) {
  auto [tx_end, rx1_end] = broadcast::channel<std::string>(16);
  auto& tx = tx_end;
  auto rx2 = tx.subscribe();

  EXPECT_TRUE(tx.send("one"));
  EXPECT_TRUE(tx.send("two"));

  EXPECT_TRUE(rx1_end.try_recv());  // assert_recv!
  EXPECT_TRUE(rx2.try_recv());

  { auto drop = std::move(rx2); }
  { auto drop = std::move(rx1_end); }
}

TEST(TokioBroadcast, lagging_rx) {
  auto [tx_end, rx1_end] = broadcast::channel<std::string>(2);
  auto& tx = tx_end;
  auto& rx1 = rx1_end;
  auto rx2 = tx.subscribe();

  EXPECT_TRUE(tx.send("one"));
  EXPECT_TRUE(tx.send("two"));

  EXPECT_TRUE(recv_eq(rx1.try_recv(), "one"));

  EXPECT_TRUE(tx.send("three"));

  // Lagged too far
  EXPECT_TRUE(is_lagged(rx2.try_recv(), 1));

  // Calling again gets the next value
  EXPECT_TRUE(recv_eq(rx2.try_recv(), "two"));

  EXPECT_TRUE(recv_eq(rx1.try_recv(), "two"));
  EXPECT_TRUE(recv_eq(rx1.try_recv(), "three"));

  EXPECT_TRUE(tx.send("four"));
  EXPECT_TRUE(tx.send("five"));

  EXPECT_TRUE(is_lagged(rx2.try_recv(), 1));

  EXPECT_TRUE(tx.send("six"));

  EXPECT_TRUE(is_lagged(rx2.try_recv(), 1));
}

TEST(TokioBroadcast, send_no_rx) {
  auto tx = broadcast::channel<std::string>(16).first;  // let (tx, _): the receiver is dropped at once

  EXPECT_FALSE(tx.send("hello"));

  auto rx = tx.subscribe();

  EXPECT_TRUE(tx.send("world"));

  EXPECT_TRUE(recv_eq(rx.try_recv(), "world"));
}

// #[should_panic]
TEST(TokioBroadcast, zero_capacity) { EXPECT_THROW(broadcast::channel<std::monostate>(0), std::invalid_argument); }

// #[should_panic]
TEST(TokioBroadcast, capacity_too_big) {
  EXPECT_THROW(broadcast::channel<std::monostate>(1 + (std::numeric_limits<std::size_t>::max() >> 1)),
               std::invalid_argument);
}

// Clone panics on 0 (`assert_ne!(0, self.0)`): here the copy constructor throws. Moves, which in
// Rust never run user code, do not throw.
struct MyVal {
  std::size_t v;
  explicit MyVal(std::size_t x) : v(x) {}
  MyVal(const MyVal& o) : v(o.v) {
    if (o.v == 0) throw std::runtime_error("MyVal(0) cannot be cloned");
  }
  MyVal(MyVal&&) noexcept = default;
  MyVal& operator=(const MyVal&) = default;
  MyVal& operator=(MyVal&&) noexcept = default;
  bool operator==(const MyVal&) const = default;
};

TEST(TokioBroadcast, panic_in_clone) {
  swarmsync::test::Watchdog watchdog;  // a slot left pinned by the throw would make a send spin
  auto [tx_end, rx_end] = broadcast::channel<MyVal>(16);
  auto& tx = tx_end;
  auto& rx = rx_end;

  EXPECT_TRUE(tx.send(MyVal(0)));
  EXPECT_TRUE(tx.send(MyVal(1)));

  bool threw = false;
  try {
    (void)rx.try_recv();
  } catch (const std::runtime_error&) {
    threw = true;
  }
  EXPECT_TRUE(threw);  // assert_err!(res)

  std::optional<Result<MyVal, RecvError>> r;
  try {
    r.emplace(rx.try_recv());
  } catch (const std::exception& e) {
    ADD_FAILURE() << "the receive after the failed clone threw again: " << e.what();
  }
  if (r) {
    EXPECT_TRUE(recv_eq(*r, MyVal(1)));
  }
}

TEST(TokioBroadcast, dropping_tx_notifies_rx) {
  auto [tx_end, rx1_end] = broadcast::channel<std::monostate>(16);
  auto& rx1 = rx1_end;
  auto rx2 = tx_end.subscribe();

  auto tx2 = tx_end;

  Task<Result<std::monostate, RecvError>> recv1(rx1.recv());
  Task<Result<std::monostate, RecvError>> recv2(rx2.recv());

  EXPECT_FALSE(recv1.poll());
  EXPECT_FALSE(recv2.poll());

  { auto drop = std::move(tx_end); }

  EXPECT_FALSE(recv1.poll());
  EXPECT_FALSE(recv2.poll());

  { auto drop = std::move(tx2); }

  EXPECT_TRUE(recv1.woken());
  EXPECT_TRUE(recv2.woken());

  ASSERT_TRUE(recv1.poll());
  EXPECT_TRUE(is_closed(recv1.take()));

  ASSERT_TRUE(recv2.poll());
  EXPECT_TRUE(is_closed(recv2.take()));
}

TEST(TokioBroadcast, unconsumed_messages_are_dropped) {
  auto [tx_end, rx_end] = broadcast::channel<std::shared_ptr<int>>(16);
  auto& tx = tx_end;

  auto msg = std::make_shared<int>(0);

  EXPECT_TRUE(tx.send(msg));

  EXPECT_EQ(msg.use_count(), 2);

  { auto drop = std::move(rx_end); }

  EXPECT_EQ(msg.use_count(), 1);
}

TEST(TokioBroadcast, single_capacity_recvs) {
  auto [tx_end, rx_end] = broadcast::channel<int>(1);
  auto& tx = tx_end;
  auto& rx = rx_end;

  EXPECT_TRUE(tx.send(1));

  EXPECT_TRUE(recv_eq(rx.try_recv(), 1));
  EXPECT_TRUE(is_empty(rx.try_recv()));
}

TEST(TokioBroadcast, single_capacity_recvs_after_drop_1) {
  auto [tx_end, rx_end] = broadcast::channel<int>(1);
  auto& rx = rx_end;

  EXPECT_TRUE(tx_end.send(1));
  { auto drop = std::move(tx_end); }

  EXPECT_TRUE(recv_eq(rx.try_recv(), 1));
  EXPECT_TRUE(is_closed(rx.try_recv()));
}

TEST(TokioBroadcast, single_capacity_recvs_after_drop_2) {
  auto [tx_end, rx_end] = broadcast::channel<int>(1);
  auto& rx = rx_end;

  EXPECT_TRUE(tx_end.send(1));
  EXPECT_TRUE(tx_end.send(2));
  { auto drop = std::move(tx_end); }

  EXPECT_TRUE(is_lagged(rx.try_recv(), 1));
  EXPECT_TRUE(recv_eq(rx.try_recv(), 2));
  EXPECT_TRUE(is_closed(rx.try_recv()));
}

TEST(TokioBroadcast, dropping_sender_does_not_overwrite) {
  auto [tx_end, rx_end] = broadcast::channel<int>(2);
  auto& rx = rx_end;

  EXPECT_TRUE(tx_end.send(1));
  EXPECT_TRUE(tx_end.send(2));
  { auto drop = std::move(tx_end); }

  EXPECT_TRUE(recv_eq(rx.try_recv(), 1));
  EXPECT_TRUE(recv_eq(rx.try_recv(), 2));
  EXPECT_TRUE(is_closed(rx.try_recv()));
}

TEST(TokioBroadcast, lagging_receiver_recovers_after_wrap_closed_1) {
  auto [tx_end, rx_end] = broadcast::channel<int>(2);
  auto& rx = rx_end;

  EXPECT_TRUE(tx_end.send(1));
  EXPECT_TRUE(tx_end.send(2));
  EXPECT_TRUE(tx_end.send(3));
  { auto drop = std::move(tx_end); }

  EXPECT_TRUE(is_lagged(rx.try_recv(), 1));
  EXPECT_TRUE(recv_eq(rx.try_recv(), 2));
  EXPECT_TRUE(recv_eq(rx.try_recv(), 3));
  EXPECT_TRUE(is_closed(rx.try_recv()));
}

TEST(TokioBroadcast, lagging_receiver_recovers_after_wrap_closed_2) {
  auto [tx_end, rx_end] = broadcast::channel<int>(2);
  auto& rx = rx_end;

  EXPECT_TRUE(tx_end.send(1));
  EXPECT_TRUE(tx_end.send(2));
  EXPECT_TRUE(tx_end.send(3));
  EXPECT_TRUE(tx_end.send(4));
  { auto drop = std::move(tx_end); }

  EXPECT_TRUE(is_lagged(rx.try_recv(), 2));
  EXPECT_TRUE(recv_eq(rx.try_recv(), 3));
  EXPECT_TRUE(recv_eq(rx.try_recv(), 4));
  EXPECT_TRUE(is_closed(rx.try_recv()));
}

TEST(TokioBroadcast, lagging_receiver_recovers_after_wrap_open) {
  auto [tx_end, rx_end] = broadcast::channel<int>(2);
  auto& tx = tx_end;
  auto& rx = rx_end;

  EXPECT_TRUE(tx.send(1));
  EXPECT_TRUE(tx.send(2));
  EXPECT_TRUE(tx.send(3));

  EXPECT_TRUE(is_lagged(rx.try_recv(), 1));
  EXPECT_TRUE(recv_eq(rx.try_recv(), 2));
  EXPECT_TRUE(recv_eq(rx.try_recv(), 3));
  EXPECT_TRUE(is_empty(rx.try_recv()));
}

TEST(TokioBroadcast, receiver_len_with_lagged) {
  auto [tx_end, rx_end] = broadcast::channel<int>(3);
  auto& tx = tx_end;
  auto& rx = rx_end;

  ASSERT_TRUE(tx.send(10));
  ASSERT_TRUE(tx.send(20));
  ASSERT_TRUE(tx.send(30));
  ASSERT_TRUE(tx.send(40));

  EXPECT_EQ(rx.len(), 4u);
  EXPECT_TRUE(recv_eq(rx.try_recv(), 10));

  ASSERT_TRUE(tx.send(50));
  ASSERT_TRUE(tx.send(60));

  EXPECT_EQ(rx.len(), 5u);
  EXPECT_TRUE(is_lagged(rx.try_recv(), 1));
}

TEST(TokioBroadcast, resubscribe_points_to_tail) {
  auto [tx_end, rx_end] = broadcast::channel<int>(3);
  auto& tx = tx_end;
  auto& rx = rx_end;
  ASSERT_TRUE(tx.send(1));

  auto rx_resub = rx.resubscribe();

  // verify we're one behind at the start
  EXPECT_TRUE(is_empty(rx_resub.try_recv()));
  EXPECT_TRUE(recv_eq(rx.try_recv(), 1));

  // verify we do not affect rx
  ASSERT_TRUE(tx.send(2));
  EXPECT_TRUE(recv_eq(rx_resub.try_recv(), 2));
  ASSERT_TRUE(tx.send(3));
  EXPECT_TRUE(recv_eq(rx.try_recv(), 2));
  EXPECT_TRUE(recv_eq(rx.try_recv(), 3));
  EXPECT_TRUE(is_empty(rx.try_recv()));

  EXPECT_TRUE(recv_eq(rx_resub.try_recv(), 3));
  EXPECT_TRUE(is_empty(rx_resub.try_recv()));
}

TEST(TokioBroadcast, resubscribe_lagged) {
  auto [tx_end, rx_end] = broadcast::channel<int>(1);
  auto& tx = tx_end;
  auto& rx = rx_end;
  ASSERT_TRUE(tx.send(1));
  ASSERT_TRUE(tx.send(2));

  auto rx_resub = rx.resubscribe();
  EXPECT_TRUE(is_lagged(rx.try_recv(), 1));
  EXPECT_TRUE(is_empty(rx_resub.try_recv()));

  EXPECT_TRUE(recv_eq(rx.try_recv(), 2));
  EXPECT_TRUE(is_empty(rx.try_recv()));
  EXPECT_TRUE(is_empty(rx_resub.try_recv()));
}

TEST(TokioBroadcast, resubscribe_to_closed_channel) {
  auto [tx_end, rx_end] = broadcast::channel<std::uint32_t>(2);
  { auto drop = std::move(tx_end); }

  auto rx_resub = rx_end.resubscribe();
  EXPECT_TRUE(is_closed(rx_resub.try_recv()));
}

}  // namespace

}  // namespace tokio_broadcast_test
