// core/scope.cpp — see scope.hpp for the invariants.
#include "core/scope.hpp"

namespace mt {

const detail::wait_kind scope::scope_wait{
    "scope",
    [](const void* obj, std::string& out) {
        const auto* s = static_cast<const scope*>(obj);
        out += "for the ";
        out += std::to_string(s->running_);
        out += " running micro-thread";
        if (s->running_ != 1) out += 's';
        out += " of its scope";
        for (auto* c : s->children_) {
            if (has_ended(c->st)) continue;
            out += " (first: ";
            detail::append_ref(out, *c);
            out += ')';
            break;
        }
    },
    [](const void* obj) -> detail::control_block* {
        for (auto* c : static_cast<const scope*>(obj)->children_)
            if (!has_ended(c->st)) return c;
        return nullptr;
    },
    [](void* obj, detail::control_block&) { static_cast<scope*>(obj)->owner_waiting_ = false; },
};

scope::scope(on_failure policy)
    : owner_(&engine::get("mt::scope").require_running("mt::scope")), policy_(policy) {}

scope::~scope() noexcept(false) {
    const bool unwinding = std::uncaught_exceptions() > uncaught_;
    if (running_ > 0) {
        if (unwinding || owner_->abort_requested) abort();
        try {
            wait_for_children(false, {});
        } catch (const MicroThreadExit&) {
            // Only a deadlock resolution cancels this wait. The children were
            // aborted too; they end without us.
            release_children();
            if (!unwinding) throw;
            return;
        }
    }
    release_children();
    if (!unwinding && failure_ && !failure_thrown_) {
        failure_thrown_ = true;
        std::rethrow_exception(failure_);
    }
}

void scope::release_children() noexcept {
    for (auto* c : children_) {
        c->owner_scope = nullptr;
        c->eng->release_handle(*c);
    }
    children_.clear();
}

void scope::check_owner() {
    detail::control_block* me = engine::get("scope::spawn").running();
    if (me != owner_) {
        throw usage_error("micro-thread " + (me ? detail::describe(*me) : std::string("(root)")) +
                          " spawned into a scope owned by " + detail::describe(*owner_));
    }
    children_.reserve(children_.size() + 1);  // adopt() then cannot fail
}

void scope::adopt(detail::control_block& cb) noexcept {
    children_.push_back(&cb);
    ++cb.handles;
    cb.owner_scope = this;
    ++running_;
}

void scope::child_ended(detail::control_block& cb) noexcept {
    --running_;
    if (cb.st == state::failed) {
        cb.outcome_observed = true;
        if (!failure_) {
            failure_ = cb.error;
            if (policy_ == on_failure::abort_others) abort();
        }
    }
    if (running_ == 0 && owner_waiting_) {
        owner_waiting_ = false;
        detail::fire(*owner_, nullptr);
    }
}

void scope::abort() {
    for (auto* c : children_) {
        if (has_ended(c->st) || c == owner_->eng->running()) continue;
        c->eng->abort(*c);
    }
}

void scope::wait_for_children(bool interruptible, const deadline& d) {
    while (running_ > 0) {
        detail::begin_wait(*owner_, scope_wait, this, interruptible);
        owner_waiting_ = true;
        detail::end_wait_or_throw(*owner_, d, "scope::wait()");
    }
}

void scope::wait(deadline d) {
    detail::control_block& me = engine::get("scope::wait()").require_running("scope::wait()");
    if (&me != owner_) {
        throw usage_error("micro-thread " + detail::describe(me) + " waited for a scope owned by " +
                          detail::describe(*owner_));
    }
    detail::check_deadline(me, d, "scope::wait()");
    wait_for_children(true, d);
    if (failure_) {
        failure_thrown_ = true;
        std::rethrow_exception(failure_);
    }
}

}  // namespace mt
