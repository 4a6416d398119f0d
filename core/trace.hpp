// core/trace.hpp — a trace of an engine's switches, waits and wake-ups, for
// ui.perfetto.dev or chrome://tracing (docs/observability.md).
//
//   mt::trace_start("trace.json");  // this OS thread's engine, from now on
//   ...
//   mt::trace_stop();               // writes trace.json
//
// Or, for the whole life of every engine of the process, into one file:
//   MT_TRACE=trace.json ./program   (MT_TRACE_CAPACITY=<records>, default 65536)
//
// Each micro-thread is a track named after it, with its runs, its waits
// (what on, as the dump says it) and how each wait ended (fired, timed out,
// aborted). Records go into a ring allocated at the start, one per switch
// (96 bytes): recording allocates nothing and makes no system call; when
// the ring is full the oldest records are dropped. Off, a trace costs
// nothing: the switch path tests the same one pointer it tests for an
// embedder's switch hook.
#pragma once

#include <cstddef>
#include <string>

namespace mt {

struct trace_options {
    // capacity — switches kept (rounded up to a power of two): 65536 take
    // 6 MiB; a busier engine keeps only its last ones.
    std::size_t capacity = std::size_t{1} << 16;
};

// trace_start — starts tracing this OS thread's engine into a ring; the
// trace goes to `path` at trace_stop (or when the engine ends). Root or
// micro-thread; never suspends. Throws usage_error with no engine or when
// a trace runs already, std::bad_alloc.
void trace_start(const std::string& path, trace_options opts = {});

// trace_stop — writes the trace as Chrome trace_event JSON and stops it;
// returns the number of events written. Throws usage_error when no trace
// runs, std::system_error when the file cannot be written.
std::size_t trace_stop();

// tracing — does this OS thread's engine record a trace now?
bool tracing() noexcept;

}  // namespace mt
