// core/detail/held_lock.hpp — what a micro-thread's control block knows of
// the locks it holds: each lock it holds (a mutex, a recursive_mutex) is
// linked into its `held` stack through the lock's next_held, from the moment
// it becomes the holder until it lets go (or the lock is destroyed).
//
// The list lets the dump say what a micro-thread holds, and lets the engine
// release what a micro-thread still holds when it ends (core/detail/
// lock_core.hpp says how). Only lock_core derives from held_lock.
//
// Threading: the engine's OS thread only.
#pragma once

#include <string>

#include "core/detail/assert.hpp"

namespace mt::detail {

struct control_block;

struct held_lock {
    held_lock* next_held;  // the lock its holder took before it; set by held_stack::push
};

// held_stack — the locks a micro-thread holds, newest first, linked through
// the locks. Singly linked: taking a lock and letting go of the newest are a
// load and two stores (the uncontended lock and unlock pay them); letting go
// of an older one walks the few above it.
class held_stack {
public:
    bool empty() const noexcept { return top_ == nullptr; }
    held_lock* front() const noexcept { return top_; }
    static held_lock* next(const held_lock& l) noexcept { return l.next_held; }

    void push(held_lock& l) noexcept {
        l.next_held = top_;
        top_ = &l;
    }
    // remove — `l` must be in the stack.
    void remove(held_lock& l) noexcept {
        if (top_ == &l) [[likely]] {
            top_ = l.next_held;
            return;
        }
        remove_below_top(l);
    }
    held_lock* pop() noexcept {
        held_lock* l = top_;
        if (l) top_ = l->next_held;
        return l;
    }
    bool contains(const held_lock& l) const noexcept {
        for (const held_lock* h = top_; h; h = h->next_held)
            if (h == &l) return true;
        return false;
    }

private:
    void remove_below_top(held_lock& l) noexcept {
        for (held_lock* h = top_; h; h = h->next_held) {
            if (h->next_held == &l) {
                h->next_held = l.next_held;
                return;
            }
        }
        MT_ASSERT(false, "a lock was let go of by a micro-thread whose held stack lacks it");
    }

    held_lock* top_ = nullptr;
};

// release_held_locks — `cb` ended while still holding locks: each is
// unlocked (passed to its first waiter) and a line naming the micro-thread
// and the lock goes to stderr. Called by the engine when a micro-thread
// ends, on its stack. Never suspends, never throws.
void release_held_locks(control_block& cb) noexcept;

// append_held_locks — "mutex 'a', recursive_mutex 'b' (x2)": what `cb` holds.
void append_held_locks(std::string& out, const control_block& cb);

// check_held_locks — asserts that every lock in `cb`'s held stack names `cb`
// as its holder (engine::check_invariants calls it for every live block).
void check_held_locks(const control_block& cb) noexcept;

}  // namespace mt::detail
