#pragma once
// A payload that counts its constructions and destructions, to prove that a channel destroys
// every value it was given exactly once.

#include <atomic>
#include <cstdint>

namespace swarmsync::test {

struct Counted {
  static inline std::atomic<std::int64_t> alive{0};
  static inline std::atomic<std::int64_t> constructed{0};

  std::int64_t id = -1;

  explicit Counted(std::int64_t i) : id(i) { born(); }
  Counted(const Counted& o) : id(o.id) { born(); }
  Counted(Counted&& o) noexcept : id(o.id) { born(); }
  Counted& operator=(const Counted&) = default;
  Counted& operator=(Counted&&) noexcept = default;
  ~Counted() {
    alive.fetch_sub(1, std::memory_order_relaxed);
    id = -2;  // a use after destruction shows as a wrong id
  }

  static void reset() {
    alive = 0;
    constructed = 0;
  }

 private:
  static void born() {
    alive.fetch_add(1, std::memory_order_relaxed);
    constructed.fetch_add(1, std::memory_order_relaxed);
  }
};

}  // namespace swarmsync::test
