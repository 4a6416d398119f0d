// core/wait.cpp — the transitions of a micro-thread's internal wait and its
// deadline. States and invariants: see core/detail/wait.hpp.
#include <cstdio>
#include <exception>
#include <string>
#include <utility>

#include "core/detail/assert.hpp"
#include "core/detail/control_block.hpp"
#include "core/engine.hpp"
#include "core/errors.hpp"
#include "core/detail/naming.hpp"

namespace mt::detail {
namespace {

using time_point = deadline::clock::time_point;

// settle — armed -> `to`: out of the timer heap, and a suspended waiter
// becomes runnable (at the front of the run queue for a handoff).
// (The timer heap's erase stays out of line: inlined, its loop made every
// settle save six registers.)
[[gnu::noinline]] void erase_deadline(control_block& cb) noexcept { cb.eng->timers().erase(cb); }

inline void settle(control_block& cb, wait_phase to, bool next) noexcept {
    MT_ASSERT(cb.w.phase == wait_phase::armed, "a wait was settled that is not armed (settled twice?)");
    if (cb.w.heap_index != no_heap_index) erase_deadline(cb);
    cb.w.phase = to;
    if (cb.st == state::waiting) {
        if (next) cb.eng->make_runnable_next(cb);
        else cb.eng->make_runnable(cb);
    }
}

// withdraw_as — the registration is taken back through the kind, then settled.
void withdraw_as(control_block& cb, wait_phase to) noexcept {
    if (cb.w.kind->cancel) cb.w.kind->cancel(cb.w.obj, cb);
    settle(cb, to, false);
}

void append_seconds(std::string& out, double s) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "%.3f s", s < 0 ? 0.0 : s);
    out += buf;
}

}  // namespace

// to_idle — the wait is over (settled, withdrawn or taken back): phase idle,
// and nothing of it is kept but its value and error for end_wait's caller.
static void to_idle(control_block& me) noexcept {
    me.w.phase = wait_phase::idle;
    me.w.kind = nullptr;
    me.w.obj = nullptr;
    me.w.pinned = false;
}

void begin_wait(control_block& me, const wait_kind& kind, void* obj, bool interruptible) noexcept {
    MT_ASSERT(me.w.phase == wait_phase::idle, "a micro-thread began a wait while in another");
    // The current one; end_wait refuses to suspend it unless it is running.
    MT_ASSERT(me.eng && me.eng->running() == &me, "only the running micro-thread may begin a wait");
    me.w.kind = &kind;
    me.w.obj = obj;
    me.w.value = nullptr;
    MT_ASSERT(!me.w.error, "a wait began with an error left from the last one");  // end_wait moved it out
    me.w.interruptible = interruptible;
    me.w.pinned = false;
    me.w.shield_bounded = true;
    me.w.phase = wait_phase::armed;
}

void begin_wait_to_completion(control_block& me, const wait_kind& kind, void* obj) noexcept {
    begin_wait(me, kind, obj, false);
    me.w.shield_bounded = false;
}

// prepare_suspension — end_wait's rare cases before suspending: a pending
// abort or interruption withdraws the wait; a deadline (the wait's or a
// shield's) goes into the timer heap, or times the wait out at once when it
// has passed. Out of line: most waits have none of these.
[[gnu::noinline]] static void prepare_suspension(control_block& me, const deadline& d) {
    engine& e = *me.eng;
    if (me.st != state::running) [[unlikely]] {  // see throw_not_running: the wait is taken back, nothing suspends
        std::string what = "wait ";
        me.w.kind->describe(me.w.obj, what);
        withdraw_as(me, wait_phase::cancelled);
        to_idle(me);
        throw_not_running(me, what);
    }
    if (me.w.interruptible && pending_raise(me)) {
        withdraw_as(me, wait_phase::cancelled);
        return;
    }
    time_point due = d.when();
    const bool shielded = me.shield_depth > 0 && me.w.shield_bounded && me.shield_due < due;
    if (shielded) due = me.shield_due;
    if (due == time_point::max()) return;
    // A positive duration became a point in time just now (d.when() above)
    // or when the deadline was copied, a moment ago: it needs no second
    // clock read here (if it passed meanwhile, the next expiry ends the
    // wait). A zero duration polls; a point in time (or a shield's) may
    // have passed already.
    const auto requested = d.requested();
    const bool fresh = !shielded && requested.count() > 0;
    const time_point now = fresh ? due - requested : deadline::clock::now();
    me.w.began = now;
    if (!fresh && (requested.count() == 0 || due <= now)) {
        withdraw_as(me, wait_phase::timed_out);  // a poll: nothing happened at once
        return;
    }
    try {
        e.timers().reserve_one();
    } catch (...) {
        withdraw_as(me, wait_phase::cancelled);
        to_idle(me);
        throw;
    }
    me.w.due = due;
    e.timers().push(me);
}

// end_of_cancelled — a withdrawn wait raises: an abort, an interruption, or
// a deadlock resolution (which cancels even shielded and cleanup waits).
[[noreturn, gnu::noinline]] static void end_of_cancelled(control_block& me) {
    if (pending_raise(me)) raise_pending(me);
    throw MicroThreadExit{};
}

wait_end end_wait(control_block& me, const deadline& d) {
    MT_ASSERT(me.w.phase != wait_phase::idle, "end_wait without begin_wait");
    if (me.w.phase == wait_phase::armed) {
        if ((me.w.interruptible && pending_raise(me)) || !d.none() || me.shield_depth > 0 ||
            me.st != state::running) [[unlikely]]
            prepare_suspension(me, d);
        if (me.w.phase == wait_phase::armed) {
            me.eng->suspend_running();
            MT_ASSERT(me.w.phase != wait_phase::armed, "a micro-thread resumed from a wait nobody settled");
        }
    }
    const wait_phase ph = me.w.phase;
    to_idle(me);
    if (ph == wait_phase::fired) [[likely]] {
        if (me.w.error) [[unlikely]]
            std::rethrow_exception(std::exchange(me.w.error, nullptr));
        return wait_end::fired;
    }
    if (ph == wait_phase::timed_out) return wait_end::timed_out;
    end_of_cancelled(me);
}

void* end_wait_or_throw(control_block& me, const deadline& d, const char* op) {
    const wait_kind* kind = me.w.kind;
    const void* obj = me.w.obj;
    if (end_wait(me, d) == wait_end::timed_out) throw_timeout(me, op, *kind, obj, d);
    return me.w.value;
}

// An armed wait never holds an error (only fire_error sets one, and
// end_wait moves it out), so fire and fire_next need not clear it.
void fire(control_block& cb, void* value) noexcept {
    cb.w.value = value;
    settle(cb, wait_phase::fired, false);
}

void fire_next(control_block& cb, void* value) noexcept {
    cb.w.value = value;
    settle(cb, wait_phase::fired, true);
}

void fire_error(control_block& cb, std::exception_ptr error) noexcept {
    cb.w.value = nullptr;
    cb.w.error = std::move(error);
    settle(cb, wait_phase::fired, false);
}

void abandon_wait(control_block& me) noexcept {
    if (me.w.phase == wait_phase::armed && me.w.kind->cancel) me.w.kind->cancel(me.w.obj, me);
    if (me.w.heap_index != no_heap_index) me.eng->timers().erase(me);
    to_idle(me);
    me.w.error = nullptr;
}

void time_out(control_block& cb) noexcept {
    MT_ASSERT(!cb.w.pinned, "a pinned wait timed out");
    withdraw_as(cb, wait_phase::timed_out);
}

void pin_wait(control_block& cb) noexcept {
    MT_ASSERT(cb.w.phase == wait_phase::armed, "pin_wait on a wait that is not armed");
    MT_ASSERT(cb.eng && cb.eng->running() != &cb, "a micro-thread pinned its own wait");
    if (cb.w.heap_index != no_heap_index) cb.eng->timers().erase(cb);
    cb.w.pinned = true;
}

bool withdraw(control_block& cb, bool force) noexcept {
    if (cb.w.phase != wait_phase::armed || cb.w.pinned) return false;
    if (!force && (!cb.w.interruptible || cb.shield_depth > 0)) return false;
    withdraw_as(cb, wait_phase::cancelled);
    return true;
}

void throw_not_running(const control_block& me, const std::string& what) {
    std::string why = "micro-thread " + describe(me) + " would " + what;
    why += has_ended(me.st) ? " after it ended (" : " while it is not running (";
    why += to_string(me.st);
    why += "), where nothing may suspend: in an unhandled-exception handler, or in a destructor the engine runs "
           "as a micro-thread ends or switches away";
    throw usage_error(why);
}

void throw_negative_timeout(const control_block& me, const char* op) {
    throw usage_error(op_in(op, &me) +
                      ": a negative timeout (use a zero timeout to poll)");
}

void throw_timeout(const control_block& me, const char* op, const wait_kind& kind, const void* obj,
                   const deadline& d) {
    std::string what = op_in(op, &me) + " timed out after ";
    const bool by_shield = me.shield_depth > 0 && me.shield_due <= d.when();
    if (!by_shield && d.requested().count() >= 0) {
        append_seconds(what, std::chrono::duration<double>(d.requested()).count());
    } else {
        // A point long past (deadline::at(time_point::min())) is no
        // interval to subtract: the difference would overflow.
        const auto due = by_shield ? me.shield_due : d.when();
        append_seconds(what, due > me.w.began ? std::chrono::duration<double>(due - me.w.began).count() : 0.0);
    }
    what += " waiting ";
    kind.describe(obj, what);
    if (by_shield) what += " (the deadline of its shield)";
    throw timeout_error(what);
}

bool pending_raise(const control_block& cb) noexcept {
    return (cb.abort_requested || cb.interruption) && cb.shield_depth == 0;
}

void raise_pending(control_block& cb) {
    if (cb.abort_requested) {
        if (std::uncaught_exceptions() > 0) [[unlikely]] {
            // A suspension in a destructor run by unwinding (this
            // micro-thread's own count): the throw below leaves a noexcept
            // destructor, and std::terminate follows. Say why first.
            std::fprintf(stderr,
                         "microthreading: micro-thread %s suspended while unwinding from its abort; "
                         "MicroThreadExit is raised again (a destructor that must wait belongs in an mt::shield)\n",
                         describe(cb).c_str());
        }
        throw MicroThreadExit{};
    }
    std::rethrow_exception(std::exchange(cb.interruption, nullptr));
}

void describe_wait(const control_block& cb, std::string& out) {
    switch (cb.w.phase) {
        case wait_phase::armed:
            out += "waits ";
            cb.w.kind->describe(cb.w.obj, out);
            if (cb.w.heap_index != no_heap_index) {
                const double left = std::chrono::duration<double>(cb.w.due - deadline::clock::now()).count();
                if (cb.w.kind->ends_at_deadline) {
                    out += ", ";
                    append_seconds(out, left);
                    out += " left";
                } else {
                    out += " (timeout in ";
                    append_seconds(out, left);
                    out += ')';
                }
            }
            break;
        case wait_phase::idle: out += "waits"; break;
        default: out += "woken, not yet resumed"; break;
    }
}

void check_wait_invariants([[maybe_unused]] const control_block& cb) noexcept {
    MT_ASSERT((cb.w.phase == wait_phase::idle) == (cb.w.kind == nullptr), "a wait's kind and phase disagree");
    MT_ASSERT(cb.st != state::waiting || cb.w.phase == wait_phase::armed, "a waiting micro-thread is not in a wait");
    MT_ASSERT(cb.w.heap_index == no_heap_index || cb.w.phase == wait_phase::armed,
              "a settled wait is still in the timer heap");
    MT_ASSERT(!cb.w.pinned || ((cb.w.phase == wait_phase::armed || cb.w.phase == wait_phase::fired) &&
                               cb.w.heap_index == no_heap_index),
              "a pinned wait is settled otherwise than by a fire, or still has a deadline");
    MT_ASSERT(cb.w.phase == wait_phase::idle || cb.w.phase == wait_phase::armed || cb.st == state::runnable ||
                  cb.st == state::running,
              "a settled wait's micro-thread is neither runnable nor running");
}

}  // namespace mt::detail
