// core/detail/sync_object.cpp — see sync_object.hpp.
#include "core/detail/sync_object.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <exception>

#include "core/detail/assert.hpp"
#include "core/detail/control_block.hpp"
#include "core/engine.hpp"
#include "core/errors.hpp"
#include "core/detail/naming.hpp"

namespace mt::detail {

sync_object::sync_object(const char* kind, std::string_view name)
    : kind_(kind), name_(name.empty() ? std::string_view("unnamed") : name) {}

control_block& sync_object::enter_wait(const char* op, const deadline& d) {
    control_block& me = engine::get(op).require_running(op);
    binding_.check(me, op, kind_, name_);
    check_deadline(me, d, op);
    if (pending_raise(me)) [[unlikely]]
        raise_pending(me);
    return me;
}

control_block* sync_object::enter(const char* op) {
    engine& e = engine::get(op);
    if (control_block* me = e.running()) [[likely]] {
        binding_.check(*me, op, kind_, name_);
        return me;
    }
    binding_.check_root(e, op, kind_, name_);  // a host's callback, the code around the loop
    return nullptr;
}

void sync_object::misuse(const control_block* me, const char* op, const std::string& what) const {
    throw usage_error(fmt::format("{} on {} '{}': {}", op_in(op, me), kind_, name_, what));
}

int sync_object::label(char* buf, std::size_t size) const noexcept {
    return std::snprintf(buf, size, "%s '%.64s%s'", kind_, name_.c_str(), name_.size() > 64 ? "..." : "");
}

int sync_object::ref(char* buf, std::size_t size, const control_block* cb) noexcept {
    if (!cb) return std::snprintf(buf, size, "the engine's root");
    const auto id = static_cast<unsigned long long>(cb->id);
    if (cb->name[0]) return std::snprintf(buf, size, "#%llu '%s'", id, cb->name);
    return std::snprintf(buf, size, "#%llu 'micro-thread-%llu'", id, id);
}

void sync_object::settle(sync_queue& q, sync_waiter& w, std::uint8_t outcome) noexcept {
    q.remove(w);
    w.owner = nullptr;
    w.outcome = outcome;
    fire(*w.cb, nullptr);
}

void sync_object::fail_all(sync_queue& q) noexcept {
    if (q.empty()) return;
    const engine* e = engine::current();
    const control_block* destroyer = e ? e->running() : nullptr;
    while (sync_waiter* w = q.pop_front()) {
        w->owner = nullptr;
        std::exception_ptr err;
        try {
            std::string what = std::string(kind_) + " '" + name_ + "' was destroyed while micro-thread " +
                               describe(*w->cb) + " waited on it";
            if (destroyer) what += " (by " + describe(*destroyer) + ")";
            err = std::make_exception_ptr(usage_error(what));
        } catch (...) {  // std::bad_alloc while building the message: it is the error then
            err = std::current_exception();
        }
        fire_error(*w->cb, std::move(err));
    }
}

void sync_object::check_queue(const sync_queue& q) const noexcept {
#if MT_CHECKED
    q.check_invariants();
    for (const sync_waiter* w = q.front(); w; w = sync_queue::next(*w)) {
        MT_ASSERT(w->owner == this, "a queued waiter record names another primitive");
        MT_ASSERT(!w->withdrawn, "a withdrawn waiter record is still queued");
        MT_ASSERT(w->cb->w.phase == wait_phase::armed && w->cb->w.obj == w,
                  "a queued waiter's micro-thread is not in an armed wait on its record");
    }
#else
    (void)q;
#endif
}

}  // namespace mt::detail
