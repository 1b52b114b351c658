#pragma once
// RingQueue: a first-in, first-out queue in one array that wraps around, for the Core's queues of
// jobs (the Dispatcher's jobs waiting for a slot, a simulated worker's jobs beyond its capacity).
// std::deque gives a value of more than 256 bytes, as a Job is, a block of its own, allocated
// when it is queued and freed when it is taken; here a value queued and taken allocates nothing
// once the array has grown to the queue's longest length (it doubles when full, never shrinks).
//
//   RingQueue<Job> waiting;
//   waiting.push_back(std::move(job));
//   while (!waiting.empty()) { run(std::move(waiting.front())); waiting.pop_front(); }
//
// Not thread safe. References hold until the next push_back.

#include <cstddef>
#include <type_traits>
#include <utility>
#include <vector>

namespace core {

template <class T>
class RingQueue {
  static_assert(std::is_nothrow_move_constructible_v<T> && std::is_nothrow_move_assignable_v<T>);

 public:
  bool empty() const noexcept { return size_ == 0; }
  std::size_t size() const noexcept { return size_; }

  /// The `i`th value from the front (0: the oldest); `i` < size().
  T& operator[](std::size_t i) noexcept { return slots_[(head_ + i) & (slots_.size() - 1)]; }
  const T& operator[](std::size_t i) const noexcept { return slots_[(head_ + i) & (slots_.size() - 1)]; }
  T& front() noexcept { return (*this)[0]; }
  const T& front() const noexcept { return (*this)[0]; }

  /// Queues `value` last. Throws `std::bad_alloc` when the array grows, the queue unchanged (and
  /// `value` not moved from).
  void push_back(T&& value) {
    if (size_ == slots_.size()) grow();
    (*this)[size_] = std::move(value);
    ++size_;
  }

  /// Drops the front value; its slot gets a default-constructed one (what the value held is
  /// freed now, not when the slot is next used).
  void pop_front() noexcept {
    slots_[head_] = T{};
    head_ = (head_ + 1) & (slots_.size() - 1);
    --size_;
  }

  /// Drops every value, keeping the array.
  void clear() noexcept {
    while (!empty()) pop_front();
  }

 private:
  void grow() {
    std::vector<T> bigger(slots_.empty() ? 4 : 2 * slots_.size());  // may throw: nothing changed
    for (std::size_t i = 0; i < size_; ++i) bigger[i] = std::move((*this)[i]);
    slots_.swap(bigger);
    head_ = 0;
  }

  std::vector<T> slots_;  // a power of two of them, or none
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

}  // namespace core
