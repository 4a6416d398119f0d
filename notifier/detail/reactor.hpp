// notifier/detail/reactor.hpp — the reactor as the rest of the project sees
// it: the waits a micro-thread can make on the outside world. The one
// implementation (ev_reactor.cpp) is the only file that includes <ev.h>.
//
// Every wait here: arms the running micro-thread's deferred, registers
// watchers taken from a pool (no allocation once warm), suspends, and on
// return has taken every watcher back. An abort or an interruption cancels
// the wait through the deferred's cancel hook: the watchers are stopped and
// returned to the pool at once, so no watcher outlives its wait and no late
// event wakes a micro-thread that has moved on.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>

#include "core/engine.hpp"
#include "core/notifier_interface.hpp"

namespace mt::detail {

struct wait_node;

// remote_mailbox — where other OS threads drop wake-ups for one reactor.
// Shared by the reactor and every remote_wakeup token, so a token fired after
// its engine (and reactor) ended finds the mailbox closed and does nothing.
struct remote_mailbox;
void mailbox_post(remote_mailbox& box, wait_node* n, std::uint64_t generation, void* value,
                  std::exception_ptr error) noexcept;

enum class wait_result : std::uint8_t {
    ready,      // the event came
    timed_out,  // the timeout came first
};

struct reactor_counts {
    std::size_t fd_waits = 0;
    std::size_t timers = 0;
    std::size_t signal_waits = 0;
    std::size_t child_waits = 0;
    std::size_t remote_waits = 0;
    std::size_t pool_nodes = 0;  // watcher nodes allocated so far (reused)
    std::size_t active() const noexcept {
        return fd_waits + timers + signal_waits + child_waits + remote_waits;
    }
};

class reactor : public notifier_interface {
public:
    // of — the reactor of engine `e`, made (on libev) and adopted by the
    // engine on first use. Root or micro-thread; never suspends.
    static reactor& of(engine& e);
    // find — the reactor of `e`, or nullptr if it has none (yet).
    static reactor* find(const engine& e) noexcept {
        notifier_interface* n = e.notifier();
        return n && n->kind() == &kind_tag ? static_cast<reactor*>(n) : nullptr;
    }
    const void* kind() const noexcept override { return &kind_tag; }
    static const char kind_tag;

    // Waits. Called by the running micro-thread `me`; suspend; throw
    // MicroThreadExit (abort), an interruption, or std::system_error for an
    // error the kernel reported on the fd. timeout < 0: none.
    virtual wait_result wait_fd(control_block& me, int fd, bool write, double timeout) = 0;
    virtual void sleep(control_block& me, double seconds) = 0;
    virtual wait_result wait_signal(control_block& me, int signo, double timeout) = 0;
    virtual wait_result wait_child(control_block& me, pid_t pid, int& status, double timeout) = 0;

    // Wake-ups from other OS threads. arm_remote arms `me`'s deferred and
    // returns a node, its generation and the mailbox; mailbox_post may then
    // be called from any OS thread, once. A wake-up for a wait that was
    // cancelled, or for a reactor that no longer exists, is dropped.
    virtual wait_node* arm_remote(control_block& me, std::uint64_t& generation,
                                  std::shared_ptr<remote_mailbox>& box) = 0;

    // A timer that calls fn(arg) from the poll (fn must not suspend or throw),
    // for timeouts that are not a plain wait (select). Counts as pending.
    virtual wait_node* start_timer(double seconds, void (*fn)(void*) noexcept, void* arg) = 0;
    virtual void stop_timer(wait_node* n) noexcept = 0;

    // For a host that drives the engine from its own loop: an fd that becomes
    // readable when the reactor has something to do, and how long the host
    // may sleep (seconds; < 0: until the fd is readable).
    virtual int host_fd() = 0;
    virtual double host_timeout() = 0;

    // Around the blocking wait: an interpreter releases its lock in `before`
    // and takes it back in `after`.
    using block_hook = void (*)(void* user);
    virtual void set_block_hooks(block_hook before, block_hook after, void* user) noexcept = 0;

    // drained hint — set by a read that took less than it asked for (the
    // socket was emptied), so the next read of that fd waits for readiness
    // first instead of making a read that would only return EAGAIN.
    // Cleared by close_fd.
    virtual bool take_drained(int fd) noexcept = 0;
    virtual void set_drained(int fd) noexcept = 0;

    // forget_fd — ends every wait on `fd` with EBADF before it is closed.
    // Returns how many waits it ended.
    virtual std::size_t forget_fd(int fd) noexcept = 0;

    virtual reactor_counts counts() const noexcept = 0;
};

}  // namespace mt::detail
