// core/semaphore.cpp — permits, a FIFO of waiters, and direct handoff.
// Invariants: see semaphore.hpp.
#include "core/semaphore.hpp"

#include <cstdint>
#include <cstdio>

#include "core/detail/assert.hpp"
#include "core/detail/control_block.hpp"
#include "core/detail/wait.hpp"
#include "core/engine.hpp"
#include "core/errors.hpp"

namespace mt {

namespace {
enum : std::uint8_t { granted = 1 };
constexpr std::ptrdiff_t unbounded = PTRDIFF_MAX;
}  // namespace

const detail::wait_kind semaphore::acquire_kind{
    "semaphore",
    detail::describe_record<semaphore>,
    // No blocker: permits are not owned (any micro-thread may release), so
    // there is no holder to name in a deadlock chain.
    [](const void*) -> detail::control_block* { return nullptr; },
    semaphore::cancel,
};

semaphore::semaphore(std::ptrdiff_t initial, std::string_view name) : semaphore(initial, unbounded, "semaphore", name) {}

semaphore::semaphore(std::ptrdiff_t initial, std::ptrdiff_t bound, const char* kind, std::string_view name)
    : sync_object(kind, name), free_(initial < 0 ? 0 : initial), start_(free_), bound_(bound < 0 ? 0 : bound) {
    if (initial < 0) {
        const engine* e = engine::current();
        misuse(e ? e->running() : nullptr, kind, "made with a negative count (" + std::to_string(initial) + ")");
    }
}

bounded_semaphore::bounded_semaphore(std::ptrdiff_t initial, std::string_view name)
    : semaphore(initial, initial, "bounded_semaphore", name) {}

semaphore::~semaphore() { fail_all(waiters_); }

// format_wait — "for semaphore 'x' (0 of 3 free)", "for 2 permits of ...".
void semaphore::format_wait(const detail::sync_waiter& w, char* buf, std::size_t size) const noexcept {
    int k = w.n == 1 ? std::snprintf(buf, size, "for ") : std::snprintf(buf, size, "for %td permits of ", w.n);
    if (k < 0 || static_cast<std::size_t>(k) >= size) return;
    k += label(buf + k, size - static_cast<std::size_t>(k));
    if (k < 0 || static_cast<std::size_t>(k) >= size) return;
    if (start_ > 0) std::snprintf(buf + k, size - static_cast<std::size_t>(k), " (%td of %td free)", free_, start_);
    else std::snprintf(buf + k, size - static_cast<std::size_t>(k), " (%td free)", free_);
}

// cancel — a timed-out or aborted acquire leaves the line holding nothing.
// If it was the head, the free permits may now serve those behind it: they
// are served here, or they would wait for a release that may never come.
// (This fires other waiters, never the one withdrawn.)
void semaphore::cancel(void* obj, detail::control_block&) {
    auto& w = *static_cast<detail::sync_waiter*>(obj);
    auto& s = *const_cast<semaphore*>(static_cast<const semaphore*>(w.owner));
    s.format_wait(w, w.note, sizeof w.note);
    const bool was_head = s.waiters_.front() == &w;
    withdraw(s.waiters_, w);
    if (was_head) s.serve();
}

// serve — hands free permits to the waiters in order, as far as they reach;
// stops at the first one they do not satisfy (no barging past the head).
void semaphore::serve() noexcept {
    while (detail::sync_waiter* w = waiters_.front()) {
        if (w->n > free_) break;
        free_ -= w->n;
        settle(waiters_, *w, granted);
    }
}

void semaphore::acquire(std::ptrdiff_t n, deadline d) { acquire_or_time_out(n, d, "semaphore::acquire", true); }

bool semaphore::acquire_or_time_out(std::ptrdiff_t n, const deadline& d, const char* op, bool throws) {
    detail::control_block& me = enter_wait(op, d);
    check_count(&me, op, n);
    if (n > bound_) [[unlikely]]
        misuse(&me, op, "acquiring " + std::to_string(n) + " permits, more than it can ever hold (" +
                            std::to_string(bound_) + ")");
    if (waiters_.empty() && n <= free_) {  // the fast path: nobody in line, enough free
        free_ -= n;
        return true;
    }
    if (n == 0) return true;
    detail::sync_waiter w;
    detail::begin_wait(me, acquire_kind, &w);
    link(waiters_, w, me, n);
    // Fired: `w` was granted its permits (or the semaphore was destroyed,
    // which rethrows). Nothing of *this is read after the wait: it may be
    // gone by the time this micro-thread runs again.
    if (throws) {
        detail::end_wait_or_throw(me, d, op);
        return true;
    }
    return detail::end_wait(me, d) == detail::wait_end::fired;
}

bool semaphore::try_acquire(std::ptrdiff_t n) {
    const detail::control_block* me = enter("semaphore::try_acquire");
    check_count(me, "semaphore::try_acquire", n);
    if (!waiters_.empty() || n > free_) return false;
    free_ -= n;
    return true;
}

void semaphore::release(std::ptrdiff_t n) {
    const detail::control_block* me = enter("semaphore::release");
    check_count(me, "semaphore::release", n);
    if (n > bound_ - free_) [[unlikely]] {
        if (bound_ == unbounded) misuse(me, "semaphore::release", "the count of free permits would overflow");
        misuse(me, "semaphore::release",
               "releasing " + std::to_string(n) + " would make " + std::to_string(free_ + n) +
                   " permits free, past its start value " + std::to_string(bound_));
    }
    free_ += n;
    serve();
}

void semaphore::check_invariants() const noexcept {
#if MT_CHECKED
    check_queue(waiters_);
    MT_ASSERT(free_ >= 0 && free_ <= bound_, "a semaphore's free permits are out of range");
    if (const detail::sync_waiter* head = waiters_.front())
        MT_ASSERT(head->n > free_, "a semaphore's head waiter could be served but waits");
    for (const detail::sync_waiter* w = waiters_.front(); w; w = detail::sync_queue::next(*w))
        MT_ASSERT(w->n >= 1 && w->cb->w.kind == &acquire_kind, "a semaphore waiter wants no permit or waits on another kind");
#endif
}

}  // namespace mt
