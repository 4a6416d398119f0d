// core/detail/context.hpp — the machine-level switch, as the rest of the
// engine sees it. The implementation (context.cpp) is the only file of the
// project that includes Boost.Context; nothing here names it.
//
// A context_slot holds a suspended execution context: the continuation of a
// micro-thread (or of the OS thread's own stack, "the root") that is not
// running. Invariant: a slot holds a continuation iff its context is
// suspended; resuming a slot empties it, and the context that was left is
// stored into its own slot by whoever runs next.
#pragma once

#include <cstddef>

namespace mt::detail {

struct stack;
class stack_pool;

struct context_slot {
    void* continuation = nullptr;  // Boost.Context's fcontext_t: the saved stack pointer of its jump
    // Bounds of the stack: for ASan's switch annotations, and where a new
    // context finds its start record (context.cpp).
    const void* stack_lo = nullptr;
    std::size_t stack_size = 0;
    void* asan_fake_stack = nullptr;  // ASan's fake stack while suspended
    // The C++ runtime's exception state of this context while it is
    // suspended (the ABI's per-thread caught-exceptions chain and uncaught
    // count): a micro-thread owns its own, so `throw;`,
    // std::current_exception() and std::uncaught_exceptions() see only its
    // exceptions.
    void* eh_caught = nullptr;
    unsigned eh_uncaught = 0;
    bool fresh = false;  // made by context_create and not yet run

    bool empty() const noexcept { return continuation == nullptr; }
};

// switch_state — shared by every context of one engine (so of one OS thread).
struct switch_state {
    context_slot* save_into = nullptr;  // the slot of the context being left
    context_slot dead;                  // receives the (empty) continuation of an ended context
    void* eh_globals = nullptr;         // this OS thread's C++ exception state (context_init)
    // The start record of a context that ended by jumping into a fresh one,
    // which gives its stack back first thing (context.cpp); nullptr otherwise.
    void* stack_to_release = nullptr;
};

// context_init — prepares `st` on the OS thread that will switch with it.
void context_init(switch_state& st) noexcept;

// context_entry — runs a micro-thread to its end and returns the slot to
// continue with. Must not throw and must not return into a finished context.
using context_entry = context_slot* (*)(void* arg);

// context_create — prepares `slot` to start `entry(arg)` on stack `s` when it
// is first switched to. On exit the stack goes back to `pool` (once the
// context that runs next is running). Called from the running context; does
// not switch: it writes a small start record at the top of `s` and makes
// the context there. Never throws.
void context_create(context_slot& slot, const stack& s, stack_pool& pool, context_entry entry,
                    void* arg, switch_state& st) noexcept;

// context_switch — suspends the running context into `from` and resumes `to`.
// Returns when some context switches back to `from`. Saves the running
// context's exception state into `from` and restores it on return. Never
// throws.
void context_switch(context_slot& from, context_slot& to, switch_state& st) noexcept;

// call_on_fresh_stack — runs fn(arg) on a stack of its own, `size` usable
// bytes (rounded up to pages) with a guard below, mapped here and unmapped
// when fn returns; then returns true. For a forked child (a function run in
// a subprocess), which must not go on running on the small micro-thread
// stack it inherited. fn starts with no exception being handled (the
// thread's exception state is saved and restored around it), must not let
// an exception out and must not switch to any engine context; it may end
// the process instead of returning. Returns false, with errno set and fn not
// run, when the stack cannot be mapped. Any context; never throws.
bool call_on_fresh_stack(std::size_t size, void (*fn)(void*), void* arg) noexcept;

}  // namespace mt::detail
