#pragma once
// A receive as an Asio asynchronous operation, which an `asio::awaitable` coroutine awaits in its
// own frame.
//
//     auto v = co_await rx.recv();                         // no coroutine frame of its own
//     auto w = co_await rx.recv(asio::use_awaitable);      // an awaitable, for `||` and co_spawn
//     rx.recv(asio::bind_executor(ex, [](boost::system::error_code ec, std::optional<T> v) {}));
//
// `RecvOperation<Source>` is what `Receiver::recv()` returns: a two-word object whose call with a
// completion token starts the receive, completing with `void(error_code, value_type)` (an mpsc
// receiver's `std::optional<T>`, a broadcast receiver's `Result<T, RecvError>`; `operation_aborted`
// when cancelled, nothing taken). With `asio::use_awaitable` it is a coroutine that awaits the
// operation as below. With any other token it is a readiness wait (`ReadyWait`) followed by the
// take, on the handler's executor; a copy that throws there (a broadcast value's) leaves the
// `run()` that invoked it, as an exception from a completion handler does.
//
// Awaited directly (`co_await rx.recv()`), Asio 1.26 (Boost 1.81) hands it to
// `asio::detail::awaitable_async_op`, which is specialised below for it. A coroutine function that
// returned an `asio::awaitable` would cost a frame per receive (allocated, resumed, destroyed) and
// a second resume through Asio's pump; the specialisation instead:
// - takes a value that is already there in `await_ready`, without suspending the coroutine;
// - otherwise parks the coroutine's own thread of execution on the channel's node (its handler is
//   the suspended coroutine, as for Asio's operations), absorbs a wake-up that finds nothing (a
//   waker's progress already taken) by parking again, and resumes the coroutine once a value is
//   there, the channel ended or the wait was cancelled; the coroutine takes the value itself when
//   it resumes ("wake, then take": a cancelled wait never consumed anything).
// A guarded receive (`recv()`, not `recv_unraced()`) in a coroutine that can be cancelled (a branch
// of `||`) first takes a turn through the executor and then checks the cancellation, as
// `yield_before_take` does. Other versions of Asio (or SWARMSYNC_NO_FRAMELESS_RECV) use its
// generic `awaitable_async_op`, which suspends the coroutine and starts the operation as with any
// token: the same results, one suspension more, except that the value is then taken in the
// handler, so a broadcast value's copy that throws leaves `run()` instead of the coroutine.
//
// `Source` (a receiver) gives the operation `value_type` (what a receive completes with), `poll()`
// (the receive's outcome now, a `std::optional<value_type>` that is empty while it must wait),
// `ready()` (a wait is over: once true, `poll()` has an outcome, as the receiver is its channel's
// only consumer), `no_outcome()` (what a handler gets beside an error), `node()` and `waiters()`
// (where its coroutine parks); it befriends `RecvOperation<Source>`.

#include "swarmsync/detail/asio_fwd.hpp"
#include "swarmsync/detail/wait_list.hpp"

#include <boost/asio/associated_allocator.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/version.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>

#include <cassert>
#include <optional>
#include <type_traits>
#include <utility>

namespace swarmsync::detail {

template <class Token>
struct IsUseAwaitable : std::false_type {};
template <class Executor>
struct IsUseAwaitable<asio::use_awaitable_t<Executor>> : std::true_type {};

/// A receive from `Source`, started by calling it with a completion token (see the top of this
/// file). Copyable, two words; refers to the receiver, which must outlive the operation.
template <class Source>
class RecvOperation {
 private:
  // Completes the receive's handler once its readiness wait is done: takes the value on the
  // handler's executor (nothing when the wait was cancelled), then invokes the handler with it.
  // Carries the handler's executor, cancellation slot and allocator.
  template <class Handler>
  struct TakeThen {
    Source* source;
    Handler handler;

    using executor_type = asio::associated_executor_t<Handler>;
    executor_type get_executor() const noexcept { return asio::get_associated_executor(handler); }
    using cancellation_slot_type = asio::associated_cancellation_slot_t<Handler>;
    cancellation_slot_type get_cancellation_slot() const noexcept {
      return asio::get_associated_cancellation_slot(handler);
    }
    using allocator_type = asio::associated_allocator_t<Handler>;
    allocator_type get_allocator() const noexcept { return asio::get_associated_allocator(handler); }

    void operator()(boost::system::error_code ec) {
      if (ec) {
        std::move(handler)(ec, Source::no_outcome());
        return;
      }
      std::optional<value_type> v = source->poll();  // the wait is over: an outcome is there
      if (!v) {
        start(source, std::move(*this), false);  // (defensive: wait again rather than invent one)
        return;
      }
      std::move(handler)(ec, std::move(*v));
    }

    static void start(Source* s, TakeThen then, bool yield_first) {
      auto ready = [s] { return s->ready(); };
      ReadyWait<std::remove_reference_t<decltype(s->waiters())>, decltype(ready), TakeThen>::start(
          s->waiters(), s->node(), ready, std::move(then), yield_first);
    }
  };

  struct Initiation {
    Source* source;
    bool guarded;

    template <class Handler>
    void operator()(Handler&& handler) const {
      using H = std::decay_t<Handler>;
      // A guarded receive whose handler can be cancelled takes a turn before its first look.
      const bool yield_first = guarded && asio::get_associated_cancellation_slot(handler).is_connected();
      TakeThen<H>::start(source, TakeThen<H>{source, std::forward<Handler>(handler)}, yield_first);
    }
  };

 public:
  using value_type = typename Source::recv_value;
  using signature = void(boost::system::error_code, value_type);

  RecvOperation(Source& source, bool guarded) noexcept : source_(&source), guarded_(guarded) {}

  /// Starts the receive; `token` receives `void(error_code, value_type)`.
  /// (Constrained, so that Asio's probes of what a `co_await` operand is can ask it.)
  template <class CompletionToken>
    requires(!IsUseAwaitable<std::decay_t<CompletionToken>>::value)
  auto operator()(CompletionToken&& token) const
      -> decltype(asio::async_initiate<CompletionToken, signature>(std::declval<Initiation>(), token)) {
    return asio::async_initiate<CompletionToken, signature>(Initiation{source_, guarded_}, token);
  }

  /// `asio::use_awaitable`: a coroutine that awaits this operation, so that the value is taken
  /// inside it (a copy that throws, as a broadcast receiver's may, throws there).
  template <class Executor>
  asio::awaitable<value_type, Executor> operator()(const asio::use_awaitable_t<Executor>&) const {
    return awaited<Executor>(*this);
  }

  // What the awaiting specialisation below uses.
  bool guarded() const noexcept { return guarded_; }
  std::optional<value_type> poll() const { return source_->poll(); }
  bool ready() const { return source_->ready(); }
  template <class Handler>
  void park(Handler&& handler) const {
    Source* source = source_;
    park_now(source->waiters(), source->node(), [source] { return source->ready(); },
             std::forward<Handler>(handler));
  }

 private:
  template <class Executor>
  static asio::awaitable<value_type, Executor> awaited(RecvOperation op) {
    auto v = co_await std::move(op);
    co_return v;
  }

  Source* source_;
  bool guarded_;
};

}  // namespace swarmsync::detail

// Asio's awaiting of an operation is internal: the specialisation is written against Asio 1.26
// and used there only. SWARMSYNC_NO_FRAMELESS_RECV turns it off (every translation unit of a
// program must agree on it).
#if !defined(SWARMSYNC_NO_FRAMELESS_RECV) && BOOST_ASIO_VERSION >= 102600 && BOOST_ASIO_VERSION < 102700
#define SWARMSYNC_FRAMELESS_RECV 1

namespace boost::asio::detail {

// `co_await op` in an `asio::awaitable` coroutine, for a receive (see the top of this file). Asio
// constructs this from the operation and the awaiting frame once the coroutine has reached the
// `co_await`; the object lives in the coroutine's frame until `await_resume` returns.
template <class Signature, class Source, class Executor>
class awaitable_async_op<Signature, swarmsync::detail::RecvOperation<Source>, Executor> {
  using Op = swarmsync::detail::RecvOperation<Source>;
  using value_type = typename Op::value_type;

 public:
  awaitable_async_op(Op op, awaitable_frame_base<Executor>* frame) : op_(op), frame_(frame) {}

  // An outcome already there (a value, the end of the channel) is taken here: no suspension. A
  // guarded receive in a coroutine that can be cancelled suspends first (see `yield_first_`).
  bool await_ready() {
    if (op_.guarded()) {
      // The awaiting coroutine's cancellation state, as `co_await this_coro::cancellation_state`.
      const cancellation_state state = frame_->await_transform(this_coro::cancellation_state).await_resume();
      yield_first_ = state.slot().is_connected();
      if (yield_first_) return false;
    }
    outcome_ = op_.poll();
    return outcome_.has_value();
  }

  void await_suspend(coroutine_handle<void>) {
    // Runs once the coroutine is suspended (never before: another thread may resume it at once).
    frame_->after_suspend(
        [](void* arg) {
          auto* self = static_cast<awaitable_async_op*>(arg);
          Waiter waiter(self->frame_->detach_thread(), self);
          if (self->yield_first_) {
            const Executor ex = waiter.get_executor();
            boost::asio::post(ex, std::move(waiter));
          } else {
            self->op_.park(std::move(waiter));
          }
        },
        this);
  }

  value_type await_resume() {
    if (ec_) Resumer::resume(ec_);  // throws the wait's error, if any
    if (!outcome_) outcome_ = op_.poll();  // woken and ready: the outcome is there
    assert(outcome_.has_value() && "RecvOperation: a source that was ready had no outcome");
    return std::move(*outcome_);
  }

 private:
  // The suspended coroutine's thread of execution, parked on the channel's node as its handler
  // (its executor and cancellation slot are the coroutine's). Asio's own handler for an operation
  // completing with `void(error_code)` resumes it; this one first absorbs a wake-up that finds
  // nothing ready by parking again, and turns a cancellation requested meanwhile into
  // `operation_aborted` (the value then stays queued).
  using Resumer = awaitable_async_op_handler<void(boost::system::error_code), Executor>;

  class Waiter : public Resumer {
   public:
    Waiter(awaitable_thread<Executor>* suspended, awaitable_async_op* op) : Resumer(suspended, op->ec_), op_(op) {}
    Waiter(Waiter&&) = default;

    // After the first turn of a guarded receive.
    void operator()() { (*this)(boost::system::error_code()); }

    void operator()(boost::system::error_code ec) {
      if (!ec && this->get_cancellation_state().cancelled() != cancellation_type::none)
        ec = boost::asio::error::operation_aborted;
      if (!ec && !op_->op_.ready()) {
        const Op op = op_->op_;
        op.park(std::move(*this));
        return;
      }
      Resumer::operator()(ec);
    }

   private:
    awaitable_async_op* op_;
  };

  Op op_;
  awaitable_frame_base<Executor>* frame_;
  std::optional<value_type> outcome_;
  boost::system::error_code* ec_ = nullptr;  // set by the resumer: the wait's outcome
  bool yield_first_ = false;
};

}  // namespace boost::asio::detail

#endif
