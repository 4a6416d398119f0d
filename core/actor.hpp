// core/actor.hpp — an object whose state is owned by one micro-thread; a
// call from another micro-thread becomes a message to it.
//
//   mt::actor<std::map<std::string, int>> counts("counts");
//   counts.call([](auto& m) { ++m["a"]; });                    // suspends until served
//   int n = counts.call([](auto& m) { return m["a"]; }, 100ms); // with a deadline
//
// The actor's micro-thread (named after the actor) serves calls one at a
// time, in arrival order; `fn(state)` runs on that micro-thread, and its
// result or its exception comes back to the caller. The state is only ever
// touched there, so it needs no lock even when calls suspend.
//
// A call allocates nothing: its message lives in the caller's frame, linked
// into the actor's intrusive inbox, and the caller waits in its internal
// wait. Hence the rule:
//   * a call still *queued* can be withdrawn: a deadline that passes, or an
//     abort of the caller, takes it out of the inbox and it never runs
//     (timeout_error / MicroThreadExit in the caller);
//   * once the actor has begun to serve it, the caller waits for its end,
//     whatever happens: a deadline no longer applies, and an abort or a
//     Ctrl-C of the caller lands at its next suspension, after call()
//     returned. Keep fn short, or give it its own deadlines.
//
// An exception thrown by fn goes back to its caller and the actor serves on.
// MicroThreadExit in fn (the actor's micro-thread was aborted, or fn put to
// a closed pipe) ends the actor: the call being served, the calls queued
// and every later call fail with mt::actor_stopped.
//
// stop() (and the destructor) is graceful: no call is accepted any more,
// the calls already queued are served, then the actor's micro-thread
// destroys the state and ends. Neither waits; wait() joins. An actor that
// is never stopped keeps its micro-thread, and so mt::run, alive.
//
// A call from the actor's own micro-thread (from inside fn) is a usage
// error at once: it would wait for itself. A longer cycle (A calls B, whose
// fn calls A) is a deadlock the engine reports when nothing else can run.
// The actor belongs to the engine it was made on: a call from another OS
// thread's engine is a usage error.
#pragma once

#include <cstddef>
#include <functional>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "deadline.hpp"
#include "detail/actor_core.hpp"
#include "errors.hpp"

namespace mt {

namespace detail {

// actor_box — the core and the State, in one allocation.
template <class State>
class actor_box final : public actor_core {
public:
    template <class... A>
    explicit actor_box(std::string_view name, A&&... args) : actor_core(name) {
        ::new (static_cast<void*>(storage_)) State(std::forward<A>(args)...);
        alive_ = true;
    }

private:
    ~actor_box() override { destroy_state(); }
    void* state() noexcept override { return storage_; }
    void destroy_state() noexcept override {
        if (alive_) {
            alive_ = false;
            std::launder(reinterpret_cast<State*>(storage_))->~State();
        }
    }
    alignas(State) unsigned char storage_[sizeof(State)];
    bool alive_ = false;
};

// call_record — a call of `F` returning R, in the caller's frame.
template <class State, class F, class R>
struct call_record : actor_call {
    explicit call_record(F& f) noexcept : fn(&f) { run = &call_record::run_on; }
    static void run_on(actor_call& self, void* state) {
        auto& me = static_cast<call_record&>(self);
        State& s = *static_cast<State*>(state);
        if constexpr (std::is_void_v<R>) std::invoke(*me.fn, s);
        else me.result.emplace(std::invoke(*me.fn, s));
    }
    F* fn;
    std::optional<R> result;  // unused for void
};

template <class State, class F>
struct call_record<State, F, void> : actor_call {
    explicit call_record(F& f) noexcept : fn(&f) { run = &call_record::run_on; }
    static void run_on(actor_call& self, void* state) {
        std::invoke(*static_cast<call_record&>(self).fn, *static_cast<State*>(state));
    }
    F* fn;
};

}  // namespace detail

template <class State>
class actor {
public:
    // actor — constructs State(args...) and starts the actor's micro-thread
    // (named `name`) on the running micro-thread's engine. Throws what
    // State's constructor throws, usage_error outside a micro-thread,
    // stack_allocation_error when no stack can be had.
    template <class... A>
    explicit actor(std::string_view name, A&&... args)
        : box_(new detail::actor_box<State>(name, std::forward<A>(args)...)) {
        try {
            box_->start();
        } catch (...) {
            box_->release();
            throw;
        }
    }
    // ~actor — stop(): the queued calls are still served, then the actor's
    // micro-thread ends on its own. Does not wait (call wait() for that).
    ~actor() {
        box_->stop();
        box_->release();
    }
    actor(const actor&) = delete;
    actor& operator=(const actor&) = delete;

    // call — runs fn(state) on the actor's micro-thread, after the calls that
    // arrived before it, and returns its result or rethrows its exception.
    // Suspends the caller until then. `d` bounds only the time the call
    // waits in line (see the rule at the top): timeout_error then, and fn
    // never runs (a zero timeout therefore always times out: a call is
    // never served without its caller suspending). Throws actor_stopped when the actor has stopped or ends
    // before serving the call; usage_error from the actor's own
    // micro-thread, outside a micro-thread or from another engine;
    // MicroThreadExit when the caller is aborted while its call is queued.
    // fn must take State& and return void or a value (not a reference into
    // the state: the state belongs to the actor's micro-thread).
    template <class F>
    auto call(F&& fn, deadline d = {}) -> std::invoke_result_t<std::remove_reference_t<F>&, State&> {
        using R = std::invoke_result_t<std::remove_reference_t<F>&, State&>;
        static_assert(!std::is_reference_v<R>,
                      "an actor call returns a value, not a reference into the actor's state");
        detail::call_record<State, std::remove_reference_t<F>, R> rec(fn);
        box_->call(rec, d);
        if constexpr (!std::is_void_v<R>) return std::move(*rec.result);
    }

    // stop — no more calls are accepted (they fail with actor_stopped); the
    // calls already queued are served; then the state is destroyed on the
    // actor's micro-thread and it ends. Never suspends. May be called from
    // inside a call.
    void stop() noexcept { box_->stop(); }
    // wait — suspends until the actor's micro-thread has ended (after stop()
    // and the queued calls, or an abort). Throws timeout_error when `d`
    // passes first, usage_error from the actor's own micro-thread.
    void wait(deadline d = {}) { box_->wait(d); }

    // accepting — does it take calls (not stopped, not ended)?
    bool accepting() const noexcept { return box_->accepting(); }
    // done — has its micro-thread ended?
    bool done() const noexcept { return box_->server() == nullptr; }
    const std::string& name() const noexcept { return box_->name(); }
    // core — the untyped actor (check_invariants, tests).
    const detail::actor_core& core() const noexcept { return *box_; }

private:
    detail::actor_box<State>* box_;
};

}  // namespace mt
