// notifier/detail/managed_fds.hpp — the process's managed fds: fd numbers
// whose owner closes them only through mt::close_fd (mt::fd does), each with
// an identity that names the file it stands for until then.
//
// Why: a reactor may keep an fd's read watcher started between waits (no
// fcntl check, no epoll_ctl per wait) only while it knows the number still
// names the file libev registered. close_fd and mt::fd::release end the
// identity before the fd can be closed, in whatever engine or OS thread, so
// a reactor that kept a watcher sees at its next wait that the identity
// changed and tells libev the number may be new. Code that may close an fd
// with ::close (the C API's callers, the Python module, a raw fd waited on
// with wait_readable) never makes it managed, and its waits keep the old
// rule: the watcher stops with the last wait.
//
// Invariants:
//   * identity(fd) != 0 iff fd is owned by an mt::fd (or another owner that
//     called manage) and has not been released or passed to close_fd since;
//   * identities come from one 32-bit counter that skips 0: a number's next
//     identity equals an old one only after 2^32 manage_fd calls in between.
//
// Threading: any OS thread. An fd number has one owner at a time; whatever
// handed the fd to another OS thread ordered the stores before it, and the
// kernel orders a close before the open that reuses its number. The table
// itself grows lock-free.
#pragma once

#include <cstdint>

namespace mt::detail {

// manage_fd — fd (>= 0) is owned from now on by code that closes it only
// through close_fd: it gets a fresh identity. Never throws: when the table
// cannot grow (out of memory, or fd beyond its 2^20 numbers) the fd stays
// unmanaged, which is always safe.
void manage_fd(int fd) noexcept;

// unmanage_fd — fd's identity ends (close_fd calls it before closing;
// mt::fd::release when it hands the fd on). Idempotent.
void unmanage_fd(int fd) noexcept;

// managed_identity — fd's identity, 0 when it is not managed. One or two
// loads, no system call: the reactor calls it on every fd wait.
std::uint32_t managed_identity(int fd) noexcept;

}  // namespace mt::detail
