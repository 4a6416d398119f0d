// core/wait_group.cpp — a counter and the micro-threads waiting for it to
// reach zero, as wait_group and latch. Invariants: see wait_group.hpp.
#include "core/wait_group.hpp"

#include <cstdint>
#include <cstdio>

#include "core/detail/assert.hpp"
#include "core/detail/control_block.hpp"
#include "core/detail/wait.hpp"
#include "core/engine.hpp"

namespace mt {
namespace detail {

namespace {
enum : std::uint8_t { reached_zero = 1 };
}

const wait_kind countdown::zero_wait{
    "countdown",
    describe_record<countdown>,
    // Whoever will count it down is unknown: no blocker.
    [](const void*) -> control_block* { return nullptr; },
    countdown::cancel,
};

countdown::countdown(const char* kind, std::ptrdiff_t count, std::string_view name)
    : sync_object(kind, name), count_(count < 0 ? 0 : count) {
    if (count < 0) {
        const engine* e = engine::current();
        misuse(e ? e->running() : nullptr, kind, "made with a negative count (" + std::to_string(count) + ")");
    }
}

countdown::~countdown() { fail_all(waiters_); }

// format_wait — "for wait_group 'jobs' (3 to go)".
void countdown::format_wait(const sync_waiter&, char* buf, std::size_t size) const noexcept {
    int k = std::snprintf(buf, size, "for ");
    if (k < 0 || static_cast<std::size_t>(k) >= size) return;
    k += label(buf + k, size - static_cast<std::size_t>(k));
    if (k < 0 || static_cast<std::size_t>(k) >= size) return;
    std::snprintf(buf + k, size - static_cast<std::size_t>(k), " (%td to go)", count_);
}

void countdown::cancel(void* obj, control_block&) {
    auto& w = *static_cast<sync_waiter*>(obj);
    auto& c = *const_cast<countdown*>(static_cast<const countdown*>(w.owner));
    c.format_wait(w, w.note, sizeof w.note);
    withdraw(c.waiters_, w);
}

void countdown::change(std::ptrdiff_t delta, const char* op, bool latch) {
    const control_block* me = enter(op);
    if (latch) {
        if (-delta > count_)
            misuse(me, op,
                   "counting down " + std::to_string(-delta) + " would take it below zero (" +
                       std::to_string(count_) + " left)");
    } else if (delta < -count_) {  // (count_ >= 0: -count_ cannot overflow, -delta could)
        misuse(me, op,
               "the counter would go negative (" + std::to_string(count_) + " " + std::to_string(delta) + " = " +
                   std::to_string(count_ + delta) + "): more done() than add() counted");
    } else if (delta > 0 && delta > PTRDIFF_MAX - count_) {
        misuse(me, op, "the counter would overflow");
    }
    count_ += delta;
    if (count_ == 0)
        while (sync_waiter* w = waiters_.front()) settle(waiters_, *w, reached_zero);
}

void countdown::wait_zero(const deadline& d, const char* op) {
    control_block& me = enter_wait(op, d);
    if (count_ == 0) return;
    sync_waiter w;
    begin_wait(me, zero_wait, &w);
    link(waiters_, w, me, 0);
    end_wait_or_throw(me, d, op);  // nothing of *this is read afterwards: it may be gone
}

void countdown::check_invariants() const noexcept {
#if MT_CHECKED
    check_queue(waiters_);
    MT_ASSERT(count_ >= 0, "a counter went negative");
    MT_ASSERT(count_ > 0 || waiters_.empty(), "micro-threads wait on a counter at zero");
#endif
}

}  // namespace detail

wait_group::wait_group(std::string_view name) : countdown("wait_group", 0, name) {}

latch::latch(std::ptrdiff_t count, std::string_view name) : countdown("latch", count, name) {}

void latch::count_down(std::ptrdiff_t n) {
    if (n < 0) {  // -n would read as a count up: name it as what it is
        const engine* e = engine::current();
        misuse(e ? e->running() : nullptr, "latch::count_down", "a negative count (" + std::to_string(n) + ")");
    }
    change(-n, "latch::count_down", true);
}

void latch::arrive_and_wait(std::ptrdiff_t n, deadline d) {
    enter_wait("latch::arrive_and_wait", d);  // a bad timeout or a pending abort: before counting down
    count_down(n);
    wait_zero(d, "latch::arrive_and_wait");
}

}  // namespace mt
