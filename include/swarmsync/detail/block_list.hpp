#pragma once
// The storage of an mpsc channel: a lock-free, unbounded, multi-producer single-consumer queue
// made of linked blocks of 32 slots (the design of tokio's mpsc `list.rs`).
//
// Producers claim an index with one fetch_add on `tail_position_`, find the block that holds it
// (walking from `block_tail_`, appending blocks when needed), construct the value in its slot and
// set the slot's bit in the block's `ready` word. The single consumer reads slots in index order;
// a slot is readable when its bit is set. The queue is FIFO in claim order, hence FIFO per
// producer and linearizable as a whole.
//
// Closing, in two steps, each one fetch_or on a top bit of `tail_position_`. `begin_close` sets
// the `closing` bit: ordinary pushes are refused from then on, pushes with a reservation
// (`permitted`) still go in. `close` sets the `closed` bit: every push is refused, and the value
// it returns is the exact number of slots claimed before it. A producer that checks the bits
// before claiming is refused without claiming anything; one that claimed at the same time learns
// it from the claim itself (the bits are in the value its fetch_add returns), marks its slot as a
// tombstone instead of writing, and gets its value back. The consumer skips tombstones. So every
// value is either accepted (and will be received) or handed back: none is lost in between.
//
// Memory orders, and why:
// - The value is written before the `ready` bit is set with a release RMW; the consumer reads
//   `ready` with acquire before touching the value.
// - A new block's fields are written before it is published by a CAS on `next` (seq_cst, which
//   includes release); producers walking the list read `next` with acquire.
// - Reclaiming. A producer may still hold a pointer to a block it loaded from `block_tail_`. When
//   a producer moves `block_tail_` past a full block B (seq_cst CAS), it then reads
//   `tail_position_` (seq_cst) into B.observed_tail and sets B.released (release). The consumer
//   reuses B only when B is released and it has consumed every index below B.observed_tail. Any
//   producer that loaded B from `block_tail_` did its claiming fetch_add before that load, and the
//   load came before the CAS that released B, so in the seq_cst order its claim precedes the read
//   of observed_tail: its index is below observed_tail, and the consumer cannot pass that index
//   before the producer has written its value, its last access to any block.
// - No lost wake-up (wait_list.hpp). The consumer, after arming its node (a seq_cst RMW), decides
//   "nothing to take" only from seq_cst loads: the head block's `ready` word, the head block's
//   `next` link (when the head index has moved into a block not linked yet) and `tail_position_`
//   (the closed bit). A producer's publishing writes are seq_cst too: the RMW that sets a `ready`
//   bit, the CAS that links a new block, and the closing fetch_or. So in the single total order of
//   seq_cst operations either the consumer's load comes after the producer's write and sees it,
//   or it comes before, and then the consumer's arming precedes the producer's seq_cst read of the
//   waiter, which sees the node armed and wakes it. An acquire load there would not be in that
//   order, and the C++ model would allow it to miss the write and the waker to miss the node.
//
// Memory: blocks are recycled. A consumed block is appended after the tail for reuse, at most a
// few blocks deep; beyond that it is freed, so memory after a burst returns to a few blocks.
// Overhead per queued value: the block header (~48 bytes) shared by 32 slots.
//
// Layout. The `ready` word is the block's most written field: every send sets a bit in it, and the
// consumer reads it at every value. It sits after the slots, away from `start` and `next`, which
// every send reads to find its block: beside them, each send's read-modify-write would take the
// line away from the other producers, and their next read of `start` would wait for it to come back.
//
// Values must be nothrow move-constructible: a claimed slot is always filled.

#include "swarmsync/detail/wait_list.hpp"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <optional>
#include <type_traits>

namespace swarmsync::detail {

template <class T>
class BlockList {
  static_assert(std::is_nothrow_move_constructible_v<T>,
                "swarmsync mpsc channels need a nothrow move-constructible value type");

 public:
  static constexpr std::uint64_t block_capacity = 32;

  BlockList() {
    Block* first = new Block(0);
    block_tail_.store(first, std::memory_order_relaxed);
    head_block_ = first;
    free_head_ = first;
  }

  BlockList(const BlockList&) = delete;
  BlockList& operator=(const BlockList&) = delete;

  ~BlockList() {
    Block* b = free_head_;
    while (b) {
      Block* next = b->next.load(std::memory_order_acquire);
      const std::uint64_t ready = b->ready.load(std::memory_order_acquire);
      for (std::uint64_t i = 0; i < block_capacity; ++i) {
        if (b->start + i >= head_index_ && (ready & (std::uint64_t{1} << i))) b->slot(i)->~T();
      }
      delete b;
      b = next;
    }
  }

  /// Appends a value, or leaves it in `value` and returns false if the queue is closed (or, unless
  /// `permitted`, closing). Any thread; never blocks.
  bool push(T& value, bool permitted = false) noexcept {
    const std::uint64_t refused = permitted ? closed_bit : (closed_bit | closing_bit);
    if (tail_position_.load(std::memory_order_relaxed) & refused) return false;
    const std::uint64_t claimed = tail_position_.fetch_add(1, std::memory_order_seq_cst);
    const std::uint64_t index = claimed & index_mask;
    Block* b = find_block(index);
    const std::uint64_t offset = index & slot_mask;
    if (offset == 0) note_high_water(index + 1);
    if (claimed & refused) {
      b->ready.fetch_or(std::uint64_t{1} << (offset + block_capacity), std::memory_order_seq_cst);
      return false;
    }
    ::new (static_cast<void*>(b->storage[offset].bytes)) T(std::move(value));
    b->ready.fetch_or(std::uint64_t{1} << offset, std::memory_order_seq_cst);
    return true;
  }

  /// Refuses ordinary pushes from now on; pushes that are `permitted` still go in. Idempotent.
  void begin_close() noexcept { tail_position_.fetch_or(closing_bit, std::memory_order_seq_cst); }

  /// Refuses every push from now on. Returns the number of slots claimed before, or `not_closed`
  /// if the queue was closed already. Idempotent.
  std::uint64_t close() noexcept {
    const std::uint64_t before = tail_position_.fetch_or(closing_bit | closed_bit, std::memory_order_seq_cst);
    return (before & closed_bit) ? not_closed : (before & index_mask);
  }

  /// What `close` returns when the queue was closed already.
  static constexpr std::uint64_t not_closed = ~std::uint64_t{0};

  /// True once `begin_close()` or `close()` was called: ordinary pushes are refused.
  /// seq_cst: usable after parking (see the header comment).
  bool is_closed() const noexcept {
    return tail_position_.load(std::memory_order_seq_cst) & (closing_bit | closed_bit);
  }

  /// True once `close()` was called: every push is refused. seq_cst, as `is_closed`.
  bool is_fully_closed() const noexcept { return tail_position_.load(std::memory_order_seq_cst) & closed_bit; }

  /// True when some send has claimed the slot at the head (its value may still be being
  /// written, or it is a refused send's tombstone not marked yet). Consumer only.
  bool head_claimed() const noexcept {
    return (tail_position_.load(std::memory_order_seq_cst) & index_mask) > head_index_;
  }

  /// Index of the next value the consumer will take (= number of slots consumed). Consumer only.
  std::uint64_t head_index() const noexcept { return head_index_; }

  /// Takes the oldest value if it is ready. Consumer only.
  std::optional<T> pop() noexcept {
    if (!ready_at_head()) return std::nullopt;
    const std::uint64_t offset = head_index_ & slot_mask;
    T* p = head_block_->slot(offset);
    std::optional<T> out(std::move(*p));
    p->~T();
    ++head_index_;
    head_position_.store(head_index_, std::memory_order_release);
    return out;
  }

  /// True when the value at the head is ready (seq_cst: usable after parking). Skips the
  /// tombstones of refused sends. Consumer only.
  bool ready_at_head() noexcept {
    for (;;) {
      const std::uint64_t start = head_index_ & ~slot_mask;
      while (head_block_->start != start) {
        // seq_cst: this load may decide "not ready" after parking (see the header comment).
        Block* next = head_block_->next.load(std::memory_order_seq_cst);
        if (!next) return false;
        head_block_ = next;
        reclaim_blocks();
      }
      const std::uint64_t offset = head_index_ & slot_mask;
      const std::uint64_t word = head_block_->ready.load(std::memory_order_seq_cst);
      if (word & (std::uint64_t{1} << offset)) return true;
      if (!(word & (std::uint64_t{1} << (offset + block_capacity)))) return false;
      ++head_index_;  // a tombstone: no value was written there
      head_position_.store(head_index_, std::memory_order_release);
    }
  }

  /// Slots ever claimed (values accepted, plus the rare sends refused while the queue closed).
  std::uint64_t claimed() const noexcept { return tail_position_.load(std::memory_order_acquire) & index_mask; }

  /// Slots the consumer has passed: values taken (plus skipped refusals).
  std::uint64_t consumed() const noexcept { return head_position_.load(std::memory_order_acquire); }

  /// Values claimed by producers and not yet taken (includes values being written). Any thread.
  std::size_t size() const noexcept {
    const std::uint64_t head = head_position_.load(std::memory_order_acquire);
    const std::uint64_t tail = tail_position_.load(std::memory_order_acquire) & index_mask;
    return tail > head ? static_cast<std::size_t>(tail - head) : 0;
  }

  /// The most values the queue has held at once, to within about a block: a producer measures
  /// the depth each time its claim opens a block (one claim in 32), and each call of this
  /// function measures it too. The producer reads the receiver's position just after its claim,
  /// so the result is at most 31 below the true peak plus the values received in between (none
  /// while nothing is received; a few under concurrent receives, more if the producer is
  /// preempted there). Reading the position before every claim would make it exact at the cost
  /// of a contended load on every send. Counts claims as `size()` does (a value still being
  /// written counts). Any thread.
  std::size_t high_water() const noexcept {
    const std::size_t now = size();
    raise_high_water(now);
    return static_cast<std::size_t>(high_water_.load(std::memory_order_relaxed));
  }


 private:
  static constexpr std::uint64_t slot_mask = block_capacity - 1;
  static constexpr std::uint64_t all_ready = (std::uint64_t{1} << block_capacity) - 1;
  static constexpr std::uint64_t closed_bit = std::uint64_t{1} << 63;
  static constexpr std::uint64_t closing_bit = std::uint64_t{1} << 62;
  static constexpr std::uint64_t index_mask = closing_bit - 1;
  static constexpr int max_recycle_depth = 3;

  struct Block {
    explicit Block(std::uint64_t s) : start(s) {}
    std::uint64_t start;  // index of slot 0; written before the block is published
    std::atomic<Block*> next{nullptr};
    std::atomic<std::uint64_t> observed_tail{0};
    std::atomic<bool> released{false};
    struct Storage {
      alignas(T) unsigned char bytes[sizeof(T)];
    } storage[block_capacity];
    std::atomic<std::uint64_t> ready{0};  // after the slots, on another line than `start` (see Layout)
    T* slot(std::uint64_t i) noexcept { return std::launder(reinterpret_cast<T*>(storage[i].bytes)); }
  };

  static_assert(offsetof(Block, ready) - offsetof(Block, start) >= 64, "see Layout in the header comment");

  Block* find_block(std::uint64_t index) noexcept {
    const std::uint64_t start = index & ~slot_mask;
    Block* b = block_tail_.load(std::memory_order_seq_cst);
    bool may_advance = true;
    while (b->start != start) {
      Block* next = b->next.load(std::memory_order_acquire);
      if (!next) next = grow(b);
      const std::uint64_t word = b->ready.load(std::memory_order_acquire);
      if (may_advance && ((word | (word >> block_capacity)) & all_ready) == all_ready) {
        Block* expected = b;
        if (block_tail_.compare_exchange_strong(expected, next, std::memory_order_seq_cst,
                                                std::memory_order_relaxed)) {
          b->observed_tail.store(tail_position_.load(std::memory_order_seq_cst) & index_mask,
                                 std::memory_order_relaxed);
          b->released.store(true, std::memory_order_release);
        } else {
          may_advance = false;
        }
      } else {
        may_advance = false;
      }
      b = next;
    }
    return b;
  }

  Block* grow(Block* b) noexcept {
    Block* fresh = new Block(b->start + block_capacity);
    Block* expected = nullptr;
    // seq_cst: a publishing write of the wake-up protocol (see the header comment).
    if (b->next.compare_exchange_strong(expected, fresh, std::memory_order_seq_cst, std::memory_order_acquire))
      return fresh;
    delete fresh;
    return expected;
  }

  // Keeps the depth reached by the claims up to `claimed_through` if it is the highest yet.
  // Relaxed: the mark is a statistic; no other memory is published through it or read after it.
  void note_high_water(std::uint64_t claimed_through) const noexcept {
    const std::uint64_t head = head_position_.load(std::memory_order_relaxed);
    raise_high_water(claimed_through > head ? claimed_through - head : 0);
  }

  void raise_high_water(std::uint64_t depth) const noexcept {
    std::uint64_t seen = high_water_.load(std::memory_order_relaxed);
    while (depth > seen && !high_water_.compare_exchange_weak(seen, depth, std::memory_order_relaxed)) {
    }
  }

  void reclaim_blocks() noexcept {
    while (free_head_ != head_block_) {
      if (!free_head_->released.load(std::memory_order_acquire)) return;
      if (free_head_->observed_tail.load(std::memory_order_relaxed) > head_index_) return;
      Block* next = free_head_->next.load(std::memory_order_acquire);
      recycle(free_head_);
      free_head_ = next;
    }
  }

  // Appends a consumed block after the current tail for reuse, or frees it.
  void recycle(Block* b) noexcept {
    b->ready.store(0, std::memory_order_relaxed);
    b->next.store(nullptr, std::memory_order_relaxed);
    b->observed_tail.store(0, std::memory_order_relaxed);
    b->released.store(false, std::memory_order_relaxed);
    Block* cur = block_tail_.load(std::memory_order_acquire);
    for (int depth = 0; depth < max_recycle_depth; ++depth) {
      b->start = cur->start + block_capacity;
      Block* expected = nullptr;
      // seq_cst: a publishing write of the wake-up protocol (see the header comment).
      if (cur->next.compare_exchange_strong(expected, b, std::memory_order_seq_cst, std::memory_order_acquire))
        return;
      cur = expected;
    }
    delete b;
  }

  // Producers.
  alignas(64) std::atomic<std::uint64_t> tail_position_{0};
  alignas(64) std::atomic<Block*> block_tail_{nullptr};
  mutable std::atomic<std::uint64_t> high_water_{0};  // read once a block by producers, written when it rises
  // Consumer.
  alignas(64) Block* head_block_ = nullptr;
  Block* free_head_ = nullptr;
  std::uint64_t head_index_ = 0;
  std::atomic<std::uint64_t> head_position_{0};
};

}  // namespace swarmsync::detail
