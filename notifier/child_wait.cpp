// notifier/child_wait.cpp — waiting for a child process to exit, in any
// engine: on the child's pidfd (Linux >= 5.3), which becomes readable when
// it exits, so the exit reaches the engine that waits. No SIGCHLD handler is
// involved: libev lets only one loop own a signal, which tied subprocesses to
// one engine per process. Kernels without pidfds: waitpid(WNOHANG) polled
// with a back-off.
#include <fmt/format.h>

#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <system_error>

#include "core/detail/control_block.hpp"
#include "core/detail/wait.hpp"
#include "notifier/detail/ev_reactor.hpp"
#include "core/detail/naming.hpp"

namespace mt::detail {
namespace {

// pidfd_open — an fd that becomes readable when process `pid` exits; -1
// with errno where the kernel has no such call.
int pidfd_open(pid_t pid) noexcept {
#ifdef SYS_pidfd_open
    return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
    (void)pid;
    errno = ENOSYS;
    return -1;
#endif
}

[[noreturn]] void child_error(int err, pid_t pid, const control_block& me) {
    throw std::system_error(err, std::generic_category(),
                            op_in("wait_child", fmt::format("pid {}", pid), &me));
}

// reaped — waitpid(pid, WNOHANG): true (status set) once it exited.
bool reaped(pid_t pid, int& status, const control_block& me) {
    for (;;) {
        const pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid) return true;
        if (r == 0) return false;
        if (errno != EINTR) child_error(errno, pid, me);
    }
}

void describe_child(pid_t pid, std::string& out) { out += "for child process " + std::to_string(pid) + " to exit"; }

const wait_kind child_kind{
    "child",
    [](const void* obj, std::string& out) { describe_child(static_cast<const wait_ticket*>(obj)->pid, out); },
    [](const void*) -> control_block* { return nullptr; },
    ev_reactor::cancel_wait,
};

const wait_kind child_poll_kind{
    "child",
    [](const void* obj, std::string& out) {
        describe_child(*static_cast<const pid_t*>(obj), out);
        out += " (polling)";
    },
    [](const void*) -> control_block* { return nullptr; },
    nullptr,
};

}  // namespace

int ev_reactor::wait_child(control_block& me, pid_t pid, const deadline& d) {
    int status = 0;
    if (reaped(pid, status, me)) return status;  // also: ECHILD when it is not our child
    const int pfd = pidfd_open(pid);
    if (pfd < 0) {
        if (errno == ENOSYS || errno == EPERM) return wait_child_polling(me, pid, d);
        if (reaped(pid, status, me)) return status;  // ESRCH: it exited and was reaped meanwhile
        child_error(errno, pid, me);
    }
    ::fcntl(pfd, F_SETFD, FD_CLOEXEC);
    struct pidfd_closer {
        ev_reactor* r;
        int fd;
        ~pidfd_closer() {
            r->forget_fd(fd);
            ::close(fd);
        }
    } closer{this, pfd};
    for (;;) {
        fd_entry& e = fds_.entry(pfd);  // may throw: before anything is armed
        wait_ticket t;
        t.fd = pfd;
        t.pid = pid;
        wait_node* n = begin(node_kind::child, child_kind, me, t);
        try {
            watch_fd(e, n, pfd, false, false);  // a new pidfd: its number may be new to libev
        } catch (...) {
            abandon_wait(me);
            throw;
        }
        end_wait_or_throw(me, d, "wait_child");
        if (reaped(pid, status, me)) return status;
    }
}

// wait_child_polling — waitpid(WNOHANG) with a back-off from 1 ms to 50 ms.
int ev_reactor::wait_child_polling(control_block& me, pid_t pid, const deadline& d) {
    int status = 0;
    auto pause = std::chrono::milliseconds(1);
    pid_t key = pid;
    while (!reaped(pid, status, me)) {
        const auto now = deadline::clock::now();
        begin_wait(me, child_poll_kind, &key);
        if (d.when() <= now) end_wait_or_throw(me, d, "wait_child");  // times out at once, with the usual message
        end_wait(me, deadline::at(now + pause < d.when() ? now + pause : d.when()));
        if (pause < std::chrono::milliseconds(50)) pause *= 2;
    }
    return status;
}

}  // namespace mt::detail
