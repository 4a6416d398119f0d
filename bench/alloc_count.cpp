// alloc_count.cpp — linked into every C++ benchmark and twin: interposes the
// C allocator's entry points to count heap allocations (operator new, in
// libstdc++, calls malloc, so it is counted too). peers::allocations()
// returns the count so far; a benchmark reports the difference over its
// measured loop divided by the operations, as "<name>_allocs".
// Forwards to glibc's own entry points (__libc_malloc & co.). Under a
// sanitizer, which owns malloc, nothing is interposed and the count stays 0.
#include <atomic>
#include <cerrno>
#include <cstddef>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define MT_BENCH_NO_INTERPOSE 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define MT_BENCH_NO_INTERPOSE 1
#endif
#endif

#ifdef MT_BENCH_NO_INTERPOSE
namespace peers {
long allocations() { return 0; }
}  // namespace peers
#else

extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
void __libc_free(void*);
}

namespace {
std::atomic<long> count{0};
void counted() { count.fetch_add(1, std::memory_order_relaxed); }
}  // namespace

namespace peers {
long allocations() { return count.load(std::memory_order_relaxed); }
}  // namespace peers

extern "C" {
void* malloc(std::size_t n) {
    counted();
    return __libc_malloc(n);
}
void* calloc(std::size_t n, std::size_t size) {
    counted();
    return __libc_calloc(n, size);
}
void* realloc(void* p, std::size_t n) {
    counted();
    return __libc_realloc(p, n);
}
void free(void* p) { __libc_free(p); }
void* memalign(std::size_t align, std::size_t n) {
    counted();
    return __libc_memalign(align, n);
}
void* aligned_alloc(std::size_t align, std::size_t n) {
    counted();
    return __libc_memalign(align, n);
}
int posix_memalign(void** out, std::size_t align, std::size_t n) {
    counted();
    void* p = __libc_memalign(align, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}
}
#endif  // MT_BENCH_NO_INTERPOSE
