// core/detail/stack_pool.hpp — where micro-thread stacks come from.
//
// Every stack has a guard page below it. The pool chooses, when it is made,
// how guard pages are had on this kernel (the route; stack_mapping.hpp says
// what each costs the kernel):
//
//   route in_slab (the kernel has MADV_GUARD_INSTALL, Linux >= 6.13):
//   stacks are carved from slabs on demand, a guard marker installed below
//   each as it is carved. One kernel mapping per slab.
//     +-------+----------------+-------+----------------+-----+-------------
//     | guard | stack 0        | guard | stack 1        | ... | not carved
//     |       | lo         top |       | lo         top |     | yet
//     +-------+----------------+-------+----------------+-----+-------------
//
//   route own_mapping (older kernels): one mapping per stack, split in two
//   by mprotect. Two kernel mappings per stack, so they are counted against
//   a budget taken from vm.max_map_count.
//     +-----------+------------------------------------------+
//     | guard page|  usable stack ...          start record  |
//     | PROT_NONE |  lo                                  top  |
//     +-----------+------------------------------------------+
//
//   canary stacks (only when stack_pool_options::unguarded_canaries, once
//   the own_mapping route's budget is spent): carved from a slab with no
//   guard page between stacks. The lowest `canary_bytes` of each stay zero
//   unless the stack overflowed; the engine checks them at every switch.
//   Reading them maps the kernel's zero page: checking costs no memory.
//     +-----------+------------------+------------------+-----
//     | slab guard| stack 0          | stack 1          | ...
//     | PROT_NONE | [canary]...  top | [canary]...  top |
//     +-----------+------------------+------------------+-----
//
// Invariants (check_invariants() asserts them in debug builds):
//   * a stack is either live (owned by one micro-thread) or in exactly one
//     free list, never both; counts_.live == stacks handed out - returned,
//     counts_.free == the sum of the free lists' sizes.
//   * every stack handed out has a guard page directly below `lo`, except
//     canary stacks, and canary stacks exist only if opts_.unguarded_canaries.
//   * a slab-guarded stack's guard is installed before the stack is first
//     handed out and never removed (trim's MADV_DONTNEED keeps it).
//   * guarded_maps_ <= budget_: the kernel mappings guarded memory holds.
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
    slab_guarded,     // carved from a slab; MADV_GUARD_INSTALL marker below lo
    mapping_guarded,  // its own mapping; PROT_NONE page below lo
    canary,           // carved from an unguarded slab; overflow found by the canary check
};

// kind_name — "slab-guarded", "mapping-guarded" or "canary" (the dump's words).
const char* kind_name(stack_kind k) noexcept;

// guard_route — how the pool gives stacks their guard pages.
enum class guard_route : std::uint8_t {
    in_slab,      // MADV_GUARD_INSTALL inside slabs: one kernel mapping per slab
    own_mapping,  // a mapping and a PROT_NONE page per stack: two kernel mappings each
};

struct stack {
    std::byte* lo = nullptr;  // lowest usable byte
    std::size_t size = 0;     // usable bytes: [lo, lo + size)
    stack_kind kind = stack_kind::slab_guarded;
    unsigned valgrind_id = 0;  // VALGRIND_STACK_REGISTER's id

    std::byte* top() const noexcept { return lo + size; }
    bool guarded() const noexcept { return kind != stack_kind::canary; }
    explicit operator bool() const noexcept { return lo != nullptr; }
};

inline constexpr std::size_t canary_bytes = 16;
inline constexpr std::size_t default_stack_size = 64 * 1024;
inline constexpr std::size_t min_stack_size = 16 * 1024;
inline constexpr std::size_t max_stack_size = std::size_t{1} << 30;

struct stack_pool_options {
    // The route: in_slab when the kernel installs guard pages with madvise
    // (tried when the pool is made), own_mapping otherwise. Setting
    // force_own_mapping takes own_mapping on any kernel.
    bool force_own_mapping = false;
    // How many kernel mappings guarded stacks may hold: a slab of the in_slab
    // route counts one, a stack of the own_mapping route two. SIZE_MAX: no
    // limit but the kernel's on the in_slab route; on the own_mapping route,
    // the mappings vm.max_map_count leaves when the first stack is mapped,
    // less an eighth kept for the rest of the program. Past it, acquire
    // throws stack_allocation_error naming vm.max_map_count.
    std::size_t max_mappings = SIZE_MAX;
    // Unguarded stacks, by request only: once the own_mapping route's budget
    // is spent (or its mmap/mprotect is refused), hand out canary stacks
    // instead of throwing. A canary stack has NO guard page: an overflow
    // writes into the stack below it in the slab and is found only at the
    // next switch, by which time the other micro-thread may be corrupted.
    // For programs on kernels older than Linux 6.13 that need more
    // micro-threads than vm.max_map_count / 2 and cannot raise it.
    bool unguarded_canaries = false;
    // Free stacks per size that trim() leaves alone: the most recently freed
    // ones, whose pages are resident and warm.
    std::size_t hot_cache = 1024;
};

struct stack_pool_counts {
    std::size_t live = 0;          // stacks owned by micro-threads
    std::size_t live_guarded = 0;  // of which have a guard page (slab- or mapping-guarded)
    std::size_t free = 0;          // in free lists (released, ready for reuse)
    std::size_t mapped_bytes = 0;  // everything the pool has mapped, guards and uncarved slab included
    std::size_t slabs = 0;         // slabs mapped (guarded and canary)
    std::size_t mappings = 0;      // kernel mappings (VMAs) the pool holds
};

class stack_pool {
public:
    explicit stack_pool(stack_pool_options opts = {});
    ~stack_pool();
    stack_pool(const stack_pool&) = delete;
    stack_pool& operator=(const stack_pool&) = delete;

    // acquire — a stack of at least `size` usable bytes (rounded up to pages)
    // with a guard page below it (or a canary stack, when the options ask for
    // them and guard pages ran out). Throws usage_error when `size` exceeds
    // max_stack_size, and stack_allocation_error naming micro-thread `who`,
    // the size and, where the kernel's mapping limit may be the cause,
    // vm.max_map_count, when no guarded stack can be had. Never suspends.
    stack acquire(std::size_t size, const control_block& who);

    // release — gives a stack back. Called from any context but the stack's
    // own (a stack is released after its micro-thread left it for good).
    // Never makes a system call.
    void release(stack s) noexcept;

    // trim — gives the memory of free stacks beyond hot_cache back to the
    // kernel: mapping-guarded ones are unmapped, slab ones MADV_DONTNEED'ed
    // (their guard markers stay). Releasing does not do this itself (one
    // madvise per release costs a TLB flush); call it when the program is
    // idle after a burst. Returns bytes released.
    std::size_t trim() noexcept;

    guard_route route() const noexcept { return route_; }
    const stack_pool_counts& counts() const noexcept { return counts_; }

    // check_invariants — asserts the invariants above (debug builds).
    void check_invariants() const;

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
        std::size_t size;          // usable bytes of each stack
        std::vector<stack> free;   // released stacks; the most recently freed at the back
        std::byte* carve_next = nullptr;  // next uncarved slot of this class's newest slab
        std::byte* carve_end = nullptr;   // end of that slab
        stack_kind carve_kind = stack_kind::slab_guarded;  // what that slab's stacks are
    };
    struct slab {
        std::byte* base;
        std::size_t bytes;
    };

    // class_for — the class of `size`, made if new. Nearly every spawn and
    // end asks for the same size (the default): the class found last is
    // tried first, inline; find_class searches (and makes) the others.
    size_class& class_for(std::size_t size) {
        if (last_class_ && last_class_->size == size) [[likely]]
            return *last_class_;
        return find_class(size);
    }
    size_class& find_class(std::size_t size);
    stack new_stack(size_class& c, const control_block& who);
    stack carve(size_class& c, stack_kind kind, const control_block& who);
    void map_slab(size_class& c, stack_kind kind, const control_block& who);
    // map_own — a mapping-guarded stack; empty, with errno set and *call
    // naming the refused system call, when the kernel refuses.
    stack map_own(std::size_t size, const char** call) noexcept;
    void unmap_own(const stack& s) noexcept;
    // budget — budget_, computing the own_mapping route's default first.
    std::size_t budget();
    [[noreturn]] void throw_over_budget(std::size_t size, const control_block& who);

    stack_pool_options opts_;
    guard_route route_;               // chosen by the constructor, never changes
    bool budget_known_ = false;       // budget_ computed (own_mapping's default waits for the first stack)
    std::size_t budget_ = SIZE_MAX;   // kernel mappings guarded memory may hold
    std::size_t guarded_maps_ = 0;    // kernel mappings guarded memory holds now
    std::vector<size_class> classes_;
    size_class* last_class_ = nullptr;  // the class class_for found last (a hint; classes_ owns it)
    std::vector<slab> slabs_;
    stack_pool_counts counts_;
};

}  // namespace mt::detail
