// core/detail/mailbox.hpp — where other OS threads drop work for one engine:
// wake-ups of waits (a slot and its generation, remote_slots.hpp) and tasks
// to run on the engine's thread (a spawn from another engine, an abort, a
// Ctrl-C). The only way into an engine from another OS thread.
//
// Shared (std::shared_ptr) by the engine and every token it hands out, so a
// post after the engine ended finds the mailbox closed and is dropped.
//
// Batching: a post signals the engine (its notifier's wake(), or the
// condition variable it sleeps on without one) only when the engine is not
// awake in its loop and has not been signalled since its last drain: a
// stream of posts between two drains costs one wake-up, and posts to an
// engine that is running cost none (it drains every 64 switches and before
// it blocks).
//
// Invariants (all guarded by mu_):
//   * flag_ == !pending_.empty() (flag_ is also read without the lock, as a
//     hint: the fairness poll skips the lock when it is clear).
//   * signaled_ => a wake-up was sent since the last drain.
//   * awake_ => the engine runs its loop and drains before it blocks
//     (begin_sleep clears it only while pending_ is empty).
//   * open_ == false => pending_ is empty and stays so; notifier_ == nullptr.
//   * while notifier_ is set, it lives (the engine clears it first).
//
// Threading: post*, close from any OS thread; the rest from the engine's.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <vector>

#include "../deadline.hpp"

namespace mt {
class engine;
class notifier_interface;
}  // namespace mt

namespace mt::detail {

// remote_task — work for the engine's OS thread. run() is called there once
// (on the root or in the fairness poll: it must not suspend and must not
// throw); a task the engine never ran (it ended first) is destroyed unrun.
struct remote_task {
    virtual ~remote_task() = default;
    virtual void run(engine& e) noexcept = 0;
};

// remote_post — one message: a task, or the wake-up of slot `slot` at
// generation `generation` with a value or an error.
struct remote_post {
    std::uint32_t slot = 0;
    std::uint32_t generation = 0;
    void* value = nullptr;
    std::exception_ptr error;
    remote_task* task = nullptr;  // owned while in the mailbox
};

class mailbox {
public:
    mailbox() = default;
    ~mailbox();
    mailbox(const mailbox&) = delete;
    mailbox& operator=(const mailbox&) = delete;

    // post — a wake-up of (slot, generation). Any OS thread; never blocks
    // but on the mailbox's lock. Returns false (and drops it) when the
    // engine has ended, or when memory ran out (the waiter's deadline and
    // abort still work).
    bool post(std::uint32_t slot, std::uint32_t generation, void* value, std::exception_ptr error) noexcept;
    // post_task — hands `t` to the engine. Returns false when the engine has
    // ended (or memory ran out): `t` then stays with the caller.
    bool post_task(std::unique_ptr<remote_task>& t) noexcept;

    // --- the engine's side
    // maybe_pending — a hint read without the lock (relaxed): something may
    // be waiting. The drain that follows takes the lock.
    bool maybe_pending() const noexcept { return flag_.load(std::memory_order_relaxed); }
    // drain — moves what is pending into `batch` (empty on entry).
    void drain(std::vector<remote_post>& batch) noexcept;
    // set_awake — the engine's loop starts (true) or stops (false) running:
    // while awake, posts do not signal.
    void set_awake(bool awake) noexcept;
    // begin_sleep — the engine is about to block: returns false when
    // something is pending (then it must drain instead); else it is no
    // longer awake, and the next post signals.
    bool begin_sleep() noexcept;
    // end_sleep — the engine is back from blocking; `awake` says whether it
    // runs its loop (a host-driven engine is never awake: it does not drain
    // before its host blocks, so every first post after a drain signals).
    void end_sleep(bool awake) noexcept;
    // sleep_until — for an engine without a notifier: blocks the OS thread
    // until something is posted or `until` (time_point::max(): no bound).
    void sleep_until(deadline::clock::time_point until) noexcept;
    // set_notifier — where signals go (nullptr: the condition variable).
    void set_notifier(notifier_interface* n) noexcept;
    // close — the engine is ending: no post is accepted from now on. Returns
    // what was still pending (tasks to destroy unrun, on the caller's thread).
    std::vector<remote_post> close() noexcept;

    // --- for an engine group's census (core/detail/group_census.hpp)
    // set_post_hook — every accepted post calls hook(ctx) under the lock,
    // after its message is queued. Set before the mailbox is shared with
    // another OS thread; the hook must not block or post.
    void set_post_hook(void (*hook)(void* ctx) noexcept, void* ctx) noexcept;
    // run_if_empty — calls fn(ctx) under the lock when nothing is queued,
    // so no post falls between the look and fn; returns whether it did.
    // fn must not block or post.
    bool run_if_empty(void (*fn)(void* ctx) noexcept, void* ctx) noexcept;

private:
    void signal_locked() noexcept;

    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::vector<remote_post> pending_;  // guarded by mu_
    std::atomic<bool> flag_{false};     // written under mu_; see the invariants
    bool open_ = true;                  // guarded by mu_
    bool awake_ = false;                // guarded by mu_
    bool signaled_ = false;             // guarded by mu_
    notifier_interface* notifier_ = nullptr;  // guarded by mu_
    void (*post_hook_)(void*) noexcept = nullptr;  // set before sharing, then read-only
    void* post_hook_ctx_ = nullptr;
};

}  // namespace mt::detail
