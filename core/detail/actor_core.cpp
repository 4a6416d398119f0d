// core/detail/actor_core.cpp — the inbox, the server's loop, stopping and
// joining of an actor. States and invariants: see actor_core.hpp.
#include "core/detail/actor_core.hpp"

#include <fmt/format.h>

#include <string>
#include <utility>

#include "core/detail/assert.hpp"
#include "core/engine.hpp"
#include "core/errors.hpp"
#include "core/micro_thread.hpp"
#include "core/detail/naming.hpp"

namespace mt::detail {

// ---- what the dump, the deadlock report and timeouts say -------------------------

namespace {

void append_ordinal(std::string& out, std::size_t n) {
    out += std::to_string(n);
    const std::size_t tens = n % 100, ones = n % 10;
    if (tens >= 11 && tens <= 13) out += "th";
    else if (ones == 1) out += "st";
    else if (ones == 2) out += "nd";
    else if (ones == 3) out += "rd";
    else out += "th";
}

void append_actor(std::string& out, const std::string& name) {
    out += "actor '";
    out += name;
    out += '\'';
}

}  // namespace

void actor_core::append_call(const actor_call& c, std::string& out) const {
    out += "for ";
    append_actor(out, name_);
    out += " to serve its call";
    if (c.ph == actor_call::phase::serving) {
        out += " (being served)";
        return;
    }
    std::size_t pos = 1;
    for (const actor_call* x = inbox_.front(); x; x = call_list::next(*x), ++pos) {
        if (x == &c) {
            out += " (";
            append_ordinal(out, pos);
            out += " in line)";
            return;
        }
    }
}

const wait_kind actor_core::call_kind{
    "actor call",
    [](const void* obj, std::string& out) {
        const auto* c = static_cast<const actor_call*>(obj);
        c->actor->append_call(*c, out);
    },
    [](const void* obj) { return static_cast<const actor_call*>(obj)->actor->server_; },
    // A timeout or an abort withdraws a call only while it is queued: once
    // it is served its caller's wait is pinned and never comes here.
    [](void* obj, control_block&) {
        auto* c = static_cast<actor_call*>(obj);
        MT_ASSERT(c->ph == actor_call::phase::queued, "a call being served was withdrawn");
        c->actor->inbox_.remove(*c);
    },
    "micro-thread",
};

const wait_kind actor_core::idle_kind{
    "actor idle",
    [](const void* obj, std::string& out) {
        out += "for calls to ";
        append_actor(out, static_cast<const actor_core*>(obj)->name_);
    },
    [](const void*) -> control_block* { return nullptr; },
    [](void* obj, control_block&) { static_cast<actor_core*>(obj)->idle_ = false; },
};

const wait_kind actor_core::join_kind{
    "actor join",
    [](const void* obj, std::string& out) {
        out += "for ";
        append_actor(out, static_cast<const actor_core*>(obj)->name_);
        out += " to end";
    },
    [](const void* obj) { return static_cast<const actor_core*>(obj)->server_; },
    [](void* obj, control_block& waiter) { static_cast<actor_core*>(obj)->joiners_.remove(waiter); },
    "micro-thread",
};

// ---- life ------------------------------------------------------------------------------

actor_core::actor_core(std::string_view name) : name_(name.empty() ? std::string("unnamed") : std::string(name)) {}

actor_core::~actor_core() {
    MT_ASSERT(inbox_.empty() && joiners_.empty() && !serving_, "an actor was deleted while calls or joiners wait");
}

// body — the server micro-thread's function; it holds a reference to the
// core until the body ends (or, if it never runs, until drop_body destroys
// it on the server's stack).
struct actor_core::body {
    actor_core* core;
    explicit body(actor_core* c) noexcept : core(c) { c->retain(); }
    body(body&& o) noexcept : core(std::exchange(o.core, nullptr)) {}
    body(const body&) = delete;
    ~body() {
        if (core) core->release();
    }
    void operator()() { core->serve(); }
};

void actor_core::start() {
    control_block& me = engine::get("actor").require_running("actor");
    binding_.check(me, "actor", "actor", name_);
    auto h = spawn(spawn_options{.name = name_}, body(this));
    server_ = &h.get_deferred().owner();
    // Told when the server ends, however it ends (even never started): the
    // listener holds a reference until then, since the body's goes as the
    // body ends, before the engine tells its listeners.
    next_listener = server_->listeners;
    server_->listeners = this;
    retain();
    // Dropping the handle detaches the server: the actor itself tracks its end.
}

void actor_core::serve() {
    control_block& me = *server_;
    try {
        for (;;) {
            if (pending_raise(me)) [[unlikely]]
                raise_pending(me);  // an abort lands between two calls
            if (actor_call* c = inbox_.pop_front()) {
                serve_one(*c);
                continue;
            }
            if (life_ != life::open) break;  // stopped, and the inbox is drained
            idle_ = true;
            begin_wait(me, idle_kind, this);
            end_wait(me, deadline{});  // fired by a call or a stop; an abort's withdraw clears idle_
        }
        reason_ = end_reason::stopped;
    } catch (...) {
        // Aborted (MicroThreadExit), or an interruption: no call is served
        // any more; the pending ones fail, the state is destroyed, and the
        // server ends the way it was ended.
        reason_ = end_reason::aborted;
        life_ = life::ended;
        fail_pending();
        destroy_state();
        throw;
    }
    life_ = life::ended;
    destroy_state();  // on the actor's own micro-thread: its destructor may suspend
}

// serve_one — runs one call with the caller's wait pinned, and fires the
// caller whatever happens (the record lives in the caller's frame).
void actor_core::serve_one(actor_call& c) {
    MT_ASSERT(c.ph == actor_call::phase::queued && c.caller->w.phase == wait_phase::armed,
              "the inbox held a call that is not queued");
    c.ph = actor_call::phase::serving;
    serving_ = &c;
    pin_wait(*c.caller);
    std::exception_ptr failure;
    try {
        c.run(c, state());
    } catch (const MicroThreadExit&) {
        serving_ = nullptr;
        c.ph = actor_call::phase::done;
        fire_error(*c.caller, stopped_error(*c.caller, "the actor's micro-thread was aborted while serving it"));
        throw;
    } catch (...) {
        failure = std::current_exception();  // fn's exception goes back to its caller
    }
    serving_ = nullptr;
    c.ph = actor_call::phase::done;
    if (failure) fire_error(*c.caller, std::move(failure));
    else fire(*c.caller, nullptr);
}

void actor_core::on_end([[maybe_unused]] control_block& cb) noexcept {
    MT_ASSERT(&cb == server_, "an actor was told of the end of another micro-thread");
    server_ = nullptr;
    if (reason_ == end_reason::none) reason_ = end_reason::aborted;  // it never ran
    life_ = life::ended;
    idle_ = false;
    fail_pending();
    while (control_block* j = joiners_.pop_front()) fire(*j, nullptr);
    release();  // the listener's reference (start): may delete this
}

void actor_core::fail_pending() noexcept {
    while (actor_call* c = inbox_.pop_front()) {
        c->ph = actor_call::phase::done;
        fire_error(*c->caller, stopped_error(*c->caller, "the actor's micro-thread was aborted before serving it"));
    }
}

std::exception_ptr actor_core::stopped_error(const control_block& caller, const char* why) const noexcept {
    std::string what = "call to actor '" + name_ + "' from micro-thread " + describe(caller) + " failed: " + why;
    return std::make_exception_ptr(actor_stopped(what));
}

void actor_core::throw_stopped(const control_block& caller) const {
    std::string what = fmt::format("{} on actor '{}': ", op_in("actor::call", &caller), name_);
    if (life_ == life::stopping) what += "the actor is stopping (stop() was called) and takes no more calls";
    else if (reason_ == end_reason::stopped) what += "the actor has stopped (stop() was called)";
    else what += "the actor has stopped (its micro-thread was aborted)";
    throw actor_stopped(what);
}

// ---- the callers' side -----------------------------------------------------------------

namespace {
// hold — a reference on the actor for the length of a wait: a caller or a
// joiner may outlive the actor object, and its timeout message reads the name.
struct hold {
    actor_core* a;
    explicit hold(actor_core* x) noexcept : a(x) { a->retain(); }
    ~hold() { a->release(); }
    hold(const hold&) = delete;
    hold& operator=(const hold&) = delete;
};
}  // namespace

void actor_core::call(actor_call& c, const deadline& d) {
    control_block& me = engine::get("actor::call").require_running("actor::call");
    binding_.check(me, "actor::call", "actor", name_);
    if (&me == server_) [[unlikely]] {
        throw usage_error(op_in("actor::call", &me) + " on actor '" + name_ +
                          "': a call from the actor's own micro-thread would wait for itself forever "
                          "(inside a call, use the state directly)");
    }
    check_deadline(me, d, "actor::call");
    if (pending_raise(me)) [[unlikely]]
        raise_pending(me);
    if (life_ != life::open) [[unlikely]]
        throw_stopped(me);
    c.caller = &me;
    c.actor = this;
    c.ph = actor_call::phase::queued;
    hold h(this);
    begin_wait(me, call_kind, &c);
    inbox_.push_back(c);
    if (idle_) {
        idle_ = false;
        fire_next(*server_, nullptr);  // we suspend at once: the server runs next
    }
    end_wait_or_throw(me, d, "actor::call");  // rethrows the call's exception, or actor_stopped
}

void actor_core::stop() noexcept {
    if (life_ != life::open) return;
    life_ = life::stopping;
    if (idle_) {
        idle_ = false;
        fire(*server_, nullptr);
    }
}

void actor_core::wait(const deadline& d) {
    control_block& me = engine::get("actor::wait").require_running("actor::wait");
    binding_.check(me, "actor::wait", "actor", name_);
    if (&me == server_) [[unlikely]] {
        throw usage_error(op_in("actor::wait", &me) + " on actor '" + name_ +
                          "': the actor's own micro-thread would wait for its own end");
    }
    check_deadline(me, d, "actor::wait");
    if (pending_raise(me)) [[unlikely]]
        raise_pending(me);
    if (!server_) return;
    hold h(this);
    begin_wait(me, join_kind, this);
    joiners_.push_back(me);
    end_wait_or_throw(me, d, "actor::wait");
}

void actor_core::check_invariants() const noexcept {
#if MT_CHECKED
    inbox_.check_invariants();
    joiners_.check_invariants();
    for (const actor_call* c = inbox_.front(); c; c = call_list::next(*c)) {
        MT_ASSERT(c->ph == actor_call::phase::queued && c->actor == this, "the inbox holds a call that is not queued");
        MT_ASSERT(c->caller->w.phase == wait_phase::armed && c->caller->w.obj == c && !c->caller->w.pinned,
                  "a queued call's caller is not in an armed, unpinned wait on it");
    }
    if (serving_) {
        MT_ASSERT(serving_->ph == actor_call::phase::serving && !inbox_.contains(*serving_),
                  "the call being served is queued");
        MT_ASSERT(serving_->caller->w.pinned, "the caller of the call being served is not pinned");
    }
    MT_ASSERT(!idle_ || (server_ && server_->w.phase == wait_phase::armed && server_->w.obj == this &&
                         inbox_.empty() && life_ == life::open),
              "an idle actor's server is not waiting for calls, or calls are queued");
    MT_ASSERT(life_ != life::ended || (inbox_.empty() && !serving_), "an ended actor holds calls");
    MT_ASSERT(refs_ > 0, "an actor is used after its last reference was dropped");
#endif
}

}  // namespace mt::detail
