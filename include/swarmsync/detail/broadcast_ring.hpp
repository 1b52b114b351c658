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
// Exceptions. A send whose construction of the value throws has still claimed its position: it
// publishes the slot as a hole (`filled == false`) and rethrows, so later senders and receivers
// pass it (receivers skip a hole as if nothing had been sent there; `tail()` counts it). A receive
// whose copy of the value throws releases its pin (a guard) and rethrows, its cursor already past
// that value, as tokio's does when a clone panics: the exception is how that receiver learns of
// the value it did not get, and a value whose copy always throws cannot stall it.
//
// Reported losses. `write_missed(n)` claims a position like a send and publishes it as a hole
// carrying `n`: a receiver that reads it gets `lagged` with `n` skipped, in its place in the
// order. A transport uses it to tell receivers of values that were lost before they reached the
// ring (see channels/broadcast.hpp, `Sender::report_missed`).
//
// Clearing. When the last receiver leaves, `clear()` writes a hole over every slot, as that many
// sends would, so the values are destroyed at once (as tokio drops a value every receiver is done
// with) rather than when overwritten or when the channel goes.
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
      if (s != 0 && s % 2 == 0 && slots_[i].filled) slots_[i].value()->~T();
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

  /// Next position to be claimed = number of positions claimed so far (values and holes).
  std::uint64_t tail() const noexcept { return tail_.load(std::memory_order_seq_cst); }

  /// Values written so far (positions claimed, less the holes).
  std::uint64_t written() const noexcept { return tail() - holes_.load(std::memory_order_relaxed); }

  /// Writes `value` at the next position and publishes it. Returns the position. If constructing
  /// the value throws, the position is published as a hole and the exception propagates.
  template <class U>
  std::uint64_t write(U&& value) {
    return write_with([&](void* storage) { ::new (storage) T(std::forward<U>(value)); });
  }

  /// Publishes, at the next position, the report that `n` values were lost before reaching the
  /// ring: a reader gets `lagged` with `n` skipped there. Returns the position.
  std::uint64_t write_missed(std::uint64_t n) { return write_with(nullptr, n); }

  /// Destroys every value the ring holds by writing a hole over each slot, as `capacity()` sends
  /// would (used when the last receiver leaves: nobody can read them any more).
  void clear() {
    for (std::size_t i = 0; i < capacity_; ++i) write_with(nullptr);
  }

 private:
  // Claims the next position and fills its slot with `fill(storage)`, or leaves a hole when
  // `fill` is null or throws (then rethrows); a hole carries `missed` (0: none reported).
  template <class Fill>
  std::uint64_t write_with(Fill fill, std::uint64_t missed = 0) {
    const std::uint64_t pos = tail_.fetch_add(1, std::memory_order_seq_cst);
    Slot& slot = slots_[pos & mask_];
    const std::uint64_t previous = pos >= capacity_ ? published(pos - capacity_) : 0;
    Backoff backoff;
    // acquire: the previous lap's writer published the slot (value and `filled`) with its store.
    while (slot.seq.load(std::memory_order_acquire) != previous) backoff.pause();
    // seq_cst store, then seq_cst loads of `readers`: the writer's half of the pin protocol.
    slot.seq.store(published(pos) - 1, std::memory_order_seq_cst);
    while (slot.readers.load(std::memory_order_seq_cst) != 0) backoff.pause();
    if (slot.filled) slot.value()->~T();
    slot.filled = false;
    slot.missed = missed;  // published with `seq` below, as the value is
    struct Publish {  // runs on both paths: a claimed position always ends published
      Slot& slot;
      std::uint64_t seq;
      std::atomic<std::uint64_t>& holes;
      ~Publish() {
        if (!slot.filled) holes.fetch_add(1, std::memory_order_relaxed);
        slot.seq.store(seq, std::memory_order_seq_cst);  // includes release
      }
    } publish{slot, published(pos), holes_};
    if constexpr (!std::is_null_pointer_v<Fill>) {
      fill(static_cast<void*>(slot.storage));
      slot.filled = true;
    }
    return pos;
  }

 public:

  /// Tries to copy position `pos` into `out`. On `lagged`, `pos` already moved on: `out_skipped`
  /// tells how many positions were lost and `pos` is the oldest position the ring may still hold,
  /// or, at a report of values lost before the ring (`write_missed`), how many it reports and `pos`
  /// is just past it. Holes (sends that threw) are skipped. If copying the value throws, the pin is released, `pos`
  /// has moved past it, and the exception propagates.
  Read read(std::uint64_t& pos, std::optional<T>& out, std::uint64_t& out_skipped) {
    for (;;) {
      Slot& slot = slots_[pos & mask_];
      std::uint64_t s = slot.seq.load(std::memory_order_acquire);
      if (s == published(pos)) {
        // seq_cst pin, then seq_cst re-read of `seq`: the reader's half of the pin protocol.
        slot.readers.fetch_add(1, std::memory_order_seq_cst);
        s = slot.seq.load(std::memory_order_seq_cst);
        if (s == published(pos)) {
          struct Unpin {  // release: the copy is done before a writer that sees 0 reuses the slot
            Slot& slot;
            ~Unpin() { slot.readers.fetch_sub(1, std::memory_order_release); }
          } unpin{slot};
          if (!slot.filled) {  // a hole: nothing was sent there, or a report of values lost before
            ++pos;
            if (slot.missed != 0) {
              out_skipped = slot.missed;
              return Read::lagged;
            }
            continue;
          }
          ++pos;
          out.emplace(*slot.value());
          return Read::value;
        }
        slot.readers.fetch_sub(1, std::memory_order_release);
      }
      if (s < published(pos)) return Read::empty;
      break;
    }
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
    bool filled = false;       // holds a value (not a hole); written only by the slot's writer
    std::uint64_t missed = 0;  // in a hole: values reported lost there (write_missed); same writer
    alignas(T) unsigned char storage[sizeof(T)];
    T* value() noexcept { return std::launder(reinterpret_cast<T*>(storage)); }
  };

  const std::size_t capacity_;
  const std::size_t mask_;
  std::unique_ptr<Slot[]> slots_;
  alignas(64) std::atomic<std::uint64_t> tail_{0};
  std::atomic<std::uint64_t> holes_{0};  // positions that hold no value: failed sends, clears
};

}  // namespace swarmsync::detail
