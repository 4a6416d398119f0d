// core/barrier.cpp — arrivals, generations, and breaking.
// States and invariants: see barrier.hpp.
#include "core/barrier.hpp"

#include <cstdint>
#include <cstdio>
#include <cstring>

#include "core/detail/assert.hpp"
#include "core/detail/control_block.hpp"
#include "core/detail/wait.hpp"
#include "core/engine.hpp"
#include "core/errors.hpp"
#include "core/detail/naming.hpp"

namespace mt {

namespace {
enum : std::uint8_t { released = 1, broke = 2 };

// advance — how far snprintf got, clamped to the buffer.
std::size_t advance(int k, std::size_t left) noexcept {
    if (k < 0) return 0;
    return static_cast<std::size_t>(k) < left ? static_cast<std::size_t>(k) : left - 1;
}
}  // namespace

const detail::wait_kind barrier::arrival_wait{
    "barrier",
    detail::describe_record<barrier>,
    // The missing parties have not arrived: nobody to name as the blocker.
    [](const void*) -> detail::control_block* { return nullptr; },
    barrier::cancel,
};

barrier::barrier(std::ptrdiff_t parties, std::string_view name)
    : sync_object("barrier", name), parties_(parties < 1 ? 1 : parties) {
    if (parties < 1) {
        const engine* e = engine::current();
        misuse(e ? e->running() : nullptr, "barrier",
               "made for " + std::to_string(parties) + " parties (at least 1)");
    }
}

barrier::~barrier() { fail_all(waiters_); }

// format_wait — "at barrier 'phase' (2 of 5 arrived)".
void barrier::format_wait(const detail::sync_waiter&, char* buf, std::size_t size) const noexcept {
    std::size_t k = advance(std::snprintf(buf, size, "at "), size);
    k += advance(label(buf + k, size - k), size - k);
    std::snprintf(buf + k, size - k, " (%td of %td arrived)", arrived_, parties_);
}

// cancel — a waiter timed out or was aborted: the barrier breaks. Its own
// note says what it waited at; the others are woken to raise
// broken_barrier_error, each with a copy of why (the barrier may be gone
// before they run).
void barrier::cancel(void* obj, detail::control_block& waiter) {
    auto& w = *static_cast<detail::sync_waiter*>(obj);
    auto& b = *const_cast<barrier*>(static_cast<const barrier*>(w.owner));
    b.format_wait(w, w.note, sizeof w.note);
    const std::size_t len = std::strlen(w.note);
    std::snprintf(w.note + len, sizeof w.note - len, ", which it broke");
    const std::ptrdiff_t had = b.arrived_;
    withdraw(b.waiters_, w);
    const char* how = waiter.abort_requested ? "was aborted" : waiter.interruption ? "was interrupted" : "timed out";
    char* note = b.broken_note_;
    std::size_t k = advance(b.label(note, sizeof b.broken_note_), sizeof b.broken_note_);
    k += advance(std::snprintf(note + k, sizeof b.broken_note_ - k, " broke: "), sizeof b.broken_note_ - k);
    k += advance(ref(note + k, sizeof b.broken_note_ - k, &waiter), sizeof b.broken_note_ - k);
    std::snprintf(note + k, sizeof b.broken_note_ - k, " %s while %td of %td had arrived", how, had, b.parties_);
    b.break_all();
}

// break_all — broken: every waiter is woken to raise broken_barrier_error
// with a copy of broken_note_.
void barrier::break_all() noexcept {
    broken_ = true;
    arrived_ = 0;
    while (detail::sync_waiter* w = waiters_.front()) {
        std::memcpy(w->note, broken_note_, sizeof w->note);
        settle(waiters_, *w, broke);
    }
}

void barrier::throw_broken(const detail::control_block& me, const char* op, const char* why) const {
    throw broken_barrier_error(detail::op_in(op, &me) + ": " + why);
}

std::size_t barrier::arrive_and_wait(deadline d) {
    static constexpr const char* op = "barrier::arrive_and_wait";
    detail::control_block& me = enter_wait(op, d);
    if (broken_) [[unlikely]]
        throw_broken(me, op, (std::string(broken_note_) + " (reset() makes it usable again)").c_str());
    const std::ptrdiff_t index = arrived_;
    if (index + 1 == parties_) {  // the last arrival releases the generation
        arrived_ = 0;
        ++generation_;
        while (detail::sync_waiter* w = waiters_.front()) settle(waiters_, *w, released);
        return static_cast<std::size_t>(index);
    }
    ++arrived_;
    detail::sync_waiter w;
    detail::begin_wait(me, arrival_wait, &w);
    link(waiters_, w, me, index);
    detail::end_wait_or_throw(me, d, op);  // a timeout or an abort breaks it (cancel)
    // Nothing of *this is read below: it may be gone by now.
    if (w.outcome == broke) throw_broken(me, op, w.note);
    return static_cast<std::size_t>(index);
}

void barrier::reset() {
    const detail::control_block* me = enter("barrier::reset");
    if (!waiters_.empty()) {
        char* note = broken_note_;
        std::size_t k = advance(label(note, sizeof broken_note_), sizeof broken_note_);
        k += advance(std::snprintf(note + k, sizeof broken_note_ - k, " was reset by "), sizeof broken_note_ - k);
        k += advance(ref(note + k, sizeof broken_note_ - k, me), sizeof broken_note_ - k);
        std::snprintf(note + k, sizeof broken_note_ - k, " while %td of %td had arrived", arrived_, parties_);
        break_all();
    }
    broken_ = false;
    arrived_ = 0;
    broken_note_[0] = '\0';
}

void barrier::check_invariants() const noexcept {
#if MT_CHECKED
    check_queue(waiters_);
    MT_ASSERT(arrived_ >= 0 && arrived_ < parties_, "a barrier's arrivals are out of range");
    MT_ASSERT(static_cast<std::size_t>(arrived_) == waiters_.size(), "a barrier's arrivals and waiters differ");
    MT_ASSERT(!broken_ || waiters_.empty(), "micro-threads wait at a broken barrier");
    std::ptrdiff_t k = 0;
    for (const detail::sync_waiter* w = waiters_.front(); w; w = detail::sync_queue::next(*w), ++k)
        MT_ASSERT(w->n == k, "a barrier's waiters are out of arrival order");
#endif
}

}  // namespace mt
