// core/detail/held_lock.hpp — what a micro-thread's control block knows of
// the locks it holds: each lock it holds (a mutex, a recursive_mutex) is
// linked into its `held` list through the lock's held_hook, from the moment
// it becomes the holder until it lets go (or the lock is destroyed).
//
// The list lets the dump say what a micro-thread holds, and lets the engine
// release what a micro-thread still holds when it ends (core/detail/
// lock_core.hpp says how). Only lock_core derives from held_lock.
//
// Threading: the engine's OS thread only.
#pragma once

#include <string>

#include "core/detail/intrusive_list.hpp"

namespace mt::detail {

struct control_block;

struct held_lock {
    list_hook<held_lock> held_hook;  // in its holder's `held` list while held; null links otherwise
};

using held_list = intrusive_list<held_lock, &held_lock::held_hook>;

// release_held_locks — `cb` ended while still holding locks: each is
// unlocked (passed to its first waiter) and a line naming the micro-thread
// and the lock goes to stderr. Called by the engine when a micro-thread
// ends, on its stack. Never suspends, never throws.
void release_held_locks(control_block& cb) noexcept;

// append_held_locks — "mutex 'a', recursive_mutex 'b' (x2)": what `cb` holds.
void append_held_locks(std::string& out, const control_block& cb);

// check_held_locks — asserts that every lock in `cb`'s held list names `cb`
// as its holder (engine::check_invariants calls it for every live block).
void check_held_locks(const control_block& cb) noexcept;

}  // namespace mt::detail
