// tests/alloc_counter.hpp — counts heap allocations made through operator
// new in this test binary (defined in alloc_counter.cpp).
#pragma once

#include <cstddef>

namespace mt_test {

std::size_t allocations() noexcept;

}  // namespace mt_test
