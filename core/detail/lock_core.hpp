// core/detail/lock_core.hpp — the state machine shared by mt::mutex and
// mt::recursive_mutex: a holder, a recursion count, and a FIFO of waiting
// micro-threads to which the lock is handed directly on release.
//
// States (holder_, count_; written only by the transitions below):
//
//   free ----acquire(me)------------------------------> held by me (count 1)
//   held by H --acquire(H), recursive only-------------> count + 1
//   held by H --release(H), count > 1------------------> count - 1
//   held by H --release(H), count 1, no waiter---------> free
//   held by H --release(H), count 1, first waiter W----> held by W (count 1):
//                W leaves the queue, its wait fires, it runs next  (handoff)
//   held by H --H ends still holding it----------------> as release, with a
//                line on stderr (release_held_locks)
//   held by H --a waiter times out, is aborted or is failed to break a lock
//                cycle-----------------------------------> unchanged; the waiter
//                left the queue
//   any -------destroyed------------------------------> waiters get a usage_error
//
// There is no barging: while a micro-thread waits, a release never leaves
// the lock free, so a releaser that locks again at once queues behind the
// waiters, and a waiter is served after at most the waiters ahead of it.
//
// Invariants (check_invariants):
//   * holder_ == nullptr <=> count_ == 0 <=> the lock is in no held stack.
//   * waiters_ non-empty => holder_ != nullptr (a release never leaves a
//     waiter behind a free lock).
//   * holder_ != nullptr => holder_ has not ended, belongs to the engine the
//     lock is bound to, and the lock is in holder_->held (its held stack)
//     exactly once.
//   * every record in waiters_ lives in the frame of a micro-thread whose
//     wait is armed with lock_core::wait_kind on that record, and names this
//     lock; !recursive_ => count_ <= 1.
//
// Threading: the OS thread of the engine that first used it (engine_binding).
#pragma once

#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <string_view>

#include "core/deadline.hpp"
#include "core/detail/control_block.hpp"
#include "core/detail/engine_binding.hpp"
#include "core/detail/held_lock.hpp"
#include "core/detail/intrusive_list.hpp"
#include "core/engine.hpp"
#include "core/state.hpp"

namespace mt::detail {

class lock_core;

// name_buffer — a primitive's name, kept like a micro-thread's (47
// characters); empty means "unnamed" in messages. Not initialized until
// assigned (a waiter's record carries two it rarely uses).
struct name_buffer {
    char text[max_name + 1];
    std::uint8_t len;  // of text (kept: view() is on the slow paths of every wait)
    void assign(std::string_view s) noexcept;
    std::string_view view() const noexcept { return len ? std::string_view(text, len) : std::string_view("unnamed"); }
};

// ref_snapshot — "#3 'writer'", kept by value for messages built after the
// micro-thread may have ended.
struct ref_snapshot {
    std::uint64_t id;  // 0: nobody; set by take()
    name_buffer name;
    void take(const control_block* cb) noexcept;
    void append(std::string& out) const;
};

// lock_waiter — one micro-thread waiting for a lock, in its own frame.
struct lock_waiter {
    list_hook<lock_waiter> hook;   // in lock->waiters_ while the wait is armed
    control_block* cb = nullptr;   // the waiter
    lock_core* lock = nullptr;     // the lock; nullptr once withdrawn (then `seen` describes it)
    bool relock = false;           // re-locking after a condition wait (cannot be aborted)
    // Taken when the wait is withdrawn (timeout, abort, cycle, destruction):
    // a timeout's message is built after the lock may be gone. Left
    // uninitialized until then: a wait writes nothing it does not need.
    const char* seen_kind;
    name_buffer seen_name;
    ref_snapshot seen_holder;
};

class lock_core : public held_lock {
public:
    // kind — "mutex" or "recursive_mutex" (messages). recursive — the
    // holder may lock again (counted).
    lock_core(const char* kind, bool recursive, std::string_view name) noexcept;
    // ~lock_core — waiting micro-threads get a usage_error naming the lock
    // (their lock() throws it); a held lock is taken out of its holder's
    // held stack (the holder must not unlock it afterwards). Never throws.
    ~lock_core();
    lock_core(const lock_core&) = delete;
    lock_core& operator=(const lock_core&) = delete;

    // try_lock_fast — the uncontended lock: the running micro-thread of this
    // OS thread's engine takes the free lock, bound to that engine. Returns
    // false (touching nothing) whenever the slow path must decide.
    bool try_lock_fast() noexcept {
        engine* e = tls_engine;
        if (e == nullptr) [[unlikely]]
            return false;
        control_block* me = e->running();
        if (holder_ != nullptr || me == nullptr || binding_.serial != e->serial()) [[unlikely]]
            return false;
        take(*me);
        return true;
    }
    // try_unlock_fast — the uncontended unlock: the running micro-thread
    // holds it once and nobody waits. Returns false (touching nothing)
    // whenever the slow path must decide.
    bool try_unlock_fast() noexcept {
        engine* e = tls_engine;
        control_block* me = e ? e->running() : nullptr;
        if (holder_ != me || me == nullptr || count_ != 1 || !waiters_.empty()) [[unlikely]]
            return false;
        me->held.remove(*this);
        holder_ = nullptr;
        count_ = 0;
        return true;
    }
    // try_unlock_nested_fast — a recursive holder lets go of one of several
    // holds.
    bool try_unlock_nested_fast() noexcept {
        engine* e = tls_engine;
        control_block* me = e ? e->running() : nullptr;
        if (holder_ != me || me == nullptr || count_ < 2) [[unlikely]]
            return false;
        --count_;
        return true;
    }

    // lock — the slow path of lock() and lock(deadline): returns holding the
    // lock. Suspends while another micro-thread holds it (FIFO). Throws
    // usage_error outside a micro-thread, from another engine or for a
    // negative timeout; deadlock_error when this wait would close a cycle of
    // lock waits (or lock a mutex it holds); timeout_error when `d` passes;
    // MicroThreadExit when aborted while it waits (never once it holds the
    // lock: a lock handed over is kept, and the abort lands at the next
    // suspension). `op` names the operation in messages.
    void lock(const deadline& d, const char* op);
    // try_lock_until — lock, but false instead of timeout_error, and false
    // at once where lock would raise deadlock_error (the lock cannot be had
    // while the cycle stands: back-off code gets its answer at once).
    bool try_lock_until(const deadline& d, const char* op);
    // try_lock — takes the lock if it is free (or, recursive, held by the
    // caller); never suspends. False when another holds it or the caller
    // holds this non-recursive one. usage_error outside a micro-thread or
    // from another engine.
    bool try_lock(const char* op);
    // unlock — the slow path: lets go of one hold; the last hands the lock
    // to the first waiter. usage_error naming the lock and the caller when
    // the caller does not hold it (it is free or held by another).
    void unlock(const char* op);

    // --- for condition_variable
    // release_for_wait — `me` (the holder, once) lets go of the lock before
    // waiting on a condition: handed to the first waiter as unlock would.
    void release_for_wait(control_block& me) noexcept;
    // relock — `me` takes the lock back after a condition wait: suspends
    // until it has it, and neither an abort, an interruption nor a shield's
    // deadline ends that wait. If it would close a cycle of lock waits, the
    // first ordinary lock wait in the cycle fails with deadlock_error
    // instead (a re-lock cannot fail). Throws only when a deadlock
    // resolution ends the wait (MicroThreadExit) or the lock is destroyed
    // meanwhile (usage_error): then the lock is NOT held.
    void relock(control_block& me);

    // fail_waiter — the lock wait of record `w` (linked here) is withdrawn
    // and fails with `e` (breaking a lock cycle). Never throws.
    void fail_waiter(lock_waiter& w, std::exception_ptr e) noexcept;

    // --- what the dump, messages and cycle checks read
    control_block* holder() const noexcept { return holder_; }
    std::uint32_t count() const noexcept { return count_; }
    std::string_view name() const noexcept { return name_.view(); }
    const char* kind() const noexcept { return kind_; }
    std::optional<micro_thread_info> holder_info() const;
    // append_name — "mutex 'accounts'"
    void append_name(std::string& out) const;

    void check_invariants() const noexcept;

    static const wait_kind wait_kind_;

private:
    friend void release_held_locks(control_block& cb) noexcept;
    friend void check_held_locks(const control_block& cb) noexcept;

    void take(control_block& me) noexcept {
        holder_ = &me;
        count_ = 1;
        me.held.push(*this);
    }
    bool acquire(const deadline& d, const char* op, bool timed_try);
    // check_binding — engine_binding::check, with the usual case (bound to
    // me's engine) decided inline.
    void check_binding(const control_block& me, const char* op) {
        if (binding_.serial != me.eng->serial()) [[unlikely]]
            binding_.check(me, op, kind_, name_.view());
    }
    // The rare cases, out of line (their message building would otherwise
    // weigh on every contended lock and unlock).
    [[gnu::noinline]] bool lock_held_by_caller(control_block& me, const char* op, bool timed_try);
    [[noreturn, gnu::noinline, gnu::cold]] void throw_cycle(const control_block& me, const char* op) const;
    [[noreturn, gnu::noinline, gnu::cold]] void throw_bad_unlock(control_block* me, const char* op);
    void pass_on() noexcept;
    void withdraw(lock_waiter& w) noexcept;
    static void cancel_waiter(void* obj, control_block& waiter) noexcept;

    control_block* holder_ = nullptr;  // the micro-thread holding it; nullptr: free
    std::uint32_t count_ = 0;          // holds by holder_ (recursion), 0 when free
    bool recursive_;
    const char* kind_;
    engine_binding binding_;  // the engine that first used it
    intrusive_list<lock_waiter, &lock_waiter::hook> waiters_;  // FIFO; only while held
    name_buffer name_;        // set by the constructor
};

// lock_wait_holder — when `cb` is in a lock wait, the holder of the lock it
// waits for (nullptr otherwise, or when that lock is free).
control_block* lock_wait_holder(const control_block& cb) noexcept;

// lock_cycle — the cycle check of lock waits (core/detail/lock_cycle.cpp).
// closes_cycle: would `me` waiting for `l` close a cycle of "waits for a
// lock held by"? O(length of the chain of lock waits from l's holder).
bool closes_cycle(const control_block& me, const lock_core& l) noexcept;
// cycle_message — "#2 'a' would wait for mutex 'm1' held by #3 'b', which
// waits for mutex 'm2' held by #2 'a'". Precondition: closes_cycle.
std::string cycle_message(const control_block& me, const lock_core& l);
// break_cycle_for_relock — `me`'s re-lock of `l` closes a cycle: the first
// ordinary (not re-lock) lock wait in it is withdrawn and fails with a
// deadlock_error naming the cycle. Returns false when every wait in the
// cycle is a re-lock (then the cycle stays; run() reports it if nothing else
// can run). Never suspends.
bool break_cycle_for_relock(const control_block& me, const lock_core& l) noexcept;

}  // namespace mt::detail
