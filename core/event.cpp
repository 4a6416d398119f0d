// core/event.cpp — a flag and the micro-threads waiting for it.
// States and invariants: see event.hpp.
#include "core/event.hpp"

#include <cstdint>
#include <cstdio>

#include "core/detail/assert.hpp"
#include "core/detail/control_block.hpp"
#include "core/detail/wait.hpp"
#include "core/engine.hpp"

namespace mt {

namespace {
enum : std::uint8_t { was_set = 1 };
}

const detail::wait_kind event::set_wait{
    "event",
    detail::describe_record<event>,
    [](const void*) -> detail::control_block* { return nullptr; },  // whoever will set it is unknown
    event::cancel,
};

event::event(std::string_view name) : sync_object("event", name) {}

event::~event() { fail_all(waiters_); }

void event::format_wait(const detail::sync_waiter&, char* buf, std::size_t size) const noexcept {
    const int k = std::snprintf(buf, size, "for ");
    if (k > 0 && static_cast<std::size_t>(k) < size) label(buf + k, size - static_cast<std::size_t>(k));
}

void event::cancel(void* obj, detail::control_block&) {
    auto& w = *static_cast<detail::sync_waiter*>(obj);
    auto& e = *const_cast<event*>(static_cast<const event*>(w.owner));
    e.format_wait(w, w.note, sizeof w.note);
    withdraw(e.waiters_, w);
}

void event::set() {
    enter("event::set");
    set_ = true;
    while (detail::sync_waiter* w = waiters_.front()) settle(waiters_, *w, was_set);
}

void event::clear() {
    enter("event::clear");
    set_ = false;
}

bool event::wait_or_time_out(const deadline& d, const char* op, bool throws) {
    detail::control_block& me = enter_wait(op, d);
    if (set_) return true;
    detail::sync_waiter w;
    detail::begin_wait(me, set_wait, &w);
    link(waiters_, w, me, 0);
    // Nothing of *this is read after the wait: it may be gone by then.
    if (throws) {
        detail::end_wait_or_throw(me, d, op);
        return true;
    }
    return detail::end_wait(me, d) == detail::wait_end::fired;
}

void event::check_invariants() const noexcept {
#if MT_CHECKED
    check_queue(waiters_);
    MT_ASSERT(!set_ || waiters_.empty(), "micro-threads wait on an event that is set");
#endif
}

}  // namespace mt
