// core/detail/stack_pool.cpp — pooling, carving and checking stacks.
// Invariants: see stack_pool.hpp. The system calls are in stack_mapping.cpp.
#include "core/detail/stack_pool.hpp"

#include <cassert>
#include <cerrno>
#include <cstring>
#include <string>

#include "core/detail/control_block.hpp"
#include "core/detail/sanitizers.hpp"
#include "core/detail/stack_mapping.hpp"
#include "core/errors.hpp"

namespace mt::detail {
namespace {

// Bytes of stacks in one slab: large enough that 1,000,000 default stacks
// need only a few thousand mappings, small enough to map on demand.
constexpr std::size_t slab_bytes = 16u << 20;

[[noreturn]] void throw_alloc(int err, const std::string& why, std::size_t size, const control_block& who) {
    throw stack_allocation_error(err, "cannot allocate a " + std::to_string(size) +
                                          "-byte stack for micro-thread " + describe(who) + ": " + why);
}

// refused — why, for a system call that failed with `err`. ENOMEM may be the
// kernel's limit on mappings (mmap, or an mprotect that splits a mapping),
// so it names vm.max_map_count.
std::string refused(const char* call, int err) {
    std::string why = std::string(call) + ": " + std::strerror(err);
    if (err == ENOMEM) why += " (out of memory or out of kernel mappings: " + map_count_hint() + ")";
    return why;
}

}  // namespace

const char* kind_name(stack_kind k) noexcept {
    switch (k) {
        case stack_kind::slab_guarded: return "slab-guarded";
        case stack_kind::mapping_guarded: return "mapping-guarded";
        case stack_kind::canary: return "canary";
    }
    return "?";
}

std::size_t stack_pool::page_size() noexcept { return detail::page_size(); }

std::size_t stack_pool::round_size(std::size_t size) noexcept {
    const std::size_t page = page_size();
    if (size < min_stack_size) size = min_stack_size;
    return (size + page - 1) / page * page;
}

stack_pool::stack_pool(stack_pool_options opts)
    : opts_(opts),
      route_(!opts.force_own_mapping && guard_install_works() ? guard_route::in_slab
                                                              : guard_route::own_mapping) {
    // The own_mapping route's default budget reads /proc when the first
    // stack is mapped; the in_slab route needs no budget of its own (a slab
    // is one mapping per ~240 stacks): only the kernel's.
    if (opts_.max_mappings != SIZE_MAX || route_ == guard_route::in_slab) {
        budget_ = opts_.max_mappings;
        budget_known_ = true;
    }
}

stack_pool::~stack_pool() {
    for (auto& c : classes_)
        for (const stack& s : c.free) {
            if (s.kind == stack_kind::mapping_guarded) unmap_own(s);
            else valgrind_deregister_stack(s.valgrind_id);
        }
    for (const slab& sl : slabs_) unmap_stack_memory(sl.base, sl.bytes);
}

stack_pool::size_class& stack_pool::find_class(std::size_t size) {
    for (auto& c : classes_) {
        if (c.size == size) {
            last_class_ = &c;
            return c;
        }
    }
    classes_.push_back(size_class{size, {}});  // may move every class: the hint is re-taken
    last_class_ = &classes_.back();
    return classes_.back();
}

std::size_t stack_pool::budget() {
    if (!budget_known_) {
        const std::size_t limit = map_count_limit();
        const std::size_t used = own_map_count();
        const std::size_t left = limit > used ? limit - used : 0;
        budget_ = left - left / 8;  // an eighth stays for the rest of the program
        budget_known_ = true;
    }
    return budget_;
}

stack stack_pool::map_own(std::size_t size, const char** call) noexcept {
    const std::size_t guard = guard_size();
    std::byte* base = map_stack_memory(guard + size);
    if (!base) {
        *call = "mmap";
        return {};
    }
    if (!protect_guard(base)) {
        const int err = errno;
        unmap_stack_memory(base, guard + size);
        errno = err;
        *call = "mprotect of its guard page";
        return {};
    }
    guarded_maps_ += 2;
    counts_.mappings += 2;
    counts_.mapped_bytes += guard + size;
    stack s{base + guard, size, stack_kind::mapping_guarded, 0};
    s.valgrind_id = valgrind_register_stack(s.lo, s.top());
    return s;
}

void stack_pool::unmap_own(const stack& s) noexcept {
    const std::size_t guard = guard_size();
    valgrind_deregister_stack(s.valgrind_id);
    unmap_stack_memory(s.lo - guard, guard + s.size);
    guarded_maps_ -= 2;
    counts_.mappings -= 2;
    counts_.mapped_bytes -= guard + s.size;
}

// map_slab — a new slab for class `c`, whose stacks will be of `kind`
// (slab_guarded: a guard slot below each; canary: one PROT_NONE page at the
// bottom, stacks packed above it). Stacks are carved from it later, one at a
// time. Throws stack_allocation_error naming `who`.
void stack_pool::map_slab(size_class& c, stack_kind kind, const control_block& who) {
    const std::size_t guard = guard_size();
    const bool guarded = kind == stack_kind::slab_guarded;
    const std::size_t slot = guarded ? guard + c.size : c.size;
    std::size_t n = slab_bytes / slot;
    if (n < 4) n = 4;
    const std::size_t bytes = n * slot + (guarded ? 0 : guard);
    if (guarded && guarded_maps_ + 1 > budget()) throw_over_budget(c.size, who);
    std::byte* base = map_stack_memory(bytes);
    if (!base) {
        const int err = errno;
        throw_alloc(err, refused("mmap", err), c.size, who);
    }
    if (!guarded && !protect_guard(base)) {
        const int err = errno;
        unmap_stack_memory(base, bytes);
        throw_alloc(err, refused("mprotect of a slab's guard page", err), c.size, who);
    }
    slabs_.push_back(slab{base, bytes});
    counts_.mapped_bytes += bytes;
    ++counts_.slabs;
    counts_.mappings += guarded ? 1 : 2;
    if (guarded) ++guarded_maps_;
    c.carve_next = guarded ? base : base + guard;
    c.carve_end = base + bytes;
    c.carve_kind = kind;
}

// carve — the next stack of class `c` from its newest slab (mapping a slab
// of `kind` first if there is none, it is used up, or it is of the other
// kind). A slab-guarded stack gets its guard marker here, once for its whole
// life in the pool. Throws stack_allocation_error naming `who`.
stack stack_pool::carve(size_class& c, stack_kind kind, const control_block& who) {
    const std::size_t guard = guard_size();
    const std::size_t slot = kind == stack_kind::slab_guarded ? guard + c.size : c.size;
    if (c.carve_kind != kind || static_cast<std::size_t>(c.carve_end - c.carve_next) < slot)
        map_slab(c, kind, who);
    stack s{c.carve_next, c.size, kind, 0};
    if (kind == stack_kind::slab_guarded) {
        if (!install_guard(c.carve_next)) {
            const int err = errno;
            throw_alloc(err, refused("madvise(MADV_GUARD_INSTALL) of its guard page", err), c.size, who);
        }
        s.lo += guard;
    }
    c.carve_next += slot;
    s.valgrind_id = valgrind_register_stack(s.lo, s.top());
    return s;
}

void stack_pool::throw_over_budget(std::size_t size, const control_block& who) {
    throw_alloc(ENOMEM,
                "its guard page would take the stack pool past its budget of " + std::to_string(budget_) +
                    " kernel mappings (stack_pool_options::max_mappings, taken from vm.max_map_count; " +
                    map_count_hint() + ")",
                size, who);
}

// new_stack — a stack for class `c` when its free list is empty, by the
// pool's route. Canary stacks only when the options ask for them and the
// own_mapping route cannot give a guarded one.
stack stack_pool::new_stack(size_class& c, const control_block& who) {
    if (route_ == guard_route::in_slab) return carve(c, stack_kind::slab_guarded, who);
    if (guarded_maps_ + 2 > budget()) {
        if (opts_.unguarded_canaries) return carve(c, stack_kind::canary, who);
        throw_over_budget(c.size, who);
    }
    const char* call = nullptr;
    stack s = map_own(c.size, &call);
    if (s) return s;
    const int err = errno;
    if (opts_.unguarded_canaries) return carve(c, stack_kind::canary, who);
    throw_alloc(err, refused(call, err), c.size, who);
}

stack stack_pool::acquire(std::size_t size, const control_block& who) {
    if (size > max_stack_size) {
        throw usage_error("stack size " + std::to_string(size) + " for micro-thread " + describe(who) +
                          " exceeds " + std::to_string(max_stack_size));
    }
    size = round_size(size);
    size_class& c = class_for(size);
    stack s;
    if (!c.free.empty()) {
        s = c.free.back();
        c.free.pop_back();
        --counts_.free;
    } else {
        s = new_stack(c, who);
    }
    ++counts_.live;
    if (s.guarded()) ++counts_.live_guarded;
    return s;
}

void stack_pool::release(stack s) noexcept {
    --counts_.live;
    if (s.guarded()) --counts_.live_guarded;
    asan_forget_stack(s.lo, s.size);
    size_class& c = class_for(s.size);
    c.free.push_back(s);
    ++counts_.free;
}

std::size_t stack_pool::trim() noexcept {
    std::size_t bytes = 0;
    for (auto& c : classes_) {
        // Keep the most recently freed hot_cache stacks (the back of the list).
        const std::size_t cold = c.free.size() > opts_.hot_cache ? c.free.size() - opts_.hot_cache : 0;
        std::size_t kept = 0;
        for (std::size_t i = 0; i < c.free.size(); ++i) {
            const stack& s = c.free[i];
            if (i >= cold) {
                c.free[kept++] = s;
            } else if (s.kind == stack_kind::mapping_guarded) {
                unmap_own(s);  // gives its two mappings back to the budget
                --counts_.free;
                bytes += s.size;
            } else {
                discard(s.lo, s.size);  // a slab stack's guard marker stays
                c.free[kept++] = s;
                bytes += s.size;
            }
        }
        c.free.resize(kept);
    }
    return bytes;
}

void stack_pool::check_invariants() const {
#ifndef NDEBUG
    std::size_t free = 0;
    for (const auto& c : classes_) {
        free += c.free.size();
        for (const stack& s : c.free) {
            assert(s.size == c.size);
            assert(s.kind != stack_kind::canary || opts_.unguarded_canaries);
            assert(canary_intact(s));
        }
        assert(c.carve_next <= c.carve_end);
    }
    assert(free == counts_.free);
    assert(counts_.live_guarded <= counts_.live);
    assert(!budget_known_ || guarded_maps_ <= budget_);
    assert(guarded_maps_ <= counts_.mappings);
    assert(counts_.slabs == slabs_.size());
    assert(route_ == guard_route::own_mapping || counts_.live_guarded == counts_.live);
#endif
}

MT_NO_ASAN std::size_t stack_pool::high_water(const stack& s) noexcept {
    quiet_inspection quiet;
    const auto* w = reinterpret_cast<const std::uint64_t*>(s.lo);
    const std::size_t words = s.size / sizeof(std::uint64_t);
    std::size_t i = canary_bytes / sizeof(std::uint64_t);
    while (i < words && w[i] == 0) ++i;
    return s.size - i * sizeof(std::uint64_t);
}

}  // namespace mt::detail
