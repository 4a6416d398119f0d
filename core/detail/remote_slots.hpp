// core/detail/remote_slots.hpp — the waits of one engine that another OS
// thread may end: each holds a slot from a pool that lives as long as the
// engine; a wake-up names (slot index, generation), and a slot's generation
// changes whenever it is given back, so a wake-up for a wait that ended is
// recognised and dropped when the engine drains its mailbox.
//
// A slot is taken when the wait begins and given back exactly once: by the
// drain that fires it, or by the wait's cancel (timeout, abort, a deadlock
// resolution). So: a slot is in use <=> its wait is armed.
//
// A slot is "external" when something outside the engine's group may end it
// (a worker thread, a plain OS thread, remote_wakeup): such a wait means the
// engine can still progress on its own. An internal slot waits for another
// engine of the same group (a cross-engine pipe, a join of a micro-thread
// there), which the group's census looks after (group_census.hpp).
//
// A slot is "prompt" when its waker is expected to answer soon (a running
// engine handing a value over an xpipe): while one is in use, the engine
// spins briefly before it blocks (mailbox.hpp, engine_loop.cpp).
//
// Invariants (check_invariants): every slot is free or in use by exactly
// one armed wait (the wait's object is the slot, but for a part slot:
// pipes/select.cpp); external_ and internal_ count the slots in use, prompt_
// those of them marked prompt.
//
// Threading: the engine's OS thread only (tokens carry only numbers).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <string>

#include "mailbox.hpp"
#include "wait.hpp"

namespace mt::detail {

struct control_block;

enum class remote_use : std::uint8_t {
    free,
    wait,  // fires the waiter's internal wait
    user,  // fires the waiter's deferred (remote_wakeup)
    part,  // one registration of a wait whose object is not the slot (a
           // select over xpipes): the drain calls on_wake(ctx) instead of
           // firing, and on_wake withdraws the wait's other registrations
           // and fires it
};

struct remote_slot {
    control_block* waiter = nullptr;
    remote_slot* next_free = nullptr;
    std::uint32_t index = 0;
    std::uint32_t generation = 0;
    remote_use use = remote_use::free;
    bool external = true;
    bool prompt = false;  // see above; set by mark_prompt, cleared by give_back
    // Optional, for a wait that links a record of its own where the waker
    // finds it (cross_wait.hpp): on_cancel(ctx) unlinks it when the wait
    // ends by timeout or abort (engine thread; must not suspend or throw);
    // describe(ctx, out) says what is waited on. Set after take(), reset by
    // the next take() (a timeout message is built after the cancel).
    void (*on_cancel)(void* ctx) noexcept = nullptr;
    void (*describe)(const void* ctx, std::string& out) = nullptr;
    void* ctx = nullptr;
    // For remote_use::part only: what the drain calls (engine thread, the
    // slot already given back, the wait still armed); it must fire the
    // wait and must not suspend or throw.
    void (*on_wake)(void* ctx) noexcept = nullptr;
};

// remote_token — what a waker needs: the mailbox and the slot's identity.
// The raw pointer form is for wakers that post while holding a lock the
// waiter's cancel also takes (the waiter's engine is alive while its wait is
// armed); the shared form for tokens that may outlive the engine.
struct remote_token {
    mailbox* box = nullptr;
    std::uint32_t slot = 0;
    std::uint32_t generation = 0;
    bool post(void* value = nullptr, std::exception_ptr e = nullptr) const noexcept {
        return box->post(slot, generation, value, std::move(e));
    }
};

class remote_slot_pool {
public:
    // take — a slot for `waiter`'s wait. Throws std::bad_alloc.
    remote_slot& take(control_block& waiter, remote_use use, bool external);
    // mark_prompt — `s` (in use) waits for a prompt answer: counted until
    // it is given back.
    void mark_prompt(remote_slot& s) noexcept;
    // give_back — frees it (its generation changes). Idempotent for a slot
    // already free.
    void give_back(remote_slot& s) noexcept;
    // find — the slot a wake-up names, or nullptr when that wait ended.
    remote_slot* find(std::uint32_t index, std::uint32_t generation) noexcept;

    std::size_t external() const noexcept { return external_; }
    std::size_t internal() const noexcept { return internal_; }
    std::size_t in_use() const noexcept { return external_ + internal_; }
    std::size_t prompt() const noexcept { return prompt_; }
    void check_invariants() const noexcept;

private:
    std::deque<remote_slot> slots_;  // stable addresses: a wait's object is its slot
    remote_slot* free_ = nullptr;
    std::size_t external_ = 0;
    std::size_t internal_ = 0;
    std::size_t prompt_ = 0;
};

// The wait kinds of a wait that another OS thread ends (obj: the slot).
// remote_wait_kind: an internal wait (submit_work, remote_wait below);
// remote_user_kind: the registration of a deferred armed by remote_wakeup.
extern const wait_kind remote_wait_kind;
extern const wait_kind remote_user_kind;

// arm_remote — begins `me`'s internal wait (or, with `user`, arms its
// deferred) for one wake-up from any OS thread, and returns the token the
// waker posts. Throws std::bad_alloc, or usage_error for a deferred already
// armed. `me` is the running micro-thread.
std::shared_ptr<mailbox> arm_remote(control_block& me, bool user, std::uint32_t& slot, std::uint32_t& generation);

}  // namespace mt::detail
