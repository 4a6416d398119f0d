// notifier/waits.cpp — the public waits: argument checks and the errors
// that name the micro-thread and the operation; the reactor does the rest.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <csignal>
#include <string>
#include <system_error>

#include "core/detail/control_block.hpp"
#include "core/engine.hpp"
#include "core/errors.hpp"
#include "notifier/detail/reactor.hpp"
#include "notifier/notifier.hpp"

namespace mt {
namespace {

double seconds(const timeout_t& t) {
    if (!t) return -1;
    const double s = std::chrono::duration<double>(*t).count();
    return s < 0 ? 0 : s;
}

std::string what_in(const char* op, const std::string& arg, const detail::control_block& me) {
    return std::string(op) + "(" + arg + ") in micro-thread " + detail::describe(me);
}

void check_fd(int fd, const char* op, const detail::control_block& me) {
    if (fd < 0) {  // the reactor checks that it is open before watching it
        throw std::system_error(EBADF, std::generic_category(),
                                what_in(op, "fd " + std::to_string(fd), me) + ": not an open fd");
    }
}

void wait_fd(int fd, bool write, const timeout_t& timeout) {
    const char* op = write ? "wait_writable" : "wait_readable";
    engine& e = engine::get(op);
    detail::control_block& me = e.require_running(op);
    check_fd(fd, op, me);
    auto& r = detail::reactor::of(e);
    if (r.wait_fd(me, fd, write, seconds(timeout)) == detail::wait_result::timed_out)
        throw timeout_error(what_in(op, "fd " + std::to_string(fd), me) + " timed out");
}

}  // namespace

void wait_readable(int fd, timeout_t timeout) { wait_fd(fd, false, timeout); }
void wait_writable(int fd, timeout_t timeout) { wait_fd(fd, true, timeout); }

int close_fd(int fd) noexcept {
    if (engine* e = engine::current())
        if (auto* r = detail::reactor::find(*e)) r->forget_fd(fd);
    return ::close(fd);
}

void sleep_d(std::chrono::nanoseconds d) {
    engine& e = engine::get("sleep_d");
    detail::control_block& me = e.require_running("sleep_d");
    detail::reactor::of(e).sleep(me, std::chrono::duration<double>(d).count());
}

int wait_signal(int signo, timeout_t timeout) {
    engine& e = engine::get("wait_signal");
    detail::control_block& me = e.require_running("wait_signal");
    if (signo <= 0 || signo >= NSIG || signo == SIGKILL || signo == SIGSTOP) {
        throw usage_error(what_in("wait_signal", std::to_string(signo), me) + ": not a signal that can be caught");
    }
    if (detail::reactor::of(e).wait_signal(me, signo, seconds(timeout)) == detail::wait_result::timed_out)
        throw timeout_error(what_in("wait_signal", std::to_string(signo), me) + " timed out");
    return signo;
}

int wait_child(pid_t pid, timeout_t timeout) {
    engine& e = engine::get("wait_child");
    detail::control_block& me = e.require_running("wait_child");
    if (pid <= 0) {
        throw usage_error(what_in("wait_child", std::to_string(pid), me) + ": not a process id");
    }
    int status = 0;
    if (detail::reactor::of(e).wait_child(me, pid, status, seconds(timeout)) == detail::wait_result::timed_out)
        throw timeout_error(what_in("wait_child", "pid " + std::to_string(pid), me) + " timed out");
    return status;
}

remote_wakeup remote_wakeup::arm() {
    engine& e = engine::get("remote_wakeup::arm");
    detail::control_block& me = e.require_running("remote_wakeup::arm");
    auto& r = detail::reactor::of(e);
    std::uint64_t generation = 0;
    std::shared_ptr<detail::remote_mailbox> box;
    detail::wait_node* n = r.arm_remote(me, generation, box);
    return remote_wakeup(std::move(box), n, generation);
}

void remote_wakeup::callback(void* value) const noexcept {
    detail::mailbox_post(*box_, node_, generation_, value, nullptr);
}

void remote_wakeup::errback(std::exception_ptr error) const noexcept {
    detail::mailbox_post(*box_, node_, generation_, nullptr, std::move(error));
}

void handle_interrupts() { detail::reactor::of(engine::get("handle_interrupts")); }

int notifier_fd() { return detail::reactor::of(engine::get("notifier_fd")).host_fd(); }

int notifier_timeout_ms() {
    const double s = detail::reactor::of(engine::get("notifier_timeout_ms")).host_timeout();
    if (s < 0) return -1;
    return static_cast<int>(std::ceil(s * 1000.0));
}

void set_block_hooks(void (*before)(void*), void (*after)(void*), void* user) {
    detail::reactor::of(engine::get("set_block_hooks")).set_block_hooks(before, after, user);
}

}  // namespace mt
