// core/detail/sys.cpp — the default syscall table: libc itself.
#include "core/detail/sys.hpp"

#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

namespace mt::detail {

syscall_table& sys() noexcept {
    static syscall_table table{
        .mmap = ::mmap,
        .munmap = ::munmap,
        .mprotect = ::mprotect,
        .madvise = ::madvise,
        .read = ::read,
        .write = ::write,
        .recv = ::recv,
        .send = ::send,
        .accept4 = ::accept4,
        .connect = ::connect,
        .socket = ::socket,
        .fork = ::fork,
    };
    return table;
}

}  // namespace mt::detail
