// core/deferred.cpp — the deferred's transitions and the PEP's callback
// queue. States and invariants: see deferred.hpp.
#include "core/deferred.hpp"

#include <utility>

#include "core/detail/assert.hpp"
#include "core/detail/control_block.hpp"
#include "core/engine.hpp"
#include "core/errors.hpp"

namespace mt {
namespace detail {

const wait_kind plain_wait{
    "deferred",
    [](const void*, std::string&) {},
    [](const void*) -> control_block* { return nullptr; },
    nullptr,
};

}  // namespace detail

// The owner's internal wait inside wait(): what it describes and blocks on is
// the registration given to arm(), if any.
const detail::wait_kind deferred::deferred_wait{
    "deferred",
    [](const void* obj, std::string& out) {
        const auto* d = static_cast<const deferred*>(obj);
        if (d->kind_ && d->kind_ != &detail::plain_wait) d->kind_->describe(d->obj_, out);
        else out += "on its deferred";
    },
    [](const void* obj) -> detail::control_block* {
        const auto* d = static_cast<const deferred*>(obj);
        return d->kind_ ? d->kind_->blocker(d->obj_) : nullptr;
    },
    nullptr,  // the user's registration stays: a timed-out wait leaves the deferred armed
};

namespace {

[[noreturn]] void misuse(const detail::control_block& owner, const char* op, const char* why) {
    throw usage_error(std::string(op) + " on the deferred of micro-thread " + detail::describe(owner) + ": " +
                      why);
}

// check_here — a deferred is used on its engine's OS thread only: from
// another one it would race with the engine (another OS thread fires it
// through mt::remote_wakeup), and once the engine has ended there is
// nothing to wake.
void check_here(const detail::control_block& owner, const char* op) {
    if (owner.eng && owner.eng == engine::current()) [[likely]]
        return;
    misuse(owner, op,
           owner.eng ? "it belongs to the engine of another OS thread (fire it from there with mt::remote_wakeup)"
                     : "its engine has ended");
}

// in_internal_wait — the owner is in one of the engine's own waits (not its
// deferred's): a user's fire arriving now is kept for its next wait(). That
// includes a wait already settled whose owner has not resumed yet (its call
// has not returned): the firer cannot tell the two apart, so refusing the
// fire then would make a correct program fail by timing.
bool in_internal_wait(const detail::control_block& owner) noexcept {
    return owner.w.phase != detail::wait_phase::idle && owner.w.kind != &deferred::deferred_wait;
}

// parked_in_wait — the owner is suspended (or about to be) in deferred::wait().
bool parked_in_wait(const detail::control_block& owner) noexcept {
    return owner.w.phase == detail::wait_phase::armed && owner.w.kind == &deferred::deferred_wait;
}

}  // namespace

bool deferred::waiting() const noexcept { return parked_in_wait(*owner_); }

void deferred::to_idle() noexcept {
    phase_ = phase::idle;
    kind_ = nullptr;
    obj_ = nullptr;
    value_ = nullptr;
    error_ = nullptr;
}

void deferred::arm(const detail::wait_kind& kind, void* obj) {
    check_here(*owner_, "arm()");
    if (phase_ == phase::armed) misuse(*owner_, "arm()", "it is already armed");
    if (phase_ == phase::fired) misuse(*owner_, "arm()", "it fired and was not waited for yet");
    phase_ = phase::armed;
    kind_ = &kind;
    obj_ = obj;
}

void deferred::fire(const char* op, void* value, std::exception_ptr error) {
    check_here(*owner_, op);
    if (phase_ == phase::fired) misuse(*owner_, op, "it fired twice before a wait");
    if (phase_ == phase::idle && !in_internal_wait(*owner_)) misuse(*owner_, op, "nobody armed it");
    // The registration has done its work (or, fired by someone else, is
    // withdrawn: a registration's cancel is idempotent).
    if (kind_ && kind_->cancel) kind_->cancel(obj_, *owner_);
    kind_ = nullptr;
    obj_ = nullptr;
    phase_ = phase::fired;
    value_ = value;
    error_ = std::move(error);
    if (parked_in_wait(*owner_)) detail::fire(*owner_, nullptr);
}

void deferred::callback(void* value) { fire("callback()", value, nullptr); }

void deferred::errback(std::exception_ptr error) { fire("errback()", nullptr, std::move(error)); }

void deferred::cancel() noexcept {
    if (phase_ != phase::armed) return;
    if (kind_ && kind_->cancel) kind_->cancel(obj_, *owner_);
    to_idle();
}

void deferred::push(const char* name, callback_fn fn, void* state, void (*dispose)(void*) noexcept) {
    check_here(*owner_, "push()");
    const entry e{name, fn, state, dispose};
    if (insert_at_ == no_insert) {
        queue_.push_back(e);
    } else {
        queue_.insert(queue_.begin() + static_cast<std::ptrdiff_t>(insert_at_), e);
        ++insert_at_;
    }
}

void deferred::reset_queue() noexcept {
    for (std::size_t i = cursor_; i < queue_.size(); ++i)
        if (queue_[i].dispose) queue_[i].dispose(queue_[i].state);  // discarded without running
    queue_.clear();  // keeps its capacity: the next wait allocates nothing
    cursor_ = 0;
    insert_at_ = no_insert;
}

// run_queue — runs pending callbacks front to back. Stops early, with
// `rearmed` set, when a callback defers again.
void* deferred::run_queue(void* value, bool& rearmed) {
    rearmed = false;
    while (cursor_ < queue_.size()) {
        const entry e = queue_[cursor_++];
        insert_at_ = cursor_;  // what e pushes goes before what is still pending
        try {
            value = e.fn(value, e.state);
        } catch (...) {
            reset_queue();
            throw;
        }
        insert_at_ = no_insert;
        if (phase_ != phase::idle) {  // it deferred again (and may even have fired already)
            rearmed = true;
            return nullptr;
        }
    }
    reset_queue();
    return value;
}

void* deferred::wait(deadline dl) {
    check_here(*owner_, "wait()");
    engine& e = *owner_->eng;
    detail::control_block& me = e.require_running("deferred::wait()");
    if (&me != owner_) {
        throw usage_error("micro-thread " + detail::describe(me) + " called wait() on the deferred of micro-thread " +
                          detail::describe(*owner_) + "; only its owner may wait on it");
    }
    if (insert_at_ != no_insert) misuse(me, "wait()", "called from one of its own callbacks (re-arm and return instead)");
    detail::check_deadline(me, dl, "deferred::wait()");
    for (;;) {
        if (detail::pending_raise(me) && phase_ != phase::fired) {
            cancel();
            reset_queue();
            detail::raise_pending(me);
        }
        if (phase_ == phase::idle) misuse(me, "wait()", "nothing armed it, so nothing could ever wake the wait");
        if (phase_ == phase::armed) {
            detail::begin_wait(me, deferred_wait, this);
            detail::wait_end r;
            try {
                r = detail::end_wait(me, dl);
            } catch (...) {  // aborted or interrupted while it waited
                if (phase_ != phase::fired) {
                    cancel();
                    reset_queue();
                    throw;
                }
                // Fired after the abort withdrew the wait: the value is still
                // delivered and the (sticky) abort lands at the next
                // suspension. A one-shot interruption is raised now instead,
                // and the value stays for the next wait().
                if (!me.abort_requested) throw;
                r = detail::wait_end::fired;
            }
            if (r == detail::wait_end::timed_out && phase_ != phase::fired)
                detail::throw_timeout(me, "deferred::wait()", deferred_wait, this, dl);
            continue;
        }
        // fired: take the outcome, then run the callback queue
        void* value = value_;
        std::exception_ptr err = std::move(error_);
        to_idle();
        if (err) {
            reset_queue();
            std::rethrow_exception(err);
        }
        bool rearmed = false;
        value = run_queue(value, rearmed);
        if (!rearmed) return value;
    }
}

void deferred::check_invariants() const noexcept {
    MT_ASSERT(phase_ != phase::idle || (value_ == nullptr && !error_ && kind_ == nullptr),
              "an idle deferred holds a value, an error or a registration");
    MT_ASSERT(kind_ == nullptr || phase_ == phase::armed, "a deferred holds a registration while not armed");
    MT_ASSERT(cursor_ <= queue_.size(), "a deferred's callback cursor is past its queue");
}

}  // namespace mt
