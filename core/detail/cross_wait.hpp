// core/detail/cross_wait.hpp — waiting for something another OS thread does:
// the one building block of the cross-engine types (xpipe, remote handles).
//
//   std::unique_lock lock(mu);                 // the object's own mutex
//   while (!ready()) cross_wait(lock, waiters, d, describe, obj, "op");
//   ...
//   wake_one(waiters);   // the waker, holding the same mutex
//
// A waiter is a micro-thread (it suspends in an internal wait ended through
// its engine's mailbox: the OS thread goes on running other micro-threads)
// or a plain OS thread (it blocks on its own condition variable). Its record
// lives in its frame and is linked in the object's list while it waits.
// A select with xpipe cases (pipes/select.cpp) links records of its own,
// one per case, that name one remote slot; it follows the same invariants,
// unlinking and passing on wake-ups itself instead of through on_cancel.
//
// Invariants (the object's mutex guards the list and every record in it):
//   * a record is linked <=> its waiter waits and nobody has woken it;
//   * a woken record is unlinked first, then told (its mailbox post or its
//     condition variable), exactly once;
//   * a micro-thread waiter that ends its wait otherwise (timeout, abort)
//     unlinks its record under the mutex (the slot's on_cancel); if a waker
//     had already taken it, the wake-up is passed to the next waiter, so no
//     wake-up is lost with the waiter that no longer wants it.
//
// Memory ordering: everything a waiter reads after waking was written under
// the object's mutex before the wake-up, and the waiter takes the mutex
// again before looking: the mutex orders it. The mailbox post adds its own
// mutex, which only orders the wake-up itself.
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>

#include "../deadline.hpp"

namespace mt::detail {

struct control_block;
class mailbox;
struct parked_thread;

struct cross_waiter {
    cross_waiter* prev = nullptr;
    cross_waiter* next = nullptr;
    bool linked = false;
    bool woken = false;
    // a micro-thread: its engine's mailbox and its remote slot
    mailbox* box = nullptr;
    std::uint32_t slot = 0;
    std::uint32_t generation = 0;
    // a plain OS thread: its condition variable, and (waiting without a
    // deadline) its record among the parked threads (thread_census.hpp),
    // which the waker unparks before it tells
    std::condition_variable* cv = nullptr;
    parked_thread* park = nullptr;
    // for on_cancel: where the record is linked, under which mutex
    struct cross_list* list = nullptr;
    std::mutex* mu = nullptr;
    // for describe
    void (*describe)(const void* obj, std::string& out) = nullptr;
    const void* obj = nullptr;
};

// cross_list — FIFO of waiters, guarded by the owning object's mutex.
struct cross_list {
    cross_waiter* head = nullptr;
    cross_waiter* tail = nullptr;
    bool empty() const noexcept { return head == nullptr; }
    void push(cross_waiter& w) noexcept;
    void unlink(cross_waiter& w) noexcept;
};

// cross_wait — the calling micro-thread (or plain OS thread) waits until a
// waker wakes it through `list`. `lock` holds the object's mutex on entry
// and on return, also when it throws (it is released while waiting). The
// caller then looks again (a wake-up says "look", not "it is yours").
// Throws timeout_error when `d` passes first ("<op> in micro-thread #3 'x'
// timed out after ... waiting " + describe), MicroThreadExit when the
// micro-thread is aborted meanwhile, usage_error on an engine's root
// context (it would block the engine's OS thread) and for a negative
// timeout. `describe(obj, out)` says what is waited on, for dumps, deadlock
// reports and timeout messages. `prompt`: the waker is expected to answer
// soon (a value handed over by a running engine), so the engine spins
// briefly before it blocks while this wait is armed (mailbox.hpp); false for
// waits that usually last long (the group's anchor).
void cross_wait(std::unique_lock<std::mutex>& lock, cross_list& list, const deadline& d,
                void (*describe)(const void* obj, std::string& out), const void* obj, const char* op,
                bool prompt = true);

// wake_one / wake_all — wakes the first waiter / every waiter of `list`.
// Any OS thread, holding the object's mutex. Never blocks but on the
// waiter's mailbox lock; never throws. Returns whether someone was woken.
bool wake_one(cross_list& list) noexcept;
void wake_all(cross_list& list) noexcept;

}  // namespace mt::detail
