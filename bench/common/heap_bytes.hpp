#pragma once
// Live heap bytes of the program, for the memory cases: a program that links heap_bytes.cpp
// replaces the global operator new and delete with versions that count the bytes asked for and
// not yet given back (as tokio's peer counts in its global allocator); libraries that call malloc
// directly are given `counted_malloc` and `counted_free`.

#include <cstddef>
#include <cstdint>

namespace bench {

/// Bytes allocated through operator new and not yet deleted. Thread-safe; relaxed, so read it
/// when the threads that allocate are quiet.
std::int64_t heap_bytes();

/// Allocations through operator new, `counted_malloc` and aligned_alloc (Asio's recycling
/// allocator when its per-thread cache misses) so far. Thread-safe; relaxed, as `heap_bytes`.
std::uint64_t heap_allocations();

/// malloc and free that count in heap_bytes(), for libraries that allocate with malloc.
void* counted_malloc(std::size_t n);
void counted_free(void* p) noexcept;

}  // namespace bench
