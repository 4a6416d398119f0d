// core/engine_loop.cpp — the root loop: running what is runnable, blocking
// in the notifier until an event or the next deadline, expiring deadlines,
// and resolving deadlocks. Also the engine's invariant check.
#include <chrono>
#include <string>
#include <thread>

#include "core/detail/assert.hpp"
#include "core/detail/control_block.hpp"
#include "core/detail/group_census.hpp"
#include "core/detail/overflow.hpp"
#include "core/detail/ticks.hpp"
#include "core/detail/tracer.hpp"
#include "core/engine.hpp"
#include "core/errors.hpp"
#include "core/notifier_interface.hpp"

namespace mt {

// expire_timers — every wait whose deadline has passed times out: its
// registration is withdrawn and it becomes runnable (wait.cpp's time_out).
void engine::expire_timers() noexcept {
    if (timers_.empty()) return;
    const auto now = deadline::clock::now();
    while (detail::control_block* cb = timers_.top()) {
        if (cb->w.due > now) break;
        detail::time_out(*cb);
    }
}

// cross_spin — how long an engine that waits for another engine's prompt
// answer (an armed xpipe wait, remote_slots.hpp) watches its mailbox before
// it blocks (mailbox.hpp). 5 µs: about what blocking and being woken costs
// here (a futex or eventfd wake-up by the poster plus the scheduler's
// wake-up of this thread, ~2.5 µs or more a hop), so spinning at most that
// long before blocking loses at most 2x against knowing the answer time in
// advance (the classic spin-then-block bound), while a peer that is running
// answers well inside it (a handoff between two running engines is a few
// hundred ns). An engine with no such wait armed (a lone engine blocking in
// epoll, or one whose only cross-engine wait is the group's anchor) never
// spins; a peer that misses the budget makes the mailbox back off.
constexpr std::chrono::nanoseconds cross_spin{5'000};

// wait_for_events — polls the notifier (blocking until an event, a post to
// the mailbox or the next deadline when `block`), drains the mailbox, then
// expires the deadlines that passed. With no notifier, a blocking wait
// sleeps on the mailbox (a futex) until a post or the next deadline. The
// mailbox is told before the engine blocks, so a post made meanwhile
// signals it (and one made earlier is drained instead); while a prompt
// cross-engine wait is armed it first spins for cross_spin.
void engine::wait_for_events(bool block) {
    double max_wait = 0;
    if (block && !mailbox_->begin_sleep(remote_.prompt() > 0 ? cross_spin : std::chrono::nanoseconds{}))
        block = false;  // something was posted: drain it first
    if (block) {
        if (timers_.empty()) {
            max_wait = -1;
        } else {
            const auto left = timers_.next() - deadline::clock::now();
            max_wait = left.count() > 0 ? std::chrono::duration<double>(left).count() : 0;
        }
    }
    if (tracer_ && block) [[unlikely]]
        tracer_->on_block(detail::ticks(), true);
    if (notifier_) {
        notifier_->poll(max_wait);
        notifier_polled_at_ = detail::ticks();
    } else if (max_wait != 0) {
        if (block_before_) block_before_(block_user_);
        mailbox_->sleep_until(max_wait < 0 ? deadline::clock::time_point::max() : timers_.next());
        if (block_after_) block_after_(block_user_);
    }
    if (tracer_ && block) [[unlikely]]
        tracer_->on_block(detail::ticks(), false);
    if (block) mailbox_->end_sleep(in_loop_);
    drain_mailbox();
    expire_timers();
}

void engine::loop() {
    if (current_) throw usage_error("the engine loop was started from inside micro-thread " + detail::describe(*current_));
    if (!notifier_ && opts_.default_notifier && detail::make_default_notifier)
        adopt_notifier(detail::make_default_notifier(*this));
    struct awake_guard {  // while the loop runs, it drains before it blocks: posts need not signal
        engine& e;
        explicit awake_guard(engine& en) : e(en) {
            e.in_loop_ = true;
            e.mailbox_->set_awake(true);
        }
        ~awake_guard() {
            e.in_loop_ = false;
            e.mailbox_->set_awake(false);
        }
    } guard(*this);
    while (!live_.empty()) {
        if (run_head_) {
            switch_from(nullptr);
            continue;
        }
        if (can_progress()) {
            wait_for_events(true);
            continue;
        }
        if (group_ && remote_.internal() > 0) {
            sleep_in_group();
            continue;
        }
        resolve_deadlock();
    }
}

// sleep_in_group — a group engine with nothing to do but wait for other
// engines (or OS threads) to end its cross waits: it sleeps quiescent, so
// the group's census may find the whole group deadlocked
// (core/detail/group_census.hpp). It marks itself under the mailbox's lock,
// only if nothing is queued: every post unmarks it under that lock, so a
// marked engine's mailbox is empty. (Marking first and looking after would
// leave a window in which a post already made sits in a marked engine's
// mailbox, and a census in that window would be fooled.)
void engine::sleep_in_group() {
    mailbox_->run_if_empty([](void* m) noexcept { detail::group_quiesce(*static_cast<detail::group_member*>(m)); },
                           group_);
    wait_for_events(true);
    detail::group_wake(*group_);  // a post unmarked it already, unless it woke for another cause (a signal)
}

bool engine::run_once() {
    if (current_) throw usage_error("run_once() called from inside micro-thread " + detail::describe(*current_));
    wait_for_events(false);
    detail::control_block* last = run_tail_;
    while (run_head_) {
        const bool was_last = run_head_ == last;
        switch_from(nullptr);
        if (was_last) break;
    }
    if (!live_.empty() && !can_progress()) resolve_deadlock();
    return !live_.empty();
}

// resolve_deadlock — nothing is runnable, no deadline is pending and nothing
// can fire, yet micro-threads wait. Record the chains, abort every waiter
// (even in cleanup waits and shields: nothing else could end them) so its
// destructors run, let them end, then throw.
void engine::resolve_deadlock() {
    if (resolving_deadlock_) detail::fatal("deadlock persists after aborting every waiting micro-thread:\n" + dump());
    std::string report = deadlock_report();
    resolving_deadlock_ = true;
    for (auto* cb = live_.back(); cb; cb = decltype(live_)::prev(*cb)) {  // newest first: leaves before joiners
        if (cb->st != state::waiting) continue;
        cb->abort_requested = true;
        detail::withdraw(*cb, true);
    }
    while (!live_.empty()) {
        if (run_head_) switch_from(nullptr);
        else if (can_progress()) wait_for_events(true);
        else detail::fatal("deadlock persists after aborting every waiting micro-thread:\n" + dump());
    }
    resolving_deadlock_ = false;
    throw deadlock_error(report);
}

void engine::check_invariants() const noexcept {
#if MT_CHECKED
    MT_ASSERT(detail::tls_engine == this, "an engine is checked on an OS thread it does not belong to");
    live_.check_invariants();
    ended_.check_invariants();
    timers_.check_invariants();
    remote_.check_invariants();
    std::size_t queued = 0;
    bool seen_at_back = false;
    for (const detail::control_block* cb = run_head_; cb; cb = cb->run_next) {
        MT_ASSERT(cb->queued_at_back || !seen_at_back, "a block put at the front follows one put at the back");
        seen_at_back = seen_at_back || cb->queued_at_back;
        MT_ASSERT(cb->queued_at_back || !cb->run_next || cb->run_next->queued_at_back || cb->handoff_from_here ||
                      !cb->run_next->handoff_from_here,
                  "a block put at the front does not record a handoff waiting after it");
        MT_ASSERT(cb->st == state::created || cb->st == state::runnable, "the run queue holds a micro-thread that is not runnable");
        MT_ASSERT(live_.contains(*cb), "the run queue holds a micro-thread that is not live");
        ++queued;
        if (!cb->run_next) MT_ASSERT(cb == run_tail_, "the run queue's tail is not its last element");
    }
    std::size_t runnable = 0, timed = 0;
    for (const detail::control_block* cb = live_.front(); cb; cb = decltype(live_)::next(*cb)) {
        MT_ASSERT(!has_ended(cb->st), "the live list holds an ended micro-thread");
        MT_ASSERT((cb->st == state::running) == (cb == current_), "running is not the current micro-thread");
        if (cb->st == state::created || cb->st == state::runnable) ++runnable;
        if (cb->w.heap_index != detail::no_heap_index) {
            MT_ASSERT(cb->st == state::waiting || cb->st == state::running, "a micro-thread in the timer heap is not waiting");
            ++timed;
        }
        detail::check_wait_invariants(*cb);
        detail::check_held_locks(*cb);
        cb->d.check_invariants();
    }
    MT_ASSERT(queued == runnable, "the run queue and the runnable micro-threads differ");
    MT_ASSERT(timed == timers_.size(), "the timer heap holds a micro-thread that is not live");
#endif
}

}  // namespace mt
