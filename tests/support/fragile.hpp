#pragma once
// A payload whose copy throws on demand, to test the exception path of every operation that
// copies a user's value. Moves never throw. Counts the live objects.

#include <atomic>
#include <cstdint>
#include <stdexcept>

namespace swarmsync::test {

struct Fragile {
  /// Copies left before one throws; negative: copies never throw. Decremented by each copy.
  static inline std::atomic<std::int64_t> copies_before_throw{-1};
  static inline std::atomic<std::int64_t> alive{0};

  std::int64_t id = -1;

  explicit Fragile(std::int64_t i) : id(i) { alive.fetch_add(1, std::memory_order_relaxed); }
  Fragile(const Fragile& o) : id(o.id) {
    if (copies_before_throw.load(std::memory_order_relaxed) >= 0 &&
        copies_before_throw.fetch_sub(1, std::memory_order_relaxed) == 0)
      throw std::runtime_error("Fragile: copy failed on demand");
    alive.fetch_add(1, std::memory_order_relaxed);
  }
  Fragile(Fragile&& o) noexcept : id(o.id) { alive.fetch_add(1, std::memory_order_relaxed); }
  Fragile& operator=(const Fragile&) = default;
  Fragile& operator=(Fragile&&) noexcept = default;
  ~Fragile() { alive.fetch_sub(1, std::memory_order_relaxed); }

  /// The next copy throws (once), the ones after succeed.
  static void throw_on_next_copy() { copies_before_throw.store(0); }
  static void reset() {
    copies_before_throw.store(-1);
    alive.store(0);
  }
};

}  // namespace swarmsync::test
