#pragma once
// A multi-producer, multi-consumer broadcast channel: every receiver sees every value sent after
// it subscribed, in send order. The semantics are those of tokio's `sync::broadcast`.
//
//     auto [tx, rx] = swarmsync::broadcast::channel<CoreEvent>(16);
//     auto rx2 = tx.subscribe();
//     tx.send(CoreEvent::startup);                       // returns 2: two receivers will see it
//     // in a coroutine:
//     while (true) {
//       auto ev = co_await rx.recv();
//       if (ev) handle(*ev);
//       else if (ev.error().kind == RecvError::lagged) note_missed(ev.error().skipped);
//       else break;                                       // closed: all senders gone, all seen
//     }
//
// Capacity. `channel(n)` rounds n up to the next power of two (tokio does the same); `capacity()`
// returns the rounded figure. The channel holds the last `capacity()` values; each value is stored
// once, whatever the number of receivers, and no memory is allocated per value.
//
// Lagging. A send never waits for a receiver. A receiver that falls more than `capacity()` values
// behind gets `RecvError{lagged, n}` once, with `n` the number of values it missed, and then
// resumes at the oldest value the channel still holds. A receiver that keeps up never lags.
// A transport feeding the channel from elsewhere reports values lost on the way with
// `Sender::report_missed(n)`: every receiver gets `RecvError{lagged, n}` at that place in the order.
//
// Receivers. When the last receiver is destroyed, the values the channel holds are destroyed at
// once; sends fail (`SendError`) until a new receiver subscribes.
//
// Closing. When the last `Sender` is destroyed the channel is closed; each receiver first gets
// every value it has not seen yet, then `RecvError{closed}`. A receiver waiting at that moment
// wakes.
//
// Progress. No mutex is taken on any path. Receiving never waits for another thread. Sending
// never waits for a receiver's progress; it may spin for the length of one copy of `T` while a
// receiver copies the value being overwritten (see detail/broadcast_ring.hpp). `T` must be
// copy-constructible; a receiver gets its own copy. A send whose copy or construction of `T` throws
// sends nothing and rethrows (receivers skip the place it had claimed); a receive whose copy
// throws rethrows with the receiver past that value (as tokio's, when a clone panics): the next
// receive returns the value after it. Parked receivers are woken as mpsc's are:
// each runs after the sender's handler returns or suspends, on the sender's thread when that is
// one of the receiver's io_context.
//
// Async. `recv()` is awaited from an `asio::awaitable` coroutine, on any executor, strand or
// thread; `co_await rx.recv()` takes a value that is already there without suspending and costs no
// coroutine frame (detail/recv_operation.hpp), and `recv(token)` takes any Asio completion token,
// `void(error_code, Result<T, RecvError>)`: `rx.recv(asio::use_awaitable)` is the awaitable to race
// with `||` or to `co_spawn`. It is cancel-safe: a cancelled `recv()` (for example the losing
// branch of an awaitable `||` on a strand or a one-thread context) consumes nothing, and the next
// `recv()` returns the value; a receive whose coroutine can be cancelled yields to its executor
// once before taking a value that is already there, so that a sibling branch that won first has
// cancelled it. `recv_until()` takes a deadline and is loss-free on any executor. A cancelled
// receive throws `boost::system::system_error(asio::error::operation_aborted)`.
// `co_await swarmsync::select(rx, other_rx, timer)` (select.hpp) races receives and timers
// loss-free on any executor, a multi-threaded io_context without a strand included: a branch
// that loses consumes nothing.
//
// Thread safety. `Sender` may be used from any number of threads at once (copies or the same
// object). A `Receiver` is used by one coroutine at a time; give each consumer its own
// (`subscribe()` / `resubscribe()`).

#include "swarmsync/channels/error.hpp"
#include "swarmsync/detail/block_on.hpp"
#include "swarmsync/detail/broadcast_ring.hpp"
#include "swarmsync/detail/recv_operation.hpp"
#include "swarmsync/detail/wait_list.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>

namespace swarmsync::broadcast {

template <class T>
class Sender;
template <class T>
class Receiver;

namespace detail {

template <class T>
struct Shared {
  explicit Shared(std::size_t capacity) : ring(capacity) {}

  swarmsync::detail::BroadcastRing<T> ring;
  swarmsync::detail::WaitList waiters;
  std::atomic<std::size_t> senders{1};
  std::atomic<std::size_t> receivers{0};
  std::atomic<bool> closed{false};
  std::atomic<std::uint64_t> lagged_total{0};
};

}  // namespace detail

/// Creates a broadcast channel holding the last `capacity` values (rounded up to a power of two)
/// and returns its first sender and a receiver. Throws `std::invalid_argument` if capacity is 0.
template <class T>
std::pair<Sender<T>, Receiver<T>> channel(std::size_t capacity);

/// The sending half. Copyable; the channel closes when the last copy is destroyed.
template <class T>
class Sender {
 public:
  Sender(const Sender& other) noexcept : shared_(other.shared_) {
    if (shared_) shared_->senders.fetch_add(1, std::memory_order_relaxed);
  }
  Sender(Sender&& other) noexcept = default;
  /// Assigning leaves the channel held before at once, as destroying this sender would.
  Sender& operator=(const Sender& other) noexcept {
    if (this != &other) {
      Sender copy(other);
      leave();
      shared_ = std::move(copy.shared_);
    }
    return *this;
  }
  Sender& operator=(Sender&& other) noexcept {
    if (this != &other) {
      leave();
      shared_ = std::move(other.shared_);
    }
    return *this;
  }
  ~Sender() { leave(); }

  /// Sends `value` to every current receiver without waiting. Returns how many receivers will see
  /// it, or, when there is no receiver, `SendError` holding the value.
  template <class U = T>
  Result<std::size_t, SendError<T>> send(U&& value) const {
    const std::size_t receivers = shared_ ? shared_->receivers.load(std::memory_order_seq_cst) : 0;
    if (receivers == 0) return SendError<T>{T(std::forward<U>(value))};
    shared_->ring.write(std::forward<U>(value));
    shared_->waiters.wake_all();
    return Result<std::size_t, SendError<T>>(in_place_value, receivers);
  }

  /// Tells every current receiver that `n` values meant for this channel were lost before they
  /// reached it (a transport that found a gap upstream): each receiver gets `RecvError{lagged, n}`
  /// at this point of the order, between the values sent before and after. Returns how many
  /// receivers will be told; with none, or with `n == 0`, nothing is stored and 0 is returned. The
  /// report takes a place in the ring as a value would (a receiver that lags past it counts it
  /// among the values it missed); `sent_count()` does not count it. Never waits for a receiver.
  std::size_t report_missed(std::uint64_t n) const {
    const std::size_t receivers = shared_ && n != 0 ? shared_->receivers.load(std::memory_order_seq_cst) : 0;
    if (receivers == 0) return 0;
    shared_->ring.write_missed(n);
    shared_->waiters.wake_all();
    return receivers;
  }

  /// A new receiver that sees every value sent after this call.
  Receiver<T> subscribe() const { return Receiver<T>(shared_); }

  /// Number of receivers alive now.
  std::size_t receiver_count() const noexcept { return shared_->receivers.load(std::memory_order_acquire); }

  /// Number of values sent so far on the channel (sends that threw not counted).
  std::uint64_t sent_count() const noexcept { return shared_->ring.written(); }

  /// Total number of values missed by receivers that lagged, over the channel's life.
  std::uint64_t lagged_count() const noexcept { return shared_->lagged_total.load(std::memory_order_relaxed); }

  /// The capacity, rounded up to a power of two.
  std::size_t capacity() const noexcept { return shared_->ring.capacity(); }

  /// True if both ends belong to the same channel.
  bool same_channel(const Sender& other) const noexcept { return shared_ == other.shared_; }
  bool same_channel(const Receiver<T>& other) const noexcept { return shared_ == other.shared_; }

 private:
  friend std::pair<Sender<T>, Receiver<T>> channel<T>(std::size_t);
  friend class Receiver<T>;

  explicit Sender(std::shared_ptr<detail::Shared<T>> shared) : shared_(std::move(shared)) {}

  void leave() {
    if (shared_ && shared_->senders.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      shared_->closed.store(true, std::memory_order_seq_cst);
      shared_->waiters.wake_all();
    }
    shared_.reset();
  }

  std::shared_ptr<detail::Shared<T>> shared_;
};

/// The receiving half: one cursor over the channel. Move-only; one coroutine uses it at a time.
template <class T>
class Receiver {
 public:
  Receiver(Receiver&& other) noexcept
      : shared_(std::move(other.shared_)),
        next_(other.cursor()),
        missed_(other.missed_count()),
        node_(std::exchange(other.node_, nullptr)) {}
  Receiver& operator=(Receiver&& other) noexcept {
    if (this != &other) {
      leave();
      shared_ = std::move(other.shared_);
      next_.store(other.cursor(), std::memory_order_relaxed);
      missed_.store(other.missed_count(), std::memory_order_relaxed);
      node_ = std::exchange(other.node_, nullptr);
    }
    return *this;
  }
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;
  ~Receiver() { leave(); }

  /// Waits for the next value. Completes with the value, `RecvError{lagged, n}` (and then resumes
  /// at the oldest value held), or `RecvError{closed}` once every sender is gone and everything
  /// left was received. Cancel-safe: a cancelled call consumes nothing and throws
  /// `system_error(operation_aborted)`. `co_await rx.recv()` takes a value that is already there
  /// without suspending and costs no coroutine frame (detail/recv_operation.hpp); `recv(token)`
  /// takes any completion token, `void(error_code, Result<T, RecvError>)`, e.g.
  /// `rx.recv(asio::use_awaitable)` for an awaitable to race with `||` or to `co_spawn`.
  swarmsync::detail::RecvOperation<Receiver> recv() { return {*this, true}; }
  template <class CompletionToken>
  auto recv(CompletionToken&& token) {
    return recv()(std::forward<CompletionToken>(token));
  }

  /// As `recv()`, but takes a value that is already there without first yielding when the
  /// coroutine can be cancelled. Only for callers that never race this receive against another
  /// branch that could win first (the supervisor's `ServiceContext::recv`).
  swarmsync::detail::RecvOperation<Receiver> recv_unraced() { return {*this, false}; }

  /// As `recv()`, but gives up at `deadline` with `RecvError{timed_out}`. Loss-free on any
  /// executor: a value is consumed only when this call returns it.
  template <class Clock, class Duration>
  asio::awaitable<Result<T, RecvError>> recv_until(std::chrono::time_point<Clock, Duration> deadline) {
    const asio::cancellation_state state = co_await asio::this_coro::cancellation_state;
    if (swarmsync::detail::cancellable(state)) co_await swarmsync::detail::yield_before_take();
    for (;;) {
      auto r = try_recv();
      if (r || r.error().kind != RecvError::empty) co_return r;
      const auto ec =
          co_await swarmsync::detail::park_until(shared_->waiters, node(), [this] { return ready(); }, deadline);
      if (ec == asio::error::timed_out) co_return RecvError{RecvError::timed_out};
      if (ec) throw boost::system::system_error(ec);
      swarmsync::detail::throw_if_cancelled(co_await asio::this_coro::cancellation_state);
    }
  }

  /// `recv_until(now + timeout)`; a timeout beyond the clock's range (`hours::max()`) never
  /// expires.
  template <class Rep, class Period>
  asio::awaitable<Result<T, RecvError>> recv_for(std::chrono::duration<Rep, Period> timeout) {
    return recv_until(swarmsync::detail::deadline_after(timeout).value_or(std::chrono::steady_clock::time_point::max()));
  }

  /// Waits, consuming nothing, until a receive would complete without waiting: a value is there,
  /// a lag is due, or every sender is gone. Completes `token` (default: awaited,
  /// `co_await rx.wait_ready()`) with `void(error_code)`: no error then, or `operation_aborted`
  /// when cancelled (cancel-safe on any executor: nothing is taken either way). Completes only
  /// once ready; the receiver stays ready until it is received from, so a `try_recv` after it
  /// returns something other than `empty`. One wait or receive at a time, as for `recv()`;
  /// `swarmsync::select` builds on it.
  template <class CompletionToken = asio::deferred_t>
  auto wait_ready(CompletionToken&& token = CompletionToken()) {
    return swarmsync::detail::async_wait_ready(&shared_->waiters, node(), [this] { return ready(); },
                                               std::forward<CompletionToken>(token));
  }

  /// Receives from a plain thread outside Asio: as `recv()`, waiting with the thread blocked.
  /// Throws `std::logic_error` when called from a thread that runs an Asio execution context (a
  /// sender may need that very thread: await `recv` there). A value already there is taken
  /// without starting a context.
  Result<T, RecvError> blocking_recv() {
    swarmsync::detail::refuse_in_asio_context("swarmsync::broadcast::Receiver::blocking_recv");
    auto r = try_recv();
    if (r || r.error().kind != RecvError::empty) return r;
    return swarmsync::detail::block_on(recv_unraced()(asio::use_awaitable),
                                       "swarmsync::broadcast::Receiver::blocking_recv");
  }

  /// Takes the next value if there is one now, without waiting. Errors: `empty`, `lagged` (then
  /// resumes at the oldest value held), `closed`.
  Result<T, RecvError> try_recv() {
    std::optional<T> out;
    for (int attempt = 0; attempt < 2; ++attempt) {
      std::uint64_t skipped = 0;
      // The position `read` leaves is kept also when copying the value throws (it moved past
      // the value, which this receiver then does not get).
      struct KeepPosition {
        std::atomic<std::uint64_t>& cursor;
        std::uint64_t pos;
        ~KeepPosition() { cursor.store(pos, std::memory_order_relaxed); }
      } keep{next_, cursor()};
      const auto read = shared_->ring.read(keep.pos, out, skipped);
      switch (read) {
        case swarmsync::detail::BroadcastRing<T>::Read::value:
          return Result<T, RecvError>(in_place_value, std::move(*out));
        case swarmsync::detail::BroadcastRing<T>::Read::lagged:
          shared_->lagged_total.fetch_add(skipped, std::memory_order_relaxed);
          missed_.fetch_add(skipped, std::memory_order_relaxed);
          return RecvError{RecvError::lagged, skipped};
        case swarmsync::detail::BroadcastRing<T>::Read::empty:
          // Every sender leaves only after its sends are published: once `closed` is seen, one
          // more read tells whether anything is left.
          if (attempt == 0 && shared_->closed.load(std::memory_order_seq_cst)) continue;
          return RecvError{attempt == 0 ? RecvError::empty : RecvError::closed};
      }
    }
    return RecvError{RecvError::closed};
  }

  /// A new receiver of the same channel that sees the values sent after this call.
  Receiver resubscribe() const { return Receiver(shared_); }

  /// Number of values sent that this receiver has not received yet, each report of
  /// `Sender::report_missed` counting as one (may exceed the capacity, in which case the next
  /// receive reports a lag). May be called from any thread, as `missed_count` (a monitor's),
  /// while the receiver is neither moved nor assigned.
  std::size_t len() const noexcept {
    const std::uint64_t tail = shared_->ring.tail();
    const std::uint64_t next = cursor();
    return tail > next ? static_cast<std::size_t>(tail - next) : 0;
  }

  /// Values this receiver missed by lagging so far (the sum of its `RecvError{lagged, n}`).
  std::uint64_t missed_count() const noexcept { return missed_.load(std::memory_order_relaxed); }

  /// True if `len() == 0`.
  bool is_empty() const noexcept { return len() == 0; }

  /// Number of receivers alive now, this one included.
  std::size_t receiver_count() const noexcept { return shared_->receivers.load(std::memory_order_acquire); }

  /// True once every sender is gone (values may still be left to receive).
  bool is_closed() const noexcept { return shared_->closed.load(std::memory_order_acquire); }

  /// True if both ends belong to the same channel.
  bool same_channel(const Receiver& other) const noexcept { return shared_ == other.shared_; }
  bool same_channel(const Sender<T>& other) const noexcept { return shared_ == other.shared_; }

 private:
  friend std::pair<Sender<T>, Receiver<T>> channel<T>(std::size_t);
  friend class Sender<T>;

  explicit Receiver(std::shared_ptr<detail::Shared<T>> shared) : shared_(std::move(shared)) {
    shared_->receivers.fetch_add(1, std::memory_order_seq_cst);
    next_.store(shared_->ring.tail(), std::memory_order_relaxed);
  }

  bool ready() const noexcept {
    return shared_->ring.readable(cursor()) || shared_->closed.load(std::memory_order_seq_cst);
  }

  // What `RecvOperation` uses (detail/recv_operation.hpp).
  friend class swarmsync::detail::RecvOperation<Receiver>;
  using recv_value = Result<T, RecvError>;
  // The next value, a lag or the end; nothing while the receive must wait.
  std::optional<recv_value> poll() {
    auto r = try_recv();
    if (r || r.error().kind != RecvError::empty) return std::optional<recv_value>(std::in_place, std::move(r));
    return std::nullopt;
  }
  // What a failed (cancelled) receive's handler gets beside its error.
  static recv_value no_outcome() { return recv_value(in_place_error, RecvError{RecvError::closed}); }
  swarmsync::detail::WaitList& waiters() { return shared_->waiters; }

  swarmsync::detail::WaitNode& node() {
    if (!node_) node_ = swarmsync::detail::WaitNode::make();
    return *node_;
  }

  // The last receiver to leave destroys the values held: nobody can receive them any more.
  void leave() {
    if (shared_ && shared_->receivers.fetch_sub(1, std::memory_order_acq_rel) == 1) shared_->ring.clear();
    shared_.reset();
    if (node_) std::exchange(node_, nullptr)->retire();
  }

  // The position of the next value to read. Written only by the receiving coroutine; atomic so
  // that a monitor may read `len()` from another thread. Relaxed: a position read alone,
  // ordering nothing else (the ring's own atomics order the values).
  std::uint64_t cursor() const noexcept { return next_.load(std::memory_order_relaxed); }

  std::shared_ptr<detail::Shared<T>> shared_;
  std::atomic<std::uint64_t> next_{0};
  std::atomic<std::uint64_t> missed_{0};  // as next_: the receiving coroutine writes, anyone reads
  swarmsync::detail::WaitNode* node_ = nullptr;
};

template <class T>
std::pair<Sender<T>, Receiver<T>> channel(std::size_t capacity) {
  auto shared = std::make_shared<detail::Shared<T>>(capacity);
  Receiver<T> rx(shared);
  return {Sender<T>(std::move(shared)), std::move(rx)};
}

}  // namespace swarmsync::broadcast
