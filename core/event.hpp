// core/event.hpp — a flag micro-threads wait for (Python's threading.Event).
//
//   mt::event start("start");
//   ... in workers:  start.wait();        // suspends until set
//   ... in main:     start.set();         // wakes every waiter; stays set
//
// set() wakes every micro-thread waiting and leaves the event set, so later
// waits return at once, until clear(). A waiter woken by set() returns
// normally even if the event is cleared before it runs again (what woke it
// happened), and even if it is aborted meanwhile (the abort is raised at its
// next suspension point).
//
// States:
//   clear --set()--> set        waiters: all woken, in the order they came
//   set --clear()--> clear
// Invariants (check_invariants):
//   * set => nobody waits.
//   * every waiter record is in the frame of a micro-thread whose wait is
//     armed on it (core/detail/sync_object.hpp).
//
// Threading: the OS thread of the engine that first used it; a use from
// another engine, or after that engine ended, is a usage error.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "core/deadline.hpp"
#include "core/detail/sync_object.hpp"

namespace mt {

class event : private detail::sync_object {
public:
    // event — clear. The name shows in dumps, errors and deadlock chains.
    explicit event(std::string_view name = {});
    // ~event — micro-threads still waiting get usage_error naming them and
    // the event. Never throws.
    ~event();

    // set — sets the event and wakes every waiter (they run later, in the
    // order they began to wait). Never suspends. May be called on the
    // engine's root. usage_error from another engine.
    void set();
    // clear — clears it; later waits suspend until the next set(). Never
    // suspends; may be called on the engine's root.
    void clear();
    bool is_set() const noexcept { return set_; }

    // wait — returns at once if the event is set, else suspends the running
    // micro-thread until set() (or `d`). Throws timeout_error when `d`
    // passes first, MicroThreadExit on abort, usage_error outside a
    // micro-thread, for a negative timeout or from another engine.
    void wait(deadline d = {}) { wait_or_time_out(d, "event::wait", true); }
    // wait_for / wait_until — as wait, but return false instead of throwing
    // timeout_error (true: the event was set).
    template <class Rep, class Period>
    bool wait_for(const std::chrono::duration<Rep, Period>& timeout) {
        return wait_or_time_out(deadline(timeout), "event::wait_for", false);
    }
    bool wait_until(deadline::clock::time_point t) { return wait_or_time_out(deadline::at(t), "event::wait_until", false); }

    // waiting — micro-threads waiting now.
    std::size_t waiting() const noexcept { return waiters_.size(); }
    using sync_object::name;

    void check_invariants() const noexcept;

private:
    template <class P>
    friend void detail::describe_record(const void*, std::string&);
    static const detail::wait_kind set_wait;

    bool wait_or_time_out(const deadline& d, const char* op, bool throws);
    void format_wait(const detail::sync_waiter& w, char* buf, std::size_t size) const noexcept;
    static void cancel(void* obj, detail::control_block& waiter);

    bool set_ = false;
    detail::sync_queue waiters_;  // empty while set_
};

}  // namespace mt
