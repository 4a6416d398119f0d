// core/semaphore.hpp — counting semaphores for micro-threads.
//
//   mt::semaphore downloads(3, "downloads");
//   downloads.acquire();               // suspends this micro-thread while none is free
//   ... fetch ...
//   downloads.release();
//
// A semaphore holds a number of free permits. acquire(n) takes n of them,
// suspending only the calling micro-thread until they are there; release(n)
// gives n back. Permits are not owned: any micro-thread may release, which is
// how a semaphore made with 0 signals.
//
// Fair, FIFO, no barging: waiters are served strictly in the order they
// began to wait, and a release hands its permits straight to them (the
// waiter's acquire returns holding them; nobody arriving later can take them
// first). A waiter that wants more permits than are free blocks everyone
// behind it, even those that want fewer: the head is served first, and only
// an acquire that finds nobody waiting may take free permits without waiting.
//
// Timeouts and aborts: a waiter that times out or is aborted leaves the queue
// holding nothing; if it was the head, the waiters behind it that the free
// permits now satisfy are served at once. A waiter to whom permits were
// handed owns them, even when it is aborted before it runs again: its acquire
// returns normally (the abort is raised at its next suspension point, as for
// every wait the engine settles before an abort), so a guard that releases
// on the way out gives them back. An acquire that raises holds nothing.
//
// Invariants (check_invariants):
//   * 0 <= available() <= the bound (a bounded_semaphore's start value).
//   * the head waiter, if any, wants more permits than are free (otherwise
//     it would have been served); every waiter wants at least one.
//   * every waiter record is in the frame of a micro-thread whose wait is
//     armed on it (core/detail/sync_object.hpp).
//
// Threading: the OS thread of the engine that first used it; a use from
// another engine, or after that engine ended, is a usage error.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/deadline.hpp"
#include "core/detail/sync_object.hpp"

namespace mt {

class semaphore : private detail::sync_object {
public:
    // semaphore — `initial` free permits (negative: usage_error). The name
    // shows in dumps, errors and deadlock chains.
    explicit semaphore(std::ptrdiff_t initial = 0, std::string_view name = {});
    // ~semaphore — micro-threads still waiting get usage_error ("semaphore
    // 'x' was destroyed while micro-thread #3 'w' waited on it"). Never throws.
    ~semaphore();

    // acquire — takes one permit (n permits), suspending the running
    // micro-thread until they are free and it is first in line. Throws
    // timeout_error when `d` passes first (it then holds nothing),
    // MicroThreadExit on abort, usage_error outside a micro-thread, for a
    // negative n or timeout, for a bounded semaphore's n past its bound, or
    // from another engine. acquire(0) returns at once.
    void acquire(deadline d = {}) { acquire(1, d); }
    void acquire(std::ptrdiff_t n, deadline d = {});

    // try_acquire — takes n permits if they are free and nobody waits;
    // never suspends. Returns whether it did. May be called on the engine's
    // root.
    bool try_acquire(std::ptrdiff_t n = 1);
    // try_acquire_for / try_acquire_until — acquire, but returns false
    // instead of throwing timeout_error. Otherwise as acquire.
    template <class Rep, class Period>
    bool try_acquire_for(const std::chrono::duration<Rep, Period>& timeout, std::ptrdiff_t n = 1) {
        return acquire_or_time_out(n, deadline(timeout), "semaphore::try_acquire_for", false);
    }
    bool try_acquire_until(deadline::clock::time_point t, std::ptrdiff_t n = 1) {
        return acquire_or_time_out(n, deadline::at(t), "semaphore::try_acquire_until", false);
    }

    // release — gives n permits back; they go to the waiters in order, as
    // far as they reach. Never suspends (the served waiters run later). May
    // be called on the engine's root. usage_error for a negative n, past a
    // bounded semaphore's start value, or from another engine.
    void release(std::ptrdiff_t n = 1);

    // available — the free permits now.
    std::ptrdiff_t available() const noexcept { return free_; }
    // waiting — micro-threads in line.
    std::size_t waiting() const noexcept { return waiters_.size(); }
    using sync_object::name;

    void check_invariants() const noexcept;

protected:
    // bound: the most free permits release() accepts; kind: for messages.
    semaphore(std::ptrdiff_t initial, std::ptrdiff_t bound, const char* kind, std::string_view name);

private:
    template <class P>
    friend void detail::describe_record(const void*, std::string&);
    static const detail::wait_kind acquire_kind;

    bool acquire_or_time_out(std::ptrdiff_t n, const deadline& d, const char* op, bool throws);
    void serve() noexcept;
    void format_wait(const detail::sync_waiter& w, char* buf, std::size_t size) const noexcept;
    static void cancel(void* obj, detail::control_block& waiter);

    std::ptrdiff_t free_;          // free permits, not yet handed to anyone
    const std::ptrdiff_t start_;   // the start value (shown as "of N" in dumps)
    const std::ptrdiff_t bound_;   // PTRDIFF_MAX, or a bounded semaphore's start value
    detail::sync_queue waiters_;   // FIFO of acquires that could not be served at once
};

// bounded_semaphore — a semaphore whose free permits never exceed its start
// value: a release past it (releasing a permit that was never acquired) is a
// usage_error naming the micro-thread and the semaphore, and the release
// does not happen. An acquire of more permits than the start value is a
// usage_error too (it could never be served).
class bounded_semaphore : public semaphore {
public:
    explicit bounded_semaphore(std::ptrdiff_t initial, std::string_view name = {});
};

}  // namespace mt
