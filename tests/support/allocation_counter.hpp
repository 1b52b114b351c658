#pragma once
// The number of heap allocations made by the test program so far through operator new, and apart
// the blocks Asio's recycling allocator took from the heap (std::aligned_alloc, when the thread's
// cache had none that fits), to check that a hot path allocates nothing. Available only when the
// program replaces operator new (not under sanitizers, whose runtimes own it): see
// `allocation_counting()`. Also injects allocation failures, to test exception paths.

#include <cstddef>

namespace swarmsync::test {

bool allocation_counting();
std::size_t allocation_count();
/// Blocks given back through operator delete so far (null pointers not counted).
std::size_t deallocation_count();
/// Blocks Asio's recycling allocator (coroutine frames, handlers, operations) took from the heap:
/// outside an io_context's threads, every one; inside, those its thread's cache (two blocks per
/// purpose) could not give.
std::size_t asio_block_count();

/// While set, every allocation of at least `bytes` throws `std::bad_alloc` (0: none does), Asio's
/// blocks included. Only where `allocation_counting()` is true.
void fail_allocations_of_at_least(std::size_t bytes);

}  // namespace swarmsync::test
