// core/detail/sys.hpp — the one seam every system call of the engine goes through.
//
// Each entry is a plain function pointer initialised to the libc function.
// Tests (and, later, fault-injection runs) replace an entry for the duration
// of a scope with sys_override to make a call fail the way the kernel would
// (ENOMEM from mmap, EMFILE from accept, ...). Production code calls
// mt::detail::sys().mmap(...) and never the libc function directly.
//
// Threading: the table is process-wide and read without locks; overrides are
// for tests that run one engine at a time.
#pragma once

#include <cstddef>
#include <sys/socket.h>
#include <sys/types.h>

namespace mt::detail {

struct syscall_table {
    void* (*mmap)(void* addr, std::size_t len, int prot, int flags, int fd, off_t off);
    int (*munmap)(void* addr, std::size_t len);
    int (*mprotect)(void* addr, std::size_t len, int prot);
    int (*madvise)(void* addr, std::size_t len, int advice);
    // I/O (nonblocking_io)
    ssize_t (*read)(int fd, void* buf, std::size_t n);
    ssize_t (*write)(int fd, const void* buf, std::size_t n);
    ssize_t (*recv)(int fd, void* buf, std::size_t n, int flags);
    ssize_t (*send)(int fd, const void* buf, std::size_t n, int flags);
    int (*accept4)(int fd, sockaddr* addr, socklen_t* len, int flags);
    int (*connect)(int fd, const sockaddr* addr, socklen_t len);
    int (*socket)(int domain, int type, int protocol);
    // processes (a function run in a subprocess)
    pid_t (*fork)();
};

// sys — the live table.
syscall_table& sys() noexcept;

// sys_override — replaces one or more entries until it goes out of scope.
class sys_override {
public:
    sys_override() : saved_(sys()) {}
    ~sys_override() { sys() = saved_; }
    sys_override(const sys_override&) = delete;
    sys_override& operator=(const sys_override&) = delete;

private:
    syscall_table saved_;
};

}  // namespace mt::detail
