// tests/stack_test_util.hpp — small helpers the stack tests share.
#pragma once

#include <sys/mman.h>

#include <cerrno>
#include <cstddef>

#include "core/detail/stack_mapping.hpp"
#include "core/microthreading.hpp"

namespace mt_test {

// my_stack — the running micro-thread's stack.
inline const mt::detail::stack& my_stack() { return mt::engine::current()->running()->stk; }

// park — waits on the running micro-thread's deferred until someone fires it.
inline void park() {
    mt::this_deferred().arm();
    mt::this_deferred().wait();
}

// kernel_has_guard_install — this test's own answer, without the pool or
// the sys() seam: does madvise(MADV_GUARD_INSTALL) work here?
inline bool kernel_has_guard_install() {
    const std::size_t page = mt::detail::page_size();
    void* p = ::mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return false;
    const bool works = ::madvise(p, page, mt::detail::madv_guard_install) == 0;
    ::munmap(p, page);
    return works;
}

// madvise_as_before_6_13 — a sys().madvise that refuses MADV_GUARD_INSTALL
// with EINVAL, as kernels older than Linux 6.13 do.
inline int madvise_as_before_6_13(void* addr, std::size_t len, int advice) {
    if (advice == mt::detail::madv_guard_install) {
        errno = EINVAL;
        return -1;
    }
    return ::madvise(addr, len, advice);
}

}  // namespace mt_test
