// core/detail/wait.hpp — the one internal wait a micro-thread can be in, and
// its deadline. Every suspension of the engine other than yield goes through
// here: a join, a scope, a pipe's get or put, a select, a lock, an fd, a
// signal, a child process, a sleep, a wake-up from another OS thread, and the
// user's own deferred::wait().
//
//   begin_wait(me, kind, obj);   // idle -> armed; the caller then links `me`
//                                // where its waker will find it
//   end_wait(me, deadline);      // suspends until the wait is settled
//
// A wait is settled exactly once, by one of:
//   fire(cb, value) / fire_error(cb, e)   what it waited on happened;
//   the engine's timer                    its deadline passed;
//   the engine's abort path               an abort, a Ctrl-C or a deadlock
//                                         resolution withdrew it.
// The last two call the kind's cancel hook first, so the waiter is unlinked
// from wherever it waits before anyone else can find it.
//
// States (wait_state::phase; written only by the transitions in wait.cpp):
//
//   idle --begin_wait--> armed --fire-----> fired ------+
//                          |----deadline--> timed_out --+--end_wait--> idle
//                          +----abort-----> cancelled --+
//
// Invariants (checked by check_wait_invariants):
//   * phase == idle  <=> kind == nullptr.
//   * the micro-thread's state is waiting => phase == armed.
//   * heap_index != no_heap_index <=> phase == armed and the wait has a
//     deadline, and then the engine's timer heap holds it at that index.
//   * a settled wait (fired, timed_out, cancelled) is runnable or running.
//   * pinned => phase is armed or fired, and the wait is not in the timer heap.
//
// The user's deferred (core/deferred.hpp) is a layer above: its wait() is an
// internal wait of kind deferred_wait, and a user's fire that arrives while
// the owner is in any other internal wait is kept for the next deferred wait.
// An internal wait is only ever ended by what it waits on, its deadline or
// an abort.
//
// Threading: the engine's OS thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <string>

#include "../deadline.hpp"

namespace mt::detail {

struct control_block;

// wait_kind — one kind of wait, as the dump, the deadlock report, timeouts
// and aborts see it. Each component defines its own (static, constant).
struct wait_kind {
    const char* name;  // "join", "deferred", "fd", "timer", ...
    // describe — appends what the owner waits on, e.g. "to join #2 'filter'".
    void (*describe)(const void* obj, std::string& out);
    // blocker — the micro-thread whose progress could end this wait (for the
    // deadlock chain and lock cycles), or nullptr.
    control_block* (*blocker)(const void* obj);
    // cancel — takes the waiter's registration back (timeout, abort,
    // deadlock). Must not fire the waiter, suspend or throw; may fire other
    // waiters (a semaphore whose head leaves serves those behind it); may
    // be nullptr.
    void (*cancel)(void* obj, control_block& waiter);
    // blocker_role — how the deadlock chain names the blocker: "writer" gives
    // "..., whose writer #2 'filter' waits ..."; nullptr gives "..., which waits ...".
    const char* blocker_role = nullptr;
    // ends_at_deadline — the deadline is how the wait normally ends (a
    // sleep): the dump says "N s left" instead of "timeout in N s".
    bool ends_at_deadline = false;
};

enum class wait_phase : std::uint8_t {
    idle,       // not in a wait
    armed,      // linked where its waker finds it; suspended (state waiting) or about to be
    fired,      // what it waited on happened: value or error is set
    timed_out,  // its deadline passed; the registration was withdrawn
    cancelled,  // withdrawn by an abort, an interruption or a deadlock resolution
};

inline constexpr std::uint32_t no_heap_index = UINT32_MAX;

// wait_state — in the control block; see the invariants above.
struct wait_state {
    const wait_kind* kind = nullptr;  // what it waits on, from begin_wait to end_wait
    void* obj = nullptr;              // the kind's object (in the waiter's frame, or a pipe, ...)
    void* value = nullptr;            // fired: the waker's value
    std::exception_ptr error;         // fired: the waker's error (end_wait rethrows it)
    deadline::clock::time_point due{};    // the deadline, while in the timer heap
    deadline::clock::time_point began{};  // when a timed wait began (timeout messages)
    std::uint32_t heap_index = no_heap_index;  // in the engine's timer heap (engine only)
    wait_phase phase = wait_phase::idle;
    bool interruptible = true;  // an abort or Ctrl-C withdraws it (false: cleanup waits)
    bool pinned = false;        // pin_wait: only a fire ends it (no deadline, no abort, no deadlock resolution)
    bool shield_bounded = true;  // a shield's deadline ends it (false: begin_wait_to_completion)
};

enum class wait_end : std::uint8_t { fired, timed_out };

// begin_wait — `me` (the running micro-thread) starts a wait: idle -> armed.
// The caller links `me` (or a record naming it) where its waker will find it
// right after, and then calls end_wait. Never suspends, never throws.
void begin_wait(control_block& me, const wait_kind& kind, void* obj, bool interruptible = true) noexcept;

// begin_wait_to_completion — begin_wait for a wait that only what it waits
// on can end: neither an abort, an interruption nor a shield's deadline
// withdraws it (a deadlock resolution still does: nothing else could end
// it). For re-locking a mutex after a condition wait, whose caller must get
// the mutex back before an abort may unwind it. Never suspends, never throws.
void begin_wait_to_completion(control_block& me, const wait_kind& kind, void* obj) noexcept;

// end_wait — suspends `me` until its wait is settled, then returns it to
// idle. Returns fired (or rethrows the error it was fired with) or timed_out
// (the registration was withdrawn through the kind's cancel). An abort or an
// interruption raises MicroThreadExit or the interruption after withdrawing
// the wait (only when interruptible). A deadline that has already passed
// times out at once without suspending, unless the wait already fired.
wait_end end_wait(control_block& me, const deadline& d);

// fire / fire_error / fire_next — settle `cb`'s armed wait: the waiter
// becomes runnable (fire_next: it runs next, a pipe's handoff). Called by
// whatever `cb` waits on, from any context of the engine's OS thread; never
// suspend, never throw. Precondition: cb's wait is armed.
void fire(control_block& cb, void* value) noexcept;
void fire_next(control_block& cb, void* value) noexcept;
void fire_error(control_block& cb, std::exception_ptr error) noexcept;

// withdraw — the engine's abort path: the wait of `cb` (armed, interruptible
// or `force`, and never pinned) is cancelled through its kind and `cb`
// becomes runnable. Returns false (and does nothing) when `cb` is not in
// such a wait.
bool withdraw(control_block& cb, bool force) noexcept;

// pin_wait — from now on only a fire ends `cb`'s armed wait: its deadline
// (and its shield's) is dropped, and neither an abort, a Ctrl-C nor a
// deadlock resolution withdraws it; an abort or interruption that arrives
// meanwhile stays pending and is raised at the waiter's next suspension.
// For a waker that has begun to work on a record in the waiter's frame and
// needs that frame to stay put until it fires (an actor serving a call).
// The caller owes the waiter a fire; it must come even when the waker is
// itself aborted. Called by the waker, never by `cb` itself; never
// suspends, never throws. Precondition: cb's wait is armed.
void pin_wait(control_block& cb) noexcept;

// end_wait_or_throw — end_wait, but a deadline that passes throws
// timeout_error (what, who, how long, named after `op`). Returns the value
// the wait was fired with.
void* end_wait_or_throw(control_block& me, const deadline& d, const char* op);

// abandon_wait — `me` gives up a wait it armed but did not end (its setup
// failed after begin_wait): the registration is withdrawn through the kind's
// cancel and the wait is idle again. Never suspends, never throws.
void abandon_wait(control_block& me) noexcept;

// time_out — the engine's timer: `cb`'s deadline passed (armed -> timed_out).
void time_out(control_block& cb) noexcept;

// check_deadline — a negative timeout is a usage error naming `op` and `me`.
[[noreturn]] void throw_negative_timeout(const control_block& me, const char* op);
inline void check_deadline(const control_block& me, const deadline& d, const char* op) {
    if (d.negative()) [[unlikely]]
        throw_negative_timeout(me, op);
}

// throw_timeout — the timeout_error of `me`'s last wait of `kind` on `obj`:
// "<op> in micro-thread #3 'x' timed out after 0.100 s waiting to join #2 'y'".
// The kind's describe must still work on `obj` after its cancel ran (until
// the waiter runs on): a withdrawn record keeps what it describes.
[[noreturn]] void throw_timeout(const control_block& me, const char* op, const wait_kind& kind,
                                const void* obj, const deadline& d);

// pending_raise — is an abort or an interruption waiting to be raised at
// this micro-thread's next suspension point? (Not while it is shielded.)
bool pending_raise(const control_block& cb) noexcept;
// throw_not_running — usage_error: the current micro-thread `me` would
// suspend (`what`: "yield()", or what its wait is for) although it is not
// running: it has ended and its unhandled-exception handler runs on it, or
// the engine runs a destructor on its behalf while it switches away.
[[noreturn]] void throw_not_running(const control_block& me, const std::string& what);

// raise_pending — raises what pending_raise() reported: MicroThreadExit for
// an abort (sticky), else the interruption (once).
[[noreturn]] void raise_pending(control_block& cb);

// describe_wait — appends "waits <what>" for the dump and deadlock chains.
void describe_wait(const control_block& cb, std::string& out);

// check_wait_invariants — asserts the invariants above for `cb`.
void check_wait_invariants(const control_block& cb) noexcept;

}  // namespace mt::detail
