#pragma once
// The number of heap allocations made by the test program so far, to check that a hot path
// allocates nothing. Available only when the program replaces operator new (not under
// sanitizers, whose runtimes own it): see `allocation_counting()`. Also injects allocation
// failures, to test exception paths.

#include <cstddef>

namespace swarmsync::test {

bool allocation_counting();
std::size_t allocation_count();

/// While set, every allocation of at least `bytes` throws `std::bad_alloc` (0: none does). Only
/// where `allocation_counting()` is true.
void fail_allocations_of_at_least(std::size_t bytes);

}  // namespace swarmsync::test
