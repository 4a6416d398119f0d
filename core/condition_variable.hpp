// core/condition_variable.hpp — waiting for a condition on data guarded by
// an mt::mutex.
//
//   mt::mutex m("queue");
//   mt::condition_variable not_empty("not empty");
//   // consumer
//   std::unique_lock lk(m);
//   not_empty.wait(lk, [&] { return !items.empty(); });
//   // producer
//   { std::lock_guard g(m); items.push_back(x); }
//   not_empty.notify_one();
//
// What it promises:
//   * wait() releases the mutex (handing it to its first waiter), suspends
//     only the micro-thread, and returns holding the mutex again — after a
//     notify, a timeout, or an abort, interruption or error raising out of
//     it — so the caller's std::unique_lock can always unlock it.
//   * Re-acquiring the mutex cannot be interrupted, and a shield's deadline
//     does not bound it. An abort or Ctrl-C that ends the condition wait
//     itself is raised once the mutex is held again. One that arrives after
//     the notify (while the waiter re-locks) does not take the notify away:
//     wait() returns normally, holding the mutex, and the abort lands at the
//     next suspension — a notify_one is never lost to an abort. Only a
//     deadlock resolution (nothing else could ever run) ends it without the
//     mutex: then the unique_lock is released (owns nothing) before
//     MicroThreadExit leaves wait(), so its destructor does not unlock.
//   * No spurious wake-ups: wait() returns only after a notify, its deadline
//     or an error. (A predicate loop is still the way to wait for a
//     condition: another micro-thread may change the data between the
//     notify and the re-lock.)
//   * FIFO: notify_one() wakes the longest waiting micro-thread; notify_all()
//     wakes all in arrival order. A notify with nobody waiting is lost (as
//     in std).
//   * Waiting allocates nothing; the dump shows "waits for condition 'not
//     empty' (mutex 'queue')".
//
// Misuse gets a usage_error naming the micro-thread, the condition and the
// mutex: waiting without holding the mutex through the unique_lock; waiting
// with a mutex other than the one the current waiters use (one condition,
// one mutex at a time); a negative timeout; waiting outside a micro-thread;
// use from another engine or after its engine ended. Destroying a
// condition_variable while micro-threads wait on it makes each wait() throw
// a usage_error (after re-locking the mutex).
//
// Only mt::mutex: there is no condition wait over a recursive_mutex (its
// holder may hold it several times, and waiting would keep it locked).
//
// Threading: the OS thread of the engine that first used it. Not movable.
#pragma once

#include <chrono>
#include <concepts>
#include <condition_variable>
#include <mutex>
#include <string_view>

#include "core/deadline.hpp"
#include "core/detail/engine_binding.hpp"
#include "core/detail/intrusive_list.hpp"
#include "core/detail/lock_core.hpp"
#include "core/mutex.hpp"

namespace mt {

namespace detail {

// cv_waiter — one micro-thread waiting on a condition, in its own frame.
struct cv_waiter {
    list_hook<cv_waiter> hook;              // in the condition's queue while armed
    control_block* cb = nullptr;
    condition_variable* cv = nullptr;        // nullptr once withdrawn (then seen_name describes it)
    const lock_core* mutex = nullptr;       // the mutex it will re-lock
    name_buffer seen_name;                  // the condition's name, taken when withdrawn
};

}  // namespace detail

class condition_variable {
public:
    // condition_variable — `name` shows in the dump and errors (47
    // characters kept). Never allocates, never throws.
    explicit condition_variable(std::string_view name = {}) noexcept { name_.assign(name); }
    // ~condition_variable — waiting micro-threads re-lock their mutex and
    // their wait() throws a usage_error naming the condition. Never throws.
    ~condition_variable();
    condition_variable(const condition_variable&) = delete;
    condition_variable& operator=(const condition_variable&) = delete;

    // notify_one / notify_all — wake the first waiter / every waiter, in
    // arrival order (each then re-locks the mutex). Callable with or without
    // the mutex held, from a micro-thread or the engine's root. Never
    // suspend. usage_error only from another engine's OS thread.
    void notify_one();
    void notify_all();

    // wait — releases lk's mutex, suspends until notified, re-locks it.
    // usage_error when lk does not hold it (see the top); MicroThreadExit on
    // abort (with the mutex held again).
    void wait(std::unique_lock<mutex>& lk);
    // wait(lk, d) — wait, but timeout_error when `d` passes first (with the
    // mutex held again).
    void wait(std::unique_lock<mutex>& lk, deadline d);
    // wait(lk, pred) / wait(lk, d, pred) — wait until pred() is true
    // (checked first, with the mutex held).
    template <std::predicate Pred>
    void wait(std::unique_lock<mutex>& lk, Pred pred) {
        while (!pred()) wait(lk);
    }
    template <std::predicate Pred>
    void wait(std::unique_lock<mutex>& lk, deadline d, Pred pred) {
        while (!pred()) wait(lk, d);
    }

    // wait_until / wait_for — as std: cv_status::timeout when the time
    // passed before a notify, no_timeout otherwise; the predicate forms
    // return pred() at the end. A negative duration is a usage_error.
    template <class Clock, class Duration>
    std::cv_status wait_until(std::unique_lock<mutex>& lk, const std::chrono::time_point<Clock, Duration>& t) {
        return timed_wait(lk, detail::to_deadline(t), "condition_variable::wait_until");
    }
    template <class Clock, class Duration, std::predicate Pred>
    bool wait_until(std::unique_lock<mutex>& lk, const std::chrono::time_point<Clock, Duration>& t, Pred pred) {
        const deadline d = detail::to_deadline(t);
        while (!pred())
            if (timed_wait(lk, d, "condition_variable::wait_until") == std::cv_status::timeout) return pred();
        return true;
    }
    template <class Rep, class Period>
    std::cv_status wait_for(std::unique_lock<mutex>& lk, const std::chrono::duration<Rep, Period>& rel) {
        return timed_wait(lk, deadline(rel), "condition_variable::wait_for");
    }
    template <class Rep, class Period, std::predicate Pred>
    bool wait_for(std::unique_lock<mutex>& lk, const std::chrono::duration<Rep, Period>& rel, Pred pred) {
        const deadline d(rel);
        while (!pred())
            if (timed_wait(lk, d, "condition_variable::wait_for") == std::cv_status::timeout) return pred();
        return true;
    }

    std::string_view name() const noexcept { return name_.view(); }
    // waiters — how many micro-threads wait on it now.
    std::size_t waiters() const noexcept { return waiters_.size(); }

    void check_invariants() const noexcept;

private:
    std::cv_status timed_wait(std::unique_lock<mutex>& lk, const deadline& d, const char* op);
    bool wait_impl(std::unique_lock<mutex>& lk, const deadline& d, bool throw_timeout, const char* op);
    void check_notify(const char* op);
    void withdraw(detail::cv_waiter& w) noexcept;
    friend struct cv_access;

    detail::intrusive_list<detail::cv_waiter, &detail::cv_waiter::hook> waiters_;  // FIFO
    const detail::lock_core* mutex_ = nullptr;  // the mutex of the current waiters; nullptr when none wait
    detail::engine_binding binding_;            // the engine that first used it
    detail::name_buffer name_;
};

}  // namespace mt
