// core/detail/sys.cpp — the default syscall table: libc itself.
#include "core/detail/sys.hpp"

#include <sys/mman.h>

namespace mt::detail {

syscall_table& sys() noexcept {
    static syscall_table table{
        .mmap = ::mmap,
        .munmap = ::munmap,
        .mprotect = ::mprotect,
        .madvise = ::madvise,
    };
    return table;
}

}  // namespace mt::detail
