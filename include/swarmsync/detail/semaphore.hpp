#pragma once
// The room of a bounded mpsc channel: a counting semaphore that serves waiting acquirers in the
// order they asked (FIFO), hands each freed permit to at most one of them, and takes no lock
// while nobody waits.
//
// State: `permits_`, the free room nobody was handed yet, and a FIFO list of parked acquirers
// (`Waiter`s, each in its acquiring coroutine's frame) guarded by `mutex_`. `waiting_` is true
// while the list may be non-empty.
//
// - Fast path (`try_acquire`): when nobody waits, one CAS on `permits_`. While somebody waits it
//   fails, so a newcomer queues behind the waiters instead of overtaking them.
// - Release: `permits_ += n`, then, if somebody waits, lock and hand permits to the waiters at
//   the front, each as many as it asked for (one, or `n` for a `reserve_many`), waking each one
//   served in full (and no other). The front waiter collects its permits as they are freed and
//   nobody behind it is served before it has them all, so two waiters asking for many never hold
//   part of the room each and wait for each other.
// - A parked acquirer (`enqueue`, under the lock): links itself at the back, sets `waiting_`, and
//   serves the front of the list from `permits_` (it may be served itself at once).
// - No lost permit: the releaser writes `permits_` then reads `waiting_`; the acquirer writes
//   `waiting_` then reads `permits_`, all seq_cst. In their single total order one of the two
//   reads sees the other's write: either the releaser sees a waiter and serves it under the lock,
//   or the acquirer sees the permit and serves itself.
// - Leaving (`leave`, under the lock): a waiter that goes (cancelled, or its frame destroyed)
//   unlinks itself at once, so the list holds only acquirers waiting now; one that had been
//   handed a permit it will not use gives it back, and so passes it to the next waiter.
// - `close()` wakes every waiter, unserved; later acquirers fail at once.
//
// A barging window remains, and it is harmless: an acquirer that read `waiting_ == false` just
// before a waiter linked itself may take the next freed permit ahead of that waiter; it asked
// first. A waiter is never overtaken by an acquirer that asked after it parked, so none starves.

#include "swarmsync/detail/wait_list.hpp"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <utility>

namespace swarmsync::detail {

class Semaphore {
 public:
  /// The most permits a semaphore holds: room for any count of releases in flight.
  static constexpr std::size_t max_permits = std::size_t{1} << 60;

  /// One parked acquirer. Lives in the acquirer's coroutine frame; every field is guarded by the
  /// semaphore's mutex.
  struct Waiter {
    WaitNode* node = nullptr;
    Waiter* prev = nullptr;
    Waiter* next = nullptr;
    std::int64_t wanted = 1;  // permits asked for
    std::int64_t held = 0;    // permits handed so far, which it now owns
    bool queued = false;      // on the list now
    bool assigned = false;    // handed all it wanted
  };

  /// `permits` must be at most `max_permits`.
  explicit Semaphore(std::size_t permits) noexcept : permits_(static_cast<std::int64_t>(permits)) {}

  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;

  /// Takes `n` permits if that many are free and nobody waits for any. Lock-free.
  bool try_acquire(std::int64_t n = 1) noexcept {
    // acquire: pairs with the release of the store that cleared `waiting_`. Not part of the
    // no-lost-permit argument (a stale `true` only sends the caller to the slow path).
    if (waiting_.load(std::memory_order_acquire)) return false;
    std::int64_t p = permits_.load(std::memory_order_relaxed);
    while (p >= n) {
      // acq_rel: the taker's later use of the room (writing a slot) is ordered after the release
      // that freed it (the receiver moving the old value out).
      if (permits_.compare_exchange_weak(p, p - n, std::memory_order_acq_rel, std::memory_order_relaxed))
        return true;
    }
    return false;
  }

  /// Gives back `n` permits and serves waiters with them, first come first served.
  void release(std::int64_t n) {
    // seq_cst on both: the releaser's store-then-load of the protocol (see the header comment).
    permits_.fetch_add(n, std::memory_order_seq_cst);
    if (!waiting_.load(std::memory_order_seq_cst)) return;
    std::lock_guard lock(mutex_);
    serve_locked();
  }

  /// Wakes every waiter without a permit; later `enqueue`s do not wait. Idempotent.
  void close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    while (Waiter* w = head_) {
      unlink_locked(*w);
      wake_locked(*w);
    }
  }

  /// Parks `w` at the back of the list (unless it is already there, served, or the semaphore is
  /// closed) and serves the front. Called from `park` (the wait's initiation), with `w.node`
  /// installed; arms the node first and returns the wait's generation.
  WaitNode::State enqueue(Waiter& w) {
    const WaitNode::State generation = w.node->arm_state();
    std::lock_guard lock(mutex_);
    if (!w.queued && !w.assigned && !closed_) {
      w.prev = tail_;
      w.next = nullptr;
      (tail_ ? tail_->next : head_) = &w;
      tail_ = &w;
      w.queued = true;
      queued_.store(queued_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      // seq_cst: the acquirer's store-then-load of the protocol; `serve_locked` loads `permits_`.
      waiting_.store(true, std::memory_order_seq_cst);
    }
    serve_locked();
    return generation;
  }

  /// After a wake-up: 1 if `w` owns all the permits it asked for now, -1 if the semaphore is
  /// closed (and `w` was not served in full: `leave` gives back what it holds), 0 if it must wait
  /// again.
  int poll(const Waiter& w) {
    std::lock_guard lock(mutex_);
    if (w.assigned) return 1;
    return closed_ ? -1 : 0;
  }

  /// `w` leaves: unlinked if still queued; the permits it was handed (all, or part while it was
  /// at the front) and does not `keep` go to the next waiter (or back to the free room).
  void leave(Waiter& w, bool keep) {
    std::unique_lock lock(mutex_);
    if (w.queued) unlink_locked(w);
    if (w.held > 0 && !(keep && w.assigned)) {
      const std::int64_t n = std::exchange(w.held, 0);
      w.assigned = false;
      permits_.fetch_add(n, std::memory_order_seq_cst);
      serve_locked();
    }
  }

  /// The list as `park` needs it: `arm` parks this waiter.
  struct Queue {
    Semaphore& semaphore;
    Waiter& waiter;
    WaitNode::State arm(WaitNode&) { return semaphore.enqueue(waiter); }
  };

  /// Free permits now (for introspection; racy by nature).
  std::int64_t available() const noexcept { return permits_.load(std::memory_order_relaxed); }

  /// Acquirers parked now (for introspection; written under the lock, read without it).
  std::size_t waiting() const noexcept { return queued_.load(std::memory_order_relaxed); }

 private:
  // Hands free permits to the waiters at the front, in order, each as many as it asked for; the
  // front waiter keeps what it collected while it waits for the rest.
  void serve_locked() {
    while (Waiter* w = head_) {
      // seq_cst load: the acquirer's "then load" of the protocol when called from `enqueue`.
      std::int64_t p = permits_.load(std::memory_order_seq_cst);
      std::int64_t took = 0;
      while (p > 0 && took == 0) {
        const std::int64_t want = std::min(p, w->wanted - w->held);
        if (permits_.compare_exchange_weak(p, p - want, std::memory_order_acq_rel, std::memory_order_relaxed))
          took = want;
      }
      w->held += took;
      if (w->held < w->wanted) return;
      unlink_locked(*w);
      w->assigned = true;
      wake_locked(*w);
    }
  }

  void unlink_locked(Waiter& w) noexcept {
    (w.prev ? w.prev->next : head_) = w.next;
    (w.next ? w.next->prev : tail_) = w.prev;
    w.prev = w.next = nullptr;
    w.queued = false;
    queued_.store(queued_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
    // release: a fast-path acquirer that reads `false` sees the list as it is now.
    if (!head_) waiting_.store(false, std::memory_order_release);
  }

  // Completes the waiter's wait if it is still armed. The waiter's frame and node stay alive
  // meanwhile: its coroutine, even if resumed at once, must take the lock (`poll`, `leave`) before
  // it can retire the node.
  static void wake_locked(Waiter& w) {
    if (w.node->try_disarm()) w.node->complete({});
  }

  alignas(64) std::atomic<std::int64_t> permits_;
  std::atomic<bool> waiting_{false};
  std::mutex mutex_;
  Waiter* head_ = nullptr;
  Waiter* tail_ = nullptr;
  bool closed_ = false;
  std::atomic<std::size_t> queued_{0};
};

}  // namespace swarmsync::detail
