// core/deferred.cpp — the deferred's transitions and the PEP's callback
// queue. States and invariants: see deferred.hpp.
#include "core/deferred.hpp"

#include <utility>

#include "core/detail/control_block.hpp"
#include "core/engine.hpp"
#include "core/errors.hpp"

namespace mt {
namespace detail {

const wait_kind plain_wait{
    "deferred",
    [](const void*, std::string& out) { out += "on its deferred"; },
    [](const void*) -> control_block* { return nullptr; },
    nullptr,
    false,
};

}  // namespace detail

namespace {

[[noreturn]] void misuse(const detail::control_block& owner, const char* op, const char* why) {
    throw usage_error(std::string(op) + " on the deferred of micro-thread " +
                      detail::describe(owner) + ": " + why);
}

}  // namespace

void deferred::arm(const detail::wait_kind& kind, void* obj) {
    if (phase_ == phase::armed) misuse(*owner_, "arm()", "it is already armed");
    if (phase_ == phase::fired) misuse(*owner_, "arm()", "it fired and was not waited for yet");
    phase_ = phase::armed;
    kind_ = &kind;
    obj_ = obj;
}

void deferred::fire_checks(const char* op) const {
    if (phase_ == phase::idle) misuse(*owner_, op, "nobody armed it");
    if (phase_ == phase::fired) misuse(*owner_, op, "it fired twice before a wait");
}

void deferred::wake_owner(bool next) noexcept {
    phase_ = phase::fired;
    kind_ = nullptr;
    obj_ = nullptr;
    if (!waiting_) return;
    if (next) owner_->eng->make_runnable_next(*owner_);
    else owner_->eng->make_runnable(*owner_);
}

void deferred::callback(void* value) {
    fire_checks("callback()");
    value_ = value;
    error_ = nullptr;
    wake_owner(false);
}

void deferred::callback_next(void* value) {
    fire_checks("callback()");
    value_ = value;
    error_ = nullptr;
    wake_owner(true);
}

void deferred::errback(std::exception_ptr error) {
    fire_checks("errback()");
    value_ = nullptr;
    error_ = std::move(error);
    wake_owner(false);
}

void deferred::cancel() noexcept {
    if (phase_ != phase::armed) return;
    if (kind_->cancel) kind_->cancel(obj_, *owner_);
    phase_ = phase::idle;
    kind_ = nullptr;
    obj_ = nullptr;
}

void deferred::push(const char* name, callback_fn fn, void* state) {
    const entry e{name, fn, state};
    if (insert_at_ == no_insert) {
        queue_.push_back(e);
    } else {
        queue_.insert(queue_.begin() + static_cast<std::ptrdiff_t>(insert_at_), e);
        ++insert_at_;
    }
}

void deferred::reset_queue() noexcept {
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
        if (phase_ == phase::armed) {
            rearmed = true;
            return nullptr;
        }
    }
    reset_queue();
    return value;
}

void* deferred::wait() { return wait_impl(true); }
void* deferred::wait_uninterruptible() { return wait_impl(false); }

void* deferred::wait_impl(bool interruptible) {
    engine& e = *owner_->eng;
    detail::control_block& me = e.require_running("deferred::wait()");
    if (&me != owner_) {
        throw usage_error("micro-thread " + detail::describe(me) +
                          " called wait() on the deferred of micro-thread " +
                          detail::describe(*owner_) + "; only its owner may wait on it");
    }
    for (;;) {
        if (interruptible && detail::pending_raise(me)) {
            cancel();
            if (phase_ != phase::fired) {
                reset_queue();
                detail::raise_pending(me);
            }
        }
        if (phase_ == phase::idle) {
            if (me.abort_requested) {  // a deadlock resolution cancelled even this wait
                reset_queue();
                throw MicroThreadExit{};
            }
            misuse(me, "wait()", "nothing armed it, so nothing could ever wake the wait");
        }
        if (phase_ == phase::armed) {
            waiting_ = true;
            interruptible_ = interruptible;
            e.suspend_running();
            waiting_ = false;
            interruptible_ = true;
            if (phase_ == phase::idle && !detail::pending_raise(me))
                detail::fatal("a deferred was woken without firing");
            continue;
        }
        // fired: take the outcome, then run the callback queue
        phase_ = phase::idle;
        void* value = std::exchange(value_, nullptr);
        if (std::exception_ptr err = std::exchange(error_, nullptr)) {
            reset_queue();
            std::rethrow_exception(err);
        }
        bool rearmed = false;
        value = run_queue(value, rearmed);
        if (!rearmed) return value;
    }
}

}  // namespace mt
