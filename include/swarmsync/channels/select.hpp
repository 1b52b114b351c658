#pragma once
// `swarmsync::select`: waits for the first of several channel receivers and timers to be ready,
// and receives from that one only. Loss-free on any executor, a multi-threaded io_context without
// a strand included: a branch that loses consumes nothing. (tokio's `select!` over receives.)
//
//     auto [jobs_tx, jobs] = swarmsync::mpsc::channel<Job>(64);
//     auto [events_tx, events] = swarmsync::broadcast::channel<CoreEvent>(16);
//     // in a coroutine, on any executor:
//     asio::steady_timer tick(co_await asio::this_coro::executor, 100ms);
//     auto r = co_await swarmsync::select(jobs, events, tick);
//     switch (r.index()) {
//       case 0:                                       // std::optional<Job>, as jobs.recv()
//         if (auto& job = std::get<0>(r)) run(std::move(*job));
//         else jobs_ended = true;                       // every sender is gone
//         break;
//       case 1:                                       // Result<CoreEvent, RecvError>, as events.recv()
//         if (auto& ev = std::get<1>(r)) handle(*ev);
//         break;
//       case 2:                                       // swarmsync::TimerFired: `tick` expired
//         flush();
//         break;
//     }
//
// Branches. Each branch is an `mpsc::Receiver<T>`, a `broadcast::Receiver<T>`, a
// `oneshot::Receiver<T>` or an Asio waitable timer (`asio::steady_timer`, `asio::system_timer`,
// any `asio::basic_waitable_timer`) whose expiry is set. They are passed by lvalue reference and
// must live until the select has completed; each appears once. The select is the receivers'
// consumer while it runs: nothing else may receive from them (nor use the timers) meanwhile.
//
// Result. `std::variant<R0, R1, ...>` (`SelectResult<Branches...>`), one alternative per branch
// in argument order: `index()` says which branch fired, and the alternative holds what that
// branch's `recv()` would have returned: `std::optional<T>` for mpsc (`std::nullopt`: the channel
// ended), `Result<T, broadcast::RecvError>` (a value, `lagged` or `closed`),
// `Result<T, oneshot::RecvError>` (the value or `closed`), and `TimerFired` for a timer. Several
// branches may have the same type: read them with `index()` and `std::get<I>`, or `std::visit`.
//
// Ended channels. A channel that has ended is ready at once, each time, as its `recv()` is: a
// loop that keeps an ended channel among its branches gets it again and again (fairness below
// still lets the other branches through). Call `select` with the branches still open.
// A timer is ready once its expiry has passed, by its clock; `select` does not change the
// expiry and leaves no wait on the timer when it returns.
//
// How it is loss-free. `select` first checks the branches without waiting and receives from the
// first ready one, with `try_recv` (which never waits for a value; see each channel's). If none
// is ready, it waits for readiness on all of them at once, with each receiver's `wait_ready`
// (which consumes nothing) and each timer's `async_wait`; the first branch to become ready
// withdraws the other waits; once every wait has ended, the select checks the branches again, in
// the same order, and receives from the first ready one. Only the select's own coroutine takes
// from the receivers, and each has a single consumer, so a branch seen ready stays ready until
// it is taken: one branch is taken from, once, whichever threads the waits ended on.
//
// Fairness. `select` starts its check at a branch drawn at random (per thread, cheap), then goes
// on in argument order, wrapping around, as tokio's `select!` does: each ready branch is checked
// first with probability 1/n, so a busy branch cannot starve the others. `select_biased` always
// starts at the first branch (tokio's `biased;`): the earlier branch wins whenever several are
// ready, for priorities such as "shutdown before work"; a busy early branch can starve later ones.
//
// Cancellation. Cancelling the select (any cancellation type; for example through a bound
// cancellation slot, or as the losing branch of `||`) withdraws its waits and consumes nothing: it
// throws `system_error(operation_aborted)`, also when a branch became ready meanwhile, and every
// value stays for a later receive. As with `recv()`, a select whose coroutine can be cancelled
// yields to its executor once before taking a branch that is already ready, so that on a strand
// or a one-thread context a sibling `||` branch that won first has cancelled it before it takes.
// A cancellation must come through Asio's rules (from the select's own executor, as `||` and
// `co_spawn` deliver it). Nesting a select in `||` on a multi-threaded executor without a strand
// brings back `||`'s own races (both sides may complete, and Boost 1.81's `||` emits its
// cancellation from whichever thread finished first, into a branch running on another one):
// give that select every branch instead, or run the `||` on a strand.
//
// Errors. A broadcast value whose copy throws rethrows from the select, the receiver past that
// value (as its `recv()`). A wait that cannot be started (memory exhausted) rethrows that
// exception from the select, having taken nothing.
//
// Costs. A select that finds a branch ready takes it at once: no post, no wait (plus the one yield
// when its coroutine can be cancelled). A select that waits takes, each time it parks, one shared
// state, one cancellation handler per branch, per receiver branch the type-erased handler of its
// wait (and of each re-parking after a spurious wake-up) and per timer branch Asio's wait
// operation: all from Asio's recycling allocator, none through operator new. That allocator
// keeps two blocks per purpose and thread, fewer than a waiting select of three branches holds at
// once: select_test measures no allocation for a select that finds a value and, for one that
// waits, none through operator new and at most 4 blocks Asio takes from the heap. When the
// waits end, each branch's completion runs once on the select's executor (one queued
// continuation per branch), the last of them resuming the select. A receiver's first wait
// allocates its wait node, once, as its first `recv()` would.
//
// Thread safety. The select runs on the executor of the coroutine that awaits it, strand or
// not; the waits may end on any threads of that executor and of the senders. The branches are
// used by that coroutine only while it runs.

#include "swarmsync/channels/broadcast.hpp"
#include "swarmsync/channels/error.hpp"
#include "swarmsync/channels/mpsc.hpp"
#include "swarmsync/channels/oneshot.hpp"
#include "swarmsync/channels/result.hpp"
#include "swarmsync/detail/asio_fwd.hpp"
#include "swarmsync/detail/wait_list.hpp"

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/basic_waitable_timer.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/recycling_allocator.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>

#include <array>
#include <atomic>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <new>
#include <optional>
#include <utility>
#include <variant>

namespace swarmsync {

/// What a timer branch of `select` returns: the timer's expiry has passed.
struct TimerFired {
  friend bool operator==(TimerFired, TimerFired) noexcept = default;
};

namespace detail {

// What `select` knows of each kind of branch: the result type (what its `recv()` returns), how
// to take without waiting (`take`: false when not ready, leaving `out` alone), and how to wait
// for readiness without consuming anything (`wait`).
template <class Branch>
struct SelectTraits {
  static constexpr bool supported = false;
};

template <class T>
struct SelectTraits<mpsc::Receiver<T>> {
  static constexpr bool supported = true;
  using result_type = std::optional<T>;

  template <std::size_t I, class Out>
  static bool take(mpsc::Receiver<T>& rx, Out& out) {
    auto r = rx.try_recv();
    if (r) {
      out.emplace(std::in_place_index<I>, std::move(*r));
      return true;
    }
    if (r.error() == mpsc::TryRecvError::empty) return false;
    out.emplace(std::in_place_index<I>, std::nullopt);  // disconnected: the channel ended
    return true;
  }

  template <class Handler>
  static void wait(mpsc::Receiver<T>& rx, Handler handler) {
    rx.wait_ready(std::move(handler));
  }
};

template <class T>
struct SelectTraits<broadcast::Receiver<T>> {
  static constexpr bool supported = true;
  using result_type = Result<T, broadcast::RecvError>;

  template <std::size_t I, class Out>
  static bool take(broadcast::Receiver<T>& rx, Out& out) {
    auto r = rx.try_recv();
    if (!r && r.error().kind == broadcast::RecvError::empty) return false;
    out.emplace(std::in_place_index<I>, std::move(r));  // a value, lagged or closed
    return true;
  }

  template <class Handler>
  static void wait(broadcast::Receiver<T>& rx, Handler handler) {
    rx.wait_ready(std::move(handler));
  }
};

template <class T>
struct SelectTraits<oneshot::Receiver<T>> {
  static constexpr bool supported = true;
  using result_type = Result<T, oneshot::RecvError>;

  template <std::size_t I, class Out>
  static bool take(oneshot::Receiver<T>& rx, Out& out) {
    auto r = rx.try_recv();
    if (r) {
      out.emplace(std::in_place_index<I>, in_place_value, std::move(*r));
      return true;
    }
    if (r.error() == oneshot::TryRecvError::empty) return false;
    out.emplace(std::in_place_index<I>, in_place_error, oneshot::RecvError::closed);
    return true;
  }

  template <class Handler>
  static void wait(oneshot::Receiver<T>& rx, Handler handler) {
    rx.wait_ready(std::move(handler));
  }
};

template <class Clock, class WaitTraits, class Executor>
struct SelectTraits<asio::basic_waitable_timer<Clock, WaitTraits, Executor>> {
  static constexpr bool supported = true;
  using result_type = TimerFired;
  using Timer = asio::basic_waitable_timer<Clock, WaitTraits, Executor>;

  template <std::size_t I, class Out>
  static bool take(Timer& timer, Out& out) {
    if (Clock::now() < timer.expiry()) return false;
    out.emplace(std::in_place_index<I>);
    return true;
  }

  template <class Handler>
  static void wait(Timer& timer, Handler handler) {
    timer.async_wait(std::move(handler));
  }
};

}  // namespace detail

/// A type `select` accepts as a branch: an mpsc, broadcast or oneshot `Receiver`, or an
/// `asio::basic_waitable_timer`.
template <class Branch>
concept Selectable = detail::SelectTraits<Branch>::supported;

/// The result of `select(branches...)`: one alternative per branch, in argument order (see the
/// header comment).
template <Selectable... Branches>
using SelectResult = std::variant<typename detail::SelectTraits<Branches>::result_type...>;

namespace detail {

// One wait of a select on all its branches: an Asio operation, completing with
// `void(std::exception_ptr)` (null: some branch became ready) once every branch's wait has ended.
//
// Each branch's wait gets a `Branch` handler, bound to a cancellation signal of this state. The
// first branch that completes without error (it is ready), or a cancellation of the select
// itself, "withdraws": it emits a cancellation on every branch's signal, once, which ends the
// other waits (a receiver's `wait_ready` consumes nothing; a timer's wait is cancelled). The
// state is reference counted: one reference per branch handler alive and one for the initiation.
// The last to go completes the select's handler, on its executor: from a branch handler (already
// running there) directly, from the initiation through a post (never inline).
//
// No emission may meet a signal whose slot is being written: the slots are written only while
// the waits are being started (`initiating`), and a withdrawal that comes meanwhile is left to
// the end of the initiation, which emits it then. Every emitter holds a reference (a branch
// handler, the initiation) or is the select's own cancellation, which Asio delivers while the
// operation is pending; so the signals live while they are emitted on.
//
// A branch handler destroyed without being invoked (its execution context shut down) marks the
// state `abandoned`: the select's handler is then destroyed without being invoked, which
// destroys the waiting coroutine with its context, as Asio does with its own operations.
template <class Handler, std::size_t N>
class SelectWait {
 public:
  using executor_type = asio::associated_executor_t<Handler>;

  // The completion handler of one branch's wait.
  class Branch {
   public:
    using executor_type = typename SelectWait::executor_type;
    using cancellation_slot_type = asio::cancellation_slot;

    Branch(SelectWait& wait, std::size_t index) noexcept : wait_(&wait), index_(index) { wait.add_ref(); }
    Branch(Branch&& other) noexcept : wait_(std::exchange(other.wait_, nullptr)), index_(other.index_) {}
    Branch& operator=(Branch&&) = delete;
    ~Branch() {
      if (wait_) wait_->abandon();
    }

    executor_type get_executor() const noexcept { return wait_->executor_; }
    cancellation_slot_type get_cancellation_slot() const noexcept { return wait_->signals_[index_].slot(); }

    void operator()(boost::system::error_code ec) {
      SelectWait* wait = std::exchange(wait_, nullptr);
      if (!ec) wait->withdraw(0);  // this branch is ready: end the others' waits
      wait->release(false);
    }

   private:
    SelectWait* wait_;
    std::size_t index_;
  };

  /// Starts the wait: `launch(wait)` starts each branch's wait with a `Branch` handler.
  template <class Launch>
  static void start(Handler handler, Launch&& launch) {
    Allocator alloc;
    SelectWait* wait = std::allocator_traits<Allocator>::allocate(alloc, 1);
    ::new (static_cast<void*>(wait)) SelectWait(std::move(handler));
    auto slot = asio::get_associated_cancellation_slot(wait->handler_);
    if (slot.is_connected()) slot.template emplace<Cancel>(*wait);
    try {
      launch(*wait);
    } catch (...) {
      // The branches started so far are withdrawn; the select rethrows this once they have ended.
      wait->error_ = std::current_exception();
      wait->withdraw(failed);
    }
    wait->end_initiation();
  }

 private:
  using Allocator = asio::recycling_allocator<SelectWait>;

  static constexpr unsigned initiating = 1;   // the branches' waits are being started
  static constexpr unsigned withdrawing = 2;  // the withdrawal was requested (emitted once)
  static constexpr unsigned cancelled = 4;    // the select itself was cancelled
  static constexpr unsigned failed = 8;       // starting a wait threw (`error_`)
  static constexpr unsigned abandoned = 16;   // a branch handler was destroyed uninvoked

  // The select's own cancellation handler, in its handler's cancellation slot.
  struct Cancel {
    explicit Cancel(SelectWait& wait) noexcept : wait_(wait) {}
    void operator()(asio::cancellation_type type) {
      if (type != asio::cancellation_type::none) wait_.withdraw(cancelled);
    }
    SelectWait& wait_;
  };

  explicit SelectWait(Handler&& handler)
      : handler_(std::move(handler)), executor_(asio::get_associated_executor(handler_)) {}

  // Relaxed: a new reference is taken by a thread that already holds one (the initiation), and
  // the handler carrying it reaches other threads through Asio's own synchronization.
  void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }

  // Requests the withdrawal (and records `why`). The read-modify-writes of `flags_` are totally
  // ordered on that one word, which alone makes the emission happen exactly once: by the first
  // request after the initiation, or by the end of the initiation if a request came during it.
  // acq_rel: a request publishes what its thread did before (`error_`) to whoever reads the
  // flags after it, and sees what the initiation did before it ended.
  void withdraw(unsigned why) {
    const unsigned before = flags_.fetch_or(withdrawing | why, std::memory_order_acq_rel);
    if (before & (withdrawing | initiating)) return;
    emit();
  }

  void end_initiation() {
    const unsigned before = flags_.fetch_and(~initiating, std::memory_order_acq_rel);
    if (before & withdrawing) emit();
    release(true);
  }

  void emit() {
    for (auto& signal : signals_) signal.emit(asio::cancellation_type::terminal);
  }

  // acq_rel on the flag for the same reason as in `withdraw`.
  void abandon() {
    flags_.fetch_or(abandoned, std::memory_order_acq_rel);
    release(false);
  }

  // Drops one reference; the last completes the select (see the class comment). acq_rel: the
  // release half orders each holder's work before the count drops; the acquire half lets the last
  // one see all of it (the flags, `error_`) before it destroys the state.
  void release(bool from_initiation) {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    const unsigned flags = flags_.load(std::memory_order_relaxed);  // ordered by the acquire above
    std::exception_ptr error = std::move(error_);
    Handler handler(std::move(handler_));
    // The select's cancellation handler points here: it goes first.
    auto slot = asio::get_associated_cancellation_slot(handler);
    if (slot.is_connected()) slot.clear();
    Allocator alloc;
    this->~SelectWait();
    std::allocator_traits<Allocator>::deallocate(alloc, this, 1);
    if ((flags & abandoned) && !(flags & failed)) return;  // the context is shutting down
    if (!error && (flags & cancelled))
      error = std::make_exception_ptr(boost::system::system_error(asio::error::operation_aborted));
    if (from_initiation) {
      const executor_type ex = asio::get_associated_executor(handler);
      asio::post(ex, [h = std::move(handler), e = std::move(error)]() mutable { std::move(h)(std::move(e)); });
    } else {
      std::move(handler)(std::move(error));
    }
  }

  std::atomic<std::uint32_t> refs_{1};  // the initiation's; each `Branch` adds its own
  std::atomic<unsigned> flags_{initiating};
  std::array<asio::cancellation_signal, N> signals_;
  Handler handler_;
  executor_type executor_;
  std::exception_ptr error_;
};

template <class Wait, std::size_t... I, class... B>
void select_launch(Wait& wait, std::index_sequence<I...>, B&... branches) {
  (SelectTraits<B>::wait(branches, typename Wait::Branch(wait, I)), ...);
}

// Waits until some branch is ready (see `SelectWait`); awaited from the select's coroutine.
template <class... B>
auto select_wait(B&... branches) {
  return asio::async_initiate<const asio::deferred_t&, void(std::exception_ptr)>(
      [&branches...](auto handler) {
        using Wait = SelectWait<decltype(handler), sizeof...(B)>;
        Wait::start(std::move(handler),
                    [&branches...](Wait& wait) { select_launch(wait, std::index_sequence_for<B...>{}, branches...); });
      },
      asio::deferred);
}

// Takes from branch `i` if it is ready (a fold over the branches, in step with their indices).
template <class Out, std::size_t... I, class... B>
bool select_take_at(std::size_t i, Out& out, std::index_sequence<I...>, B&... branches) {
  bool taken = false;
  (void)((i == I && (taken = SelectTraits<B>::template take<I>(branches, out), true)) || ...);
  return taken;
}

// Where a fair select starts its check: a xorshift generator per thread, seeded from the
// thread's own address (never 0, so it never sticks at 0).
inline std::size_t select_start(std::size_t n) noexcept {
  thread_local std::uint64_t x = 0;
  if (x == 0) x = (static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(&x)) | 1) * 0x9E3779B97F4A7C15ull;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return static_cast<std::size_t>(x % n);
}

template <class... B>
bool distinct_branches(const B&... branches) noexcept {
  const std::array<const void*, sizeof...(B)> at{static_cast<const void*>(&branches)...};
  for (std::size_t i = 0; i < at.size(); ++i)
    for (std::size_t j = i + 1; j < at.size(); ++j)
      if (at[i] == at[j]) return false;
  return true;
}

template <bool Biased, class... B>
asio::awaitable<SelectResult<B...>> select_impl(B&... branches) {
  constexpr std::size_t n = sizeof...(B);
  const asio::cancellation_state state = co_await asio::this_coro::cancellation_state;
  if (cancellable(state)) co_await yield_before_take();
  const std::size_t first = Biased ? 0 : select_start(n);
  std::optional<SelectResult<B...>> out;
  for (;;) {
    for (std::size_t k = 0; k < n; ++k) {
      const std::size_t i = first + k < n ? first + k : first + k - n;
      if (select_take_at(i, out, std::index_sequence_for<B...>{}, branches...)) co_return std::move(*out);
    }
    // Nothing ready: wait until something is (throws, having taken nothing, when cancelled).
    // After a wait that a spurious wake-up ended, nothing is ready yet: the loop waits again.
    co_await select_wait(branches...);
    throw_if_cancelled(co_await asio::this_coro::cancellation_state);
  }
}

}  // namespace detail

/// Waits until one of `branches` is ready and receives from it alone; returns which branch
/// (`index()`) and what its `recv()` would have returned (a timer: `TimerFired`). Checks the
/// branches from a random one on (fair: no ready branch is starved). Loss-free on any executor:
/// branches that lose consume nothing, and cancelling the select throws
/// `system_error(operation_aborted)` having consumed nothing. Awaited from an `asio::awaitable`
/// coroutine, which must be the branches' only user while the select runs. See the header
/// comment for the result, the costs and the rules on cancellation.
template <Selectable... Branches>
  requires(sizeof...(Branches) > 0)
asio::awaitable<SelectResult<Branches...>> select(Branches&... branches) {
  assert(detail::distinct_branches(branches...) && "swarmsync::select: a branch is given twice");
  return detail::select_impl<false>(branches...);
}

/// As `select`, but checks the branches in argument order: the first ready one wins (tokio's
/// `biased;`). For priorities; an always-ready early branch starves the later ones.
template <Selectable... Branches>
  requires(sizeof...(Branches) > 0)
asio::awaitable<SelectResult<Branches...>> select_biased(Branches&... branches) {
  assert(detail::distinct_branches(branches...) && "swarmsync::select_biased: a branch is given twice");
  return detail::select_impl<true>(branches...);
}

}  // namespace swarmsync
