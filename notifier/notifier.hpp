// notifier/notifier.hpp — waiting for the outside world without blocking
// the OS thread: fds, time, signals, child processes, other OS threads.
//
// Each call suspends only the calling micro-thread; the engine runs the
// others meanwhile and blocks in the reactor (libev, epoll) only when nothing
// is runnable. Waiting allocates nothing once warm: it uses the micro-thread's
// deferred and watchers from a pool. An abort while waiting raises
// MicroThreadExit and removes the watchers at once.
//
// Two micro-threads may wait for the same fd and direction: both are woken.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>

#include "../core/deadline.hpp"
#include "../core/sleep.hpp"

namespace mt {

// timeout_t — an optional timeout; converts to mt::deadline (core/deadline.hpp),
// which every wait takes: a duration from now, a point in time, or none.
using timeout_t = std::optional<std::chrono::nanoseconds>;

namespace detail {
class mailbox;
}

// wait_readable / wait_writable — suspend until `fd` is readable / writable.
// Throws std::system_error(EBADF) naming the fd for an invalid or closed fd
// (checked before libev sees it, and if it is closed during the wait),
// timeout_error when the deadline passes first, usage_error outside a
// micro-thread or for a negative timeout, MicroThreadExit on abort.
void wait_readable(int fd, deadline d = {});
void wait_writable(int fd, deadline d = {});

// close_fd — closes `fd` after ending every wait on it with
// std::system_error(EBADF) ("the fd was closed while it waited"). An fd that
// micro-threads may be waiting on must be closed this way (the fd types of
// nonblocking_io do it), never with ::close: an fd closed behind the
// reactor's back is no longer in the kernel's epoll set, so waits on it end
// only by their timeouts. An fd owned by mt::fd (nonblocking_io/fd.hpp) is
// closed only this way, so the reactor keeps its read watcher between waits;
// the watcher of any other fd stops with its last wait, so closing such an
// fd with ::close once nobody waits on it is safe. Any context; never
// suspends.
// Returns ::close's result.
int close_fd(int fd) noexcept;

// sleep_d — see core/sleep.hpp (a sleep needs only the engine's deadlines).

// wait_signal — suspends until POSIX signal `signo` arrives (while waiting;
// signals that arrive when nobody waits are not queued). Returns signo.
// Throws timeout_error, usage_error for a signal another OS thread's engine
// watches, that cannot be caught, or that reports a fault (SIGSEGV, SIGBUS,
// SIGFPE, SIGILL: a waiter would turn the fault into an endless loop).
int wait_signal(int signo, deadline d = {});

// wait_child — suspends until child process `pid` exits; returns its
// waitpid() status. Only that pid is reaped (other children are left alone).
// Works in any engine of the process: the exit reaches the engine that waits
// (through the child's pidfd; polling on kernels without pidfds). Throws
// std::system_error(ECHILD) if it is not our child, timeout_error.
int wait_child(pid_t pid, deadline d = {});

// remote_wakeup — lets another OS thread fire a micro-thread's deferred.
//
//   auto w = mt::remote_wakeup::arm();          // in the micro-thread
//   std::thread([w] { w.callback(result); }).detach();
//   void* r = mt::this_deferred().wait();
//
// arm() arms the running micro-thread's deferred; callback()/errback() may be
// called from any OS thread, once. A wake-up for a wait that was aborted, or
// that arrives after the engine ended, is dropped. It travels through the
// engine's mailbox (core), so it works on an engine with no notifier too.
class remote_wakeup {
public:
    static remote_wakeup arm();
    void callback(void* value) const noexcept;
    void errback(std::exception_ptr error) const noexcept;

private:
    remote_wakeup(std::shared_ptr<detail::mailbox> box, std::uint32_t slot, std::uint32_t g)
        : box_(std::move(box)), slot_(slot), generation_(g) {}
    std::shared_ptr<detail::mailbox> box_;  // the engine's (core/detail/mailbox.hpp)
    std::uint32_t slot_;
    std::uint32_t generation_;
};

// handle_interrupts — from now on Ctrl-C (SIGINT) reaches the main
// micro-thread as interrupted_error. (The reactor, and with it this
// handling, otherwise starts with the engine's first wait; a server calls
// this before announcing that it listens, so no Ctrl-C falls in between.)
void handle_interrupts();

// --- a host program that drives the engine from its own loop --------------------
//
//   mt::engine e;  mt::spawn(...);
//   while (e.run_once()) {
//       pollfd p{mt::notifier_fd(), POLLIN, 0};
//       ::poll(&p, 1, mt::notifier_timeout_ms());
//   }

// notifier_fd — an fd that becomes readable when the reactor has events.
int notifier_fd();
// notifier_timeout_ms — how long the host may block: 0 when micro-threads
// are runnable, -1 when only fd events can wake the engine, else the time to
// the next deadline (rounded up). It first hands the reactor's new watchers
// to the kernel, so the host's poll never sleeps through a wait begun since
// the last run_once, whatever mix of fd, deadline, signal and child waits is
// pending.
int notifier_timeout_ms();

// set_block_hooks — called just before and just after the engine blocks
// waiting for events (in the reactor's kernel wait, or in its own sleep when
// it has no notifier): an interpreter releases and retakes its lock there.
// Same as engine::set_block_hooks.
void set_block_hooks(void (*before)(void*), void (*after)(void*), void* user);

}  // namespace mt
