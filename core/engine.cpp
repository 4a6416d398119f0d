// core/engine.cpp — scheduling, switching and the life of a micro-thread.
// The root loop, deadlines and deadlock resolution are in engine_loop.cpp.
// Invariants: see engine.hpp and control_block.hpp.
#include "core/engine.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "core/detail/assert.hpp"
#include "core/detail/overflow.hpp"
#include "core/detail/ticks.hpp"
#include "core/detail/tracer.hpp"
#include "core/errors.hpp"
#include "core/notifier_interface.hpp"

namespace mt {

namespace detail {
constinit thread_local engine* tls_engine MT_TLS_MODEL = nullptr;
}
using detail::tls_engine;

namespace {

void default_unhandled(const micro_thread_info& info, std::exception_ptr e) {
    std::string what = "unknown exception";
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        what = ex.what();
    } catch (...) {
    }
    std::fprintf(stderr, "microthreading: unhandled exception in micro-thread #%llu '%s': %s\n",
                 static_cast<unsigned long long>(info.id), info.name.c_str(), what.c_str());
}

micro_thread_info info_of(const detail::control_block& cb) {
    return micro_thread_info{cb.id, detail::name_of(cb), cb.st};
}

}  // namespace

const char* to_string(state s) noexcept {
    switch (s) {
        case state::created: return "created";
        case state::runnable: return "runnable";
        case state::running: return "running";
        case state::waiting: return "waiting";
        case state::finished: return "finished";
        case state::failed: return "failed";
        case state::aborted: return "aborted";
    }
    return "?";
}

namespace {
std::atomic<std::uint64_t> next_serial{1};
}

engine::engine(engine_options opts)
    : opts_(opts), pool_(opts.stacks), serial_(next_serial.fetch_add(1, std::memory_order_relaxed)),
      unhandled_(default_unhandled), mailbox_(std::make_shared<detail::mailbox>()) {
    if (tls_engine)
        throw usage_error("an engine already runs on this OS thread (one engine per OS thread)");
    detail::context_init(sw_);
    if (opts_.embedder_state_size) root_state_ = std::calloc(1, opts_.embedder_state_size);
    tls_engine = this;
    if (opts_.cpu_time) set_cpu_time(true);
    start_trace_from_environment();  // MT_TRACE, MT_CPU_TIME
}

engine::~engine() {
    // Every micro-thread must end before its engine: abort whatever is left
    // and let it unwind. (run() normally returns only when none is left.)
    if (!live_.empty() && current_ == nullptr) {
        abort_all();  // waiting ones are woken: their waits raise MicroThreadExit
        try {
            loop();
        } catch (...) {
        }
    }
    // Handles may outlive the engine (an interpreter's objects do): their
    // blocks are orphaned, so a later use is a usage error and the last
    // handle frees the block.
    while (detail::control_block* cb = ended_.pop_front()) {
        if (cb->embedder_state) detail::block_free(cb->embedder_state, opts_.embedder_state_size);
        cb->embedder_state = nullptr;
        cb->eng = nullptr;
    }
    if (tracer_) {
        try {
            stop_trace();
        } catch (const std::exception& ex) {
            std::fprintf(stderr, "microthreading: the trace of engine %llu was not written: %s\n",
                         static_cast<unsigned long long>(serial_), ex.what());
        }
    }
    // From now on a post is dropped (and a task posted is destroyed unrun).
    for (detail::remote_post& p : mailbox_->close()) delete p.task;
    owned_notifier_.reset();
    notifier_ = nullptr;
    std::free(root_state_);
    tls_engine = nullptr;
}

void engine::throw_no_engine(const char* operation) {
    throw usage_error(std::string(operation) +
                      " called with no engine on this OS thread (start one with mt::run)");
}

void engine::throw_outside(const char* operation) const {
    {
        throw usage_error(std::string(operation) +
                          " called outside a micro-thread (on the engine's root context), where "
                          "it would block the whole OS thread");
    }
}

// ---- run queue -------------------------------------------------------------

inline void engine::push_runnable(detail::control_block& cb) noexcept {
    cb.run_next = nullptr;
    cb.queued_at_back = true;
    (run_tail_ ? run_tail_->run_next : run_head_) = &cb;
    run_tail_ = &cb;
}

inline detail::control_block* engine::pop_runnable() noexcept {
    detail::control_block* cb = run_head_;
    if (!cb) return nullptr;
    run_head_ = cb->run_next;
    if (!run_head_) {
        run_tail_ = nullptr;
        handoff_streak_ = 0;  // nobody else was waiting: the streak starved no one
    }
    cb->run_next = nullptr;
    return cb;
}

// make_runnable — waiting -> runnable, at the back of the run queue.
void engine::make_runnable(detail::control_block& cb) noexcept {
    MT_ASSERT(cb.st == state::waiting, "make_runnable on a micro-thread that is not waiting");
    cb.st = state::runnable;
    push_runnable(cb);
}

// make_runnable_next — waiting -> runnable, at the front (bounded streak).
void engine::make_runnable_next(detail::control_block& cb) noexcept {
    MT_ASSERT(cb.st == state::waiting, "make_runnable_next on a micro-thread that is not waiting");
    cb.st = state::runnable;
    // Whoever is queued and did not choose to wait at the front (put at the
    // back, or at the front by an earlier handoff) is overtaken by this one:
    // only such insertions count towards the bound. Without the second kind
    // a handoff target could wait forever while pipes that keep bouncing
    // values overtake it (nothing at the back, so nothing was counted).
    // An empty queue delays nobody, and its streak is 0 (pop_runnable
    // restarts it when the queue drains).
    if (run_head_) {
        if (!someone_waits_at_back() && !handoff_waits_at_front()) {
            handoff_streak_ = 0;  // this one delays nobody who did not choose to wait
        } else if (++handoff_streak_ > max_handoff_streak) {
            handoff_streak_ = 0;
            push_runnable(cb);
            return;
        }
    }
    cb.queued_at_back = false;
    cb.handoff_from_here = true;
    cb.run_next = run_head_;
    run_head_ = &cb;
    if (!run_tail_) run_tail_ = &cb;
}

// ---- switching ---------------------------------------------------------------

// enter — makes `to` (nullptr: the root) the running context and returns the
// slot to jump to.
inline detail::context_slot& engine::enter(detail::control_block* from, detail::control_block* to) noexcept {
    if (observer_) observer_(observer_user_, from, to);  // CPU time, a trace, an embedder: core/observe.cpp
    current_ = to;
    if (!to) return root_;
    MT_ASSERT(to->st == state::created || to->st == state::runnable, "entering a micro-thread that is not runnable");
    if (to->st == state::created)
        detail::context_create(to->ctx, to->stk, pool_, &engine::entry, to, sw_);
    to->st = state::running;  // created/runnable -> running
    ++to->switches;
    return to->ctx;
}

// switch_from — the running context `from` (nullptr: root) gives way to the
// head of the run queue, or to the root when the queue is empty.
void engine::switch_from(detail::control_block* from) noexcept {  // also called by engine_loop.cpp: not inline
    detail::control_block* to = pop_runnable();
    if (to == from) {  // it was the only one runnable, or the root has nothing to run
        if (from) from->st = state::running;
        return;
    }
    switch_to(from, to);
}

inline void engine::switch_to(detail::control_block* from, detail::control_block* to) noexcept {
    if (from && !detail::stack_pool::canary_intact(from->stk)) detail::overflow_die(*from);
    detail::context_slot& from_slot = from ? from->ctx : root_;
    detail::context_slot& to_slot = enter(from, to);
    detail::context_switch(from_slot, to_slot, sw_);
}

// poll_if_due — while work is runnable the root never reaches the
// notifier, so every poll_interval yields or suspensions the running
// micro-thread looks itself, without blocking: at the mailbox and the due
// deadlines each time, and at the notifier once notifier_poll_ticks passed
// since it was last asked. A micro-thread spinning on yield() starves
// neither I/O nor timers: an fd that became ready is seen within ~60 us
// of busy running, a deadline within 64 switches of passing.
inline void engine::poll_if_due() {
    if (++since_poll_ >= poll_interval) [[unlikely]] {
        since_poll_ = 0;
        if (notifier_) {
            const std::uint64_t now = detail::ticks();
            if (now - notifier_polled_at_ >= notifier_poll_ticks) {
                notifier_polled_at_ = now;
                notifier_->poll(0);
            }
        }
        drain_mailbox();
        if (!timers_.empty()) expire_timers();
    }
}

// drain_mailbox — what other OS threads posted: tasks run, and each wake-up
// whose wait is still the one it names (slot and generation) fires it (a
// select's part slot: through its on_wake). The slot is given back before
// the fire, so a slot in use always belongs to an armed wait.
void engine::drain_mailbox() noexcept {
    if (!mailbox_->maybe_pending()) return;
    mailbox_->drain(batch_);
    for (detail::remote_post& p : batch_) {
        if (p.task) {
            std::unique_ptr<detail::remote_task> t(std::exchange(p.task, nullptr));
            t->run(*this);
            continue;
        }
        detail::remote_slot* s = remote_.find(p.slot, p.generation);
        if (!s) continue;  // that wait ended (timed out, aborted): dropped
        detail::control_block* w = s->waiter;
        const detail::remote_use use = s->use;
        void (*on_wake)(void*) noexcept = s->on_wake;
        void* ctx = s->ctx;
        remote_.give_back(*s);
        if (use == detail::remote_use::part) {
            on_wake(ctx);  // a select: withdraws its other cases, then fires
        } else if (use == detail::remote_use::wait) {
            if (p.error) detail::fire_error(*w, std::move(p.error));
            else detail::fire(*w, p.value);
        } else {
            // The user's deferred: firing it withdraws its registration (the
            // slot, already given back). A deferred fired meanwhile by
            // someone else refuses a second fire: the wake-up is dropped.
            try {
                if (p.error) w->d.errback(std::move(p.error));
                else w->d.callback(p.value);
            } catch (...) {
            }
        }
    }
    batch_.clear();
}

void engine::yield_running() {
    detail::control_block& me = require_running("yield()");
    if (me.st != state::running) [[unlikely]]
        detail::throw_not_running(me, "yield()");
    if (detail::pending_raise(me)) [[unlikely]]
        detail::raise_pending(me);
    poll_if_due();
    if (run_head_) {
        me.st = state::runnable;  // running -> runnable
        push_runnable(me);
        switch_from(&me);
    }
    if (detail::pending_raise(me)) [[unlikely]]
        detail::raise_pending(me);
}

void engine::suspend_running() {
    detail::control_block* me = current_;
    MT_ASSERT(me && me->st == state::running && me->w.phase == detail::wait_phase::armed,
              "suspend_running outside an armed wait");
    me->st = state::waiting;  // running -> waiting
    poll_if_due();  // may settle our own wait: then we are queued, and may be the one to run next
    switch_from(me);
}

// ---- a micro-thread's life -----------------------------------------------------

void engine::admit(detail::control_block& cb, std::string_view name, std::size_t stack_size,
                   detail::io_attachment in, detail::io_attachment out, bool queue) {
    cb.eng = this;
    cb.id = next_id_;
    const std::size_t n = name.size() < detail::max_name ? name.size() : detail::max_name;
    if (n) std::memcpy(cb.name, name.data(), n);
    cb.name[n] = '\0';
    cb.stk = pool_.acquire(stack_size ? stack_size : opts_.default_stack_size, cb);
    if (opts_.embedder_state_size) {
        try {
            cb.embedder_state = detail::block_allocate(opts_.embedder_state_size);
        } catch (...) {
            pool_.release(cb.stk);
            cb.stk = {};
            throw;
        }
        std::memset(cb.embedder_state, 0, opts_.embedder_state_size);
    }
    if (in) in.ops->attach(in.obj, cb, detail::io_role::in);
    cb.io[0] = in;
    if (out) out.ops->attach(out.obj, cb, detail::io_role::out);
    cb.io[1] = out;
    ++next_id_;
    cb.st = state::created;
    live_.push_back(cb);
    if (queue) push_runnable(cb);
}

void engine::start_now(detail::control_block& cb) noexcept {
    detail::control_block* me = current_;
    MT_ASSERT(me && me->st == state::running, "start_now outside a running micro-thread");
    MT_ASSERT(cb.st == state::created && cb.run_next == nullptr && run_tail_ != &cb,
              "start_now on a micro-thread that is queued or started");
    me->st = state::runnable;  // running -> runnable, first in line
    me->queued_at_back = false;
    me->handoff_from_here = handoff_waits_at_front();  // it chose to wait here: not counted for
    me->run_next = run_head_;
    run_head_ = me;
    if (!run_tail_) run_tail_ = me;
    switch_to(me, &cb);
}

detail::context_slot* engine::entry(void* arg) noexcept {
    auto& cb = *static_cast<detail::control_block*>(arg);
    return cb.eng->run_to_end(cb);
}

// run_to_end — the whole life of a micro-thread on its own stack. Boost's
// forced_unwind can never arrive here: a fiber is only ever destroyed after it
// returned (engine::~engine runs every micro-thread to its end), so the
// catch-all below cannot swallow one.
detail::context_slot* engine::run_to_end(detail::control_block& cb) noexcept {
    // running -> finished / failed / aborted
    if (cb.abort_requested) {
        // Aborted before it started: its body never runs, but what it
        // captured is destroyed here, where a destructor may suspend (in a
        // shield) as it could at the end of a body that ran.
        cb.drop_body();
        cb.st = state::aborted;
    } else {
        try {
            cb.run_body();
            cb.st = state::finished;
        } catch (const MicroThreadExit&) {
            cb.st = state::aborted;
        } catch (...) {
            cb.error = std::current_exception();
            cb.st = state::failed;
        }
    }
    if (!detail::stack_pool::canary_intact(cb.stk)) detail::overflow_die(cb);
    cb.shield_depth = 0;  // a shield it leaked (made with new, never deleted) shields nothing any more
    cb.stk = {};  // Boost.Context gives the stack back to the pool once we left it
    end(cb);
    if (cb.handles == 0) cb.error = nullptr;  // detached: reported by end(); its exception goes on this stack
    detail::control_block* next = pop_runnable();
    detail::context_slot& slot = enter(&cb, next);
    maybe_free(cb);  // only now: the switch hook above still saw it
    return &slot;
}

// end — bookkeeping when a micro-thread has ended (its outcome is stored).
// Runs on the ended micro-thread's stack, before its last switch (the
// caller frees the block after it, maybe_free). Wakes joiners, tells
// listeners.
void engine::end(detail::control_block& cb) noexcept {
    MT_ASSERT(has_ended(cb.st) && cb.w.phase == detail::wait_phase::idle, "end() of a micro-thread still in a wait");
    if (!cb.held.empty()) [[unlikely]]
        detail::release_held_locks(cb);  // before its joiners run: they may want the locks
    live_.remove(cb);
    if (cb.handles > 0) ended_.push_back(cb);  // a handle will free it (maybe_free)
    detach_io(cb, true);
    while (detail::control_block* j = cb.joiners.pop_front()) detail::fire(*j, nullptr);
    for (detail::end_listener* l = cb.listeners; l;) {
        detail::end_listener* next = l->next_listener;
        l->on_end(cb);
        l = next;
    }
    cb.listeners = nullptr;
    if (cb.owner_scope) cb.owner_scope->child_ended(cb);
    if (&cb == main_) {
        main_ = nullptr;
        if (stop_when_main_ends_) abort_all();
    }
    if (cb.st == state::failed && !cb.outcome_observed && cb.handles == 0) report_unhandled(cb);
}

// detach_io — lets go of the micro-thread's stdin/stdout; `ended` tells the
// pipes it ended (they close or propagate as docs/reference/pipes.md says).
void engine::detach_io(detail::control_block& cb, bool ended) noexcept {
    for (detail::io_attachment& a : cb.io) {
        if (!a) continue;
        const auto role = &a == &cb.io[0] ? detail::io_role::in : detail::io_role::out;
        if (ended) a.ops->on_end(a.obj, cb, role);
        a.ops->release(a.obj);
        a = {};
    }
}

void engine::maybe_free(detail::control_block& cb) noexcept {
    if (cb.handles == 0 && has_ended(cb.st)) {
        ended_.remove_if_linked(cb);
        if (cb.embedder_state) detail::block_free(cb.embedder_state, opts_.embedder_state_size);
        delete &cb;
    }
}

void* engine::embedder_state(const detail::control_block* cb) const noexcept {
    return cb ? cb->embedder_state : root_state_;
}

void engine::release_handle(detail::control_block& cb) noexcept {
    --cb.handles;
    if (cb.handles == 0 && cb.st == state::failed && !cb.outcome_observed) {
        cb.outcome_observed = true;
        report_unhandled(cb);
    }
    maybe_free(cb);
}

void engine::drop_handle(detail::control_block& cb) noexcept {
    if (cb.eng) {
        cb.eng->release_handle(cb);
        return;
    }
    // orphaned by ~engine: ended, nothing but handles refers to it
    if (--cb.handles == 0) delete &cb;
}

void engine::report_unhandled(detail::control_block& cb) noexcept {
    cb.outcome_observed = true;
    try {
        if (unhandled_) unhandled_(info_of(cb), cb.error);
    } catch (...) {  // said without allocating: this may be out of memory
        const char* what = "an exception that is not a std::exception";
        try {
            throw;
        } catch (const std::exception& e) {
            what = e.what();
        } catch (...) {
        }
        char unnamed[40];
        std::snprintf(unnamed, sizeof unnamed, "micro-thread-%llu", static_cast<unsigned long long>(cb.id));
        std::fprintf(stderr, "microthreading: the unhandled-exception handler threw, for micro-thread #%llu '%s': %s\n",
                     static_cast<unsigned long long>(cb.id), cb.name[0] ? cb.name : unnamed, what);
    }
}

void engine::require_here(const detail::control_block& cb, const char* operation) {
    if (cb.eng == tls_engine && cb.eng) [[likely]]
        return;
    if (!cb.eng)
        throw usage_error(std::string(operation) + " on micro-thread " + detail::describe(cb) +
                          ", whose engine has ended");
    throw usage_error(std::string(operation) + " on micro-thread " + detail::describe(cb) +
                      ", which belongs to the engine of another OS thread (handles, pipes and "
                      "primitives stay on their engine's OS thread)");
}

void engine::abort(detail::control_block& cb) {
    require_here(cb, "abort()");
    if (has_ended(cb.st)) return;
    cb.abort_requested = true;
    // The caller itself: at once — but not from a destructor run by an
    // unwinding (this micro-thread's own count), where a second exception
    // means std::terminate. The abort is sticky: its next suspension raises it.
    if (&cb == current_ && cb.shield_depth == 0 && std::uncaught_exceptions() == 0) throw MicroThreadExit{};
    wake_to_raise(cb);
}

void engine::interrupt(detail::control_block& cb, std::exception_ptr e) noexcept {
    if (has_ended(cb.st)) return;
    cb.interruption = std::move(e);
    wake_to_raise(cb);  // the running one raises it at its next suspension point
}

void engine::abort_all() noexcept {
    for (auto* cb = live_.back(); cb; cb = decltype(live_)::prev(*cb)) {  // newest first
        cb->abort_requested = true;
        wake_to_raise(*cb);  // the running one raises at its next suspension point
    }
}

// wake_to_raise — a micro-thread with something to raise is woken from an
// interruptible, unshielded wait (its registration withdrawn); created or
// runnable ones raise it when they next run, so nothing else is needed.
void engine::wake_to_raise(detail::control_block& cb) noexcept {
    detail::withdraw(cb, false);
}

bool engine::interrupt_main(std::exception_ptr e) {
    if (!main_) return false;
    stop_when_main_ends_ = true;
    interrupt(*main_, std::move(e));
    return true;
}

}  // namespace mt
