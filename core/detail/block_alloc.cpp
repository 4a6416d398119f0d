// core/detail/block_alloc.cpp — see block_alloc.hpp.
// Invariant: a block on free list i is i+1 granules long and unused.
#include "core/detail/block_alloc.hpp"

#include <new>

#include "core/detail/sanitizers.hpp"

namespace mt::detail {
namespace {

struct free_block {
    free_block* next;
};

struct free_lists {
    free_block* heads[max_pooled / block_granule] = {};
    ~free_lists() {  // the OS thread ends: give everything back
        for (std::size_t i = 0; i < max_pooled / block_granule; ++i)
            while (free_block* b = heads[i]) {
                heads[i] = b->next;
                ::operator delete(b, (i + 1) * block_granule);
            }
    }
};

thread_local free_lists lists;

std::size_t class_of(std::size_t n) noexcept { return (n + block_granule - 1) / block_granule - 1; }

}  // namespace

// Under AddressSanitizer the free lists would hide use-after-free of a
// control block from it: every block then goes to operator new and back.
#if MT_ASAN
constexpr bool pooling = false;
#else
constexpr bool pooling = true;
#endif

void* block_allocate(std::size_t n) {
    if (!pooling || n > max_pooled) return ::operator new(n);
    const std::size_t c = class_of(n);
    if (free_block* b = lists.heads[c]) {
        lists.heads[c] = b->next;
        return b;
    }
    return ::operator new((c + 1) * block_granule);
}

void block_free(void* p, std::size_t n) noexcept {
    if (!pooling || n > max_pooled) {
        ::operator delete(p, n);
        return;
    }
    const std::size_t c = class_of(n);
    auto* b = static_cast<free_block*>(p);
    b->next = lists.heads[c];
    lists.heads[c] = b;
}

}  // namespace mt::detail
