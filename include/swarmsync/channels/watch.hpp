#pragma once
// A watch channel: one value that senders replace and receivers watch, each receiver seeing the
// latest value and being told when it changes. The semantics are those of tokio's `sync::watch`.
//
//     auto [tx, rx] = swarmsync::watch::channel(Config{});
//     auto rx2 = rx;                                      // receivers copy; each watches on its own
//     if (!tx.send(Config{.verbose = true}))              // replaces the value, wakes the watchers
//       log("nobody watches");                            // no receiver alive: the value came back
//     tx.send_modify([](Config& c) { c.port = 8080; });  // changes it in place
//     // in a watcher's coroutine:
//     for (;;) {
//       const auto changed = co_await rx.changed();
//       if (!changed) break;                              // every sender is gone
//       const Config now = *rx.borrow_and_update();       // copy out; the borrow ends here
//       apply(now);                                      // ... and only then co_await again
//     }
//     // the sender can wait until nobody watches any more:
//     co_await tx.closed();
//
// Versions. The channel holds a version counter (tokio's `AtomicState`): each change of the value
// (`send`, `send_replace`, `send_modify`, a `send_if_modified` that reports a change) bumps it by
// one, while holding the value's write lock. Each receiver remembers the version it has seen: a
// new receiver from `channel()` has seen the initial value; one from `subscribe()` the value at
// that moment; a copy, what its source had seen. `changed()` completes as soon as the channel's
// version differs from the one the receiver has seen, and marks it seen; `borrow_and_update()`
// marks seen the version of the value it returns; `borrow()` marks nothing. Values sent between
// two looks are not queued: a receiver sees only the latest value (several sends may wake it once).
//
// Closing. The channel is closed for receivers when the last `Sender` is gone: `changed()` then
// first reports a version the receiver has not seen (the last value is still readable with
// `borrow()`), then `RecvError::closed`. The senders' side: `send()` fails, handing the value back,
// while no receiver is alive (`send_replace()` and `send_modify()` still change the value);
// `closed()` completes when the last receiver is gone; `subscribe()` makes a new receiver and so
// reopens it (as tokio's).
//
// Borrowing. The value sits behind a `std::shared_mutex` (tokio's `RwLock`). `borrow()` and
// `borrow_and_update()` return a `Ref` that holds the shared (read) lock for its life, and every
// change of the value takes the exclusive (write) lock. So a `Ref`:
//   - must not be held across a `co_await`: the coroutine may resume on another thread, which
//     then unlocks a lock it does not hold, and a sender blocks for as long as it waits (a thread
//     of the io_context blocked on the lock may be the one the reader needs to resume: deadlock);
//   - must not be held while sending on the same channel from the same thread: the send waits
//     for the write lock forever;
//   - must not outlive the handle it was borrowed from (it points into the channel).
// Keep borrows short: copy out what is needed, or look at it, and let the `Ref` go. Which side a
// contended lock favours is the platform's `std::shared_mutex`'s (glibc's prefers readers, so
// a sender may wait while overlapping borrows go on), as tokio leaves it to its `RwLock`.
//
// Progress. A change of the value takes the write lock, bumps the version, releases the lock and
// then wakes the parked receivers (one load when nobody is parked). Receivers park on a lock-free
// `WaitList` (detail/wait_list.hpp); waiting for a change takes no lock. Parked receivers are woken
// as mpsc's are: each runs after the sender's handler returns or suspends, on the sender's thread
// when that is one of the receiver's io_context.
//
// Exceptions. A modifier of `send_modify`/`send_if_modified` that throws propagates its exception
// with the write lock released; the version is not bumped and no receiver is woken, but what the
// modifier changed before it threw stays in the value, visible to later borrows (tokio's
// behaviour when the closure panics). A copy of the value that throws (a receiver copying out of
// a `Ref`) leaves the channel as it was: the `Ref`'s destructor releases the lock on the way out.
// The `Ref` returned by `borrow_and_update()` has already marked its version seen. `T` must be
// nothrow move-constructible; `send` and `send_replace` also need it nothrow move-assignable, so
// that replacing the value cannot fail half-way. `T` need not be copyable.
//
// Memory orders. One atomic word, `state`, holds the version in its upper bits and the `closed`
// bit (no sender left) in bit 0; the value itself is guarded by the lock, which orders every
// write of the value before every later borrow. The version bumps and the setting of `closed`
// are seq_cst read-modify-writes, and the loads that decide whether `changed()` returns or
// parks are seq_cst: this is the `WaitList` protocol (no lost wake-up): a receiver arms its node
// (seq_cst) and then re-reads `state` (seq_cst); a sender bumps `state` (seq_cst) and then reads
// the list head (seq_cst); in their single total order one sees the other, so either the receiver
// sees the new version and returns, or the sender sees the node and wakes it. The other orders
// are explained where they are used.
//
// Async. `changed()`, `wait_for()` and `Sender::closed()` are awaited from an `asio::awaitable`
// coroutine on any executor, strand or thread. `changed()` is cancel-safe: a cancelled call marks
// nothing seen, so the next `changed()` still reports the change (the losing branch of an awaitable
// `||` on a strand or a one-thread context, raced against a timer). As the other channels'
// receives, a `changed()` whose coroutine can be cancelled yields to its executor once before it
// marks a version that is already there as seen (see `yield_before_take`). A cancelled operation
// throws `boost::system::system_error(asio::error::operation_aborted)`.
//
// Handles. `Sender` and `Receiver` both copy and move. tokio 1.24's `Sender` is not `Clone`
// (later tokio made it so): a Rust program shares one sender by reference, since every operation
// takes `&self`; in C++ the way to give several coroutines the same sender is to copy it, so
// `Sender` is copyable and the channel closes for receivers when the last copy is gone, as in
// later tokio. Assigning over a handle leaves the channel it held at once, as destroying it
// would; self-assignment (copy or move) does nothing. A moved-from handle holds no channel:
//   - a moved-from `Sender`: `send` hands the value back (`SendError`), `send_replace` returns its
//     argument, `send_modify` does not call the modifier, `send_if_modified` neither and returns
//     false, `borrow()` throws `ChannelError`, `subscribe()` returns a receiver without a
//     channel, `receiver_count()` and `sender_count()` are 0, `is_closed()` is true and `closed()`
//     completes at once;
//   - a moved-from `Receiver`: `has_changed()`, `changed()` and `wait_for()` report
//     `RecvError::closed`, `borrow()` and `borrow_and_update()` throw `ChannelError`,
//     `mark_changed()`/`mark_unchanged()` do nothing, `same_channel()` is false.
// Either may be assigned to or destroyed.
//
// Thread safety. Every member of `Sender` may be called from any number of threads at once, on
// the same object or on copies (changes of the value are serialized by the write lock); a sender's
// copy, assignment and destruction must not overlap other uses of that same object, and it must
// outlive a `closed()` that awaits it. A `Receiver` is used by one coroutine or thread at a time
// (it holds the version it has seen); copies are independent and may be used concurrently from
// any threads; a receiver must outlive the `changed()`/`wait_for()` that awaits it. A `Ref` is
// used and destroyed on the thread that borrowed it.

#include "swarmsync/channels/error.hpp"
#include "swarmsync/detail/wait_list.hpp"

#include <atomic>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <type_traits>
#include <utility>

namespace swarmsync::watch {

/// Why a receiver's wait for a change returned no change.
enum class RecvError {
  closed,  ///< every sender is gone and the receiver has seen the last version (or holds no channel)
};

[[noreturn]] inline void throw_exception_from_error(RecvError, const boost::source_location&) {
  throw ChannelError("swarmsync: watch receive: closed");
}

template <class T>
class Sender;
template <class T>
class Receiver;
template <class T>
class Ref;

namespace detail {

inline constexpr std::uint64_t closed_bit = 1;    // bit 0 of `state`: every sender is gone
inline constexpr std::uint64_t version_step = 2;  // the version counts in the bits above it

inline constexpr std::uint64_t version_of(std::uint64_t state) noexcept { return state & ~closed_bit; }

template <class T>
struct Shared {
  explicit Shared(T&& init) : value(std::move(init)) {}
  Shared(const Shared&) = delete;
  Shared& operator=(const Shared&) = delete;

  // Guards `value`. Changes take it exclusively; borrows share it.
  std::shared_mutex lock;
  T value;
  // The version (upper bits, bumped only under the write lock) and `closed_bit`.
  std::atomic<std::uint64_t> state{0};
  std::atomic<std::size_t> receivers{1};
  std::atomic<std::size_t> senders{1};
  swarmsync::detail::WaitList rx_waiters;  // receivers parked in `changed()`
  swarmsync::detail::WaitList tx_waiters;  // senders parked in `closed()`

  [[noreturn]] static void no_channel() {
    throw ChannelError("swarmsync: watch: the handle holds no channel (moved from)");
  }
};

}  // namespace detail

/// Creates a watch channel holding `initial` and returns its first sender and receiver. The
/// receiver has seen `initial`. Allocates the shared state once; nothing else allocates but the
/// first wait of each receiver, and of each sender's `closed()` (its wait node).
template <class T>
std::pair<Sender<T>, Receiver<T>> channel(T initial);

/// A borrow of the channel's value: holds the value's shared (read) lock until destroyed. See the
/// header comment: never across a `co_await`, never while sending on the same channel from the
/// same thread, never beyond the handle it came from. Move-only; a default-constructed or
/// moved-from `Ref` holds nothing and may only be destroyed or assigned to.
template <class T>
class Ref {
 public:
  Ref() noexcept = default;
  Ref(Ref&& other) noexcept
      : lock_(std::move(other.lock_)),
        value_(std::exchange(other.value_, nullptr)),
        has_changed_(std::exchange(other.has_changed_, false)) {}
  Ref& operator=(Ref&& other) noexcept {
    if (this != &other) {
      lock_ = std::move(other.lock_);
      value_ = std::exchange(other.value_, nullptr);
      has_changed_ = std::exchange(other.has_changed_, false);
    }
    return *this;
  }
  Ref(const Ref&) = delete;
  Ref& operator=(const Ref&) = delete;
  ~Ref() = default;

  /// The value, as it is while this `Ref` lives.
  const T& operator*() const noexcept { return *value_; }
  const T* operator->() const noexcept { return value_; }
  const T& get() const noexcept { return *value_; }

  /// Whether the borrowing receiver had not seen this version yet when it borrowed (tokio's
  /// `Ref::has_changed`). Always false for a sender's borrow.
  bool has_changed() const noexcept { return has_changed_; }

 private:
  friend class Sender<T>;
  friend class Receiver<T>;

  Ref(std::shared_lock<std::shared_mutex> lock, const T& value, bool has_changed) noexcept
      : lock_(std::move(lock)), value_(&value), has_changed_(has_changed) {}

  std::shared_lock<std::shared_mutex> lock_;
  const T* value_ = nullptr;
  bool has_changed_ = false;
};

/// The sending half. Copyable (see the header comment); every member may be used from any thread.
template <class T>
class Sender {
  static_assert(std::is_nothrow_move_constructible_v<T>, "swarmsync::watch: T must be nothrow move-constructible");

 public:
  // Relaxed: a count, as shared_ptr's increment. The copy comes from a live sender, so the count
  // never comes back from 0, and nothing is published through it.
  Sender(const Sender& other) noexcept : shared_(other.shared_) {
    if (shared_) shared_->senders.fetch_add(1, std::memory_order_relaxed);
  }
  Sender(Sender&& other) noexcept
      : shared_(std::move(other.shared_)),
        closed_node_(other.closed_node_.exchange(nullptr, std::memory_order_acq_rel)) {}
  /// Leaves the channel held before (as destroying this sender would) and joins `other`'s.
  /// Self-assignment does nothing.
  Sender& operator=(const Sender& other) noexcept {
    if (this != &other) {
      Sender copy(other);
      leave();
      shared_ = std::move(copy.shared_);
    }
    return *this;
  }
  /// Leaves the channel held before (as destroying this sender would) and takes `other`'s.
  /// Self-assignment does nothing.
  Sender& operator=(Sender&& other) noexcept {
    if (this != &other) {
      leave();
      shared_ = std::move(other.shared_);
      closed_node_.store(other.closed_node_.exchange(nullptr, std::memory_order_acq_rel), std::memory_order_release);
    }
    return *this;
  }
  /// The last sender to go closes the channel: receivers get what they have not seen, then
  /// `RecvError::closed`; parked receivers wake.
  ~Sender() { leave(); }

  /// Replaces the value and wakes the receivers, unless no receiver is alive: then nothing
  /// changes and `SendError` holds the very value (tokio's `send`). A receiver may go or be
  /// subscribed concurrently; the check is a snapshot. Blocks only on the value's write lock
  /// (while borrows are held). The old value is destroyed after the lock is released.
  Result<void, SendError<T>> send(T value) const {
    // Relaxed: a snapshot of a count, as tokio's; nothing is read through it. A thread that has
    // synchronized with the last receiver's destruction sees the count at 0 (coherence).
    if (!shared_ || shared_->receivers.load(std::memory_order_relaxed) == 0) return SendError<T>{std::move(value)};
    (void)exchange_value(value);  // the old value is destroyed here, after the lock
    return {};
  }

  /// Replaces the value, bumps the version and wakes the receivers, whether or not any is alive,
  /// and returns the value it replaced. Blocks only on the value's write lock. A moved-from sender
  /// returns `value` itself.
  T send_replace(T value) const {
    if (!shared_) return value;
    return exchange_value(value);
  }

  /// Calls `modify(value)` under the write lock, then bumps the version and wakes the receivers
  /// (even when no receiver is alive, and even if `modify` changed nothing). If `modify` throws:
  /// the exception propagates, the lock is released, no version is bumped and nobody is woken;
  /// what `modify` changed before throwing stays (see the header comment). `modify` must not
  /// touch the channel (a borrow or a send from inside it never returns).
  template <class F>
    requires std::invocable<F&, T&>
  void send_modify(F&& modify) const {
    send_if_modified([&modify](T& value) {
      std::invoke(modify, value);
      return true;
    });
  }

  /// Calls `modify(value)` under the write lock; if it returns true, bumps the version and wakes
  /// the receivers, and returns true. If it returns false, nothing is bumped nor woken (tokio: for
  /// a modifier that found nothing to change; it must then leave the value as it was) and the
  /// result is false. Exceptions as `send_modify`. A moved-from sender returns false without
  /// calling `modify`.
  template <class F>
    requires std::invocable<F&, T&> && std::convertible_to<std::invoke_result_t<F&, T&>, bool>
  bool send_if_modified(F&& modify) const {
    if (!shared_) return false;
    auto& s = *shared_;
    std::unique_lock lock(s.lock);
    if (!static_cast<bool>(std::invoke(modify, s.value))) return false;
    publish(lock);
    return true;
  }

  /// Borrows the current value (shared lock held by the `Ref`; its `has_changed()` is false).
  /// Throws `ChannelError` for a moved-from sender.
  [[nodiscard]] Ref<T> borrow() const {
    if (!shared_) detail::Shared<T>::no_channel();
    std::shared_lock lock(shared_->lock);
    return Ref<T>(std::move(lock), shared_->value, false);
  }

  /// A new receiver that has seen the current value: its `changed()` waits for the next change.
  /// Reopens a channel whose receivers were all gone. A moved-from sender returns a receiver
  /// without a channel.
  Receiver<T> subscribe() const {
    if (!shared_) return Receiver<T>();
    // Acquire: the version read is at least that of every change this thread has seen happen.
    const std::uint64_t version = detail::version_of(shared_->state.load(std::memory_order_acquire));
    return Receiver<T>(shared_, version);
  }

  /// Receivers alive now (0 for a moved-from sender). Relaxed: a count read alone.
  std::size_t receiver_count() const noexcept {
    return shared_ ? shared_->receivers.load(std::memory_order_relaxed) : 0;
  }

  /// Senders alive now, this one included (0 for a moved-from sender). Relaxed: a count read alone.
  std::size_t sender_count() const noexcept {
    return shared_ ? shared_->senders.load(std::memory_order_relaxed) : 0;
  }

  /// True while no receiver is alive (a `send` would fail); true for a moved-from sender.
  bool is_closed() const noexcept { return receiver_count() == 0; }

  /// Completes once no receiver is alive (at once if none is, or for a moved-from sender). A
  /// receiver subscribed meanwhile reopens the channel, and the wait goes on, as tokio's. Any
  /// number of coroutines may await it, on any executors; cancelled, it throws
  /// `system_error(operation_aborted)` and can be awaited again. The sender must outlive the wait
  /// and not be assigned to during it.
  asio::awaitable<void> closed() const {
    if (!shared_) co_return;
    auto& s = *shared_;
    if (no_receiver(s)) co_return;
    // This handle's node, parked again in place on the next wait (a cancelled wait leaves it
    // linked, and re-arming does not link it twice); a fresh one when another coroutine of this
    // handle holds it. Kept back in the handle afterwards, or retired if one is there already.
    // acq_rel on the exchanges: the node's last user on one thread hands it over whole to the
    // next one on another.
    struct Node {
      const Sender& owner;
      swarmsync::detail::WaitNode* node;
      ~Node() {
        swarmsync::detail::WaitNode* none = nullptr;
        if (!owner.closed_node_.compare_exchange_strong(none, node, std::memory_order_acq_rel)) node->retire();
      }
    } held{*this, closed_node_.exchange(nullptr, std::memory_order_acq_rel)};
    if (!held.node) held.node = swarmsync::detail::WaitNode::make();
    for (;;) {
      if (no_receiver(s)) co_return;
      co_await swarmsync::detail::park(s.tx_waiters, *held.node, [&s] { return no_receiver(s); });
      swarmsync::detail::throw_if_cancelled(co_await asio::this_coro::cancellation_state);
    }
  }

  /// True if both handles belong to the same channel (false if either is moved-from).
  bool same_channel(const Sender& other) const noexcept { return shared_ && shared_ == other.shared_; }
  bool same_channel(const Receiver<T>& other) const noexcept { return shared_ && shared_ == other.shared_; }

 private:
  friend std::pair<Sender<T>, Receiver<T>> channel<T>(T);
  friend class Receiver<T>;

  explicit Sender(std::shared_ptr<detail::Shared<T>> shared) noexcept : shared_(std::move(shared)) {}

  // Moves `value` in and the old value out, under the write lock. Both moves are nothrow, so the
  // value is never left half-replaced.
  T exchange_value(T& value) const {
    static_assert(std::is_nothrow_move_assignable_v<T>,
                  "swarmsync::watch: send and send_replace need T nothrow move-assignable");
    auto& s = *shared_;
    std::unique_lock lock(s.lock);
    T old(std::move(s.value));
    s.value = std::move(value);
    publish(lock);
    return old;
  }

  // Ends a change of the value: bumps the version while still holding the write lock, so that a
  // borrow (under the read lock) reads the version of the value it sees; releases the lock; wakes
  // the parked receivers. seq_cst: the sender's "publish" of the no-lost-wake-up protocol (see
  // the header comment), before the wake-up's seq_cst read of the list.
  void publish(std::unique_lock<std::shared_mutex>& lock) const {
    shared_->state.fetch_add(detail::version_step, std::memory_order_seq_cst);
    lock.unlock();
    shared_->rx_waiters.wake_all();
  }

  // seq_cst: the parker's re-read of `closed()`'s protocol, against the last receiver's seq_cst
  // decrement followed by its wake-up.
  static bool no_receiver(const detail::Shared<T>& s) noexcept {
    return s.receivers.load(std::memory_order_seq_cst) == 0;
  }

  // The last sender closes the channel. acq_rel on the count: every other sender's changes happen
  // before its decrement (release), which the last one acquires, so a receiver that sees `closed`
  // (acquiring the seq_cst RMW below) also sees every change of every sender. Then the seq_cst RMW
  // and the wake-up: the changer's half of the protocol.
  void leave() noexcept {
    if (auto shared = std::move(shared_)) {
      if (shared->senders.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        shared->state.fetch_or(detail::closed_bit, std::memory_order_seq_cst);
        shared->rx_waiters.wake_all();
      }
    }
    if (auto* node = closed_node_.exchange(nullptr, std::memory_order_acq_rel)) node->retire();
  }

  std::shared_ptr<detail::Shared<T>> shared_;
  // The node of this handle's `closed()` waits, kept between them (see `closed`).
  mutable std::atomic<swarmsync::detail::WaitNode*> closed_node_{nullptr};
};

/// The receiving half: watches the value and remembers the version it has seen. Copyable (a copy
/// has seen what its source had); one coroutine or thread uses a receiver at a time.
template <class T>
class Receiver {
  static_assert(std::is_nothrow_move_constructible_v<T>, "swarmsync::watch: T must be nothrow move-constructible");

 public:
  /// A receiver without a channel, as a moved-from one (see the header comment).
  Receiver() noexcept = default;
  // Relaxed: a count, as shared_ptr's increment. A copy comes from a live receiver, so the count
  // does not pass through 0; `closed()` waits only for the count to fall to 0.
  Receiver(const Receiver& other) noexcept : shared_(other.shared_), version_(other.version_) {
    if (shared_) shared_->receivers.fetch_add(1, std::memory_order_relaxed);
  }
  Receiver(Receiver&& other) noexcept
      : shared_(std::move(other.shared_)), version_(other.version_), node_(std::exchange(other.node_, nullptr)) {}
  /// Leaves the channel held before (as destroying this receiver would) and joins `other`'s,
  /// having seen what `other` has seen. Self-assignment does nothing.
  Receiver& operator=(const Receiver& other) noexcept {
    if (this != &other) {
      Receiver copy(other);
      leave();
      shared_ = std::move(copy.shared_);
      version_ = copy.version_;
    }
    return *this;
  }
  /// Leaves the channel held before (as destroying this receiver would) and takes `other`'s.
  /// Self-assignment does nothing.
  Receiver& operator=(Receiver&& other) noexcept {
    if (this != &other) {
      leave();
      shared_ = std::move(other.shared_);
      version_ = other.version_;
      node_ = std::exchange(other.node_, nullptr);
    }
    return *this;
  }
  /// The last receiver to go completes the senders' `closed()`.
  ~Receiver() { leave(); }

  /// Borrows the current value without marking it seen; the `Ref`'s `has_changed()` tells whether
  /// this receiver had seen it. Holds the shared lock (see the header comment). Throws
  /// `ChannelError` for a moved-from receiver.
  [[nodiscard]] Ref<T> borrow() const {
    if (!shared_) detail::Shared<T>::no_channel();
    std::shared_lock lock(shared_->lock);
    const std::uint64_t version = locked_version();
    return Ref<T>(std::move(lock), shared_->value, version != version_);
  }

  /// Borrows the current value and marks its version seen: a later `changed()` waits for the
  /// next change. As `borrow()` otherwise.
  [[nodiscard]] Ref<T> borrow_and_update() {
    if (!shared_) detail::Shared<T>::no_channel();
    std::shared_lock lock(shared_->lock);
    const std::uint64_t version = locked_version();
    const bool changed = version != version_;
    version_ = version;
    return Ref<T>(std::move(lock), shared_->value, changed);
  }

  /// Whether the channel's version differs from the one this receiver has seen; marks nothing.
  /// `RecvError::closed` once every sender is gone, whether or not a change is unseen (as
  /// tokio 1.24's), and for a moved-from receiver. Never waits.
  Result<bool, RecvError> has_changed() const {
    if (!shared_) return RecvError::closed;
    // Acquire: once `closed` is seen, the last changes of every sender are seen too (see
    // `Sender::leave`), so a borrow after this reads the final value.
    const std::uint64_t s = shared_->state.load(std::memory_order_acquire);
    if (s & detail::closed_bit) return RecvError::closed;
    return Result<bool, RecvError>(in_place_value, detail::version_of(s) != version_);
  }

  /// Waits until the channel's version differs from the one this receiver has seen, marks the
  /// new version seen and completes (at once if it already differs, even after every sender is
  /// gone). `RecvError::closed` when every sender is gone and no version is unseen (and for a
  /// moved-from receiver); a later `borrow()` still reads the last value. Cancel-safe: a
  /// cancelled call marks nothing seen and throws `system_error(operation_aborted)`.
  asio::awaitable<Result<void, RecvError>> changed() {
    if (!shared_) co_return RecvError::closed;
    const asio::cancellation_state state = co_await asio::this_coro::cancellation_state;
    if (swarmsync::detail::cancellable(state)) co_await swarmsync::detail::yield_before_take();
    Result<void, RecvError> got = co_await wait_change();
    co_return got;
  }

  /// Waits until `pred(value)` is true and returns a borrow of that value (tokio's `wait_for`):
  /// checks the current value first (even if this receiver has seen it), then each new version,
  /// marking each version it checks seen. `RecvError::closed` once every sender is gone and the
  /// last value fails `pred`. `pred` runs under the shared lock: it must not touch the channel's
  /// sending side. If `pred` throws, the exception propagates with the lock released (the
  /// version it was checking stays seen). Cancel-safe as `changed()`. The returned `Ref` holds
  /// the lock: await this from a coroutine, which gets the `Ref` on its own thread, and let it go
  /// before the next `co_await`.
  template <class Pred>
    requires std::predicate<Pred&, const T&>
  asio::awaitable<Result<Ref<T>, RecvError>> wait_for(Pred pred) {
    if (!shared_) co_return RecvError::closed;
    const asio::cancellation_state state = co_await asio::this_coro::cancellation_state;
    if (swarmsync::detail::cancellable(state)) co_await swarmsync::detail::yield_before_take();
    bool closed = false;
    for (;;) {
      {
        Ref<T> ref = borrow_and_update();
        // After the end, only a version not checked yet is worth checking.
        if (!closed || ref.has_changed()) {
          if (std::invoke(pred, *ref)) {
            Result<Ref<T>, RecvError> found(in_place_value, std::move(ref));
            co_return std::move(found);
          }
        }
      }  // the lock is released here, before any co_await
      if (closed) co_return RecvError::closed;
      const Result<void, RecvError> next = co_await wait_change();
      closed = !next;
    }
  }

  /// Marks the current value unseen: `has_changed()` is true and `changed()` completes at once,
  /// until a version is marked seen again (tokio's `mark_changed`). Nothing for a moved-from
  /// receiver.
  void mark_changed() noexcept { version_ -= detail::version_step; }

  /// Marks the current version seen, without borrowing (tokio's `mark_unchanged`). Nothing for a
  /// moved-from receiver.
  void mark_unchanged() noexcept {
    // Acquire: as `has_changed`; a version read alone.
    if (shared_) version_ = detail::version_of(shared_->state.load(std::memory_order_acquire));
  }

  /// True if both handles belong to the same channel (false if either is moved-from).
  bool same_channel(const Receiver& other) const noexcept { return shared_ && shared_ == other.shared_; }
  bool same_channel(const Sender<T>& other) const noexcept { return shared_ && shared_ == other.shared_; }

 private:
  friend std::pair<Sender<T>, Receiver<T>> channel<T>(T);
  friend class Sender<T>;

  Receiver(std::shared_ptr<detail::Shared<T>> shared, std::uint64_t seen) noexcept
      : shared_(std::move(shared)), version_(seen) {
    // Relaxed: as the copy's; a new receiver reopens the channel, which wakes nobody.
    shared_->receivers.fetch_add(1, std::memory_order_relaxed);
  }
  struct FirstReceiver {};
  Receiver(FirstReceiver, std::shared_ptr<detail::Shared<T>> shared) noexcept : shared_(std::move(shared)) {}

  // The version of the value under the read lock (held by the caller). Relaxed: the version bits
  // change only under the write lock, and acquiring the read lock synchronizes with the last
  // write unlock, so every bump so far happens before this load, which therefore reads the latest
  // (coherence); none can happen while the read lock is held. `closed_bit` may change meanwhile,
  // and is masked off.
  std::uint64_t locked_version() const noexcept {
    return detail::version_of(shared_->state.load(std::memory_order_relaxed));
  }

  // A version to take, or the end: the seq_cst load is the parking side's read (see the header
  // comment), and acquires the closing sender's changes as `has_changed`'s does.
  std::optional<Result<void, RecvError>> poll_change() {
    const std::uint64_t s = shared_->state.load(std::memory_order_seq_cst);
    if (detail::version_of(s) != version_) {
      version_ = detail::version_of(s);
      return Result<void, RecvError>();
    }
    if (s & detail::closed_bit) return Result<void, RecvError>(RecvError::closed);
    return std::nullopt;
  }

  // Something to take: a new version or the end. Reads `version_` from inside the initiation
  // (this receiver's own, which nothing else writes while the receiver waits). seq_cst: the
  // re-read after arming.
  bool change_ready() const noexcept {
    const std::uint64_t s = shared_->state.load(std::memory_order_seq_cst);
    return detail::version_of(s) != version_ || (s & detail::closed_bit);
  }

  // `changed()` without the yield: parks until `poll_change` has something. A wake-up that comes
  // with a cancellation takes nothing (wake, then take).
  asio::awaitable<Result<void, RecvError>> wait_change() {
    for (;;) {
      if (auto got = poll_change()) co_return *got;
      co_await swarmsync::detail::park(shared_->rx_waiters, node(), [this] { return change_ready(); });
      swarmsync::detail::throw_if_cancelled(co_await asio::this_coro::cancellation_state);
    }
  }

  swarmsync::detail::WaitNode& node() {
    if (!node_) node_ = swarmsync::detail::WaitNode::make();
    return *node_;
  }

  // The last receiver wakes the senders in `closed()`. seq_cst, then wake: the changer's half of
  // `closed()`'s protocol (the waiter re-reads the count with seq_cst after arming).
  void leave() noexcept {
    if (auto shared = std::move(shared_)) {
      if (shared->receivers.fetch_sub(1, std::memory_order_seq_cst) == 1) shared->tx_waiters.wake_all();
    }
    if (node_) std::exchange(node_, nullptr)->retire();
  }

  std::shared_ptr<detail::Shared<T>> shared_;
  std::uint64_t version_ = 0;  // the version this receiver has seen
  swarmsync::detail::WaitNode* node_ = nullptr;
};

template <class T>
std::pair<Sender<T>, Receiver<T>> channel(T initial) {
  auto shared = std::make_shared<detail::Shared<T>>(std::move(initial));
  Receiver<T> rx(typename Receiver<T>::FirstReceiver{}, shared);
  return {Sender<T>(std::move(shared)), std::move(rx)};
}

}  // namespace swarmsync::watch
