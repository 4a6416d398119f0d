// notifier/detail/reactor.hpp — the reactor as the rest of the project sees
// it: the waits a micro-thread can make on the outside world. The one
// implementation (ev_reactor.cpp) is the only file that includes <ev.h>.
//
// Every wait here: begins an internal wait of the running micro-thread
// (core/detail/wait.hpp), registers watchers taken from a pool (no
// allocation once warm), suspends, and on return has taken every watcher
// back. A timeout, an abort or an interruption cancels the wait through its
// kind's cancel hook: the watchers are stopped and returned to the pool at
// once, so no watcher outlives its wait and no late event wakes a
// micro-thread that has moved on.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>

#include "../../core/deadline.hpp"
#include "../../core/engine.hpp"
#include "../../core/notifier_interface.hpp"

namespace mt::detail {

struct wait_node;

struct reactor_counts {
    std::size_t fd_waits = 0;
    std::size_t signal_waits = 0;
    std::size_t child_waits = 0;
    std::size_t pool_nodes = 0;  // watcher nodes allocated so far (reused)
    std::size_t active() const noexcept { return fd_waits + signal_waits + child_waits; }
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
    // timeout_error (naming `op`) when `d` passes first, MicroThreadExit
    // (abort), an interruption, or std::system_error for an error the kernel
    // reported on the fd. The deadline is core's (the reactor keeps no timers).
    virtual void wait_fd(control_block& me, int fd, bool write, const deadline& d, const char* op) = 0;
    // wait_signal — returns signo.
    virtual int wait_signal(control_block& me, int signo, const deadline& d) = 0;
    // wait_child — returns the child's waitpid() status once it exited. The
    // child's exit reaches this engine whichever engine started it (a pidfd
    // where the kernel has them, else polling with back-off).
    virtual int wait_child(control_block& me, pid_t pid, const deadline& d) = 0;

    // Wake-ups from other OS threads are core's (the engine's mailbox,
    // core/detail/mailbox.hpp): the reactor only makes a blocked poll return
    // (wake()).

    // For a host that drives the engine from its own loop: an fd that becomes
    // readable when the reactor has something to do. prepare_host_wait
    // registers with the kernel every watcher started since the last poll
    // (and settles what is already ready), so the host's poll of host_fd
    // cannot sleep through an fd wait begun since.
    virtual int host_fd() = 0;
    virtual void prepare_host_wait() = 0;

    // Around the blocking wait: an interpreter releases its lock in `before`
    // and takes it back in `after`.
    // (set_block_hooks: see notifier_interface; the engine passes its hooks on.)

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
