// tests/alloc_counter.cpp — replaces the global operator new to count calls.
#include "tests/alloc_counter.hpp"

#include <atomic>
#include <cstdlib>
#include <new>

namespace {
std::atomic<std::size_t> count{0};
thread_local long fail_in = -1;  // fail_allocation_after
}  // namespace

namespace mt_test {
std::size_t allocations() noexcept { return count.load(std::memory_order_relaxed); }
void fail_allocation_after(long n) noexcept { fail_in = n; }
}  // namespace mt_test

void* operator new(std::size_t n) {
    count.fetch_add(1, std::memory_order_relaxed);
    if (fail_in >= 0 && fail_in-- == 0) throw std::bad_alloc();
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
