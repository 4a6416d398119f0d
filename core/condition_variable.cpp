// core/condition_variable.cpp — waiting on a condition: release the mutex,
// wait for a notify (or the deadline, or an abort), re-lock the mutex.
//
// Invariants (check_invariants):
//   * waiters_ non-empty <=> mutex_ != nullptr: every waiter re-locks mutex_.
//   * every record in waiters_ lives in the frame of a micro-thread whose
//     wait is armed with cv_kind on that record, and names this condition.
//   * a waiter in waiters_ does not hold mutex_ (it released it before
//     suspending, and re-locks only after leaving the queue).
#include "core/condition_variable.hpp"

#include <string>
#include <utility>

#include "core/detail/assert.hpp"
#include "core/engine.hpp"
#include "core/errors.hpp"
#include "core/detail/naming.hpp"

namespace mt {

struct cv_access {
    static void withdraw(condition_variable& cv, detail::cv_waiter& w) noexcept { cv.withdraw(w); }
};

namespace {

void append_condition(std::string& out, std::string_view name) {
    out += "condition '";
    out += name;
    out += '\'';
}

// "for condition 'not empty' (mutex 'queue')". Anyone could notify it: no blocker.
const detail::wait_kind cv_kind{
    "condition",
    [](const void* obj, std::string& out) {
        const auto* w = static_cast<const detail::cv_waiter*>(obj);
        out += "for ";
        append_condition(out, w->cv ? w->cv->name() : w->seen_name.view());
        out += " (";
        w->mutex->append_name(out);
        out += ')';
    },
    [](const void*) -> detail::control_block* { return nullptr; },
    [](void* obj, detail::control_block&) {
        auto* w = static_cast<detail::cv_waiter*>(obj);
        if (w->cv) cv_access::withdraw(*w->cv, *w);
    },
};

}  // namespace

// withdraw — a waiter leaves the queue (timeout, abort, destruction); the
// condition's name stays in the record for messages built afterwards.
void condition_variable::withdraw(detail::cv_waiter& w) noexcept {
    waiters_.remove(w);
    if (waiters_.empty()) mutex_ = nullptr;
    w.seen_name = name_;
    w.cv = nullptr;
}

condition_variable::~condition_variable() {
    while (detail::cv_waiter* w = waiters_.front()) {
        std::exception_ptr e;
        try {
            std::string what;
            append_condition(what, name_.view());
            what += " was destroyed while micro-thread ";
            detail::append_ref(what, *w->cb);
            what += " waited on it";
            e = std::make_exception_ptr(usage_error(what));
        } catch (...) {
            e = std::current_exception();
        }
        detail::control_block& cb = *w->cb;
        withdraw(*w);
        detail::fire_error(cb, std::move(e));
    }
}

void condition_variable::check_notify(const char* op) {
    engine& e = engine::get(op);
    if (detail::control_block* me = e.running()) binding_.check(*me, op, "condition_variable", name_.view());
    else binding_.check_root(e, op, "condition_variable", name_.view());
}

void condition_variable::notify_one() {
    check_notify("condition_variable::notify_one");
    if (detail::cv_waiter* w = waiters_.pop_front()) {
        if (waiters_.empty()) mutex_ = nullptr;
        detail::fire(*w->cb, nullptr);
    }
}

void condition_variable::notify_all() {
    check_notify("condition_variable::notify_all");
    mutex_ = nullptr;
    while (detail::cv_waiter* w = waiters_.pop_front()) detail::fire(*w->cb, nullptr);
}

void condition_variable::wait(std::unique_lock<mutex>& lk) { wait_impl(lk, deadline{}, true, "condition_variable::wait"); }

void condition_variable::wait(std::unique_lock<mutex>& lk, deadline d) {
    wait_impl(lk, d, true, "condition_variable::wait");
}

std::cv_status condition_variable::timed_wait(std::unique_lock<mutex>& lk, const deadline& d, const char* op) {
    return wait_impl(lk, d, false, op) ? std::cv_status::no_timeout : std::cv_status::timeout;
}

// wait_impl — the one condition wait. Returns true when notified, false on
// a timeout (unless throw_timeout). Whatever happens after the mutex was
// released, it is re-locked before anything leaves this function — except
// when a deadlock resolution (or the mutex's destruction) ends the re-lock
// itself: then `lk` lets go of the mutex without unlocking it.
bool condition_variable::wait_impl(std::unique_lock<mutex>& lk, const deadline& d, bool throw_timeout, const char* op) {
    detail::control_block& me = engine::get(op).require_running(op);
    binding_.check(me, op, "condition_variable", name_.view());
    detail::check_deadline(me, d, op);
    mutex* m = lk.mutex();
    if (m == nullptr || !lk.owns_lock() || m->core_.holder() != &me) [[unlikely]] {
        std::string what = detail::op_in(op, &me) + " on ";
        append_condition(what, name_.view());
        what += " without holding its mutex";
        if (m) {
            what += " (";
            m->core_.append_name(what);
            if (const detail::control_block* h = m->core_.holder(); h && h != &me) {
                what += ", held by ";
                detail::append_ref(what, *h);
            }
            what += ')';
        }
        throw usage_error(what);
    }
    detail::lock_core& mc = m->core_;
    if (mutex_ != nullptr && mutex_ != &mc) [[unlikely]] {
        std::string what = detail::op_in(op, &me) + " on ";
        append_condition(what, name_.view());
        what += " with ";
        mc.append_name(what);
        what += ", while other micro-threads wait on it with ";
        mutex_->append_name(what);
        throw usage_error(what + " (one condition, one mutex)");
    }
    if (detail::pending_raise(me)) detail::raise_pending(me);  // still holding: lk unlocks while unwinding

    detail::cv_waiter w;
    w.cb = &me;
    w.cv = this;
    w.mutex = &mc;
    detail::begin_wait(me, cv_kind, &w);
    waiters_.push_back(w);
    mutex_ = &mc;
    mc.release_for_wait(me);  // may hand it to its first waiter, which runs next

    bool notified = false;
    std::exception_ptr raised;  // what leaves after the re-lock: an abort, a timeout, a destruction
    try {
        notified = detail::end_wait(me, d) == detail::wait_end::fired;
        if (!notified && throw_timeout) detail::throw_timeout(me, op, cv_kind, &w, d);
    } catch (...) {
        raised = std::current_exception();
    }
    try {
        mc.relock(me);
    } catch (...) {
        lk.release();  // the mutex is not held: lk must not unlock it
        throw;
    }
    if (raised) std::rethrow_exception(raised);
    return notified;
}

void condition_variable::check_invariants() const noexcept {
#if MT_CHECKED
    waiters_.check_invariants();
    MT_ASSERT(waiters_.empty() == (mutex_ == nullptr), "a condition's mutex is set iff micro-threads wait on it");
    for (const detail::cv_waiter* w = waiters_.front(); w; w = decltype(waiters_)::next(*w)) {
        MT_ASSERT(w->cv == this && w->mutex == mutex_, "a queued condition waiter names another condition or mutex");
        MT_ASSERT(w->cb->w.phase == detail::wait_phase::armed && w->cb->w.obj == w,
                  "a queued condition waiter is not in an armed wait");
        MT_ASSERT(mutex_->holder() != w->cb, "a condition waiter holds the mutex");
    }
#endif
}

}  // namespace mt
