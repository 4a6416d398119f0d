// core/group_dump.hpp — the dump of an engine group: every engine's live
// micro-threads, engine by engine.
#pragma once

#include <string>

#include "engine_group.hpp"
#include "micro_thread.hpp"

namespace mt {

// group_dump — "engine 0:\n" + engine 0's dump, then engine 1's, ... Each
// engine makes its own dump on its own OS thread, from a micro-thread
// started there for it (which its dump lists, named 'every'). Called from a
// micro-thread of a group engine; suspends it until every engine has
// answered. Throws usage_error outside a group or once the group stopped.
inline std::string group_dump() {
    auto parts = on_every([](std::size_t i) { return "engine " + std::to_string(i) + ":\n" + dump(); });
    std::string out;
    for (auto& part : join_all(parts)) out += part;
    return out;
}

}  // namespace mt
