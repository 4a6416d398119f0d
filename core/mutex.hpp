// core/mutex.hpp — a mutual-exclusion lock for micro-threads.
//
//   mt::mutex accounts("accounts");
//   {
//       std::lock_guard g(accounts);          // or std::unique_lock, std::scoped_lock
//       balance += amount;
//   }
//   if (accounts.try_lock_for(10ms)) { ...; accounts.unlock(); }
//   accounts.lock(mt::deadline(2s));          // throws mt::timeout_error after 2 s
//
// What it promises:
//   * A wait suspends only the micro-thread; the OS thread runs the others.
//   * FIFO, no barging: unlock() hands the mutex straight to the first
//     waiter, which runs next. A releaser that locks again at once queues
//     behind the waiters; no waiter can be starved.
//   * Abort-safe: a waiter that times out or is aborted leaves the queue and
//     never holds the mutex. A waiter that was handed the mutex and is
//     aborted before it runs keeps it: lock() returns normally, and the
//     abort raises MicroThreadExit at its next suspension, where its guard
//     unlocks it while unwinding. lock() never throws once it holds the
//     mutex. An uncontended lock() is not a suspension point: it does not
//     raise a pending abort (so a destructor may lock during unwinding).
//   * Lock cycles are caught when they close: a lock wait that would close a
//     cycle of "waits for a lock held by" raises deadlock_error at once,
//     naming the cycle; locking a mutex you already hold raises it too.
//   * Waiting allocates nothing. The dump shows holders ("holds mutex 'a'")
//     and waiters ("waits for mutex 'a', held by #7 'writer'"), and the
//     deadlock report follows the holder ("..., which waits ...").
//
// Misuse gets a usage_error naming the micro-thread and the mutex: unlocking
// a mutex you do not hold (or a free one) — thrown out of a guard's
// destructor that ends the program through std::terminate, with the
// message; locking, try_lock or unlock outside a micro-thread; a negative
// timeout; using it from another engine's OS thread or after its engine
// ended.
//
// A micro-thread that ends while holding a mutex (it locked by hand and
// never unlocked) has it unlocked for it: the mutex passes to the next
// waiter and a line on stderr names both. Destroying a mutex while
// micro-threads wait for it gives each waiter a usage_error from lock();
// destroying a locked mutex nobody waits for is allowed (its holder must not
// unlock it afterwards).
//
// Threading: the OS thread of the engine that first used it. Not movable.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>
#include <type_traits>

#include "core/deadline.hpp"
#include "core/detail/lock_core.hpp"
#include "core/state.hpp"

namespace mt {

class condition_variable;

namespace detail {
// to_deadline — a time point of any clock as a deadline on the steady clock.
template <class Clock, class Duration>
deadline to_deadline(const std::chrono::time_point<Clock, Duration>& t) {
    if constexpr (std::is_same_v<Clock, deadline::clock>) {
        return deadline::at(std::chrono::time_point_cast<deadline::clock::duration>(t));
    } else {
        const auto left = t - Clock::now();
        return deadline::at(deadline::clock::now() +
                            std::chrono::duration_cast<deadline::clock::duration>(left < decltype(left)::zero()
                                                                                      ? decltype(left)::zero()
                                                                                      : left));
    }
}
}  // namespace detail

class mutex {
public:
    // mutex — `name` shows in the dump, errors and deadlock chains (47
    // characters kept; empty: "unnamed"). Never allocates, never throws.
    explicit mutex(std::string_view name = {}) noexcept : core_("mutex", false, name) {}
    mutex(const mutex&) = delete;
    mutex& operator=(const mutex&) = delete;

    // lock — returns holding the mutex; suspends while another micro-thread
    // holds it. Throws deadlock_error at once if this wait would close a
    // lock cycle or the caller holds it already; MicroThreadExit if aborted
    // while waiting; usage_error outside a micro-thread or from another engine.
    void lock() {
        if (!core_.try_lock_fast()) core_.lock(deadline{}, "mutex::lock");
    }
    // lock(d) — lock, and timeout_error ("mutex::lock in micro-thread #3 'x'
    // timed out after 0.100 s waiting for mutex 'm', held by #2 'y'") when
    // `d` passes first; the mutex is then not held.
    void lock(deadline d) {
        if (d.negative() || !core_.try_lock_fast()) core_.lock(d, "mutex::lock");
    }
    // try_lock — takes the mutex if it is free; never suspends. False when
    // anyone holds it (the caller included).
    bool try_lock() { return core_.try_lock_fast() || core_.try_lock("mutex::try_lock"); }
    // try_lock_for / try_lock_until — lock, but false when the time passes
    // first, and false at once when the wait would close a lock cycle (or the
    // caller holds it). A negative duration is a usage_error.
    template <class Rep, class Period>
    bool try_lock_for(const std::chrono::duration<Rep, Period>& rel) {
        const deadline d(rel);
        return (!d.negative() && core_.try_lock_fast()) || core_.try_lock_until(d, "mutex::try_lock_for");
    }
    template <class Clock, class Duration>
    bool try_lock_until(const std::chrono::time_point<Clock, Duration>& t) {
        return core_.try_lock_fast() || core_.try_lock_until(detail::to_deadline(t), "mutex::try_lock_until");
    }
    // unlock — lets go; the first waiter, if any, gets the mutex and runs
    // next. usage_error when the caller does not hold it. Never suspends.
    void unlock() {
        if (!core_.try_unlock_fast()) core_.unlock("mutex::unlock");
    }

    // holder — who holds it (id, name, state), or nothing when it is free.
    std::optional<micro_thread_info> holder() const { return core_.holder_info(); }
    bool locked() const noexcept { return core_.holder() != nullptr; }
    std::string_view name() const noexcept { return core_.name(); }
    // check_invariants — asserts the state machine's invariants (debug and
    // sanitizer builds; core/detail/lock_core.hpp).
    void check_invariants() const noexcept { core_.check_invariants(); }

private:
    friend class condition_variable;
    detail::lock_core core_;
};

}  // namespace mt
