// tests/stack_arena.hpp — lets a test read a crashed child's stacks.
//
// A MAP_SHARED region is mapped before the fork. In the child, the sys()
// seam serves the stack pool's requests for stack memory (mmap with
// MAP_STACK: slabs and mapping-guarded stacks) from it, in address order,
// so the child's stacks lie in memory the parent still sees after the child
// died. The region also holds a record the child fills in: where each stack
// lies, and a copy of the stacks of the micro-threads that must come out
// untouched, taken while they were parked.
//
//   +--------+-------------------------------+-------------------------------
//   | record | copies of the parked stacks   | arena: the child's stack memory
//   +--------+-------------------------------+-------------------------------
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>

#include "core/detail/stack_mapping.hpp"
#include "core/detail/sys.hpp"

namespace mt_test {

struct arena_record {
    static constexpr std::size_t max_parked = 12;
    std::uintptr_t overflow_lo = 0;  // the stack that overflows
    std::size_t size = 0;            // every stack's usable size
    int overflow_kind = -1;          // its mt::detail::stack_kind
    std::uintptr_t deepest = UINTPTR_MAX;  // lowest frame the overflow reached
    std::size_t parked = 0;
    std::uintptr_t parked_lo[max_parked] = {};  // stacks that must stay untouched
    bool copied = false;             // the copies below were taken
};

class stack_arena {
public:
    static constexpr std::size_t copy_bytes = 64 * 1024;  // per parked stack
    static constexpr std::size_t arena_bytes = 24u << 20;

    stack_arena() {
        bytes_ = header_bytes() + arena_bytes;
        void* p = ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE,
                         -1, 0);
        if (p == MAP_FAILED) std::abort();
        base_ = static_cast<std::byte*>(p);
        record_ = new (base_) arena_record{};
    }
    ~stack_arena() { ::munmap(base_, bytes_); }
    stack_arena(const stack_arena&) = delete;
    stack_arena& operator=(const stack_arena&) = delete;

    // guards_work — whether the kernel installs MADV_GUARD_INSTALL markers in
    // shared memory like the arena's (Linux >= 6.15; 6.13 and 6.14 guard
    // private anonymous memory only).
    bool guards_work() noexcept {
        std::byte* probe = arena() + arena_bytes - page();
        if (::madvise(probe, page(), mt::detail::madv_guard_install) != 0) return false;
        ::madvise(probe, page(), mt::detail::madv_guard_remove);
        return true;
    }

    arena_record& record() noexcept { return *record_; }
    std::byte* copy_of(std::size_t i) noexcept { return base_ + page() + i * copy_bytes; }
    std::byte* arena() noexcept { return base_ + header_bytes(); }

    // serve_stacks — in the child, inside an mt::detail::sys_override that
    // outlives the engine: from now on the stack pool's stack memory comes
    // from the arena.
    void serve_stacks() noexcept {
        next_ = arena();
        end_ = arena() + arena_bytes;
        auto& t = mt::detail::sys();
        t.mmap = [](void* addr, std::size_t len, int prot, int flags, int fd, off_t off) -> void* {
            if (!(flags & MAP_STACK)) return ::mmap(addr, len, prot, flags, fd, off);
            const std::size_t rounded = (len + page() - 1) / page() * page();
            if (static_cast<std::size_t>(end_ - next_) < rounded) {
                errno = ENOMEM;
                return MAP_FAILED;
            }
            std::byte* p = next_;
            next_ += rounded;
            return p;
        };
        t.munmap = [](void* addr, std::size_t len) -> int {
            auto* p = static_cast<std::byte*>(addr);
            if (p >= end_ - arena_bytes && p < end_) return 0;  // arena memory stays shared
            return ::munmap(addr, len);
        };
    }

private:
    static std::size_t page() noexcept { return static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)); }
    static std::size_t header_bytes() noexcept { return page() + arena_record::max_parked * copy_bytes; }

    static inline std::byte* next_ = nullptr;  // the child's next free arena byte
    static inline std::byte* end_ = nullptr;
    std::byte* base_ = nullptr;
    std::size_t bytes_ = 0;
    arena_record* record_ = nullptr;
};

}  // namespace mt_test
