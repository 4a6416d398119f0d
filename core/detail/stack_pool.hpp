// core/detail/stack_pool.hpp — where micro-thread stacks come from.
//
// Memory layout of the two kinds of stack (addresses grow to the right,
// stacks grow to the left, towards `lo`):
//
//   guarded stack: one mapping each
//     +-----------+------------------------------------------+
//     | guard page|  usable stack ...          fiber record  |
//     | PROT_NONE |  lo                                  top  |
//     +-----------+------------------------------------------+
//
//   canary stack: carved from a slab, one mapping for many stacks
//     +-----------+------------------+------------------+-----
//     | slab guard| stack 0          | stack 1          | ...
//     | PROT_NONE | [canary]...  top | [canary]...  top |
//     +-----------+------------------+------------------+-----
//     The canary is the lowest `canary_bytes` of each stack, which stay
//     zero unless the stack overflowed. Reading them maps the kernel's
//     zero page, so checking never costs resident memory.
//
// Invariants:
//   * a stack is either live (owned by one micro-thread) or in exactly one
//     free list, never both; counts_.live == stacks handed out - returned.
//   * guarded_vmas_ <= vma_budget_ (two kernel mappings per guarded stack).
//   * every canary stack's canary is all zero while it is in a free list.
//   * slabs are never unmapped before the pool is destroyed.
//
// Threading: a pool belongs to one engine, so to one OS thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace mt::detail {

struct control_block;

enum class stack_kind : std::uint8_t {
    guarded,  // its own mapping with a PROT_NONE page below it
    canary,   // carved from a slab; overflow caught by the canary check at every switch
};

struct stack {
    std::byte* lo = nullptr;  // lowest usable byte
    std::size_t size = 0;     // usable bytes: [lo, lo + size)
    stack_kind kind = stack_kind::guarded;
    unsigned valgrind_id = 0;  // VALGRIND_STACK_REGISTER's id

    std::byte* top() const noexcept { return lo + size; }
    explicit operator bool() const noexcept { return lo != nullptr; }
};

inline constexpr std::size_t canary_bytes = 16;
inline constexpr std::size_t default_stack_size = 64 * 1024;
inline constexpr std::size_t min_stack_size = 16 * 1024;
inline constexpr std::size_t max_stack_size = std::size_t{1} << 30;

struct stack_pool_options {
    // How many stacks may have guard pages. Default: half the kernel's map
    // budget left when the pool is made (vm.max_map_count minus the
    // process's mappings), two mappings per guarded stack. 0 forces canaries.
    std::size_t max_guarded = SIZE_MAX;
    // Free stacks per size that trim() leaves alone: the most recently freed
    // ones, whose pages are resident and warm.
    std::size_t hot_cache = 1024;
};

struct stack_pool_counts {
    std::size_t live = 0;           // stacks owned by micro-threads
    std::size_t live_guarded = 0;   // of which guarded
    std::size_t free = 0;           // in free lists
    std::size_t mapped_bytes = 0;   // everything the pool has mapped
    std::size_t slabs = 0;
};

class stack_pool {
public:
    explicit stack_pool(stack_pool_options opts = {});
    ~stack_pool();
    stack_pool(const stack_pool&) = delete;
    stack_pool& operator=(const stack_pool&) = delete;

    // acquire — a stack of at least `size` usable bytes (rounded up to pages).
    // Throws stack_allocation_error naming micro-thread `who` when the kernel
    // refuses both a guarded mapping and a slab. Never suspends.
    stack acquire(std::size_t size, const control_block& who);

    // release — gives a stack back. Called from any context but the stack's
    // own (a stack is released after its micro-thread left it for good).
    void release(stack s) noexcept;

    // trim — gives the memory of free stacks beyond hot_cache back to the
    // kernel: guarded ones are unmapped, slab ones MADV_DONTNEED'ed. Releasing
    // does not do this itself (one madvise per release costs a TLB flush);
    // call it when the program is idle after a burst. Returns bytes released.
    std::size_t trim() noexcept;

    const stack_pool_counts& counts() const noexcept { return counts_; }
    std::size_t vma_budget() const noexcept { return vma_budget_; }

    // canary_intact — false when the lowest bytes of a canary stack were written.
    static bool canary_intact(const stack& s) noexcept {
        if (s.kind != stack_kind::canary) return true;
        const auto* w = reinterpret_cast<const std::uint64_t*>(s.lo);
        return (w[0] | w[1]) == 0;
    }

    // high_water — bytes of `s` ever written, measured from the top down to
    // the lowest non-zero word (pooled stacks remember earlier owners' depth).
    static std::size_t high_water(const stack& s) noexcept;

    static std::size_t page_size() noexcept;
    static std::size_t round_size(std::size_t size) noexcept;

private:
    struct size_class {
        std::size_t size;
        std::vector<stack> free;
    };
    struct slab {
        std::byte* base;
        std::size_t bytes;
    };

    size_class& class_for(std::size_t size);
    stack map_guarded(std::size_t size);
    bool map_slab(size_class& c);
    void unmap_guarded(const stack& s) noexcept;

    stack_pool_options opts_;
    std::size_t vma_budget_ = 0;     // kernel mappings guarded stacks may use
    std::size_t guarded_vmas_ = 0;   // mappings guarded stacks use now
    std::vector<size_class> classes_;
    std::vector<slab> slabs_;
    stack_pool_counts counts_;
};

}  // namespace mt::detail
