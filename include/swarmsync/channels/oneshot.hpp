#pragma once
// A oneshot channel: one value from one sender to one receiver. The semantics are those of
// tokio's `sync::oneshot`.
//
//     auto [tx, rx] = swarmsync::oneshot::channel<Reply>();
//     jobs.send(Job{std::move(tx)});                        // the worker answers through `tx`
//     // in the worker:
//     if (auto sent = std::move(job.reply).send(Reply{42}); !sent)
//       log(std::move(sent.error().value));                 // the receiver is gone: the reply comes back
//     // in the caller's coroutine:
//     auto reply = co_await rx.recv();                      // tokio's `rx.await`
//     if (!reply) ...                                       // RecvError::closed: the worker dropped `tx`
//
//     // a sender can wait for the receiver to lose interest:
//     co_await tx.closed();
//
// States. The channel is one atomic word of three bits: `value_sent` (the sender published its
// value), `tx_gone` (the sender is gone, with or without sending) and `rx_closed` (the receiver
// called `close()` or is gone). The value lives inline in the shared state; the sender writes it
// before it sets `value_sent`, and only the receiver touches it afterwards. A send succeeds only if
// it sets `value_sent` while `rx_closed` is clear (one compare-exchange), so a value is either
// delivered or handed back to the sender, never both and never lost. A value sent before
// `close()` stays receivable after it, as in tokio.
//
// Why a lock-free word and not a mutex: every operation is one read-modify-write of that word plus
// at most one wake-up, and both sides may be destroyed concurrently from different threads; a
// mutex would add nothing but a second thing to order. Parking reuses the library's `WaitNode`
// protocol (detail/wait_list.hpp): each side has at most one waiter at a time (the receiver in
// `recv()`, the sender in `closed()`), so each parks in a `SingleWaiter`.
//
// Memory orders. The read-modify-writes of the state word are seq_cst, and so are the loads that
// decide whether to park. This is what the `SingleWaiter` protocol needs for "no lost wake-up":
// the parking side arms its node (seq_cst) and then re-reads the word (seq_cst); the other side
// changes the word (seq_cst) and then reads the node (seq_cst); in the single total order one of
// them sees the other, so either the parker sees the change and does not sleep, or the changer
// sees the armed node and wakes it. The same read-modify-write that sets `value_sent` releases the
// value written before it, and every load of the word that finds `value_sent` acquires it, so the
// receiver reads a fully built value. Queries that decide nothing (`is_closed`, `is_empty`) use
// acquire loads.
//
// Async. `recv()` and `closed()` are awaited from an `asio::awaitable` coroutine on any executor,
// strand or thread. `recv()` is cancel-safe: a cancelled receive (the losing branch of an awaitable
// `||` on a strand or a one-thread context, raced against a timer) consumes nothing; the value
// stays for a later receive. (Without a strand on a multi-threaded context the two branches of
// `||` run at once, and a branch may complete with the value while the other wins: as in mpsc.) As in mpsc,
// a receive whose coroutine can be cancelled yields to its executor once before taking a value
// that is already there (see `yield_before_take`). A cancelled operation throws
// `boost::system::system_error(asio::error::operation_aborted)`.
// `co_await swarmsync::select(rx, other_rx, timer)` (select.hpp) races receives and timers
// loss-free on any executor, a multi-threaded io_context without a strand included: a branch
// that loses consumes nothing.
//
// Handles. Both handles are move-only. Assigning over a handle leaves the channel it held at once,
// as destroying it would; self-move-assignment does nothing. A moved-from sender refuses `send`
// (handing the value back), reports `is_closed()` and completes `closed()` at once; a moved-from
// receiver reports `closed` from every receive.
//
// Thread safety. Each handle is used by one coroutine or thread at a time; the two handles may be
// used, and destroyed, concurrently from any threads. `T` must be nothrow move-constructible.

#include "swarmsync/channels/error.hpp"
#include "swarmsync/detail/block_on.hpp"
#include "swarmsync/detail/wait_list.hpp"


#include <atomic>
#include <memory>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

namespace swarmsync::oneshot {

template <class T>
class Sender;
template <class T>
class Receiver;

namespace detail {

inline constexpr unsigned value_sent = 1;  // the value is in `storage`, for the receiver
inline constexpr unsigned tx_gone = 2;     // the sender is gone (after sending or not)
inline constexpr unsigned rx_closed = 4;   // the receiver closed or is gone: sends fail

template <class T>
struct Shared {
  Shared() = default;
  Shared(const Shared&) = delete;
  Shared& operator=(const Shared&) = delete;
  // The last owner destroys a value that was sent and never taken nor dropped by the receiver
  // (the receiver's own destruction drops it first, so this is only a safety net). The release of
  // the last reference orders every earlier write of both sides before this.
  ~Shared() {
    if ((state.load(std::memory_order_acquire) & value_sent) && !taken) value().~T();
  }

  T& value() noexcept { return *std::launder(reinterpret_cast<T*>(storage)); }

  std::atomic<unsigned> state{0};
  bool taken = false;  // the receiver moved the value out or destroyed it; the receiver's alone
  swarmsync::detail::SingleWaiter rx_waiter;  // the receiver, parked in `recv()`
  swarmsync::detail::SingleWaiter tx_waiter;  // the sender, parked in `closed()`
  alignas(T) unsigned char storage[sizeof(T)];
};

}  // namespace detail

/// Creates a oneshot channel. Allocates its shared state once; nothing else allocates but the
/// first wait of each side (its wait node).
template <class T>
std::pair<Sender<T>, Receiver<T>> channel();

/// The sending half: sends at most one value. Move-only.
template <class T>
class Sender {
  static_assert(std::is_nothrow_move_constructible_v<T>, "swarmsync::oneshot: T must be nothrow move-constructible");

 public:
  Sender(Sender&& other) noexcept
      : shared_(std::move(other.shared_)), node_(std::exchange(other.node_, nullptr)) {}
  /// Leaves the channel held before (as destroying this sender would: the receiver sees `closed`
  /// unless a value was sent) and takes over `other`'s. Self-assignment does nothing.
  Sender& operator=(Sender&& other) noexcept {
    if (this != &other) {
      leave();
      shared_ = std::move(other.shared_);
      node_ = std::exchange(other.node_, nullptr);
    }
    return *this;
  }
  Sender(const Sender&) = delete;
  Sender& operator=(const Sender&) = delete;
  /// Without a send, the receiver sees `RecvError::closed` (and is woken if parked).
  ~Sender() { leave(); }

  /// Sends `value` without waiting, consuming the sender. Succeeds if the receiver has not closed
  /// and is not gone: the receiver gets the value. Otherwise returns `SendError` holding the very
  /// value. Never blocks; a moved-from sender refuses.
  Result<void, SendError<T>> send(T value) && {
    auto shared = std::move(shared_);
    if (!shared) return SendError<T>{std::move(value)};
    ::new (static_cast<void*>(shared->storage)) T(std::move(value));
    // Publish the value unless the receiver closed first. seq_cst: the release half publishes
    // the value; the total order pairs with the receiver's park (see the header comment).
    unsigned s = shared->state.load(std::memory_order_relaxed);
    for (;;) {
      if (s & detail::rx_closed) {
        // Refused: the value was never published, so it is still this side's alone.
        Result<void, SendError<T>> refused = SendError<T>{std::move(shared->value())};
        shared->value().~T();
        shared->state.fetch_or(detail::tx_gone, std::memory_order_seq_cst);
        retire_node();
        return refused;
      }
      if (shared->state.compare_exchange_weak(s, s | detail::value_sent | detail::tx_gone, std::memory_order_seq_cst,
                                              std::memory_order_relaxed))
        break;
    }
    shared->rx_waiter.wake_all();
    retire_node();
    return {};
  }

  /// True once the receiver called `close()` or is gone (a send would fail), and for a moved-from
  /// sender. Does not wait.
  bool is_closed() const noexcept {
    return !shared_ || (shared_->state.load(std::memory_order_acquire) & detail::rx_closed);
  }

  /// Completes once the receiver has closed or is gone (at once if it already has, or if this
  /// sender is moved-from). Cancelled, it throws `system_error(operation_aborted)`; it can be
  /// awaited again. One coroutine at a time per sender.
  asio::awaitable<void> closed() {
    for (;;) {
      if (closed_now()) co_return;
      co_await swarmsync::detail::park(shared_->tx_waiter, node(), [this] { return closed_now(); });
      swarmsync::detail::throw_if_cancelled(co_await asio::this_coro::cancellation_state);
    }
  }

 private:
  friend std::pair<Sender<T>, Receiver<T>> channel<T>();
  explicit Sender(std::shared_ptr<detail::Shared<T>> shared) noexcept : shared_(std::move(shared)) {}

  // seq_cst: the re-read after parking (see the header comment).
  bool closed_now() const noexcept {
    return !shared_ || (shared_->state.load(std::memory_order_seq_cst) & detail::rx_closed);
  }

  swarmsync::detail::WaitNode& node() {
    if (!node_) node_ = swarmsync::detail::WaitNode::make();
    return *node_;
  }

  void retire_node() noexcept {
    if (node_) std::exchange(node_, nullptr)->retire();
  }

  // Gone without sending: the receiver sees the end. seq_cst, then wake: the changer's half of
  // the protocol.
  void leave() noexcept {
    if (auto shared = std::move(shared_)) {
      shared->state.fetch_or(detail::tx_gone, std::memory_order_seq_cst);
      shared->rx_waiter.wake_all();
    }
    retire_node();
  }

  std::shared_ptr<detail::Shared<T>> shared_;
  swarmsync::detail::WaitNode* node_ = nullptr;
};

/// The receiving half: receives at most one value. Move-only; one coroutine at a time.
/// tokio's `rx.await` is `co_await rx.recv()` (an `asio::awaitable` coroutine awaits only
/// awaitables and Asio operations, not an arbitrary object).
template <class T>
class Receiver {
  static_assert(std::is_nothrow_move_constructible_v<T>, "swarmsync::oneshot: T must be nothrow move-constructible");

 public:
  Receiver(Receiver&& other) noexcept
      : shared_(std::move(other.shared_)), node_(std::exchange(other.node_, nullptr)) {}
  /// Leaves the channel held before (as destroying this receiver would: the sender sees it
  /// closed and an unreceived value is destroyed) and takes over `other`'s. Self-assignment does
  /// nothing.
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
  /// Closes the channel (the sender's `closed()` completes) and destroys a value that was sent
  /// and not received, at once.
  ~Receiver() { leave(); }

  /// Waits for the value. `RecvError::closed` if the sender went away without sending, if the
  /// receiver was closed before a value was sent, or if the value was already received.
  /// Cancel-safe: a cancelled call takes nothing and throws `system_error(operation_aborted)`.
  asio::awaitable<Result<T, RecvError>> recv() {
    const asio::cancellation_state state = co_await asio::this_coro::cancellation_state;
    if (swarmsync::detail::cancellable(state)) co_await swarmsync::detail::yield_before_take();
    for (;;) {
      auto got = try_recv();
      if (got) co_return Result<T, RecvError>(in_place_value, std::move(*got));
      if (got.error() == TryRecvError::closed) co_return RecvError::closed;
      co_await swarmsync::detail::park(shared_->rx_waiter, node(), [this] { return ready(); });
      swarmsync::detail::throw_if_cancelled(co_await asio::this_coro::cancellation_state);
    }
  }

  /// Waits, consuming nothing, until a receive would complete without waiting: the value is there
  /// or none will come (`closed`; at once for a moved-from receiver). Completes `token` (default:
  /// awaited, `co_await rx.wait_ready()`) with `void(error_code)`: no error then, or
  /// `operation_aborted` when cancelled (cancel-safe on any executor: nothing is taken either
  /// way). The receiver stays ready until it is received from, so a `try_recv` after it returns
  /// the value or `closed`. One wait or receive at a time; `swarmsync::select` builds on it.
  template <class CompletionToken = asio::deferred_t>
  auto wait_ready(CompletionToken&& token = CompletionToken()) {
    return swarmsync::detail::async_wait_ready(shared_ ? &shared_->rx_waiter : nullptr, node(),
                                               [this] { return ready(); }, std::forward<CompletionToken>(token));
  }

  /// Receives from a plain thread outside Asio: as `recv()`, waiting with the thread blocked.
  /// Throws `std::logic_error` when called from a thread that runs an Asio execution context (the
  /// sender may need that very thread: await `recv` there).
  Result<T, RecvError> blocking_recv() {
    swarmsync::detail::refuse_in_asio_context("swarmsync::oneshot::Receiver::blocking_recv");
    auto got = try_recv();
    if (got) return Result<T, RecvError>(in_place_value, std::move(*got));
    if (got.error() == TryRecvError::closed) return RecvError::closed;
    return swarmsync::detail::block_on(recv(), "swarmsync::oneshot::Receiver::blocking_recv");
  }

  /// Takes the value if it is there now. `empty` while the sender may still send; `closed` when
  /// no value will come (see `recv()`). Never waits.
  Result<T, TryRecvError> try_recv() {
    if (!shared_ || shared_->taken) return TryRecvError::closed;
    // seq_cst: it is also the parker's re-read; acquires the value when `value_sent` is set.
    const unsigned s = shared_->state.load(std::memory_order_seq_cst);
    if (s & detail::value_sent) {
      Result<T, TryRecvError> got(in_place_value, std::move(shared_->value()));
      shared_->value().~T();
      shared_->taken = true;
      return got;
    }
    if (s & (detail::tx_gone | detail::rx_closed)) return TryRecvError::closed;
    return TryRecvError::empty;
  }

  /// Refuses the send from now on (`send` hands its value back) and completes the sender's
  /// `closed()`. A value sent before stays receivable. Idempotent; does not wait.
  void close() noexcept {
    if (!shared_) return;
    shared_->state.fetch_or(detail::rx_closed, std::memory_order_seq_cst);
    shared_->tx_waiter.wake_all();
  }

  /// True once no new value can come: a value was sent, the sender is gone or the receiver
  /// closed (as tokio's). Also true for a moved-from receiver.
  bool is_closed() const noexcept {
    return !shared_ || shared_->taken || (shared_->state.load(std::memory_order_acquire) != 0);
  }

  /// True unless a value is there to take now.
  bool is_empty() const noexcept {
    return !shared_ || shared_->taken || !(shared_->state.load(std::memory_order_acquire) & detail::value_sent);
  }

 private:
  friend std::pair<Sender<T>, Receiver<T>> channel<T>();
  explicit Receiver(std::shared_ptr<detail::Shared<T>> shared) noexcept : shared_(std::move(shared)) {}

  // Something to do: the value, or the end. seq_cst: the parker's re-read.
  bool ready() const noexcept { return shared_->state.load(std::memory_order_seq_cst) != 0; }

  swarmsync::detail::WaitNode& node() {
    if (!node_) node_ = swarmsync::detail::WaitNode::make();
    return *node_;
  }

  // Closes; destroys an unreceived value. The value is the receiver's alone once `value_sent`
  // is set (the sender never touches it again), and the acq half of the RMW sees it built.
  void leave() noexcept {
    if (auto shared = std::move(shared_)) {
      const unsigned prev = shared->state.fetch_or(detail::rx_closed, std::memory_order_seq_cst);
      shared->tx_waiter.wake_all();
      if ((prev & detail::value_sent) && !shared->taken) {
        shared->value().~T();
        shared->taken = true;
      }
    }
    if (node_) std::exchange(node_, nullptr)->retire();
  }

  std::shared_ptr<detail::Shared<T>> shared_;
  swarmsync::detail::WaitNode* node_ = nullptr;
};

template <class T>
std::pair<Sender<T>, Receiver<T>> channel() {
  auto shared = std::make_shared<detail::Shared<T>>();
  Receiver<T> rx(shared);
  return {Sender<T>(std::move(shared)), std::move(rx)};
}

}  // namespace swarmsync::oneshot
