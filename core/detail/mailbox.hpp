// core/detail/mailbox.hpp — where other OS threads drop work for one engine:
// wake-ups of waits (a slot and its generation, remote_slots.hpp) and tasks
// to run on the engine's thread (a spawn from another engine, an abort, a
// Ctrl-C). The only way into an engine from another OS thread.
//
// Shared (std::shared_ptr) by the engine and every token it hands out, so a
// post after the engine ended finds the mailbox closed and is dropped.
//
// The sleep protocol. The engine's side is one atomic word, state_, that
// only the engine's thread moves but for idle -> signaled (a poster):
//
//     awake ---------> spinning -----> idle ------> signaled
//       ^   begin_sleep    |  begin_sleep | a post      |
//       |   (with a spin)  |              | (signals)   |
//       +------------------+--------------+-------------+
//         a post seen while spinning; end_sleep(true); set_awake(true)
//
//   awake    — the engine runs its loop and drains before it blocks (and
//              every 64 switches): a post needs no signal.
//   spinning — the engine is about to block but watches flag_ for a bounded
//              time first (begin_sleep's `spin`): a post needs no signal,
//              and the handoff costs no system call on either side.
//   idle     — the engine blocks, or is about to, or is out of its loop
//              (host-driven): the next post signals (its notifier's wake(),
//              or, without one, a futex wake on state_ itself, made after
//              the poster let go of mu_ so the woken engine's drain does
//              not block on it: a condition variable notified under the
//              lock cost the woken thread a second sleep on the mutex).
//   signaled — idle, and a signal went out since the last drain: a stream
//              of posts between two drains costs one wake-up.
// So begin_sleep, end_sleep, the spin and sleep_until take no lock: an
// engine that blocks in its notifier pays two atomic stores and a load for
// the mailbox.
//
// Why no post is lost (a Dekker pair, both sides sequentially consistent):
// a poster stores flag_ = true, then loads state_; the engine, before it
// blocks, stores state_ = idle, then loads flag_. In the single order of
// seq_cst operations one of the two stores comes first, so either the
// engine sees the flag (and drains instead of blocking) or the poster sees
// idle (and signals). With acquire/release alone both loads could read the
// old values (store-load reordering) and the engine would sleep on a post.
//
// Spinning is bounded (the engine passes the budget; engine_loop.cpp says
// why its figure) and backs off: after k spins in a row that saw nothing,
// the next 2^k - 1 sleeps (at most 63) spin not at all, so a peer that
// answers slowly costs at most one budget per 64 sleeps, and one that
// answers in time almost always is spun for.
//
// Invariants:
//   * flag_ == !pending_.empty() whenever mu_ is free (both change under
//     mu_; flag_ is also read without it).
//   * state_ == signaled => a wake-up was sent since the last drain.
//   * state_ is awake or spinning => the engine's thread runs and drains
//     (or sees flag_) before it blocks.
//   * open_ == false => pending_ is empty and stays so; notifier_ == nullptr.
//   * while notifier_ is set, it lives (the engine clears it first).
//
// Threading: post*, close from any OS thread; the rest from the engine's.
#pragma once

#include <atomic>
#include <chrono>
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

// sleep_state — see the protocol above.
// 32 bits: sleep_until waits on the word with a futex.
enum class sleep_state : std::uint32_t { awake, spinning, idle, signaled };

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
    // begin_sleep — the engine is about to block. With `spin` > 0 (the
    // engine waits for another engine that is likely to answer soon) it
    // first watches for a post for up to `spin` (less under the back-off
    // above), pausing the CPU between looks. Returns false when something
    // is pending (then the engine is awake again and must drain instead of
    // blocking); else the engine is idle, and the next post signals. No lock.
    bool begin_sleep(std::chrono::nanoseconds spin = {}) noexcept;
    // end_sleep — the engine is back from blocking; `awake` says whether it
    // runs its loop (a host-driven engine is never awake: it does not drain
    // before its host blocks, so every first post after a drain signals).
    // No lock.
    void end_sleep(bool awake) noexcept;
    // sleep_until — for an engine without a notifier, after begin_sleep
    // returned true: blocks the OS thread until something is posted or
    // `until` (time_point::max(): no bound). No lock.
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
    // spins / spin_hits — how many times begin_sleep spun, and how many of
    // those saw a post (so skipped blocking). Engine thread; for tests and
    // benchmarks.
    std::uint64_t spins() const noexcept { return spins_; }
    std::uint64_t spin_hits() const noexcept { return spin_hits_; }
    sleep_state state() const noexcept { return state_.load(std::memory_order_relaxed); }
    // posts / signals — how many posts were accepted, and how many of them
    // signalled (a notifier wake() or a futex wake). Any thread (takes the
    // lock); for tests and benchmarks.
    std::uint64_t posts() const noexcept;
    std::uint64_t signals() const noexcept;

private:
    bool enqueue(remote_post&& p) noexcept;
    bool signal_locked() noexcept;
    void futex_wake() noexcept;
    bool spin_until_posted(std::chrono::nanoseconds spin) const noexcept;

    mutable std::mutex mu_;
    std::vector<remote_post> pending_;  // guarded by mu_
    std::atomic<bool> flag_{false};     // written under mu_; see the invariants
    std::atomic<sleep_state> state_{sleep_state::idle};  // the engine's; a poster moves idle -> signaled under mu_
    bool open_ = true;                  // guarded by mu_
    notifier_interface* notifier_ = nullptr;  // guarded by mu_
    void (*post_hook_)(void*) noexcept = nullptr;  // set before sharing, then read-only
    void* post_hook_ctx_ = nullptr;
    std::uint64_t posts_ = 0;                 // guarded by mu_
    std::uint64_t signals_ = 0;               // guarded by mu_
    // The engine's thread only: the spin's statistics and back-off.
    std::uint64_t spins_ = 0;
    std::uint64_t spin_hits_ = 0;
    static constexpr std::uint32_t max_skip_shift = 6;
    std::uint32_t skip_ = 0;    // sleeps left that do not spin
    std::uint32_t misses_ = 0;  // spins in a row that saw nothing (at most max_skip_shift)
};

}  // namespace mt::detail
