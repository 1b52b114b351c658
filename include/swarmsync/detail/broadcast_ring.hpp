#pragma once
// The storage of a broadcast channel: a ring of slots, each value stored once, read by every
// receiver through its own cursor (Disruptor style: no shared tail lock, no per-receiver copy).
//
// Positions count sends from 0. Position p lives in slot p & mask. A slot's `seq` says what it
// holds: 0 = never written, 2p+1 = position p is being written, 2p+2 = position p is published.
//
// Senders claim a position with one fetch_add on `tail`. Before writing position p into its slot
// a sender waits for position p - capacity to be published there (a sender a whole lap behind,
// rare and brief), marks the slot as being written, and waits for the receivers that are copying
// the old value out of it to finish. A receiver pins a slot (`readers` + 1), re-checks `seq`, and
// copies. The two sides use the store-then-load pattern on (`seq`, `readers`) with seq_cst, so
// either the sender sees the pin and waits, or the receiver sees the write mark and backs off: a
// value is never overwritten while it is copied. No mutex is taken anywhere.
//
// Progress: a receive never waits for anything (it copies, or reports empty or lagged). A send
// never waits for a receiver to catch up; it may spin for the duration of one copy of T while a
// receiver is copying the oldest value out of the slot being overwritten, or for a concurrent
// sender a whole lap behind to finish its write. For every T this is blocking only for the length
// of a copy, never for a receiver's progress; it is not lock-free in the strict sense.

#include "swarmsync/detail/wait_list.hpp"

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <type_traits>

namespace swarmsync::detail {

template <class T>
class BroadcastRing {
 public:
  /// The outcome of one attempt to read a position.
  enum class Read { value, empty, lagged };

  explicit BroadcastRing(std::size_t requested) : capacity_(round_capacity(requested)), mask_(capacity_ - 1) {
    slots_ = std::make_unique<Slot[]>(capacity_);
  }

  BroadcastRing(const BroadcastRing&) = delete;
  BroadcastRing& operator=(const BroadcastRing&) = delete;

  ~BroadcastRing() {
    for (std::size_t i = 0; i < capacity_; ++i) {
      const std::uint64_t s = slots_[i].seq.load(std::memory_order_acquire);
      if (s != 0 && s % 2 == 0) slots_[i].value()->~T();
    }
  }

  /// Capacity rounded up to the next power of two (at least 1).
  static std::size_t round_capacity(std::size_t requested) {
    if (requested == 0) throw std::invalid_argument("swarmsync::broadcast::channel: capacity must be > 0");
    if (requested > (std::size_t{1} << 40))
      throw std::invalid_argument("swarmsync::broadcast::channel: capacity too large");
    return std::bit_ceil(requested);
  }

  std::size_t capacity() const noexcept { return capacity_; }

  /// Next position to be claimed = number of values sent so far.
  std::uint64_t tail() const noexcept { return tail_.load(std::memory_order_seq_cst); }

  /// Writes `value` at the next position and publishes it. Returns the position.
  template <class U>
  std::uint64_t write(U&& value) {
    const std::uint64_t pos = tail_.fetch_add(1, std::memory_order_seq_cst);
    Slot& slot = slots_[pos & mask_];
    const std::uint64_t previous = pos >= capacity_ ? published(pos - capacity_) : 0;
    Backoff backoff;
    while (slot.seq.load(std::memory_order_acquire) != previous) backoff.pause();
    slot.seq.store(published(pos) - 1, std::memory_order_seq_cst);
    while (slot.readers.load(std::memory_order_seq_cst) != 0) backoff.pause();
    if (pos >= capacity_) slot.value()->~T();
    ::new (static_cast<void*>(slot.storage)) T(std::forward<U>(value));
    slot.seq.store(published(pos), std::memory_order_seq_cst);
    return pos;
  }

  /// Tries to copy position `pos` into `out`. On `lagged`, `pos` already moved on: `out_skipped`
  /// tells how many positions were lost and `pos` is the oldest position the ring may still hold.
  Read read(std::uint64_t& pos, std::optional<T>& out, std::uint64_t& out_skipped) {
    Slot& slot = slots_[pos & mask_];
    std::uint64_t s = slot.seq.load(std::memory_order_acquire);
    if (s == published(pos)) {
      slot.readers.fetch_add(1, std::memory_order_seq_cst);
      s = slot.seq.load(std::memory_order_seq_cst);
      if (s == published(pos)) {
        out.emplace(*slot.value());
        slot.readers.fetch_sub(1, std::memory_order_release);
        ++pos;
        return Read::value;
      }
      slot.readers.fetch_sub(1, std::memory_order_release);
    }
    if (s < published(pos)) return Read::empty;
    // Overwritten (or being overwritten) by position pos + k*capacity: resume at the oldest
    // position that the ring can still hold.
    const std::uint64_t oldest = tail() - capacity_;
    out_skipped = oldest - pos;
    pos = oldest;
    return Read::lagged;
  }

  /// True when reading `pos` would not report empty (a value or a lag is there).
  bool readable(std::uint64_t pos) const noexcept {
    return slots_[pos & mask_].seq.load(std::memory_order_seq_cst) >= published(pos);
  }

 private:
  static constexpr std::uint64_t published(std::uint64_t pos) noexcept { return 2 * pos + 2; }

  struct alignas(64) Slot {
    std::atomic<std::uint64_t> seq{0};
    std::atomic<std::uint32_t> readers{0};
    alignas(T) unsigned char storage[sizeof(T)];
    T* value() noexcept { return std::launder(reinterpret_cast<T*>(storage)); }
  };

  const std::size_t capacity_;
  const std::size_t mask_;
  std::unique_ptr<Slot[]> slots_;
  alignas(64) std::atomic<std::uint64_t> tail_{0};
};

}  // namespace swarmsync::detail
