// core/sleep.cpp — a sleep is a wait with a deadline and nothing else to
// wait on: its timing out is how it ends.
#include "core/sleep.hpp"

#include <string>

#include "core/detail/control_block.hpp"
#include "core/engine.hpp"
#include "core/errors.hpp"
#include "core/detail/naming.hpp"

namespace mt {
namespace {

const detail::wait_kind sleep_kind{
    "sleep",
    [](const void*, std::string& out) { out += "in sleep_d"; },
    [](const void*) -> detail::control_block* { return nullptr; },
    nullptr,
    nullptr,
    true,  // ends at its deadline
};

void sleep_for_deadline(detail::control_block& me, const deadline& d, const char* op) {
    detail::begin_wait(me, sleep_kind, nullptr);
    detail::end_wait(me, d);  // fired never happens: it ends by timing out (or raises)
    // A shield's earlier deadline cut it short: that is a timeout, not a sleep.
    if (me.shield_depth > 0 && me.shield_due < d.when()) detail::throw_timeout(me, op, sleep_kind, nullptr, d);
}

}  // namespace

void sleep_d(std::chrono::nanoseconds d) {
    engine& e = engine::get("sleep_d");
    detail::control_block& me = e.require_running("sleep_d");
    if (d.count() < 0) {
        throw usage_error(detail::op_in("sleep_d", &me) + ": a negative duration");
    }
    if (d.count() == 0) {
        e.yield_running();
        return;
    }
    if (detail::pending_raise(me)) detail::raise_pending(me);
    sleep_for_deadline(me, deadline(d), "sleep_d");
}

void sleep_until(deadline d) {
    engine& e = engine::get("sleep_until");
    detail::control_block& me = e.require_running("sleep_until");
    detail::check_deadline(me, d, "sleep_until");
    if (detail::pending_raise(me)) detail::raise_pending(me);
    sleep_for_deadline(me, d, "sleep_until");
}

}  // namespace mt
