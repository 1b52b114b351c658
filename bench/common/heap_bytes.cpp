#include "heap_bytes.hpp"

#include <malloc.h>

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace {

std::atomic<std::int64_t> live{0};
std::atomic<std::uint64_t> allocations{0};

// Every block starts with a header, just before the address handed out, that records the bytes
// asked for and the header's own size, so that a free knows what to subtract and where the block
// starts. The header takes `alignment` bytes, at least 16, to keep the address aligned.
struct Header {
  std::size_t offset;
  std::size_t size;
};

// Null when out of memory.
void* counted(std::size_t n, std::size_t align) noexcept {
  const std::size_t offset = align > 16 ? align : 16;
  void* base = offset == 16 ? std::malloc(offset + n) : memalign(offset, offset + n);
  if (!base) return nullptr;
  auto* user = static_cast<std::byte*>(base) + offset;
  reinterpret_cast<Header*>(user)[-1] = Header{offset, n};
  live.fetch_add(static_cast<std::int64_t>(n), std::memory_order_relaxed);
  allocations.fetch_add(1, std::memory_order_relaxed);
  return user;
}

void* allocate(std::size_t n, std::size_t align) {
  if (void* p = counted(n, align)) return p;
  throw std::bad_alloc();
}

void release(void* p) noexcept {
  if (!p) return;
  const Header h = reinterpret_cast<Header*>(p)[-1];
  live.fetch_sub(static_cast<std::int64_t>(h.size), std::memory_order_relaxed);
  std::free(static_cast<std::byte*>(p) - h.offset);
}

}  // namespace

std::int64_t bench::heap_bytes() { return live.load(std::memory_order_relaxed); }
std::uint64_t bench::heap_allocations() { return allocations.load(std::memory_order_relaxed); }
void* bench::counted_malloc(std::size_t n) { return counted(n, 0); }
void bench::counted_free(void* p) noexcept { release(p); }

// Asio's recycling allocator (handlers, coroutine frames) takes a block from the thread's cache
// of two per purpose and, when none fits, from std::aligned_alloc; it frees with std::free. Those
// allocations count too (their bytes do not: the header above cannot be added to them).
extern "C" void* aligned_alloc(std::size_t align, std::size_t n) noexcept {
  allocations.fetch_add(1, std::memory_order_relaxed);
  return memalign(align, n);
}

void* operator new(std::size_t n) { return allocate(n, 0); }
void* operator new[](std::size_t n) { return allocate(n, 0); }
void* operator new(std::size_t n, std::align_val_t a) { return allocate(n, static_cast<std::size_t>(a)); }
void* operator new[](std::size_t n, std::align_val_t a) { return allocate(n, static_cast<std::size_t>(a)); }
void operator delete(void* p) noexcept { release(p); }
void operator delete[](void* p) noexcept { release(p); }
void operator delete(void* p, std::size_t) noexcept { release(p); }
void operator delete[](void* p, std::size_t) noexcept { release(p); }
void operator delete(void* p, std::align_val_t) noexcept { release(p); }
void operator delete[](void* p, std::align_val_t) noexcept { release(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { release(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { release(p); }
