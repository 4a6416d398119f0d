// core/detail/lock_core.cpp — the slow paths of mt::mutex and
// mt::recursive_mutex: waiting in FIFO order, the handoff, withdrawal,
// destruction, and the locks a micro-thread still holds when it ends.
// States and invariants: see lock_core.hpp. Lock cycles: lock_cycle.cpp.
#include "core/detail/lock_core.hpp"

#include <cstdio>
#include <cstring>
#include <utility>

#include "core/detail/assert.hpp"
#include "core/errors.hpp"
#include "core/detail/naming.hpp"

namespace mt::detail {

// ---- names and what messages say --------------------------------------------------

void name_buffer::assign(std::string_view s) noexcept {
    const std::size_t n = s.size() < max_name ? s.size() : max_name;
    if (n) std::memcpy(text, s.data(), n);
    text[n] = '\0';
    len = static_cast<std::uint8_t>(n);
}

void ref_snapshot::take(const control_block* cb) noexcept {
    id = cb ? cb->id : 0;
    name.assign(cb ? std::string_view(cb->name, ::strnlen(cb->name, max_name)) : std::string_view());
}

void ref_snapshot::append(std::string& out) const {
    out += '#';
    out += std::to_string(id);
    out += " '";
    if (name.len) out += name.view();
    else out += "micro-thread-" + std::to_string(id);  // as name_of() says it
    out += '\'';
}

void lock_core::append_name(std::string& out) const {
    out += kind_;
    out += " '";
    out += name_.view();
    out += '\'';
}

std::optional<micro_thread_info> lock_core::holder_info() const {
    if (!holder_) return std::nullopt;
    return micro_thread_info{holder_->id, name_of(*holder_), holder_->st};
}

namespace {

// describe — "for mutex 'accounts', held by #7 'writer'" (the dump prints
// "waits " before it). It names the holder itself, so the wait kind has no
// blocker_role and deadlock chains go on with ", which waits ...".
void describe_waiter(const void* obj, std::string& out) {
    const auto* w = static_cast<const lock_waiter*>(obj);
    out += w->relock ? "to re-lock " : "for ";
    if (w->lock) {
        w->lock->append_name(out);
    } else {  // withdrawn: what it saw then
        out += w->seen_kind;
        out += " '";
        out += w->seen_name.view();
        out += '\'';
    }
    if (w->relock) out += " after a condition wait";
    if (w->lock) {
        if (const control_block* h = w->lock->holder()) {
            out += ", held by ";
            append_ref(out, *h);
        }
    } else if (w->seen_holder.id) {
        out += ", held by ";
        w->seen_holder.append(out);
    }
}

control_block* waiter_blocker(const void* obj) {
    const auto* w = static_cast<const lock_waiter*>(obj);
    return w->lock ? w->lock->holder() : nullptr;
}

}  // namespace

void lock_core::cancel_waiter(void* obj, control_block&) noexcept {
    auto* w = static_cast<lock_waiter*>(obj);
    if (w->lock) w->lock->withdraw(*w);
}

const wait_kind lock_core::wait_kind_{
    "lock",
    describe_waiter,
    waiter_blocker,
    &lock_core::cancel_waiter,
    nullptr,  // the description names the holder
};

control_block* lock_wait_holder(const control_block& cb) noexcept {
    if (cb.w.phase != wait_phase::armed || cb.w.kind != &lock_core::wait_kind_) return nullptr;
    const auto* w = static_cast<const lock_waiter*>(cb.w.obj);
    return w->lock ? w->lock->holder() : nullptr;
}

// ---- life ----------------------------------------------------------------------------

lock_core::lock_core(const char* kind, bool recursive, std::string_view name) noexcept
    : recursive_(recursive), kind_(kind) {
    name_.assign(name);
}

lock_core::~lock_core() {
    while (lock_waiter* w = waiters_.front()) {
        std::exception_ptr e;
        try {
            std::string what;
            append_name(what);
            what += " was destroyed while micro-thread ";
            append_ref(what, *w->cb);
            what += w->relock ? " waited to re-lock it" : " waited to lock it";
            if (holder_) {
                what += " (held by ";
                append_ref(what, *holder_);
                what += ')';
            }
            e = std::make_exception_ptr(usage_error(what));
        } catch (...) {
            e = std::current_exception();  // no memory for the message: the waiter gets that
        }
        withdraw(*w);
        fire_error(*w->cb, std::move(e));
    }
    // A held lock may be destroyed (a local mutex going out of scope
    // locked, say); its holder just stops holding it.
    if (holder_) holder_->held.remove(*this);
}

// withdraw — a waiter leaves the queue (timeout, abort, a broken cycle,
// destruction); what it waited for is kept in the record for the messages
// built after this.
void lock_core::withdraw(lock_waiter& w) noexcept {
    waiters_.remove(w);
    w.seen_kind = kind_;
    w.seen_name = name_;
    w.seen_holder.take(holder_);
    w.lock = nullptr;
}

void lock_core::fail_waiter(lock_waiter& w, std::exception_ptr e) noexcept {
    control_block& cb = *w.cb;
    withdraw(w);
    fire_error(cb, std::move(e));
}

// pass_on — the last hold was let go (the lock is in no held stack): the
// first waiter becomes the holder and runs next, or the lock is free.
void lock_core::pass_on() noexcept {
    if (lock_waiter* w = waiters_.pop_front()) {
        take(*w->cb);
        fire_next(*w->cb, nullptr);  // a handoff: bounded by the engine's streak limit, so fair
    } else {
        holder_ = nullptr;
        count_ = 0;
    }
}

// ---- the operations ----------------------------------------------------------------------

// acquire — flattened: the wait (end_wait, the engine's suspension and the
// switch) is inlined here, so a waiter that resumes returns once (to the
// caller of lock) instead of through end_wait as well. A return after a
// switch is predicted from the call chain of the context that left
// (core/detail/context.cpp, jump), which is another caller of lock, so it
// is often mispredicted: one such return instead of two took a contended
// handoff from ~70 ns to ~50 ns here (when the switch was still a call,
// which mispredicted every return after it).
[[gnu::flatten]] bool lock_core::acquire(const deadline& d, const char* op, bool timed_try) {
    control_block& me = engine::get(op).require_running(op);
    check_binding(me, op);
    if (d.negative()) [[unlikely]]
        check_deadline(me, d, op);
    if (holder_ == nullptr) {
        take(me);
        return true;
    }
    if (holder_ == &me) [[unlikely]]
        return lock_held_by_caller(me, op, timed_try);
    // The cycle walk starts only when the holder itself waits for a lock
    // (rare): usually it is running or runnable.
    if (holder_->w.kind == &wait_kind_ && closes_cycle(me, *this)) [[unlikely]] {
        if (timed_try) return false;
        throw_cycle(me, op);
    }
    lock_waiter w;
    w.cb = &me;
    w.lock = this;
    begin_wait(me, wait_kind_, &w);
    waiters_.push_back(w);
    // A pending abort or interruption withdraws the wait in end_wait, before
    // it suspends. Once the wait fired we hold the lock: nothing below may throw, or
    // the caller's guard (not yet made) would never unlock it.
    if (timed_try) return end_wait(me, d) == wait_end::fired;
    end_wait_or_throw(me, d, op);
    return true;
}

// lock_held_by_caller — the caller locks what it holds: a recursive lock
// counts; a mutex would wait for itself (the cycle of one).
bool lock_core::lock_held_by_caller(control_block& me, const char* op, bool timed_try) {
    if (recursive_) {
        if (count_ == UINT32_MAX) [[unlikely]] {
            std::string what = op_in(op, &me) + ": ";
            append_name(what);
            throw usage_error(what + " is already held 4294967295 times");
        }
        ++count_;
        return true;
    }
    if (timed_try) return false;
    std::string what = op_in(op, &me) + ": deadlock: ";
    append_ref(what, me);
    what += " would wait for ";
    append_name(what);
    what += " held by itself (a mutex is not recursive: the wait would never end)";
    throw deadlock_error(what);
}

void lock_core::throw_cycle(const control_block& me, const char* op) const {
    throw deadlock_error(op_in(op, &me) + ": deadlock: " + cycle_message(me, *this));
}

void lock_core::lock(const deadline& d, const char* op) { acquire(d, op, false); }

bool lock_core::try_lock_until(const deadline& d, const char* op) { return acquire(d, op, true); }

bool lock_core::try_lock(const char* op) {
    control_block& me = engine::get(op).require_running(op);
    check_binding(me, op);
    if (holder_ == nullptr) {
        take(me);
        return true;
    }
    if (holder_ == &me && recursive_ && count_ < UINT32_MAX) {
        ++count_;
        return true;
    }
    return false;
}

void lock_core::unlock(const char* op) {
    control_block* me = engine::get(op).running();
    // holder_ == me implies the binding: only this engine's micro-threads hold it.
    if (me == nullptr || holder_ != me) [[unlikely]]
        throw_bad_unlock(me, op);
    if (--count_ > 0) return;
    me->held.remove(*this);
    pass_on();
}

void lock_core::throw_bad_unlock(control_block* me, const char* op) {
    if (me == nullptr) {
        std::string what = std::string(op) + " called outside a micro-thread (on the engine's root), on ";
        append_name(what);
        throw usage_error(what + ": only its holder may unlock it");
    }
    binding_.check(*me, op, kind_, name_.view());
    std::string what = op_in(op, me) + " on ";
    append_name(what);
    if (holder_) {
        what += ", which is held by ";
        append_ref(what, *holder_);
        what += " (only its holder may unlock it)";
    } else {
        what += ", which is not locked";
    }
    throw usage_error(what);
}

void lock_core::release_for_wait(control_block& me) noexcept {
    MT_ASSERT(holder_ == &me && count_ == 1, "a condition wait released a mutex its caller does not hold once");
    me.held.remove(*this);
    count_ = 0;
    pass_on();
}

void lock_core::relock(control_block& me) {
    if (holder_ == nullptr) {
        take(me);
        return;
    }
    MT_ASSERT(holder_ != &me, "a micro-thread re-locks a mutex it holds");
    if (closes_cycle(me, *this)) break_cycle_for_relock(me, *this);
    lock_waiter w;
    w.cb = &me;
    w.lock = this;
    w.relock = true;
    begin_wait_to_completion(me, wait_kind_, &w);
    waiters_.push_back(w);
    end_wait(me, deadline{});  // fired: we hold it; throws only on a deadlock resolution or destruction
}

// ---- what a micro-thread holds ------------------------------------------------------------

void release_held_locks(control_block& cb) noexcept {
    while (held_lock* h = cb.held.pop()) {
        auto& l = static_cast<lock_core&>(*h);
        std::string line;
        try {
            line = "microthreading: micro-thread " + describe(cb) + " ended holding ";
            l.append_name(line);
            line += "; it was unlocked";
        } catch (...) {
        }
        l.count_ = 0;
        l.pass_on();
        try {
            if (l.holder_) {
                line += " and passed to ";
                append_ref(line, *l.holder_);
            }
        } catch (...) {
        }
        std::fprintf(stderr, "%s\n", line.c_str());
    }
}

void append_held_locks(std::string& out, const control_block& cb) {
    for (const held_lock* h = cb.held.front(); h; h = held_stack::next(*h)) {
        if (h != cb.held.front()) out += ", ";
        const auto& l = static_cast<const lock_core&>(*h);
        l.append_name(out);
        if (l.count() > 1) out += " (x" + std::to_string(l.count()) + ')';
    }
}

void check_held_locks(const control_block& cb) noexcept {
#if MT_CHECKED
    for (const held_lock* h = cb.held.front(); h; h = held_stack::next(*h)) {
        const auto& l = static_cast<const lock_core&>(*h);
        MT_ASSERT(l.holder_ == &cb && l.count_ > 0, "a micro-thread's held stack names a lock it does not hold");
        l.check_invariants();
    }
#else
    (void)cb;
#endif
}

void lock_core::check_invariants() const noexcept {
#if MT_CHECKED
    waiters_.check_invariants();
    MT_ASSERT((holder_ == nullptr) == (count_ == 0), "a lock's holder and count disagree");
    MT_ASSERT(recursive_ || count_ <= 1, "a mutex is held more than once");
    MT_ASSERT(waiters_.empty() || holder_ != nullptr, "micro-threads wait for a free lock");
    if (holder_) {
        MT_ASSERT(!has_ended(holder_->st), "a lock is held by a micro-thread that has ended");
        MT_ASSERT(holder_->held.contains(*this), "a lock is not in its holder's held stack");
        MT_ASSERT(binding_.eng == holder_->eng, "a lock is held by a micro-thread of another engine");
    }
    for (const lock_waiter* w = waiters_.front(); w; w = decltype(waiters_)::next(*w)) {
        MT_ASSERT(w->lock == this, "a queued lock waiter names another lock");
        MT_ASSERT(w->cb->w.phase == wait_phase::armed && w->cb->w.kind == &wait_kind_ && w->cb->w.obj == w,
                  "a queued lock waiter is not in an armed lock wait");
    }
#endif
}

}  // namespace mt::detail
