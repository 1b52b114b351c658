#pragma once
// A coroutine polled by hand, as `tokio_test::task::spawn` makes a mock task of a future: it runs
// on an io_context of its own, only when the test calls `poll()`, so that a test sees each step
// (pending, woken, ready) as tokio's tests do.

#include <swarmsync/detail/asio_fwd.hpp>

#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <exception>
#include <memory>
#include <optional>

namespace swarmsync::test {

/// A future polled by hand. Destroying the task destroys its context, and with it the coroutine,
/// as dropping a future does.
template <class T>
class Task {
 public:
  explicit Task(asio::awaitable<T> a) {
    asio::co_spawn(ioc_, std::move(a),
                   asio::bind_cancellation_slot(state_->cancel.slot(), [s = state_](std::exception_ptr e, T v) {
                     s->done = true;
                     s->error = e;
                     if (!e) s->value.emplace(std::move(v));
                   }));
  }
  /// A task of an Asio operation (a receiver's `recv()`): a coroutine that awaits it, as a
  /// service's does.
  template <class Op>
    requires asio::is_async_operation<Op>::value
  explicit Task(Op op) : Task(std::move(op)(asio::use_awaitable)) {}
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;

  /// Runs what is ready on the task's context; true once the task has completed.
  bool poll() {
    polled_ = true;
    ioc_.restart();
    ioc_.poll();
    return state_->done;
  }

  /// tokio_test's `is_woken()`: whether a wake-up reached the task since it last ran.
  bool woken() {
    if (!polled_) return false;
    ioc_.restart();
    return ioc_.poll() > 0;
  }

  /// Drops the future that this task polls, keeping the task: cancels the coroutine and lets it
  /// unwind. True if it is gone.
  bool drop_future() {
    state_->cancel.emit(asio::cancellation_type::terminal);
    return poll();
  }

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
  bool polled_ = false;
  asio::io_context ioc_;  // last: destroyed first, and with it a coroutine still parked
};

}  // namespace swarmsync::test
