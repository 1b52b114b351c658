#include "support/allocation_counter.hpp"

#include <malloc.h>

#include <atomic>
#include <cstdlib>
#include <new>

namespace {
std::atomic<std::size_t> allocations{0};
std::atomic<std::size_t> deallocations{0};
std::atomic<std::size_t> asio_blocks{0};
std::atomic<std::size_t> failing_from{0};
}

namespace swarmsync::test {

#ifdef SWARMSYNC_SANITIZED
bool allocation_counting() { return false; }
#else
bool allocation_counting() { return true; }
#endif

std::size_t allocation_count() { return allocations.load(std::memory_order_relaxed); }
std::size_t deallocation_count() { return deallocations.load(std::memory_order_relaxed); }
std::size_t asio_block_count() { return asio_blocks.load(std::memory_order_relaxed); }

void fail_allocations_of_at_least(std::size_t bytes) { failing_from.store(bytes, std::memory_order_relaxed); }

}  // namespace swarmsync::test

#ifndef SWARMSYNC_SANITIZED
void* operator new(std::size_t n) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  const std::size_t limit = failing_from.load(std::memory_order_relaxed);
  if (limit != 0 && n >= limit) throw std::bad_alloc();
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  if (p) deallocations.fetch_add(1, std::memory_order_relaxed);
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept { operator delete(p); }

// Asio's recycling allocator (handlers, coroutine frames) takes a block from the thread's small
// cache and, when none fits, from std::aligned_alloc: counted apart, and failed on demand too.
extern "C" void* aligned_alloc(std::size_t align, std::size_t n) noexcept {
  asio_blocks.fetch_add(1, std::memory_order_relaxed);
  const std::size_t limit = failing_from.load(std::memory_order_relaxed);
  if (limit != 0 && n >= limit) return nullptr;
  return memalign(align, n);
}
#endif
