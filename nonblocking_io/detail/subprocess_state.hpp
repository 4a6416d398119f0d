// nonblocking_io/detail/subprocess_state.hpp — the state of one call in a
// subprocess, shared by its handle, its collector micro-thread and its pool.
//
// Phases (call_phase), and where the state is in each:
//
//   pending  queued in its pool's pending list (FIFO); job set, no child.
//   running  a child exists, pid > 0; its collector micro-thread owns the
//            answer pipe and is the only one that reaps the child; in its
//            pool's running list while the pool lives.
//   done     the outcome is set (value or failure); the child, if any, is
//            reaped; no fd; in no list; nobody waits.
//
// Transitions: start (pending -> running, start_subprocess), finish
// (running -> done, by the collector), drop_pending (pending -> done: an
// abort, the handle dropped, the pool destroyed), and a failed start
// (pending -> done with the fork's error, in start_subprocess). Each asserts
// where it comes from.
//
// Invariants (check_invariants):
//   * running <=> pid > 0 and the child is not reaped; pending => pid == -1.
//   * job is set only while pending.
//   * done => failure or the value is the outcome, nobody waits, in no list.
//   * pool != nullptr => the state is in exactly that pool's list of its phase.
//   * every waiter record is in the frame of a micro-thread whose wait is
//     armed on this state.
//
// Lifetime: shared_ptr, held by the handle and, while running, by the
// collector (so a dropped handle's child is still reaped); waiters hold one
// in their record. The pool holds none: a handle unlinks its pending state
// when it drops it.
//
// Threading: the OS thread of the engine it was made in (binding).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <exception>
#include <memory>
#include <string>

#include "../../core/detail/engine_binding.hpp"
#include "../../core/detail/intrusive_list.hpp"
#include "subprocess_child.hpp"

namespace mt::detail {

struct control_block;
struct pool_core;
struct subprocess_state;

enum class call_phase : std::uint8_t { pending, running, done };

// answer_waiter — a micro-thread waiting for a call to be done (result,
// abort); in the waiter's frame.
struct answer_waiter {
    control_block* me;
    std::shared_ptr<subprocess_state> s;  // keeps the state describable after a timeout
    list_hook<answer_waiter> hook;
};

struct subprocess_state : std::enable_shared_from_this<subprocess_state> {
    std::string name;                  // fixed at creation
    child_setup setup;                 // fixed at creation
    std::unique_ptr<child_job> job;    // pending only
    call_phase phase = call_phase::pending;
    pid_t pid = -1;                    // running and done (if it started)
    bool abort_asked = false;          // abort() or a drop before the end: the outcome is "aborted"
    bool killed_for_garbage = false;   // the collector killed it: its answer was bad
    pool_core* pool = nullptr;         // its pool, while both live
    list_hook<subprocess_state> pool_hook;  // in pool->pending or pool->running
    engine_binding binding;
    intrusive_list<answer_waiter, &answer_waiter::hook> waiters;
    // The outcome (done): the value's bytes, or the failure to rethrow.
    std::string value;
    std::exception_ptr failure;

    // finish — running -> done with `failure` (nullptr: the value is in
    // `value`): wakes the waiters, and gives the pool its place back (see
    // pool_core::place_freed for `stop_why`). Never throws.
    void finish(std::exception_ptr failure, const char* stop_why = nullptr) noexcept;
    // drop_pending — pending -> done, aborted ("<why>"): leaves the pool's
    // queue and wakes the waiters. Never throws.
    void drop_pending(const char* why) noexcept;
    // describe — "subprocess call 'x' (pid 4242)" / "subprocess call 'x'".
    std::string describe() const;
    void check_invariants() const noexcept;

private:
    void wake_all() noexcept;
};

// pool_core — a process_pool's lists, which its calls reach.
//
// Invariants (check_invariants):
//   * running.size() <= max;
//   * pending is not empty => running.size() == max (a free place takes
//     the head of the line at once);
//   * every state in pending is pending, every state in running is running,
//     and each has pool == this.
struct pool_core {
    std::string name;
    std::size_t max = 1;
    std::uint64_t submitted = 0;  // calls named "<name>#<n>"
    intrusive_list<subprocess_state, &subprocess_state::pool_hook> pending;
    intrusive_list<subprocess_state, &subprocess_state::pool_hook> running;
    engine_binding binding;

    // place_freed — a running call of this pool ended: takes it out and
    // starts pending calls while there is room; or, with a `stop_why` (its
    // collector was aborted, or could not be spawned), starts none and
    // drops every pending call as aborted ("<why>"). Never throws: a call
    // that cannot be started is done with that error.
    void place_freed(subprocess_state& s, const char* stop_why) noexcept;
    // start_queued — starts pending calls while places are free.
    void start_queued() noexcept;
    void check_invariants() const noexcept;
};

}  // namespace mt::detail
