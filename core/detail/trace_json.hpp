// core/detail/trace_json.hpp — a trace's records as Chrome trace_event JSON
// (what ui.perfetto.dev and chrome://tracing open).
//
// Each engine is a process ("pid": its serial), each micro-thread a track
// ("tid": its id) named "#3 'sink'", the root the track "tid": 0. On a
// micro-thread's track: "run" slices while it runs, "wait: <kind>" slices
// while it waits (args.on: what, as the dump says it; args.ended: fired,
// timed out, aborted), instants "start", "end: <how>", "timeout" and
// "abort". On the root's track: "loop" slices while the root runs, and
// "blocked in the notifier" inside them while it waits for events. "ts" is in
// microseconds from the process's first tick.
//
// Every B has its E on the same track: a slice whose beginning was
// overwritten in the ring is left out, and one still open when the trace
// stopped ends then.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mt::detail {

class tracer;

struct trace_export {
    std::uint64_t pid = 0;       // the engine's serial
    long os_tid = 0;             // its OS thread (named in the process's name)
    std::uint64_t end_tick = 0;  // when the trace stopped
    // names of the micro-threads live when it stopped (ended ones are named
    // by their last record)
    std::vector<std::pair<std::uint64_t, std::string>> names;
};

// append_trace_events — appends the events of `t` to `out` as JSON objects
// separated by commas (no brackets: the file's writer joins engines).
// Returns how many it appended. Allocates; throws std::bad_alloc.
std::size_t append_trace_events(const tracer& t, const trace_export& x, std::string& out);

// append_json_string — `s` as a quoted JSON string.
void append_json_string(std::string& out, std::string_view s);

}  // namespace mt::detail
