#pragma once
// Multi-producer, single-consumer channels, unbounded and bounded. The semantics are those of
// tokio's `sync::mpsc`.
//
//     auto [tx, rx] = swarmsync::mpsc::unbounded_channel<Job>();
//     auto tx2 = tx;                                     // many producers
//     if (auto sent = tx.send(Job{1}); !sent)            // never waits
//       keep(std::move(sent.error().value));             // receiver gone: the job comes back
//     // in the consumer's coroutine:
//     while (auto job = co_await rx.recv()) run(*job);   // ends when every sender is gone
//
//     auto [btx, brx] = swarmsync::mpsc::channel<Job>(1024);
//     auto sent = co_await btx.send(Job{2});             // waits for room: backpressure
//
// Ordering. Values are received in the order their sends took effect: FIFO per sender, and
// across senders in the order of the sends (the queue is linearizable).
//
// Closing. When every sender is gone, `recv()` returns what is left and then `std::nullopt`.
// `Receiver::close()` refuses new sends (their values come back in `SendError`) and lets the
// receiver drain what was accepted before, and what `Permit`s reserved before still send. A send either is accepted, and then it is received, or
// fails and hands its value back; there is no window in between. Destroying a `Receiver` (or
// assigning over it) closes the channel and destroys the values queued at once, as tokio's does,
// even while senders live; it waits for a send that was still writing its value at that instant.
//
// Memory. Values live in blocks of 32 slots; consumed blocks are reused (a few are kept after a
// burst, the rest freed), so a steady stream allocates nothing. Overhead per queued value: about
// 1.25 bytes of block header, plus a 64-byte-aligned shared state per channel.
//
// Progress. `UnboundedSender::send` is lock-free: one fetch_add and one fetch_or per value, no
// mutex, no post to an executor when the receiver is not parked. `try_recv` takes no lock; it
// waits only for a send that has claimed the next place and not yet written it (a producer
// preempted inside `send`), as tokio's does, so that `empty` means nothing is queued. A bounded
// send with room and a receive with nobody waiting for room take no lock either; the waiting
// senders' queue is guarded by a mutex (see detail/semaphore.hpp). Waking a parked
// receiver defers its continuation to its own executor once: from a thread of the same
// io_context it runs on that thread as soon as the waker's handler returns or suspends (see
// `WaitNode`). So a coroutine must not block its thread (a lock held long, a future's `get()`)
// waiting for a receiver it woke: that receiver runs after it, on the same thread.
//
// Async. `recv()` and the bounded `send()` are awaited from an `asio::awaitable` coroutine on any
// executor, strand or thread. `co_await rx.recv()` takes a value that is already there without
// suspending, and parks the coroutine itself otherwise: a receive costs no coroutine frame
// (detail/recv_operation.hpp). `recv(token)` takes any Asio completion token, with the signature
// `void(error_code, std::optional<T>)`: `rx.recv(asio::use_awaitable)` is the awaitable to race
// with `||` or to `co_spawn`, a callback bound to an executor works too. `recv()` is cancel-safe: a
// cancelled receive (the losing branch of an awaitable `||` on a strand or a one-thread context,
// raced against a timer or another channel) consumes nothing. To get there, a receive whose
// coroutine can be cancelled yields to its executor once before taking a value that is already
// there (see `yield_before_take`); one without a cancellation slot takes at once. `recv_until()`
// takes a deadline and is loss-free on any executor. A cancelled operation throws
// `boost::system::system_error(asio::error::operation_aborted)`. A cancelled bounded `send()` sends
// nothing and its value is destroyed with the coroutine (as in tokio); to keep the value,
// `co_await reserve()` first (cancel-safe) and then `permit.send(value)`.
// `co_await swarmsync::select(rx, other_rx, timer)` (select.hpp) races receives and timers
// loss-free on any executor, a multi-threaded io_context without a strand included: a branch
// that loses consumes nothing.
//
// Senders' side. `co_await tx.closed()` completes once the receiver is closed or gone;
// `try_reserve()` takes room now or says `full`/`closed`; `co_await tx.send_timeout(v, 10ms)`
// gives the value back if no room comes in time; `co_await tx.reserve_many(n)` reserves room for
// `n` values at once (`Permits`); `strong_count()`/`weak_count()` count the handles. `tx.downgrade()` gives a `WeakSender`/`WeakUnboundedSender`, which does not keep
// the channel open: when the last strong sender goes the receiver sees the end, and `upgrade()`
// fails from then on (as tokio's).
//
//     auto weak = tx.downgrade();                        // e.g. an actor's handle to itself
//     if (auto strong = weak.upgrade()) strong->send(Job{3});
//
// Plain threads. `tx.blocking_send(v)` and `rx.blocking_recv()` wait with the calling thread
// blocked, for code outside Asio (a thread of a legacy library, a test's main): they must not be
// called from a thread that runs an Asio execution context, and throw `std::logic_error` there
// (see detail/block_on.hpp).
//
//     std::thread feeder([tx] { for (auto& job : load()) if (!tx.blocking_send(job)) break; });
//
// Handles. Senders copy; every handle moves. Assigning over a handle leaves the channel it held
// at once, as destroying it would. A moved-from sender holds no channel and refuses every send,
// handing the value back (`closed`); a moved-from receiver may only be destroyed or assigned to.
//
// Thread safety. Senders may be used from any number of threads at once. The `Receiver` is used
// by one coroutine at a time. `T` must be nothrow move-constructible.

#include "swarmsync/channels/error.hpp"
#include "swarmsync/detail/block_list.hpp"
#include "swarmsync/detail/block_on.hpp"
#include "swarmsync/detail/recv_operation.hpp"
#include "swarmsync/detail/semaphore.hpp"
#include "swarmsync/detail/wait_list.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace swarmsync::mpsc {

template <class T>
class UnboundedSender;
template <class T>
class Sender;
template <class T>
class Receiver;
template <class T>
class Permit;
template <class T>
class Permits;
template <class T>
class WeakSender;
template <class T>
class WeakUnboundedSender;

namespace detail {

template <class T>
struct Shared {
  explicit Shared(std::size_t cap) : capacity(cap), room(cap) {}

  swarmsync::detail::BlockList<T> queue;
  swarmsync::detail::SingleWaiter rx_waiters;  // the one receiver, when parked
  std::atomic<std::size_t> senders{1};
  std::atomic<bool> senders_gone{false};
  const std::size_t capacity;               // 0: unbounded
  swarmsync::detail::Semaphore room;        // bounded only: free room, senders waiting for it
  // Closing (see Receiver::close): while permits are out, a closing channel still takes their
  // values; the queue closes fully when the last of them is done, or when the receiver goes.
  std::atomic<std::size_t> permits_out{0};
  // The number of slots claimed when the queue closed fully; written once, before the receiver
  // is woken for it.
  std::atomic<std::uint64_t> closed_at{not_closed};
  static constexpr std::uint64_t not_closed = swarmsync::detail::BlockList<T>::not_closed;
  std::atomic<std::uint64_t> refused{0};  // sends that handed their value back
  swarmsync::detail::WaitList tx_closed_waiters;  // senders awaiting `closed()`
  std::atomic<std::size_t> weak_senders{0};       // weak senders alive (a statistic)

  // Sends `value` if the queue accepts it; wakes the receiver. A refused push may have left a
  // tombstone that the receiver waits to pass: it is woken then too (cheap when not parked).
  bool push(T& value, bool permitted = false) {
    const bool accepted = queue.push(value, permitted);
    rx_waiters.wake_all();
    if (!accepted) note_refused();
    return accepted;
  }

  // Counts a send that handed its value back. Relaxed: a statistic, read alone; only refused
  // sends pay for it, never an accepted one.
  void note_refused() noexcept { refused.fetch_add(1, std::memory_order_relaxed); }

  // Refuses ordinary sends; closes fully now unless permits are out (seq_cst with the permits'
  // decrement: of a close and the last permit leaving, at least one sees the other and closes).
  //
  // Then wakes the senders awaiting `closed()`: `begin_close` is a seq_cst RMW, and the wake
  // reads the waiters' list with a seq_cst load after it, while a waiter links its node (seq_cst)
  // before re-reading `is_closed` (seq_cst): one of the two sees the other, no wake-up is lost.
  void begin_close() {
    queue.begin_close();
    if (permits_out.load(std::memory_order_seq_cst) == 0) finish_close();
    if (capacity) room.close();
    tx_closed_waiters.wake_all();
  }

  // Refuses every send. The first caller records where the queue ends and wakes the receiver.
  void finish_close() {
    const std::uint64_t end = queue.close();
    if (end != not_closed) closed_at.store(end, std::memory_order_seq_cst);
    rx_waiters.wake_all();
  }

  void permit_joins() noexcept { permits_out.fetch_add(1, std::memory_order_seq_cst); }
  void permit_leaves() {
    if (permits_out.fetch_sub(1, std::memory_order_seq_cst) == 1 && queue.is_closed()) finish_close();
  }

  bool try_acquire_permit() noexcept { return room.try_acquire(); }

  void release_permits(std::int64_t n) { room.release(n); }

  void sender_joins() noexcept { senders.fetch_add(1, std::memory_order_relaxed); }

  // A weak sender's upgrade: joins only while some sender lives, so that the count never comes
  // back from 0 (after which the receiver may have seen the end). Relaxed, as `sender_joins`: the
  // count orders nothing else; the compare-exchange alone decides.
  bool try_sender_joins() noexcept {
    std::size_t n = senders.load(std::memory_order_relaxed);
    while (n != 0) {
      if (senders.compare_exchange_weak(n, n + 1, std::memory_order_relaxed, std::memory_order_relaxed)) return true;
    }
    return false;
  }
  void sender_leaves() {
    if (senders.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      senders_gone.store(true, std::memory_order_seq_cst);
      rx_waiters.wake_all();
    }
  }
};

// What senders of both kinds share: the handle, copy counting, and the queries.
template <class T>
class SenderBase {
 public:
  SenderBase(const SenderBase& other) noexcept : shared_(other.shared_) {
    if (shared_) shared_->sender_joins();
  }
  SenderBase(SenderBase&& other) noexcept
      : shared_(std::move(other.shared_)), closed_node_(other.closed_node_.exchange(nullptr, std::memory_order_acq_rel)) {}
  SenderBase& operator=(const SenderBase& other) noexcept {
    SenderBase copy(other);
    std::swap(shared_, copy.shared_);
    // The node belongs to the channel held before: it goes with `copy`.
    copy.closed_node_.store(closed_node_.exchange(nullptr, std::memory_order_acq_rel), std::memory_order_relaxed);
    return *this;
  }
  /// Leaves the channel held before (as destroying this sender would) and takes `other`'s.
  /// Self-assignment does nothing.
  SenderBase& operator=(SenderBase&& other) noexcept {
    if (this != &other) {
      leave();
      shared_ = std::move(other.shared_);
      closed_node_.store(other.closed_node_.exchange(nullptr, std::memory_order_acq_rel), std::memory_order_release);
    }
    return *this;
  }
  ~SenderBase() { leave(); }

  /// Completes once the receiver has closed or is gone (at once if it already has, or for a
  /// moved-from sender): from then on every send fails. Any number of coroutines may await it, on
  /// any executors; cancelled, it throws `system_error(operation_aborted)` and can be awaited
  /// again. No lost wake-up (see `Shared::begin_close`).
  asio::awaitable<void> closed() const {
    if (!shared_) co_return;
    auto& s = *shared_;
    if (s.queue.is_closed()) co_return;
    // This handle's node, parked again in place on the next wait (a cancelled wait leaves it
    // linked, and re-arming does not link it twice); a fresh one when another coroutine of this
    // handle holds it. Kept back in the handle afterwards, or retired if one is there already.
    struct Node {
      const SenderBase& owner;
      swarmsync::detail::WaitNode* node;
      ~Node() {
        swarmsync::detail::WaitNode* none = nullptr;
        if (!owner.closed_node_.compare_exchange_strong(none, node, std::memory_order_acq_rel)) node->retire();
      }
    } held{*this, closed_node_.exchange(nullptr, std::memory_order_acq_rel)};
    if (!held.node) held.node = swarmsync::detail::WaitNode::make();
    for (;;) {
      if (s.queue.is_closed()) co_return;
      co_await swarmsync::detail::park(s.tx_closed_waiters, *held.node, [&s] { return s.queue.is_closed(); });
      swarmsync::detail::throw_if_cancelled(co_await asio::this_coro::cancellation_state);
    }
  }

  /// Strong senders alive now (as `sender_count()`: copies and unsent `Permit`s); 0 for a
  /// moved-from sender. Relaxed: a count read alone.
  std::size_t strong_count() const noexcept {
    return shared_ ? shared_->senders.load(std::memory_order_relaxed) : 0;
  }

  /// Weak senders alive now; 0 for a moved-from sender. Relaxed: a count read alone.
  std::size_t weak_count() const noexcept {
    return shared_ ? shared_->weak_senders.load(std::memory_order_relaxed) : 0;
  }

  /// True once the receiver is closed or gone: every send will fail.
  bool is_closed() const noexcept { return shared_->queue.is_closed(); }

  /// Number of values queued now (accepted and not yet received).
  std::size_t len() const noexcept { return shared_->queue.size(); }

  /// Values sent on the channel so far, by every sender (for introspection).
  std::uint64_t sent_count() const noexcept { return shared_->queue.claimed(); }

  /// Values the receiver has taken so far (for introspection).
  std::uint64_t received_count() const noexcept { return shared_->queue.consumed(); }

  /// The most values queued at once so far, to within about a block: measured once a block of
  /// 32 sends and at each call, so at most 31 below the peak, plus the values received while the
  /// measuring sender read the receiver's position (see detail/block_list.hpp). Nothing is added
  /// to a send's path but a load once a block.
  std::size_t high_water() const noexcept { return shared_->queue.high_water(); }

  /// Sends refused so far, by every sender: their values were handed back (the receiver closed
  /// or gone, or a bounded channel full for `try_send`). Sends through a moved-from handle, which
  /// has no channel, are not counted.
  std::uint64_t refused_count() const noexcept { return shared_->refused.load(std::memory_order_relaxed); }

  /// Senders alive now, copies and unsent `Permit`s included. Relaxed, as every statistic here:
  /// a count read alone, not a synchronization.
  std::size_t sender_count() const noexcept { return shared_->senders.load(std::memory_order_relaxed); }

  /// True if both handles belong to the same channel.
  template <class Other>
  bool same_channel(const Other& other) const noexcept {
    return shared_.get() == other.shared_.get();
  }

 protected:
  template <class>
  friend class SenderBase;
  template <class, class>
  friend class WeakSenderBase;
  friend class Receiver<T>;
  explicit SenderBase(std::shared_ptr<Shared<T>> shared) noexcept : shared_(std::move(shared)) {}

  void leave() noexcept {
    if (auto shared = std::move(shared_)) shared->sender_leaves();
    if (auto* node = closed_node_.exchange(nullptr, std::memory_order_acq_rel)) node->retire();
  }

  std::shared_ptr<Shared<T>> shared_;
  // The node of this handle's `closed()` waits, kept between them (see `closed`).
  mutable std::atomic<swarmsync::detail::WaitNode*> closed_node_{nullptr};
};

// What weak senders of both kinds share. A weak sender keeps the channel's memory, not the
// channel: it does not count as a sender, so the receiver sees the end when the last strong
// sender goes, and `upgrade()` fails from then on.
template <class T, class Strong>
class WeakSenderBase {
 public:
  WeakSenderBase(const WeakSenderBase& other) noexcept : shared_(other.shared_) { join(); }
  WeakSenderBase(WeakSenderBase&& other) noexcept : shared_(std::move(other.shared_)) {}
  WeakSenderBase& operator=(const WeakSenderBase& other) noexcept {
    WeakSenderBase copy(other);
    std::swap(shared_, copy.shared_);
    return *this;
  }
  /// Drops the channel held before and takes `other`'s. Self-assignment does nothing.
  WeakSenderBase& operator=(WeakSenderBase&& other) noexcept {
    if (this != &other) {
      leave();
      shared_ = std::move(other.shared_);
    }
    return *this;
  }
  ~WeakSenderBase() { leave(); }

  /// A strong sender of the channel if one is still alive (strong senders and unsent permits
  /// count), else `std::nullopt`; once the count of strong senders has reached 0 it never
  /// succeeds again. Does not wait. Thread-safe.
  std::optional<Strong> upgrade() const {
    if (!shared_ || !shared_->try_sender_joins()) return std::nullopt;
    return Strong(shared_);
  }

  /// Strong senders alive now (see `SenderBase::strong_count`); 0 for a moved-from handle.
  std::size_t strong_count() const noexcept {
    return shared_ ? shared_->senders.load(std::memory_order_relaxed) : 0;
  }

  /// Weak senders alive now, this one included; 0 for a moved-from handle.
  std::size_t weak_count() const noexcept {
    return shared_ ? shared_->weak_senders.load(std::memory_order_relaxed) : 0;
  }

  /// True if both handles belong to the same channel.
  template <class Other>
  bool same_channel(const Other& other) const noexcept {
    return shared_.get() == other.shared_.get();
  }

 protected:
  template <class>
  friend class SenderBase;
  explicit WeakSenderBase(std::shared_ptr<Shared<T>> shared) noexcept : shared_(std::move(shared)) { join(); }

  void join() noexcept {
    if (shared_) shared_->weak_senders.fetch_add(1, std::memory_order_relaxed);
  }
  void leave() noexcept {
    if (auto shared = std::move(shared_)) shared->weak_senders.fetch_sub(1, std::memory_order_relaxed);
  }

  std::shared_ptr<Shared<T>> shared_;
};

}  // namespace detail

/// The largest capacity `channel` accepts (2^60), far beyond any memory.
inline constexpr std::size_t max_capacity = swarmsync::detail::Semaphore::max_permits;

/// Creates an unbounded channel: sends never wait.
template <class T>
std::pair<UnboundedSender<T>, Receiver<T>> unbounded_channel();

/// Creates a bounded channel holding at most `capacity` queued values; sends wait for room.
/// Throws `std::invalid_argument` if `capacity` is 0 or above `max_capacity`.
template <class T>
std::pair<Sender<T>, Receiver<T>> channel(std::size_t capacity);

/// The sending half of an unbounded channel. Copyable; the channel's senders are gone when the
/// last copy is destroyed.
template <class T>
class UnboundedSender : public detail::SenderBase<T> {
 public:
  /// Queues `value` without waiting, or returns `SendError` holding it if the receiver is closed
  /// or gone.
  Result<void, SendError<T>> send(T value) const {
    if (this->shared_ && this->shared_->push(value)) return {};
    return SendError<T>{std::move(value)};
  }

  /// A weak sender of this channel: it does not keep the channel open (see `WeakUnboundedSender`).
  /// Does not change `strong_count()`. From a moved-from sender, one whose `upgrade()` fails.
  WeakUnboundedSender<T> downgrade() const { return WeakUnboundedSender<T>(this->shared_); }

 private:
  friend std::pair<UnboundedSender<T>, Receiver<T>> unbounded_channel<T>();
  template <class, class>
  friend class detail::WeakSenderBase;
  using detail::SenderBase<T>::SenderBase;
};

/// A sender of an unbounded channel that does not keep it open: when the last strong sender
/// goes, the receiver sees the end even while weak senders live. `upgrade()` gives a strong
/// sender while one is alive. Copyable; thread-safe as senders are.
template <class T>
class WeakUnboundedSender : public detail::WeakSenderBase<T, UnboundedSender<T>> {
 private:
  friend class UnboundedSender<T>;
  using detail::WeakSenderBase<T, UnboundedSender<T>>::WeakSenderBase;
};

/// The sending half of a bounded channel. Copyable.
template <class T>
class Sender : public detail::SenderBase<T> {
 public:
  /// Waits for room, then queues `value`. Completes with `SendError` holding the value if the
  /// receiver is closed or gone (before or while waiting). Cancelling it sends nothing. When
  /// there is room it completes without suspending.
  asio::awaitable<Result<void, SendError<T>>> send(T value) const {
    if (!this->shared_) co_return SendError<T>{std::move(value)};
    auto& s = *this->shared_;
    if (!s.try_acquire_permit()) {
      // The co_await stays out of the condition: g++ 12 built a frame for `!co_await` inside
      // `if (... && ...)` that crashed on its first resume.
      const Room room = co_await acquire_room(1);
      if (room != Room::taken) {
        s.note_refused();
        co_return SendError<T>{std::move(value)};
      }
    }
    if (s.push(value)) co_return Result<void, SendError<T>>{};
    s.release_permits(1);
    co_return SendError<T>{std::move(value)};
  }

  /// As `send`, but gives up once `timeout` has passed without room: `SendTimeoutError` holding
  /// the value, `timed_out` or `closed` (the receiver closed or gone). A timeout of zero or less
  /// still takes room that is free now; one beyond the clock's range (`hours::max()`) never
  /// expires. Loss-free on any executor: a send that times out queued nothing, and room handed to
  /// it as the timer fired is used, not dropped. Cancelling it sends nothing.
  template <class Rep, class Period>
  asio::awaitable<Result<void, SendTimeoutError<T>>> send_timeout(T value, std::chrono::duration<Rep, Period> timeout) const {
    using Error = SendTimeoutError<T>;
    if (!this->shared_) co_return Error{SendTimeoutErrorKind::closed, std::move(value)};
    auto& s = *this->shared_;
    if (!s.try_acquire_permit()) {
      const Room room = co_await acquire_room(1, swarmsync::detail::deadline_after(timeout));
      if (room != Room::taken) {
        s.note_refused();
        const auto kind = room == Room::closed ? SendTimeoutErrorKind::closed : SendTimeoutErrorKind::timed_out;
        co_return Error{kind, std::move(value)};
      }
    }
    if (s.push(value)) co_return Result<void, Error>{};
    s.release_permits(1);
    co_return Error{SendTimeoutErrorKind::closed, std::move(value)};
  }

  /// Sends from a plain thread outside Asio: waits, blocking the thread, for room, then queues
  /// `value`. `SendError` holding the value when the receiver is closed or gone. Throws
  /// `std::logic_error` when called from a thread that runs an Asio execution context (the
  /// receiver may need that very thread to free room: await `send` there). When there is room it
  /// takes no lock and starts no context.
  Result<void, SendError<T>> blocking_send(T value) const {
    swarmsync::detail::refuse_in_asio_context("swarmsync::mpsc::Sender::blocking_send");
    if (this->shared_) {
      auto& s = *this->shared_;
      if (!s.queue.is_closed() && s.try_acquire_permit()) {
        if (s.push(value)) return {};
        s.release_permits(1);
        return SendError<T>{std::move(value)};
      }
    }
    return swarmsync::detail::block_on(send(std::move(value)), "swarmsync::mpsc::Sender::blocking_send");
  }

  /// Queues `value` if there is room now. Errors: `full` or `closed`, each holding the value.
  Result<void, TrySendError<T>> try_send(T value) const {
    if (!this->shared_) return TrySendError<T>{TrySendErrorKind::closed, std::move(value)};
    auto& s = *this->shared_;
    if (s.queue.is_closed()) {
      s.note_refused();
      return TrySendError<T>{TrySendErrorKind::closed, std::move(value)};
    }
    if (!s.try_acquire_permit()) {
      s.note_refused();
      return TrySendError<T>{TrySendErrorKind::full, std::move(value)};
    }
    if (s.push(value)) return {};
    s.release_permits(1);
    return TrySendError<T>{TrySendErrorKind::closed, std::move(value)};
  }

  /// Waits for room and reserves it; `std::nullopt` if the receiver is closed or gone.
  /// Cancel-safe: a cancelled reserve holds nothing.
  asio::awaitable<std::optional<Permit<T>>> reserve() const {
    if (!this->shared_) co_return std::nullopt;
    const Room room = co_await acquire_room(1);
    if (room != Room::taken) co_return std::nullopt;
    co_return Permit<T>(this->shared_);
  }

  /// Waits for room for `n` values and reserves all of it at once: `Permits` that send `n` values
  /// without waiting. `std::nullopt` when the receiver is closed or gone (before or while
  /// waiting), and at once when `n` is above the capacity (it could never be served). `n == 0`
  /// gives empty permits at once. A waiting `reserve_many` is served in its turn among the
  /// waiting senders (FIFO) and collects room as it is freed; those behind it wait until it holds
  /// all `n`, so two of them never each hold part of the room and wait for each other.
  /// Cancel-safe: a cancelled reserve holds nothing (room it had collected goes on to the next).
  asio::awaitable<std::optional<Permits<T>>> reserve_many(std::size_t n) const {
    if (!this->shared_ || n > this->shared_->capacity) co_return std::nullopt;
    if (n == 0) co_return Permits<T>(this->shared_, 0);
    const Room room = co_await acquire_room(static_cast<std::int64_t>(n));
    if (room != Room::taken) co_return std::nullopt;
    co_return Permits<T>(this->shared_, n);
  }

  /// Reserves room for `n` values if it is all free now, without waiting (see `reserve_many`).
  /// Errors: `full` when it is not (or `n` is above the capacity: it never will be), `closed` when
  /// the receiver is closed or gone.
  Result<Permits<T>, TrySendErrorKind> try_reserve_many(std::size_t n) const {
    if (!this->shared_) return TrySendErrorKind::closed;
    auto& s = *this->shared_;
    if (s.queue.is_closed()) return TrySendErrorKind::closed;
    if (n > s.capacity) return TrySendErrorKind::full;
    if (n == 0) return Permits<T>(this->shared_, 0);
    if (!s.room.try_acquire(static_cast<std::int64_t>(n)))
      return s.queue.is_closed() ? TrySendErrorKind::closed : TrySendErrorKind::full;
    return Permits<T>(this->shared_, n);
  }

  /// The capacity given at creation.
  std::size_t capacity() const noexcept { return this->shared_->capacity; }

  /// The capacity given at creation (tokio's name; this `capacity()` is the same number, not
  /// tokio's free room). 0 for a moved-from sender.
  std::size_t max_capacity() const noexcept { return this->shared_ ? this->shared_->capacity : 0; }

  /// Reserves room if there is some now, without waiting: a `Permit` (see `reserve()`). Errors:
  /// `full` when no room is free now, `closed` when the receiver is closed or gone (or this sender
  /// is moved-from). Refusals are not counted in `refused_count()` (no value was handed over).
  Result<Permit<T>, TrySendErrorKind> try_reserve() const {
    if (!this->shared_) return TrySendErrorKind::closed;
    auto& s = *this->shared_;
    if (s.queue.is_closed()) return TrySendErrorKind::closed;
    if (!s.try_acquire_permit()) return s.queue.is_closed() ? TrySendErrorKind::closed : TrySendErrorKind::full;
    return Permit<T>(this->shared_);
  }

  /// A weak sender of this channel: it does not keep the channel open (see `WeakSender`). Does
  /// not change `strong_count()`. From a moved-from sender, one whose `upgrade()` fails.
  WeakSender<T> downgrade() const { return WeakSender<T>(this->shared_); }

  /// Sends (and reserves) parked now, waiting for room (for introspection).
  std::size_t waiting_senders() const noexcept { return this->shared_->room.waiting(); }

 private:
  enum class Room { taken, closed, timed_out };

  // Takes `n` units of room, waiting for them until `deadline` (none: for as long as it takes).
  // `closed`, holding nothing, once the receiver is closed or gone; `timed_out`, holding nothing,
  // at the deadline. Cancelled, it throws holding nothing.
  //
  // Waiting senders are served in the order they parked, each in full (see detail/semaphore.hpp).
  // A sender that leaves the wait (cancelled, timed out, or its coroutine destroyed) leaves the
  // queue at once; room it had been handed goes to the next sender. One whose deadline passes
  // just as it is served keeps the room: nothing is refused that could have been sent.
  asio::awaitable<Room> acquire_room(std::int64_t n,
                                     std::optional<std::chrono::steady_clock::time_point> deadline = std::nullopt) const {
    using swarmsync::detail::Semaphore;
    auto& s = *this->shared_;
    if (s.queue.is_closed()) co_return Room::closed;
    if (s.room.try_acquire(n)) co_return Room::taken;
    Semaphore::Waiter waiter;
    waiter.wanted = n;
    waiter.node = swarmsync::detail::NodeCache::take();
    struct Leave {
      Semaphore& room;
      Semaphore::Waiter& w;
      bool keep = false;
      ~Leave() {
        room.leave(w, keep);
        swarmsync::detail::NodeCache::give_back(w.node);
      }
    } leave{s.room, waiter};
    Semaphore::Queue queue{s.room, waiter};
    const auto served = [&] { return s.room.poll(waiter) != 0; };
    for (;;) {
      bool timed_out = false;
      if (deadline) {
        const auto ec = co_await swarmsync::detail::park_until(queue, *waiter.node, served, *deadline);
        if (ec == asio::error::timed_out) timed_out = true;
        else if (ec) throw boost::system::system_error(ec);
      } else {
        co_await swarmsync::detail::park(queue, *waiter.node, served);
      }
      const int outcome = s.room.poll(waiter);
      if (outcome < 0) co_return Room::closed;
      if (outcome > 0) {
        // Woken with the room but cancelled meanwhile: `leave` passes the room on.
        swarmsync::detail::throw_if_cancelled(co_await asio::this_coro::cancellation_state);
        leave.keep = true;
        co_return Room::taken;
      }
      if (timed_out) co_return Room::timed_out;
    }
  }

  friend std::pair<Sender<T>, Receiver<T>> channel<T>(std::size_t);
  friend class Permits<T>;
  template <class, class>
  friend class detail::WeakSenderBase;
  using detail::SenderBase<T>::SenderBase;
};

/// A sender of a bounded channel that does not keep it open: when the last strong sender (or
/// unsent `Permit`) goes, the receiver sees the end even while weak senders live. `upgrade()`
/// gives a strong sender while one is alive. Copyable; thread-safe as senders are.
template <class T>
class WeakSender : public detail::WeakSenderBase<T, Sender<T>> {
 private:
  friend class Sender<T>;
  using detail::WeakSenderBase<T, Sender<T>>::WeakSenderBase;
};

/// Room reserved in a bounded channel by `Sender::reserve()`. Sending through it cannot wait;
/// destroying it unused gives the room back.
/// A permit counts as a sender: the channel does not end while one is held.
template <class T>
class Permit {
 public:
  Permit(Permit&& other) noexcept : shared_(std::move(other.shared_)) {}
  Permit& operator=(Permit&&) = delete;
  Permit(const Permit&) = delete;
  ~Permit() {
    if (shared_) {
      shared_->release_permits(1);
      shared_->permit_leaves();
      shared_->sender_leaves();
    }
  }

  /// Queues `value` in the reserved room, also after `Receiver::close()` (as tokio's permit
  /// does: the receiver drains it before it sees the end). Returns `SendError` with the value if
  /// the receiver is gone.
  Result<void, SendError<T>> send(T value) && {
    auto shared = std::move(shared_);
    const bool accepted = shared->push(value, true);
    if (!accepted) shared->release_permits(1);
    shared->permit_leaves();
    shared->sender_leaves();
    if (accepted) return {};
    return SendError<T>{std::move(value)};
  }

 private:
  friend class Sender<T>;
  friend class Permits<T>;
  explicit Permit(std::shared_ptr<detail::Shared<T>> shared) : shared_(std::move(shared)) {
    shared_->sender_joins();
    shared_->permit_joins();
  }
  std::shared_ptr<detail::Shared<T>> shared_;
};

/// Room for several values reserved at once by `Sender::reserve_many(n)` (tokio's
/// `PermitIterator`): each `send` uses one unit and cannot wait; `next()` splits one unit off as a
/// `Permit`; destroying the permits gives back the room not used. Counts as one sender while room
/// is left (the channel does not end before it is used or given back). Move-only; used by one
/// thread at a time.
template <class T>
class Permits {
 public:
  Permits(Permits&& other) noexcept : shared_(std::move(other.shared_)), left_(std::exchange(other.left_, 0)) {}
  /// Gives back the room held before (as destroying would) and takes `other`'s. Self-assignment
  /// does nothing.
  Permits& operator=(Permits&& other) noexcept {
    if (this != &other) {
      give_back();
      shared_ = std::move(other.shared_);
      left_ = std::exchange(other.left_, 0);
    }
    return *this;
  }
  Permits(const Permits&) = delete;
  Permits& operator=(const Permits&) = delete;
  ~Permits() { give_back(); }

  /// Units of room left.
  std::size_t size() const noexcept { return left_; }
  bool empty() const noexcept { return left_ == 0; }

  /// Queues `value` in one unit of the reserved room, also after `Receiver::close()` (as a
  /// `Permit`). `SendError` holding the value when the receiver is gone, or when no room is left
  /// (then nothing was used).
  Result<void, SendError<T>> send(T value) {
    if (left_ == 0) return SendError<T>{std::move(value)};
    auto shared = shared_;
    const bool accepted = shared->push(value, true);
    if (!accepted) shared->release_permits(1);
    use_one();
    if (accepted) return {};
    return SendError<T>{std::move(value)};
  }

  /// One unit of the room as a `Permit` of its own; `std::nullopt` when none is left.
  std::optional<Permit<T>> next() {
    if (left_ == 0) return std::nullopt;
    Permit<T> one(shared_);
    use_one();
    return one;
  }

 private:
  friend class Sender<T>;
  Permits(std::shared_ptr<detail::Shared<T>> shared, std::size_t n) : left_(n) {
    if (n == 0) return;
    shared_ = std::move(shared);
    shared_->sender_joins();
    shared_->permit_joins();
  }

  // One unit is used (sent, or handed to a `Permit`); the last one leaves the channel.
  void use_one() {
    if (--left_ == 0) leave();
  }

  void give_back() noexcept {
    if (left_ == 0) return;
    shared_->release_permits(static_cast<std::int64_t>(std::exchange(left_, 0)));
    leave();
  }

  void leave() noexcept {
    if (auto shared = std::move(shared_)) {
      shared->permit_leaves();
      shared->sender_leaves();
    }
  }

  std::shared_ptr<detail::Shared<T>> shared_;
  std::size_t left_ = 0;
};

/// The receiving half of either kind of channel. Move-only; one coroutine uses it at a time.
template <class T>
class Receiver {
 public:
  Receiver(Receiver&& other) noexcept
      : shared_(std::move(other.shared_)), node_(std::exchange(other.node_, nullptr)) {}
  /// Leaves the channel held before (as destroying this receiver would) and takes over `other`'s,
  /// with everything this receiver knew of it.
  Receiver& operator=(Receiver&& other) noexcept {
    if (this != &other) {
      leave();
      shared_ = std::move(other.shared_);
      node_ = std::exchange(other.node_, nullptr);
    }
    return *this;
  }
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;
  ~Receiver() { leave(); }

  /// Waits for the next value; `std::nullopt` once every sender is gone (or the receiver was
  /// closed) and everything accepted was received. Cancel-safe: a cancelled call consumes nothing
  /// and throws `system_error(operation_aborted)`. `co_await rx.recv()` takes a value that is
  /// already there without suspending and costs no coroutine frame (detail/recv_operation.hpp);
  /// `recv(token)` takes any completion token, `void(error_code, std::optional<T>)`, e.g.
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

  /// As `recv()`, but gives up at `deadline` with `RecvTimeoutError::timed_out`; `disconnected`
  /// when the channel ended. Loss-free on any executor: a value is consumed only when returned.
  template <class Clock, class Duration>
  asio::awaitable<Result<T, RecvTimeoutError>> recv_until(std::chrono::time_point<Clock, Duration> deadline) {
    const asio::cancellation_state state = co_await asio::this_coro::cancellation_state;
    if (swarmsync::detail::cancellable(state)) co_await swarmsync::detail::yield_before_take();
    for (;;) {
      if (auto v = take()) co_return Result<T, RecvTimeoutError>(in_place_value, std::move(*v));
      if (finished()) co_return RecvTimeoutError::disconnected;
      const auto ec = co_await swarmsync::detail::park_until(shared_->rx_waiters, node(), [this] { return ready(); },
                                                             deadline);
      if (ec == asio::error::timed_out) co_return RecvTimeoutError::timed_out;
      if (ec) throw boost::system::system_error(ec);
      swarmsync::detail::throw_if_cancelled(co_await asio::this_coro::cancellation_state);
    }
  }

  /// `recv_until(now + timeout)`.
  /// A timeout beyond the clock's range (`hours::max()`) never expires.
  template <class Rep, class Period>
  asio::awaitable<Result<T, RecvTimeoutError>> recv_for(std::chrono::duration<Rep, Period> timeout) {
    return recv_until(swarmsync::detail::deadline_after(timeout).value_or(std::chrono::steady_clock::time_point::max()));
  }

  /// Waits until at least one value is there, then moves up to `limit` values to the end of
  /// `buffer` in order. Returns how many were added; 0 only when the channel has ended (or `limit`
  /// is 0). Cancel-safe like `recv()`.
  asio::awaitable<std::size_t> recv_many(std::vector<T>& buffer, std::size_t limit) {
    if (limit == 0) co_return 0;
    const asio::cancellation_state state = co_await asio::this_coro::cancellation_state;
    if (swarmsync::detail::cancellable(state)) co_await swarmsync::detail::yield_before_take();
    for (;;) {
      if (const std::size_t n = take_many(buffer, limit)) co_return n;
      if (finished()) co_return 0;
      co_await swarmsync::detail::park(shared_->rx_waiters, node(), [this] { return ready(); });
      swarmsync::detail::throw_if_cancelled(co_await asio::this_coro::cancellation_state);
    }
  }

  /// Waits, consuming nothing, until a receive would complete without waiting: a value is queued
  /// or the channel has ended. Completes `token` (default: awaited, `co_await rx.wait_ready()`)
  /// with `void(error_code)`: no error then, or `operation_aborted` when cancelled (cancel-safe on
  /// any executor: nothing is taken either way). Spurious wake-ups are absorbed: it completes
  /// only once ready. The receiver stays ready until it is received from (one consumer), so a
  /// `try_recv` after it gets a value or `disconnected`. One wait or receive at a time, as for
  /// `recv()`; `swarmsync::select` builds on it.
  template <class CompletionToken = asio::deferred_t>
  auto wait_ready(CompletionToken&& token = CompletionToken()) {
    return swarmsync::detail::async_wait_ready(&shared_->rx_waiters, node(), [this] { return ready(); },
                                               std::forward<CompletionToken>(token));
  }

  /// Takes the next value if there is one now. Errors: `empty` when no send has claimed the next
  /// place in the queue, or `disconnected` once the channel has ended. Never waits for a sender's
  /// progress except one case, as tokio's does: when a send has claimed the next place and not yet
  /// written its value (its thread was preempted inside `send`), this spins, then yields the core,
  /// until it has; it does not say `empty` while a send that already returned is queued behind it.
  Result<T, TryRecvError> try_recv() {
    swarmsync::detail::Backoff backoff;
    for (;;) {
      if (auto v = take()) return Result<T, TryRecvError>(in_place_value, std::move(*v));
      if (finished()) return TryRecvError::disconnected;
      if (!shared_->queue.head_claimed() && !closing_now()) return TryRecvError::empty;
      backoff.pause();
    }
  }

  /// Receives from a plain thread outside Asio: the next value, waiting for it with the thread
  /// blocked; `std::nullopt` once the channel has ended, as `recv()`. Throws `std::logic_error`
  /// when called from a thread that runs an Asio execution context (a sender may need that very
  /// thread: await `recv` there). A value already there is taken without starting a context.
  std::optional<T> blocking_recv() {
    swarmsync::detail::refuse_in_asio_context("swarmsync::mpsc::Receiver::blocking_recv");
    if (auto v = take()) return v;
    if (finished()) return std::nullopt;
    return swarmsync::detail::block_on(recv_unraced()(asio::use_awaitable),
                                       "swarmsync::mpsc::Receiver::blocking_recv");
  }

  /// Refuses every later send (their values come back to the senders) and wakes senders waiting
  /// for room. What was accepted before stays receivable, and so do the values of `Permit`s
  /// reserved before: the receiver sees the end once those permits are used or dropped, as in
  /// tokio. Idempotent.
  void close() {
    if (shared_) shared_->begin_close();
  }

  /// True once `close()` was called or every sender is gone.
  bool is_closed() const noexcept {
    return shared_->queue.is_closed() || shared_->senders_gone.load(std::memory_order_acquire);
  }

  /// Number of values queued now.
  std::size_t len() const noexcept { return shared_->queue.size(); }

  /// True if `len() == 0`.
  bool is_empty() const noexcept { return len() == 0; }

  /// Number of senders alive now.
  std::size_t sender_count() const noexcept { return shared_->senders.load(std::memory_order_acquire); }

  /// The most values queued at once so far, to within about a block (see `UnboundedSender::high_water`).
  std::size_t high_water() const noexcept { return shared_->queue.high_water(); }

  /// Sends refused so far (see `UnboundedSender::refused_count`).
  std::uint64_t refused_count() const noexcept { return shared_->refused.load(std::memory_order_relaxed); }

  /// The capacity of a bounded channel; 0 for an unbounded one.
  std::size_t capacity() const noexcept { return shared_->capacity; }

  /// Bounded sends (and reserves) parked now, waiting for room; 0 for an unbounded channel.
  std::size_t waiting_senders() const noexcept { return shared_->room.waiting(); }

  /// True if both handles belong to the same channel.
  template <class Other>
  bool same_channel(const Other& other) const noexcept {
    return shared_.get() == other.shared_.get();
  }

 private:
  template <class>
  friend class detail::SenderBase;
  friend std::pair<UnboundedSender<T>, Receiver<T>> unbounded_channel<T>();
  friend std::pair<Sender<T>, Receiver<T>> channel<T>(std::size_t);

  explicit Receiver(std::shared_ptr<detail::Shared<T>> shared) : shared_(std::move(shared)) {}

  // What `RecvOperation` uses (detail/recv_operation.hpp).
  friend class swarmsync::detail::RecvOperation<Receiver>;
  using recv_value = std::optional<T>;
  // The next value, or an empty `recv_value` once the channel ended; nothing while it must wait.
  std::optional<recv_value> poll() {
    if (auto v = take()) return std::optional<recv_value>(std::in_place, std::move(v));
    if (finished()) return std::optional<recv_value>(std::in_place);
    return std::nullopt;
  }
  // What a failed (cancelled) receive's handler gets beside its error.
  static recv_value no_outcome() { return std::nullopt; }
  swarmsync::detail::SingleWaiter& waiters() { return shared_->rx_waiters; }

  std::optional<T> take() {
    auto v = shared_->queue.pop();
    if (v && shared_->capacity) shared_->release_permits(1);
    return v;
  }

  // Room for the values is reserved in `buffer` before any is taken out, so a growth that throws
  // takes nothing, and moving a value in (nothrow) cannot fail: every value taken is in `buffer`.
  std::size_t take_many(std::vector<T>& buffer, std::size_t limit) {
    if (!shared_->queue.ready_at_head()) return 0;
    const std::size_t queued = std::max<std::size_t>(shared_->queue.size(), 1);
    const std::size_t want = std::min(limit, queued);
    if (buffer.capacity() - buffer.size() < want) buffer.reserve(buffer.size() + want);
    const std::size_t room = std::min(limit, buffer.capacity() - buffer.size());
    std::size_t n = 0;
    while (n < room) {
      auto v = shared_->queue.pop();
      if (!v) break;
      buffer.push_back(std::move(*v));
      ++n;
    }
    if (n && shared_->capacity) shared_->release_permits(static_cast<std::int64_t>(n));
    return n;
  }

  // Nothing more can arrive: every sender is gone, or the channel closed fully and the receiver
  // passed everything claimed before. Called after a failed take. (Between the queue's full close
  // and the record of where it ends, the closer has yet to wake the receiver: not finished yet.)
  bool finished() {
    if (shared_->senders_gone.load(std::memory_order_seq_cst)) return !shared_->queue.ready_at_head();
    if (shared_->queue.is_fully_closed()) return shared_->queue.head_index() >= shared_->closed_at.load(std::memory_order_seq_cst);
    return false;
  }

  // A full close whose end is not recorded yet: `try_recv` waits for it rather than say `empty`.
  bool closing_now() const noexcept {
    return shared_->queue.is_fully_closed() &&
           shared_->closed_at.load(std::memory_order_seq_cst) == detail::Shared<T>::not_closed;
  }

  bool ready() { return shared_->queue.ready_at_head() || finished(); }

  swarmsync::detail::WaitNode& node() {
    if (!node_) node_ = swarmsync::detail::WaitNode::make();
    return *node_;
  }

  // Closes the channel and destroys what is queued at once, as tokio's receiver does on drop.
  // Every value accepted before the close is destroyed here, also one whose send is still writing
  // it: that wait is as short as the rest of a send (it never suspends), as in `try_recv`.
  void leave() noexcept {
    if (shared_) {
      close();
      shared_->finish_close();  // the receiver is gone: permits cannot send either
      std::int64_t drained = 0;
      swarmsync::detail::Backoff backoff;
      for (;;) {
        if (shared_->queue.pop()) {
          ++drained;
          continue;
        }
        const std::uint64_t end = shared_->closed_at.load(std::memory_order_seq_cst);
        if (end != detail::Shared<T>::not_closed && shared_->queue.head_index() >= end) break;
        backoff.pause();
      }
      if (drained && shared_->capacity) shared_->release_permits(drained);
    }
    shared_.reset();
    if (node_) std::exchange(node_, nullptr)->retire();
  }

  std::shared_ptr<detail::Shared<T>> shared_;
  swarmsync::detail::WaitNode* node_ = nullptr;
};

template <class T>
std::pair<UnboundedSender<T>, Receiver<T>> unbounded_channel() {
  auto shared = std::make_shared<detail::Shared<T>>(0);
  Receiver<T> rx(shared);
  return {UnboundedSender<T>(std::move(shared)), std::move(rx)};
}

template <class T>
std::pair<Sender<T>, Receiver<T>> channel(std::size_t capacity) {
  if (capacity == 0) throw std::invalid_argument("swarmsync::mpsc::channel: capacity must be > 0");
  if (capacity > max_capacity)
    throw std::invalid_argument("swarmsync::mpsc::channel: capacity " + std::to_string(capacity) +
                                " is above max_capacity (" + std::to_string(max_capacity) + ")");
  auto shared = std::make_shared<detail::Shared<T>>(capacity);
  Receiver<T> rx(shared);
  return {Sender<T>(std::move(shared)), std::move(rx)};
}

}  // namespace swarmsync::mpsc
