// nonblocking_io/detail/subprocess_state.cpp — see subprocess_state.hpp:
// the transitions of one call and its pool's lists.
#include "nonblocking_io/detail/subprocess_state.hpp"

#include <exception>
#include <system_error>
#include <utility>

#include "core/detail/assert.hpp"
#include "core/detail/wait.hpp"
#include "nonblocking_io/subprocess_call.hpp"

namespace mt::detail {

void subprocess_state::wake_all() noexcept {
    while (answer_waiter* w = waiters.pop_front()) fire(*w->me, nullptr);
}

void subprocess_state::finish(std::exception_ptr why, const char* stop_why) noexcept {
    MT_ASSERT(phase == call_phase::running, "a subprocess call finishes that is not running");
    phase = call_phase::done;
    failure = std::move(why);
    if (pool) pool->place_freed(*this, stop_why);
    wake_all();
    check_invariants();
}

void subprocess_state::drop_pending(const char* why) noexcept {
    MT_ASSERT(phase == call_phase::pending, "a subprocess call is dropped from the queue that is not pending");
    if (pool) {
        pool->pending.remove(*this);
        pool = nullptr;
    }
    job.reset();
    phase = call_phase::done;
    abort_asked = true;
    try {
        failure = std::make_exception_ptr(subprocess_error(describe() + " was aborted before it started (" + why + ")",
                                                           subprocess_error::reason::aborted, -1, -1));
    } catch (...) {
        failure = std::current_exception();  // std::bad_alloc while building the text
    }
    wake_all();
    check_invariants();
}

std::string subprocess_state::describe() const {
    std::string s = "subprocess call '" + name + "'";
    if (pid > 0) s += " (pid " + std::to_string(pid) + ")";
    return s;
}

void subprocess_state::check_invariants() const noexcept {
    MT_ASSERT((phase == call_phase::pending) == (job != nullptr), "a subprocess call's job outlives its queueing");
    MT_ASSERT(phase != call_phase::pending || pid == -1, "a pending subprocess call has a child");
    MT_ASSERT(phase != call_phase::running || pid > 0, "a running subprocess call has no child");
    MT_ASSERT(phase != call_phase::done || (waiters.empty() && pool == nullptr),
              "a finished subprocess call is still waited for or queued");
    MT_ASSERT(phase == call_phase::done || !failure, "an unfinished subprocess call has an outcome");
}

void pool_core::place_freed(subprocess_state& s, const char* stop_why) noexcept {
    MT_ASSERT(s.pool == this, "a call gives a place back to a pool not its own");
    running.remove(s);
    s.pool = nullptr;
    if (!stop_why) {
        start_queued();
    } else {
        while (subprocess_state* p = pending.front()) p->drop_pending(stop_why);
    }
    check_invariants();
}

void pool_core::start_queued() noexcept {
    while (running.size() < max && !pending.empty()) {
        subprocess_state* s = pending.front();
        try {
            start_subprocess(s->shared_from_this());
        } catch (...) {
            // start_subprocess made it done with this error, out of the lists.
        }
    }
    check_invariants();
}

void pool_core::check_invariants() const noexcept {
    MT_ASSERT(running.size() <= max, "a process pool runs more calls than its max_processes");
    MT_ASSERT(pending.empty() || running.size() == max, "a process pool queues calls while a place is free");
#if MT_CHECKED  // walks both lists: checked builds only
    for (const subprocess_state* s = pending.front(); s; s = s->pool_hook.next)
        MT_ASSERT(s->phase == call_phase::pending && s->pool == this, "a pool's queue holds a call not pending in it");
    for (const subprocess_state* s = running.front(); s; s = s->pool_hook.next)
        MT_ASSERT(s->phase == call_phase::running && s->pool == this, "a pool's running list holds a call not running in it");
#endif
}

}  // namespace mt::detail
