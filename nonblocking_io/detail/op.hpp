// nonblocking_io/detail/op.hpp — what every I/O call shares: who calls, on
// which fd, until when, and how its errors are worded.
#pragma once

#include <string>

#include "../../core/deadline.hpp"
#include "../../core/detail/control_block.hpp"
#include "../../notifier/notifier.hpp"

namespace mt::detail {

class op_context {
public:
    // Must be made in a micro-thread (usage_error otherwise); EBADF for fd < 0;
    // usage_error for a negative timeout.
    op_context(const char* op, int fd, const deadline& d);

    // what — "read_d(fd 7) in micro-thread #3 'conn'"
    std::string what() const;
    [[noreturn]] void fail(int err) const;
    // wait — for readiness, until the operation's deadline (timeout_error
    // names the operation, the micro-thread, the fd and how long).
    void wait(bool write) const;
    const deadline& until() const noexcept { return deadline_; }

private:
    const char* op_;
    int fd_;
    control_block& me_;
    deadline deadline_;
};

}  // namespace mt::detail
