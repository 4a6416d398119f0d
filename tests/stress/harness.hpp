// tests/stress/harness.hpp — runs stress seeds and traces in forked children
// (so an assertion that stops the process still leaves a trace), shrinks a
// failing trace to a minimal one by delta debugging, and reports it as
// readable steps.
#pragma once

#include <cstdint>
#include <string>

#include "tests/stress/runner.hpp"

namespace mt_stress {

struct outcome {
    bool failed = false;
    std::string report;  // on failure: the seed, what differed, the minimal trace
    int steps = 0;       // operations the run performed
};

// check_seed — generates and runs seed `seed` with `profile` (steps: 0 = the
// profile's) in a child process; on failure shrinks it and reports.
outcome check_seed(std::uint64_t seed, const std::string& profile, int steps = 0);

// check_trace_file — replays a trace file (written by a failure report) in a
// child; on failure shrinks it further and reports.
outcome check_trace_file(const std::string& path);

// end_mode_of — how the run of `seed` ends (trace::end_mode).
int end_mode_of(std::uint64_t seed);

// write_trace / read_trace — the file format: a first line
// "profile <name> end <mode>", then one serialized operation per line.
bool write_trace(const trace& t, const std::string& path);
bool read_trace(const std::string& path, trace& t);

// report_failure — prints the failure and the trace (as steps) to stderr:
// what a fuzz target does before it aborts.
void print_failure(const failure& f, const trace& t);

}  // namespace mt_stress
