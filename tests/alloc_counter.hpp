// tests/alloc_counter.hpp — counts heap allocations made through operator
// new in this test binary (defined in alloc_counter.cpp).
#pragma once

#include <cstddef>

namespace mt_test {

std::size_t allocations() noexcept;

// fail_allocation_after — on this OS thread, the allocation after the next
// `n` ones throws std::bad_alloc (once); -1 turns that off. For tests of
// what an operation leaves behind when its memory runs out.
void fail_allocation_after(long n) noexcept;

}  // namespace mt_test
