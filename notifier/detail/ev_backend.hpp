// notifier/detail/ev_backend.hpp — the libev loop as the reactor sees it:
// interest in an fd's directions, one watcher per caught signal, a wake-up
// any OS thread may send, and a run bounded by a time. The implementation
// (ev_backend.cpp) is the only file of the project that includes <ev.h>;
// nothing here names libev, so the reactor's concepts live in files of their
// own (node_pool, fd_table, signal_table, mailbox) without it.
//
// Invariants:
//   * watching(fd, dir) <=> libev's watcher for that fd and direction is
//     started. A watcher is started on an fd that is open (the reactor checks
//     an unmanaged fd before the first watch; a managed one is open by its
//     owner's contract) and close_fd forgets it before closing (its
//     watchers stopped, the number out of the kernel's set); a watcher the
//     reactor keeps on a managed fd may outlive a close made elsewhere
//     (another engine's close_fd): libev then gets no event for it, or a
//     spurious one, and the reactor re-watches the number before it waits on
//     it again.
//   * a signal, once watched, stays watched until the backend is destroyed
//     (libev would reset it to SIG_DFL when its last watcher stopped).
//
// Threading: the loop's OS thread only, but for wake(), which any OS thread
// may call while the backend lives.
#pragma once

#include <memory>

namespace mt::detail {

// backend_events — what the backend reports, from inside run(). The
// callbacks settle waits; they never switch and never throw.
class backend_events {
public:
    virtual void on_fd(int fd, int dir, bool error) noexcept = 0;  // dir: 0 read, 1 write
    virtual void on_signal(int signo) noexcept = 0;
    virtual void on_wakeup() noexcept = 0;
    // around the kernel's blocking wait, while set_hooks(true) is in force
    virtual void before_block() noexcept = 0;
    virtual void after_block() noexcept = 0;

protected:
    ~backend_events() = default;
};

class ev_backend {
public:
    // ev_backend — a new libev loop (epoll where it can). Throws
    // std::system_error when libev cannot make one, or when no fd is left
    // for its wake-ups (libev would abort the process).
    explicit ev_backend(backend_events& events);
    ~ev_backend();
    ev_backend(const ev_backend&) = delete;
    ev_backend& operator=(const ev_backend&) = delete;

    // watch — starts the watcher of fd's direction, telling libev the number
    // may belong to a new file (so its next reify re-registers it with the
    // kernel — one epoll_ctl: an fd closed and reused is watched again). A
    // watcher already started is left as it is. Throws std::bad_alloc when
    // fd's first watchers cannot be allocated (nothing started then).
    void watch(int fd, int dir);
    // resume — starts the watcher of fd's direction without that: the caller
    // knows fd names the same file as when this watcher last ran (a managed
    // fd, managed_fds.hpp), so libev's own bookkeeping of the kernel's epoll
    // set is right and a stop followed by a start before the next poll makes
    // no system call. A watcher already started is left as it is.
    void resume(int fd, int dir);
    void unwatch(int fd, int dir) noexcept;
    // forget — fd is about to be closed: both its watchers stop and it
    // leaves the kernel's set now (one epoll_ctl, where a watcher of it
    // started since the last forget), so no event of its file arrives
    // under its number after the close (see ev_backend.cpp).
    void forget(int fd) noexcept;
    bool watching(int fd, int dir) const noexcept;

    // stats — counts for tests and benchmarks (no system call is counted
    // directly: a fresh watch costs one epoll_ctl at the next poll, a
    // resume none).
    struct stats_t {
        unsigned long fresh_watches = 0;  // watch() that started a watcher
        unsigned long resumes = 0;        // resume() that started a watcher
    };
    const stats_t& stats() const noexcept { return stats_; }

    // watch_signal — catches signo from now until the backend ends.
    void watch_signal(int signo);

    // wake — makes a running or blocked run() return soon. Any OS thread.
    void wake() noexcept;

    // run — processes ready events; max_wait < 0 blocks until one comes, 0
    // does not block, > 0 blocks at most that many seconds.
    void run(double max_wait);

    // set_hooks — whether run() reports before_block / after_block around
    // the kernel's wait (off at first: libev then calls nothing there). Not
    // from inside run().
    void set_hooks(bool on) noexcept;

    // kernel_fd — libev's epoll fd (readable when events are pending), or -1.
    int kernel_fd() const noexcept;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
    stats_t stats_;
};

}  // namespace mt::detail
