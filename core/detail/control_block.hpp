// core/detail/control_block.hpp — everything the engine keeps per micro-thread.
//
// Invariants (engine::check_invariants checks them for every live block):
//   * state == running  <=> this is engine::current_.
//   * state in {created, runnable} <=> the block is in the run queue (run_next)
//     (but for a block spawned eagerly, between its admit and start_now
//     inside spawn, where nothing else runs).
//   * state == waiting  => w.phase == armed; the block is then in at most one
//     wait list (wait_hook) and in the timer heap iff its wait has a deadline.
//   * has_ended(state)  => not in the run queue, not in any wait list, not in the
//     live list, not in the timer heap, holds no lock (held is empty), and its
//     stack is back in the pool.
//   * the block is deleted when it has ended and no handle refers to it.
//
// Threading: touched only by the OS thread of its engine.
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>

#include "../deferred.hpp"
#include "block_alloc.hpp"
#include "context.hpp"
#include "held_lock.hpp"
#include "intrusive_list.hpp"
#include "stack_pool.hpp"
#include "wait.hpp"
#include "../state.hpp"

namespace mt {
class engine;
}

namespace mt::detail {

struct control_block;

// end_listener — told when a micro-thread ends (a scope, a pipe end attached
// as stdin/stdout). Called on the ending micro-thread's stack, after its
// outcome is stored; must not suspend or throw.
struct end_listener {
    end_listener* next_listener = nullptr;  // owned by the control block's list
    virtual void on_end(control_block& cb) noexcept = 0;

protected:
    ~end_listener() = default;
};

// io_attachment — a micro-thread's stdin or stdout: an object of pipes/
// (core knows only these operations). The control block holds a reference
// from spawn until the micro-thread ends; then on_end tells the pipe how
// this end of it died (pipes carry deaths along a chain, docs/reference/pipes.md).
enum class io_role : std::uint8_t { in = 0, out = 1 };

struct io_ops {
    void (*attach)(void* obj, control_block& cb, io_role role) noexcept;  // at spawn; takes a reference
    void (*on_end)(void* obj, control_block& cb, io_role role) noexcept;  // outcome is stored
    void (*release)(void* obj) noexcept;  // drops the reference taken by attach
};

struct io_attachment {
    void* obj = nullptr;
    const io_ops* ops = nullptr;
    explicit operator bool() const noexcept { return obj != nullptr; }
};

// scope_base — a structured scope, told when one of its children ends
// (after end_listeners, before the block may be freed). Must not suspend.
struct scope_base {
    virtual void child_ended(control_block& cb) noexcept = 0;

protected:
    ~scope_base() = default;
};

inline constexpr std::size_t max_name = 47;

struct control_block {
    control_block() = default;
    control_block(const control_block&) = delete;
    control_block& operator=(const control_block&) = delete;
    virtual ~control_block() = default;

    // Control blocks come from per-thread free lists (block_alloc.hpp). The
    // virtual destructor makes `delete` pass the most-derived size.
    static void* operator new(std::size_t n) { return block_allocate(n); }
    static void operator delete(void* p, std::size_t n) noexcept { block_free(p, n); }

    // run_body — runs the user's function and stores its result. Called once,
    // on the micro-thread's own stack; may suspend; throws what the body throws.
    virtual void run_body() = 0;

    // drop_body — destroys the function and its arguments without running
    // them (a micro-thread aborted before it started). Called once, on the
    // micro-thread's own stack like run_body, so what they captured is
    // destroyed where it would have been; may suspend (in an mt::shield).
    virtual void drop_body() noexcept = 0;

    // --- identity: set by spawn, then read-only
    std::uint64_t id = 0;
    char name[max_name + 1] = {};  // empty: unnamed (see name_of)
    engine* eng = nullptr;

    // --- life: written by the engine only
    mt::state st = mt::state::created;
    bool abort_requested = false;  // sticky: every later suspension raises MicroThreadExit
    std::exception_ptr interruption;  // one-shot: the next suspension raises it (Ctrl-C)
    bool detached = false;         // start_and_forget: no handle will ever join it
    bool outcome_observed = false; // a joiner or a scope has seen its failure
    bool queued_at_back = false;   // put at the back of the run queue when last queued (engine::someone_waits_at_back)
    bool handoff_from_here = false;  // queued at the front: it, or a block after it there, was put by a handoff (engine::handoff_waits_at_front)
    std::uint32_t handles = 0;     // micro_thread<R> handles referring to it
    std::exception_ptr error;      // the failure, when st == failed

    // --- scheduling: run queue and the engine's list of live micro-threads
    control_block* run_next = nullptr;
    std::uint64_t switches = 0;   // times it was switched to (engine::enter), always counted
    std::uint64_t cpu_ticks = 0;  // ticks it ran while CPU time was measured (core/observe.cpp)
    list_hook<control_block> live_hook;  // the live list; once ended, the engine's ended list while handles refer to it

    // --- waiting: its one internal wait (wait.hpp), the one wait list it may
    // sit in (joiners of another block, a lock's queue, ...), its shield, and
    // the user's deferred
    wait_state w;
    list_hook<control_block> wait_hook;
    std::uint16_t shield_depth = 0;  // open mt::shield regions; > 0: aborts wait
    deadline::clock::time_point shield_due = deadline::clock::time_point::max();  // the innermost shield's deadline
    deferred d{*this};
    intrusive_list<control_block, &control_block::wait_hook> joiners;  // micro-threads joining this one
    held_stack held;  // the locks it holds, newest first (held_lock.hpp); written by the locks, emptied when it ends

    // --- memory
    stack stk;         // empty once it went back to the pool
    context_slot ctx;  // its continuation while suspended
    end_listener* listeners = nullptr;
    scope_base* owner_scope = nullptr;  // the scope that spawned it, if any
    io_attachment io[2];                // [in] stdin, [out] stdout: pipes, if attached
    void* embedder_state = nullptr;  // the embedder's block (engine_options::embedder_state_size), or nullptr
};

// name_of — the micro-thread's name; an unnamed one is "micro-thread-<id>"
// (made when asked, not at spawn: formatting it there cost a third of spawn).
std::string name_of(const control_block& cb);

// describe — "#3 'sink'"
void append_ref(std::string& out, const control_block& cb);
std::string describe(const control_block& cb);

}  // namespace mt::detail
