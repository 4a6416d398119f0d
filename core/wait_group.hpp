// core/wait_group.hpp — waiting for a count of things to be done: Go's
// sync.WaitGroup and std::latch, for micro-threads.
//
//   mt::wait_group jobs("jobs");             mt::latch ready(3, "ready");
//   jobs.add(n);                             // each of 3 workers:
//   ... each job: jobs.done();               ready.count_down();
//   jobs.wait();                             // main: ready.wait();
//
// Both are a counter and the micro-threads waiting for it to reach zero.
// When it does, every waiter is woken (in the order they began to wait) and
// returns normally, even if the counter goes up again (wait_group::add)
// before it runs, and even if it is aborted meanwhile (the abort is raised at
// its next suspension point). A wait on a counter at zero returns at once.
//
// A wait_group goes up and down (add, done) and may be reused; a counter
// that would go negative is a usage error naming the micro-thread and the
// wait_group, and the counter is left as it was. A latch is made with its
// count and only goes down (count_down), once: counting it down past zero is
// a usage error likewise.
//
// Invariants (check_invariants):
//   * the counter is >= 0.
//   * counter == 0 => nobody waits.
//   * every waiter record is in the frame of a micro-thread whose wait is
//     armed on it (core/detail/sync_object.hpp).
//
// Threading: the OS thread of the engine that first used it; a use from
// another engine, or after that engine ended, is a usage error.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/deadline.hpp"
#include "core/detail/sync_object.hpp"

namespace mt {

namespace detail {

// countdown — the counter and waiters shared by wait_group and latch.
class countdown : public sync_object {
public:
    std::ptrdiff_t count() const noexcept { return count_; }
    std::size_t waiting() const noexcept { return waiters_.size(); }
    void check_invariants() const noexcept;

protected:
    countdown(const char* kind, std::ptrdiff_t count, std::string_view name);
    ~countdown();
    // change — adds `delta` (< 0 counts down); wakes every waiter at zero.
    // usage_error naming `op` when the counter would go negative or
    // overflow, or from another engine. `latch`: a negative delta is counted
    // down from what is left, a positive one refused (the latch's words).
    void change(std::ptrdiff_t delta, const char* op, bool latch = false);
    // wait_zero — suspends the running micro-thread until the counter is 0.
    void wait_zero(const deadline& d, const char* op);

private:
    template <class P>
    friend void describe_record(const void*, std::string&);
    static const wait_kind zero_wait;
    void format_wait(const sync_waiter& w, char* buf, std::size_t size) const noexcept;
    static void cancel(void* obj, control_block& waiter);

    std::ptrdiff_t count_;  // >= 0
    sync_queue waiters_;    // empty while count_ == 0
};

}  // namespace detail

// wait_group — Go's sync.WaitGroup.
class wait_group : private detail::countdown {
public:
    // wait_group — at zero. The name shows in dumps, errors, deadlock chains.
    explicit wait_group(std::string_view name = {});
    // ~wait_group — micro-threads still waiting get usage_error naming them
    // and the wait_group. Never throws.
    ~wait_group() = default;

    // add — adds n (which may be negative, as Go's Add) to the counter; at
    // zero every waiter is woken. usage_error when the counter would go
    // negative (it is left as it was), or from another engine. Never
    // suspends; may be called on the engine's root.
    void add(std::ptrdiff_t n = 1) { change(n, "wait_group::add"); }
    // done — add(-1).
    void done() { change(-1, "wait_group::done"); }
    // wait — suspends the running micro-thread until the counter is zero
    // (returns at once if it is). timeout_error when `d` passes first,
    // MicroThreadExit on abort, usage_error outside a micro-thread, for a
    // negative timeout, or from another engine.
    void wait(deadline d = {}) { wait_zero(d, "wait_group::wait"); }

    using countdown::check_invariants;
    using countdown::count;
    using countdown::name;
    using countdown::waiting;
};

// latch — std::latch: counts down once, from the count it is made with.
class latch : private detail::countdown {
public:
    // latch — `count` (negative: usage_error).
    explicit latch(std::ptrdiff_t count, std::string_view name = {});
    ~latch() = default;

    // count_down — takes n off the counter; at zero every waiter is woken.
    // usage_error for a negative n or one larger than what is left. Never
    // suspends; may be called on the engine's root.
    void count_down(std::ptrdiff_t n = 1);
    // try_wait — has the counter reached zero?
    bool try_wait() const noexcept { return count() == 0; }
    // wait — suspends the running micro-thread until the counter is zero.
    // Throws as wait_group::wait.
    void wait(deadline d = {}) { wait_zero(d, "latch::wait"); }
    // arrive_and_wait — count_down(n), then wait(d).
    void arrive_and_wait(std::ptrdiff_t n = 1, deadline d = {});
    void arrive_and_wait(deadline d) { arrive_and_wait(1, d); }

    using countdown::check_invariants;
    using countdown::count;
    using countdown::name;
    using countdown::waiting;
};

}  // namespace mt
