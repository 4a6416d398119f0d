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
#include "core/detail/mailbox.hpp"
#include "core/detail/remote_slots.hpp"
#include "core/engine.hpp"
#include "core/detail/wait.hpp"
#include "core/errors.hpp"
#include "notifier/detail/managed_fds.hpp"
#include "notifier/detail/reactor.hpp"
#include "notifier/notifier.hpp"
#include "core/detail/naming.hpp"

namespace mt {
namespace {

std::string what_in(const char* op, const std::string& arg, const detail::control_block& me) {
    return detail::op_in(op, arg, &me);
}

void wait_fd(int fd, bool write, const deadline& d) {
    const char* op = write ? "wait_writable" : "wait_readable";
    engine& e = engine::get(op);
    detail::control_block& me = e.require_running(op);
    detail::check_deadline(me, d, op);
    if (fd < 0) {  // the reactor checks that it is open before watching it
        throw std::system_error(EBADF, std::generic_category(),
                                what_in(op, "fd " + std::to_string(fd), me) + ": not an open fd");
    }
    detail::reactor::of(e).wait_fd(me, fd, write, d, op);
}

}  // namespace

void wait_readable(int fd, deadline d) { wait_fd(fd, false, d); }
void wait_writable(int fd, deadline d) { wait_fd(fd, true, d); }

int close_fd(int fd) noexcept {
    detail::unmanage_fd(fd);  // first: a reactor that kept a watcher on it sees the identity end
    if (engine* e = engine::current())
        if (auto* r = detail::reactor::find(*e)) r->forget_fd(fd);
    return ::close(fd);
}

int wait_signal(int signo, deadline d) {
    engine& e = engine::get("wait_signal");
    detail::control_block& me = e.require_running("wait_signal");
    detail::check_deadline(me, d, "wait_signal");
    if (signo <= 0 || signo >= NSIG || signo == SIGKILL || signo == SIGSTOP) {
        throw usage_error(what_in("wait_signal", std::to_string(signo), me) + ": not a signal that can be caught");
    }
    // A fault (a bad address, a division by zero, an illegal instruction)
    // is raised again as soon as a handler returns: caught by the reactor,
    // it would loop for ever instead of stopping the process, and
    // SIGSEGV/SIGBUS are how a stack overflow is reported.
    if (signo == SIGSEGV || signo == SIGBUS || signo == SIGFPE || signo == SIGILL) {
        throw usage_error(what_in("wait_signal", std::to_string(signo), me) +
                          ": a fault signal, raised again by the faulting instruction, cannot be waited for");
    }
    return detail::reactor::of(e).wait_signal(me, signo, d);
}

int wait_child(pid_t pid, deadline d) {
    engine& e = engine::get("wait_child");
    detail::control_block& me = e.require_running("wait_child");
    detail::check_deadline(me, d, "wait_child");
    if (pid <= 0) throw usage_error(what_in("wait_child", std::to_string(pid), me) + ": not a process id");
    return detail::reactor::of(e).wait_child(me, pid, d);
}

remote_wakeup remote_wakeup::arm() {
    engine& e = engine::get("remote_wakeup::arm");
    detail::control_block& me = e.require_running("remote_wakeup::arm");
    std::uint32_t slot = 0, generation = 0;
    auto box = detail::arm_remote(me, true, slot, generation);
    return remote_wakeup(std::move(box), slot, generation);
}

void remote_wakeup::callback(void* value) const noexcept { box_->post(slot_, generation_, value, nullptr); }

void remote_wakeup::errback(std::exception_ptr error) const noexcept {
    box_->post(slot_, generation_, nullptr, std::move(error));
}

void handle_interrupts() { detail::reactor::of(engine::get("handle_interrupts")); }

int notifier_fd() { return detail::reactor::of(engine::get("notifier_fd")).host_fd(); }

int notifier_timeout_ms() {
    engine& e = engine::get("notifier_timeout_ms");
    detail::reactor::of(e).prepare_host_wait();  // new watchers reach the kernel before the host sleeps
    if (!e.idle()) return 0;
    const auto next = e.next_deadline();
    if (next == deadline::clock::time_point::max()) return -1;
    const auto left = next - deadline::clock::now();
    if (left.count() <= 0) return 0;
    const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
    return ms > 0x7fffffff ? 0x7fffffff : static_cast<int>(ms);
}

void set_block_hooks(void (*before)(void*), void (*after)(void*), void* user) {
    engine::get("set_block_hooks").set_block_hooks(before, after, user);
}

}  // namespace mt
