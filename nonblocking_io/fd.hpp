// nonblocking_io/fd.hpp — owning an fd: closed exactly once, on every path
// (return, exception, abort), and through mt::close_fd, so micro-threads
// waiting on it are woken with EBADF instead of hanging.
//
// An owned fd is "managed" (notifier/detail/managed_fds.hpp): since it is
// closed only through close_fd, the reactor keeps its read watcher started
// between waits and skips the check that it is open — a wait on it makes no
// system call of its own. release() ends that: whoever takes the fd may close
// it with ::close.
#pragma once

#include <utility>

#include "../notifier/notifier.hpp"

namespace mt {

namespace detail {
// See notifier/detail/managed_fds.hpp.
void manage_fd(int fd) noexcept;
void unmanage_fd(int fd) noexcept;
}  // namespace detail

class fd {
public:
    fd() noexcept = default;
    // fd — owns f (>= 0, open) from now on; it must not be closed by other means.
    explicit fd(int f) noexcept : fd_(f) {
        if (f >= 0) detail::manage_fd(f);
    }
    fd(fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    fd& operator=(fd&& o) noexcept {
        if (this != &o) {
            close();
            fd_ = std::exchange(o.fd_, -1);
        }
        return *this;
    }
    fd(const fd&) = delete;
    fd& operator=(const fd&) = delete;
    ~fd() { close(); }

    int get() const noexcept { return fd_; }
    explicit operator bool() const noexcept { return fd_ >= 0; }
    // release — gives up ownership without closing; the fd is no longer
    // managed (its new owner may close it with ::close).
    int release() noexcept {
        if (fd_ >= 0) detail::unmanage_fd(fd_);
        return std::exchange(fd_, -1);
    }
    // close — closes now (waiters get EBADF); idempotent. Never suspends.
    void close() noexcept {
        if (fd_ >= 0) close_fd(std::exchange(fd_, -1));
    }

private:
    int fd_ = -1;
};

}  // namespace mt
