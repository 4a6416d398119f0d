// tests/stress/runner.hpp — one stress run: a fresh engine whose main
// micro-thread (the driver) hands out operations one at a time, lets the
// engine run until nothing is runnable, and then checks the engine's and the
// pipes' invariants and compares everything observable with the model.
#pragma once

#include <cstdint>
#include <deque>
#include <string>

#include "tests/stress/generator.hpp"
#include "tests/stress/model.hpp"
#include "tests/stress/ops.hpp"

namespace mt_stress {

struct trace {
    std::deque<op> ops;  // a deque: a puppet keeps a reference to its command while it runs
    int end_mode = 0;    // 0: the driver aborts every worker left; 1: the engine resolves a deadlock
    std::string profile = "mixed";
};

struct failure {
    int step = 0;          // index into trace::ops (-1: at the end)
    std::string op_text;   // what that step did
    std::string message;   // what differed
};

struct run_options {
    bool notifier = true;   // the engine's default libev notifier (polled about every 60 us while busy)
    bool verbose = false;   // print every step and what each worker logged
    // on_op — told of each operation just before it runs (a forked child
    // streams them to its parent, so a crash still leaves the trace).
    void (*on_op)(const op&) = nullptr;
    // on_fail — called on the first divergence; must not return (it exits
    // or aborts: the engine is in no state to go on).
    void (*on_fail)(const failure&, const trace&) = nullptr;
};

// run — one run on this OS thread (which must have no engine). Replays
// t.ops, skipping those the model says cannot run in the state reached; or,
// with `c` and `p`, generates the operations into t.ops as it goes. Returns
// when the run matched the model to its end.
void run(trace& t, choices* c, const profile* p, const run_options& opts);

}  // namespace mt_stress
