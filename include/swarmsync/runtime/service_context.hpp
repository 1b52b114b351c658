#pragma once
// What a running service instance is given: its name, the shared resource, and a way to learn
// that it must stop.
//
//     asio::awaitable<void> dispatcher(swarmsync::ServiceContext<Shared>& ctx) {
//       auto rx = ctx.shared()->wiring->take_rx(ChannelType::SchedulerToDispatcher, ctx.name()).value();
//       while (auto msg = co_await ctx.recv(rx)) handle(*msg);   // ends when told to stop
//     }
//
// Stopping. The supervisor asks an instance to stop in one of two ways. To hand over (a restart
// or a hot swap), `recv` returns "nothing more" at once and the queue stays intact for the next
// instance. To drain (shutdown), `recv` keeps returning what is queued and returns "nothing more"
// once the queue is empty. Either way the message in hand is finished: the supervisor interrupts
// an instance only while it waits inside `ctx.recv`, never while it handles a message. An instance
// that does not return within its grace period is cancelled (its pending `co_await` throws
// `operation_aborted`).
//
// The message in hand. A value `recv` / `recv_until` returned from a direct channel is "in hand"
// until the instance calls `recv` or `recv_until` again (on any channel) or returns. An instance
// that throws (or is cancelled) with a message in hand has lost it: the supervisor counts it
// (`ServiceInfo::lost_in_hand`, the `ServiceRestarted` event) with the error. What is queued
// stays queued for the next instance; only that one message, already out of the channel, is
// gone. Values taken from a receiver directly, not through the context, are not tracked.
//
// Acknowledgement. For a wired channel fed by a transport across processes (an `RxLease` whose
// `needs_acknowledgement()`), the message in hand is acknowledged once it is handled: at the
// instance's next `recv` or `recv_until` (on any channel), or at the next instance's first one.
// Until then the transport keeps it, so that a process that dies mid-message has it delivered
// again to the next consumer, wherever it runs.
//
// Fairness. A service whose queue always holds a value never suspends in `recv`, and would keep
// its thread from every other handler of the io_context (other services' strands, a metrics
// exporter) for as long as the queue lasts. So every `receive_budget`-th receive through the
// context first yields once to the executor, as tokio's cooperative budget does (also 128): one
// post per 128 messages.
//
// Cost. A receive through the context that finds a value already queued returns it without
// suspending and without a turn of the executor (also `recv_until`, whose receiver alone would
// yield once first when cancellable): a busy service pays no scheduling per message beyond the
// budget's yield.
//
// Thread safety: a context belongs to its instance's coroutine, which runs on the service's own
// strand; `stop_requested()` may be read from anywhere.

#include "swarmsync/channels/broadcast.hpp"
#include "swarmsync/channels/mpsc.hpp"
#include "swarmsync/wiring/service_wiring.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

namespace swarmsync {

template <class Shared>
class Supervisor;

/// The handle a service instance gets.
template <class Shared>
class ServiceContext {
 public:
  /// A context outside any supervisor, to run a service alone (tests, tools). Nothing asks it to
  /// stop but `stop()`.
  ServiceContext(std::string name, std::uint64_t restarts, std::shared_ptr<Shared> shared)
      : name_(std::move(name)),
        restarts_(restarts),
        shared_(std::move(shared)),
        events_(shared_->channels->subscribe_to_core_event()) {}

  ServiceContext(const ServiceContext&) = delete;
  ServiceContext& operator=(const ServiceContext&) = delete;

  /// The service's name, as declared to the supervisor.
  const std::string& name() const noexcept { return name_; }

  /// How many times this service was restarted before this instance started.
  std::uint64_t restarts() const noexcept { return restarts_; }

  /// The resource shared by every service.
  const std::shared_ptr<Shared>& shared() const noexcept { return shared_; }

  /// A receiver of the core events, subscribed before this instance started: a first instance
  /// sees `Startup`, and every instance sees what is broadcast from its start on. (A receiver the
  /// service subscribes itself only sees what is sent after that call.)
  broadcast::Receiver<typename Shared::event_type>& core_events() noexcept {
    // Relaxed: a flag a monitor reads alone; set once, the first call (a load after that).
    if (!reads_events_.load(std::memory_order_relaxed)) reads_events_.store(true, std::memory_order_relaxed);
    return events_;
  }

  /// True once this instance called `core_events()`: it reads the core events (a service that
  /// never does is not behind them). Any thread.
  bool reads_core_events() const noexcept { return reads_events_.load(std::memory_order_relaxed); }

  /// The core-event receiver, for a monitor: its backlog and what it missed (any thread).
  const broadcast::Receiver<typename Shared::event_type>& core_events_for_monitor() const noexcept { return events_; }

  /// True once the supervisor asked this instance to stop.
  bool stop_requested() const noexcept { return stop_.load(std::memory_order_acquire); }

  /// True when the stop is a shutdown: queued values should be handled before returning.
  bool draining() const noexcept { return drain_.load(std::memory_order_acquire); }

  /// True while a message `recv` returned from a direct channel is being handled (see above).
  bool message_in_hand() const noexcept { return in_hand_; }

  /// Receives through the context between two yields to the executor (see Fairness above).
  static constexpr unsigned receive_budget = 128;

  /// Receives through the context so far (for introspection and tests).
  std::uint64_t receives() const noexcept { return receives_; }

  /// The next value of `rx`, or `std::nullopt` when the channel ended or this instance must stop
  /// (at once for a hand-over, once the queue is empty for a drain). Values left in the channel
  /// stay there for whoever takes the end next.
  template <class T>
  asio::awaitable<std::optional<T>> recv(mpsc::Receiver<T>& rx) {
    return receive(rx, [] {});
  }

  /// As `recv(mpsc::Receiver&)`, for a wired channel's end; a value from a channel fed by a
  /// transport is acknowledged once handled (see Acknowledgement).
  template <class ChannelType, class T>
  asio::awaitable<std::optional<T>> recv(RxLease<ChannelType, T>& rx) {
    return receive(static_cast<mpsc::Receiver<T>&>(rx), acknowledging(rx));
  }

  /// As `recv_until(mpsc::Receiver&, deadline)`, for a wired channel's end (see Acknowledgement).
  template <class ChannelType, class T, class Clock, class Duration>
  asio::awaitable<Result<T, mpsc::RecvTimeoutError>> recv_until(RxLease<ChannelType, T>& rx,
                                                                 std::chrono::time_point<Clock, Duration> deadline) {
    return receive_until(static_cast<mpsc::Receiver<T>&>(rx), deadline, acknowledging(rx));
  }

  /// The next event of `rx`; `RecvError{closed}` when the channel ended or this instance must stop.
  template <class T>
  asio::awaitable<Result<T, broadcast::RecvError>> recv(broadcast::Receiver<T>& rx) {
    using R = Result<T, broadcast::RecvError>;
    handled();
    if (++receives_ % receive_budget == 0) co_await yield_turn();
    for (;;) {
      if (stop_requested()) {
        if (draining()) {
          auto v = rx.try_recv();
          if (v || v.error().kind == broadcast::RecvError::lagged) co_return v;
        }
        co_return R(in_place_error, broadcast::RecvError{broadcast::RecvError::closed});
      }
      if (auto v = rx.try_recv(); v || v.error().kind != broadcast::RecvError::empty) co_return v;
      // Idle: the receive is awaited here, without a coroutine of its own (see `wait`).
      std::optional<R> v;
      idle_ = true;
      try {
        auto got = co_await rx.recv_unraced();
        v = std::move(got);
      } catch (const boost::system::system_error& e) {
        idle_ = false;
        if (!interrupted(e)) throw;
      }
      idle_ = false;
      if (v) co_return std::move(*v);
      co_await asio::this_coro::reset_cancellation_state();
    }
  }

  /// As `recv(rx)`, but gives up at `deadline` with `RecvTimeoutError::timed_out`;
  /// `disconnected` when the channel ended or this instance must stop (as `recv` returns nothing).
  template <class T, class Clock, class Duration>
  asio::awaitable<Result<T, mpsc::RecvTimeoutError>> recv_until(mpsc::Receiver<T>& rx,
                                                                std::chrono::time_point<Clock, Duration> deadline) {
    return receive_until(rx, deadline, [] {});
  }

  /// Asks this instance to stop: at once (`drain` false) or once its queues are empty. Call it
  /// on the instance's executor; the supervisor does this itself.
  void stop(bool drain) { request_stop(drain); }

  /// Runs `main(*this)` on `executor` outside a supervisor, so that `stop()` reaches it; `token`
  /// receives the completion (`void(std::exception_ptr)`). The context must outlive the run.
  template <class Main, class Token>
  auto spawn(asio::any_io_executor executor, Main main, Token&& token) {
    return asio::co_spawn(
        executor, [this, main = std::move(main)]() mutable -> asio::awaitable<void> { co_await main(*this); },
        asio::bind_cancellation_slot(cancel_.slot(), std::forward<Token>(token)));
  }

 private:
  friend class Supervisor<Shared>;

  // The receives above, each one coroutine (the public functions only return its awaitable, so
  // that a receive costs one coroutine frame, not one per layer). `taken()` runs when a value is
  // returned: a wired end's acknowledgement.
  template <class T, class Taken>
  asio::awaitable<std::optional<T>> receive(mpsc::Receiver<T>& rx, Taken taken) {
    handled();  // the previous message, if any, was handled
    if (++receives_ % receive_budget == 0) co_await yield_turn();
    for (;;) {
      if (stop_requested()) {
        if (!draining()) co_return std::nullopt;
        auto v = rx.try_recv();
        if (!v) co_return std::nullopt;
        in_hand_ = true;
        taken();
        co_return std::move(*v);
      }
      if (auto v = rx.try_recv()) {  // already queued: taken without suspending
        in_hand_ = true;
        taken();
        co_return std::move(*v);
      }
      // Idle: the receive is awaited here, without a coroutine of its own (see `wait`).
      std::optional<std::optional<T>> v;
      idle_ = true;
      try {
        auto got = co_await rx.recv_unraced();
        v = std::move(got);
      } catch (const boost::system::system_error& e) {
        idle_ = false;
        if (!interrupted(e)) throw;
      }
      idle_ = false;
      if (v) {
        if (!*v) co_return std::nullopt;  // the channel ended: nothing in hand
        in_hand_ = true;
        taken();
        co_return std::move(*v);
      }
      co_await asio::this_coro::reset_cancellation_state();
    }
  }

  template <class T, class Clock, class Duration, class Taken>
  asio::awaitable<Result<T, mpsc::RecvTimeoutError>> receive_until(mpsc::Receiver<T>& rx,
                                                                   std::chrono::time_point<Clock, Duration> deadline,
                                                                   Taken taken) {
    using R = Result<T, mpsc::RecvTimeoutError>;
    handled();
    if (++receives_ % receive_budget == 0) co_await yield_turn();
    for (;;) {
      if (stop_requested()) {
        if (draining()) {
          if (auto v = rx.try_recv()) {
            in_hand_ = true;
            taken();
            co_return R(in_place_value, std::move(*v));
          }
        }
        co_return R(in_place_error, mpsc::RecvTimeoutError::disconnected);
      }
      if (auto v = rx.try_recv()) {  // already queued: taken without suspending
        in_hand_ = true;
        taken();
        co_return R(in_place_value, std::move(*v));
      }
      if (auto v = co_await wait([&rx, deadline] { return rx.recv_until(deadline); })) {
        in_hand_ = static_cast<bool>(*v);
        if (*v) taken();
        co_return std::move(*v);
      }
    }
  }

  // What a wired end's receive does with a value it returns: keeps its acknowledgement, if the
  // channel is fed by a transport, for when the value is handled.
  template <class ChannelType, class T>
  auto acknowledging(RxLease<ChannelType, T>& rx) {
    return [this, &rx] {
      if (rx.needs_acknowledgement()) acknowledge_ = rx.acknowledgement();
    };
  }

  // Runs one receive while marked idle, so that a stop request may interrupt it. Returns
  // nothing if it was interrupted by a stop request (the cancellation state is then reset, so
  // that a draining instance can go on awaiting). For `recv_until`, itself a coroutine; the plain
  // receives do the same inline, awaiting the channel's operation without a frame of their own.
  template <class Start>
  auto wait(Start start) -> asio::awaitable<std::optional<typename decltype(start())::value_type>> {
    idle_ = true;
    try {
      auto v = co_await start();
      idle_ = false;
      co_return std::move(v);
    } catch (const boost::system::system_error& e) {
      idle_ = false;
      if (!interrupted(e)) throw;
    }
    co_await asio::this_coro::reset_cancellation_state();
    co_return std::nullopt;
  }

  // Whether `e`, thrown by a wait, is the interruption of a stop request (and not a failure).
  bool interrupted(const boost::system::system_error& e) const {
    return e.code() == asio::error::operation_aborted && stop_requested();
  }

  // Lets the handlers queued on the executor run before this instance goes on (see Fairness).
  static asio::awaitable<void> yield_turn() {
    co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
  }

  // The message in hand, if any, was handled: acknowledge it if its channel waits for that.
  void handled() {
    in_hand_ = false;
    if (acknowledge_) std::exchange(acknowledge_, {})();
  }

  // Asks the instance to stop; called on the instance's strand.
  void request_stop(bool drain) {
    drain_.store(drain, std::memory_order_release);
    stop_.store(true, std::memory_order_release);
    if (idle_) cancel_.emit(asio::cancellation_type::terminal);
  }

  // Cancels whatever the instance awaits; called on the instance's strand.
  void force_cancel() { cancel_.emit(asio::cancellation_type::terminal); }

  std::string name_;
  std::uint64_t restarts_;
  std::shared_ptr<Shared> shared_;
  broadcast::Receiver<typename Shared::event_type> events_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> drain_{false};
  std::atomic<bool> reads_events_{false};
  bool idle_ = false;  // strand only: the instance waits inside `recv`
  bool in_hand_ = false;  // strand only: a direct-channel message is being handled
  std::uint64_t receives_ = 0;  // strand only: receives through the context
  std::function<void()> acknowledge_;  // strand only: acknowledges the message in hand once handled
  asio::cancellation_signal cancel_;
};

}  // namespace swarmsync
