// nonblocking_io/fd.hpp — owning an fd: closed exactly once, on every path
// (return, exception, abort), and through mt::close_fd, so micro-threads
// waiting on it are woken with EBADF instead of hanging.
#pragma once

#include <utility>

#include "../notifier/notifier.hpp"

namespace mt {

class fd {
public:
    fd() noexcept = default;
    explicit fd(int f) noexcept : fd_(f) {}
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
    // release — gives up ownership without closing.
    int release() noexcept { return std::exchange(fd_, -1); }
    // close — closes now (waiters get EBADF); idempotent. Never suspends.
    void close() noexcept {
        if (fd_ >= 0) close_fd(std::exchange(fd_, -1));
    }

private:
    int fd_ = -1;
};

}  // namespace mt
