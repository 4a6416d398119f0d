// core/detail/stack_pool.cpp — mapping, pooling and checking stacks.
// Invariants: see stack_pool.hpp.
#include "core/detail/stack_pool.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <sys/mman.h>
#include <unistd.h>

#include "core/detail/sanitizers.hpp"
#include "core/detail/control_block.hpp"
#include "core/detail/sys.hpp"
#include "core/errors.hpp"

namespace mt::detail {
namespace {

// Bytes of stacks in one slab: large enough that 1,000,000 default stacks
// need only a few thousand mappings, small enough to map on demand.
constexpr std::size_t slab_bytes = 16u << 20;

std::size_t read_max_map_count() {
    std::ifstream f("/proc/sys/vm/max_map_count");
    std::size_t n = 0;
    if (f >> n && n > 0) return n;
    return 65530;  // the kernel's default
}

std::size_t count_own_mappings() {
    std::ifstream f("/proc/self/maps");
    std::size_t n = 0;
    std::string line;
    while (std::getline(f, line)) ++n;
    return n;
}

[[noreturn]] void throw_alloc(int err, const char* what, std::size_t size, const control_block& who) {
    throw stack_allocation_error(err, "cannot allocate a " + std::to_string(size) +
                                          "-byte stack for micro-thread " + describe(who) + ": " + what);
}

}  // namespace

std::size_t stack_pool::page_size() noexcept {
    static const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    return page;
}

std::size_t stack_pool::round_size(std::size_t size) noexcept {
    const std::size_t page = page_size();
    if (size < min_stack_size) size = min_stack_size;
    return (size + page - 1) / page * page;
}

stack_pool::stack_pool(stack_pool_options opts) : opts_(opts) {
    const std::size_t max_maps = read_max_map_count();
    const std::size_t used = count_own_mappings();
    const std::size_t left = max_maps > used ? max_maps - used : 0;
    vma_budget_ = left / 2;  // the other half stays for slabs and the program
    if (opts_.max_guarded != SIZE_MAX && opts_.max_guarded * 2 < vma_budget_)
        vma_budget_ = opts_.max_guarded * 2;
}

stack_pool::~stack_pool() {
    for (auto& c : classes_)
        for (const stack& s : c.free) {
            if (s.kind == stack_kind::guarded) unmap_guarded(s);
            else valgrind_deregister_stack(s.valgrind_id);
        }
    for (const slab& sl : slabs_) sys().munmap(sl.base, sl.bytes);
}

stack_pool::size_class& stack_pool::class_for(std::size_t size) {
    for (auto& c : classes_)
        if (c.size == size) return c;
    classes_.push_back(size_class{size, {}});
    return classes_.back();
}

stack stack_pool::map_guarded(std::size_t size) {
    const std::size_t page = page_size();
    if (guarded_vmas_ + 2 > vma_budget_) return {};
    void* base = sys().mmap(nullptr, size + page, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (base == MAP_FAILED) return {};
    if (sys().mprotect(base, page, PROT_NONE) != 0) {
        sys().munmap(base, size + page);
        return {};
    }
    sys().madvise(base, size + page, MADV_NOHUGEPAGE);
    guarded_vmas_ += 2;
    counts_.mapped_bytes += size + page;
    stack s{static_cast<std::byte*>(base) + page, size, stack_kind::guarded, 0};
    s.valgrind_id = valgrind_register_stack(s.lo, s.top());
    return s;
}

void stack_pool::unmap_guarded(const stack& s) noexcept {
    const std::size_t page = page_size();
    valgrind_deregister_stack(s.valgrind_id);
    sys().munmap(s.lo - page, s.size + page);
    guarded_vmas_ -= 2;
    counts_.mapped_bytes -= s.size + page;
}

bool stack_pool::map_slab(size_class& c) {
    const std::size_t page = page_size();
    std::size_t n = slab_bytes / c.size;
    if (n < 4) n = 4;
    const std::size_t bytes = n * c.size + page;
    void* base = sys().mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (base == MAP_FAILED) return false;
    if (sys().mprotect(base, page, PROT_NONE) != 0) {
        const int err = errno;
        sys().munmap(base, bytes);
        errno = err;
        return false;
    }
    sys().madvise(base, bytes, MADV_NOHUGEPAGE);
    slabs_.push_back(slab{static_cast<std::byte*>(base), bytes});
    counts_.mapped_bytes += bytes;
    ++counts_.slabs;
    // Free lists pop from the back: push the lowest stack first so it is
    // handed out last, and the slab guard sits below the least used stack.
    std::byte* first = static_cast<std::byte*>(base) + page;
    for (std::size_t i = 0; i < n; ++i) {
        stack s{first + i * c.size, c.size, stack_kind::canary, 0};
        s.valgrind_id = valgrind_register_stack(s.lo, s.top());
        c.free.push_back(s);
    }
    counts_.free += n;
    return true;
}

stack stack_pool::acquire(std::size_t size, const control_block& who) {
    if (size > max_stack_size) {
        throw usage_error("stack size " + std::to_string(size) + " for micro-thread " + describe(who) +
                          " exceeds " + std::to_string(max_stack_size));
    }
    size = round_size(size);
    size_class& c = class_for(size);
    if (c.free.empty()) {
        stack s = map_guarded(size);
        if (!s) {
            const int guarded_err = errno;
            if (!map_slab(c)) {
                const int err = errno ? errno : guarded_err;
                throw_alloc(err, (std::string("mmap: ") + std::strerror(err)).c_str(), size, who);
            }
        } else {
            ++counts_.live;
            ++counts_.live_guarded;
            return s;
        }
    }
    stack s = c.free.back();
    c.free.pop_back();
    --counts_.free;
    ++counts_.live;
    if (s.kind == stack_kind::guarded) ++counts_.live_guarded;
    return s;
}

void stack_pool::release(stack s) noexcept {
    --counts_.live;
    if (s.kind == stack_kind::guarded) --counts_.live_guarded;
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
            } else if (s.kind == stack_kind::guarded) {
                unmap_guarded(s);  // gives its two mappings back to the budget
                --counts_.free;
                bytes += s.size;
            } else {
                sys().madvise(s.lo, s.size, MADV_DONTNEED);
                c.free[kept++] = s;
                bytes += s.size;
            }
        }
        c.free.resize(kept);
    }
    return bytes;
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
