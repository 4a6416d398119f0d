// core/state.hpp — the life of a micro-thread, as users see it.
#pragma once

#include <cstdint>
#include <string>

namespace mt {

// state — where a micro-thread is in its life. Transitions (engine.cpp is
// the only writer; each arrow is a named step there):
//
//   created --schedule--> running --suspend--> waiting --fire/abort--> runnable
//      |                   |  ^                                          |
//      |                   |  +------------------resume------------------+
//      |                   +--yield--> runnable
//      |                   +--body returns--> finished
//      |                   +--body throws--> failed
//      |                   +--MicroThreadExit reaches the top--> aborted
//      |                   +--aborted before it ran: its function destroyed unrun--> aborted
//      +--(an abort before it is scheduled still schedules it, for that last step)
enum class state : std::uint8_t {
    created,   // spawned, in the run queue, body not started, no context yet
    runnable,  // in the run queue, suspended at a yield or woken from a wait
    running,   // the one micro-thread executing on this engine
    waiting,   // suspended on its deferred, in at most one wait list
    finished,  // body returned; result kept for wait()
    failed,    // body threw; exception kept for wait()
    aborted,   // ended by MicroThreadExit
};

const char* to_string(state s) noexcept;

inline bool has_ended(state s) noexcept {
    return s == state::finished || s == state::failed || s == state::aborted;
}

// micro_thread_info — a snapshot of one micro-thread, from current() or a handle.
struct micro_thread_info {
    std::uint64_t id = 0;
    std::string name;
    mt::state state = state::created;
};

}  // namespace mt
