#pragma once
// A sequence in blocks of N elements that never move: it grows by one block at a time, without
// copying or touching again what it holds (a std::vector moves every element at each doubling
// into memory never touched before, and a std::deque gives an element of more than 256 bytes a
// block of its own). Used for the Scheduler's slots and the archive's records.
//
//     BlockVector<Record, 64> records;
//     records.make_room();              // may throw: nothing changed
//     index.insert(key, records.size()); // other steps that may throw
//     records.append(std::move(record)); // cannot throw
//
// Elements are default-constructed a block at a time; `append` move-assigns into the next one.
// Not thread-safe; references stay valid for the container's life (blocks never move).

#include <cstddef>
#include <memory>
#include <type_traits>
#include <vector>

namespace core {

template <class T, std::size_t N>
class BlockVector {
  static_assert(N > 0);

 public:
  /// Elements appended so far.
  std::size_t size() const noexcept { return size_; }

  /// The element at `i` (< the number of elements made room for).
  T& operator[](std::size_t i) const noexcept { return blocks_[i / N][i % N]; }

  /// Makes sure there is a slot for one more element: allocates a block when the last one is
  /// full. Throws what the allocation throws, and then nothing changed.
  void make_room() {
    if (size_ < blocks_.size() * N) return;
    blocks_.reserve(blocks_.size() + 1);
    blocks_.push_back(std::make_unique<T[]>(N));
  }

  /// Puts `value` in the slot after the last element (room made by `make_room`) and returns it.
  T& append(T&& value) noexcept {
    static_assert(std::is_nothrow_move_assignable_v<T>);
    T& slot = (*this)[size_++];
    slot = std::move(value);
    return slot;
  }

 private:
  std::vector<std::unique_ptr<T[]>> blocks_;
  std::size_t size_ = 0;
};

}  // namespace core
