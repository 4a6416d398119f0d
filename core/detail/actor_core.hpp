// core/detail/actor_core.hpp — the untyped heart of an mt::actor: the inbox
// of calls, the serving micro-thread's loop, stopping, and joining.
// actor<State> (core/actor.hpp) adds the state and the typed call records.
//
// A call is a record in the caller's frame (actor_call), linked into the
// inbox; the caller waits in its internal wait on it. The server pops the
// first record, pins the caller's wait (detail::pin_wait) and runs it; when
// it returns, the result (or the exception) is in the caller's frame and the
// caller is fired. Nothing is allocated per call.
//
// A call's states (actor_call::phase; written only by the server and by the
// withdraw hook):
//
//   queued --server pops it--> serving --fn returned/threw--> done
//     |                                  (the caller is fired)
//     +--timeout/abort of the caller--> withdrawn (it never runs)
//     +--the actor ended before it ran--> done (fired with actor_stopped)
//
// The rule that keeps the caller's frame alive: only a *queued* call can be
// withdrawn. Once serving began, the caller's wait is pinned — no deadline,
// abort, Ctrl-C or deadlock resolution ends it; only the server's fire does.
// An abort of such a caller lands at its next suspension, after the call
// returned. The server always fires the call it serves, even when it is
// aborted in the middle (then with actor_stopped).
//
// The actor's life (life_):
//
//   open --stop()--> stopping --inbox drained--> ended
//     |                                            ^
//     +--server aborted (or never started)---------+
//
// Invariants (check_invariants):
//   * every call in inbox_ is queued, its caller's wait is armed on it and
//     not pinned; serving_ (if any) is not in inbox_ and its caller's wait
//     is pinned.
//   * idle_ => the server's wait is armed on this actor's inbox, inbox_ is
//     empty and life_ == open.
//   * life_ == ended => inbox_ empty, serving_ == nullptr, server_ == nullptr.
//   * refs_ counts the actor object, the server's body, and every caller
//     and joiner waiting; the core is deleted when it drops to zero.
//
// Threading: the OS thread of the engine it was made on.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "../deadline.hpp"
#include "control_block.hpp"
#include "engine_binding.hpp"
#include "intrusive_list.hpp"

namespace mt::detail {

class actor_core;

// actor_call — one call, in the caller's frame.
struct actor_call {
    enum class phase : std::uint8_t { queued, serving, done };
    control_block* caller = nullptr;
    actor_core* actor = nullptr;
    list_hook<actor_call> hook;  // in actor->inbox_ while queued
    // run — runs the call on `state` and keeps the result in the record.
    // Runs on the server's stack; may suspend; throws what the call throws.
    void (*run)(actor_call& self, void* state) = nullptr;
    phase ph = phase::queued;
};

class actor_core : public end_listener {
public:
    explicit actor_core(std::string_view name);
    actor_core(const actor_core&) = delete;
    actor_core& operator=(const actor_core&) = delete;

    void retain() noexcept { ++refs_; }
    void release() noexcept {
        if (--refs_ == 0) delete this;
    }

    // start — spawns the serving micro-thread on the running micro-thread's
    // engine and binds the actor to it. Called once, by actor<State>'s
    // constructor. Throws usage_error outside a micro-thread,
    // stack_allocation_error when no stack can be had.
    void start();

    // call — the caller's side: queues `c`, suspends until it was served,
    // rethrows what it threw. Throws usage_error from the actor's own
    // micro-thread (a self-call would wait for itself), outside a
    // micro-thread or from another engine; actor_stopped when the actor has
    // stopped or stops before serving it; timeout_error when `d` passes
    // while it is still queued (it is withdrawn and never runs);
    // MicroThreadExit when the caller is aborted while it is queued. Once
    // serving began, neither ends the wait: it returns when the call ended.
    void call(actor_call& c, const deadline& d);

    // stop — no more calls accepted; those queued are served, then the
    // server ends. Never suspends; repeated calls do nothing.
    void stop() noexcept;
    // wait — suspends until the server has ended (after stop() and the
    // queued calls, or an abort). timeout_error when `d` passes first;
    // usage_error from the actor's own micro-thread.
    void wait(const deadline& d);

    bool accepting() const noexcept { return life_ == life::open; }
    bool ended() const noexcept { return life_ == life::ended; }
    const std::string& name() const noexcept { return name_; }
    control_block* server() const noexcept { return server_; }
    // append_call — "for actor 'counter' to serve its call (3rd in line)".
    void append_call(const actor_call& c, std::string& out) const;

    void check_invariants() const noexcept;

protected:
    virtual ~actor_core();
    // state — the State the calls run on (valid until destroy_state).
    virtual void* state() noexcept = 0;
    // destroy_state — destroys the State, once; on the server at its end,
    // or at deletion if the server never ran. May suspend (on the server).
    virtual void destroy_state() noexcept = 0;

private:
    enum class life : std::uint8_t { open, stopping, ended };
    enum class end_reason : std::uint8_t { none, stopped, aborted };
    using call_list = intrusive_list<actor_call, &actor_call::hook>;
    using joiner_list = intrusive_list<control_block, &control_block::wait_hook>;
    struct body;
    friend struct body;

    void serve();
    void serve_one(actor_call& c);
    void on_end(control_block& cb) noexcept override;
    void fail_pending() noexcept;
    [[noreturn]] void throw_stopped(const control_block& caller) const;
    std::exception_ptr stopped_error(const control_block& caller, const char* why) const noexcept;

    static const wait_kind call_kind, idle_kind, join_kind;

    std::string name_;
    engine_binding binding_;            // the engine of its server
    control_block* server_ = nullptr;   // the serving micro-thread until it ends
    call_list inbox_;                   // queued calls, in arrival order
    actor_call* serving_ = nullptr;     // the call being served, if any
    joiner_list joiners_;               // micro-threads in wait()
    std::uint32_t refs_ = 1;            // the actor object's
    life life_ = life::open;
    end_reason reason_ = end_reason::none;
    bool idle_ = false;                 // the server waits for a call (or a stop)
};

}  // namespace mt::detail
