// nonblocking_io/detail/op.hpp — what every I/O call shares: who calls, on
// which fd, until when, and how its errors are worded.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "core/detail/control_block.hpp"
#include "notifier/notifier.hpp"

namespace mt::detail {

class op_context {
public:
    // Must be made in a micro-thread (usage_error otherwise); EBADF for fd < 0.
    op_context(const char* op, int fd, timeout_t timeout);

    // what — "read_d(fd 7) in micro-thread #3 'conn'"
    std::string what() const;
    [[noreturn]] void fail(int err) const;
    // remaining — what is left of the timeout; throws timeout_error when none.
    timeout_t remaining() const;
    // wait — for readiness, within the remaining time.
    void wait(bool write) const;

private:
    const char* op_;
    int fd_;
    control_block& me_;
    std::optional<std::chrono::steady_clock::time_point> deadline_;
};

}  // namespace mt::detail
