#pragma once
// The number of heap allocations made by the test program so far, to check that a hot path
// allocates nothing. Available only when the program replaces operator new (not under
// sanitizers, whose runtimes own it): see `allocation_counting()`.

#include <cstddef>

namespace swarmsync::test {

bool allocation_counting();
std::size_t allocation_count();

}  // namespace swarmsync::test
