// tests/stress/ops.hpp — the operations of the model-checked stress test and
// the fuzzers: what a driver can ask a puppet micro-thread (or do itself),
// how an operation reads in a trace, and how a trace is written to a file
// and read back (to replay or shrink a failure).
//
// Workers are named by the generator ("w7"), not by the engine: a trace
// keeps its meaning when steps are removed from it. w0 is the driver, the
// micro-thread that hands out the operations and checks the model after
// each. Pipes are "p3"; exceptions made by an operation are "E12"; a value
// put to a pipe is "w7.4" (the 4th value worker 7 made).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mt_stress {

enum class opk : std::uint8_t {
    new_pipe,      // driver: a new micro_pipe<token> p<pipe>
    spawn,         // actor spawns w<target> (flags: detached, in its scope, aborted at once, ...)
    ret,           // actor's body returns <value> (it has no open scope)
    fail,          // actor's body throws E<value> (through its open scopes)
    abort,         // actor aborts w<target> (itself: MicroThreadExit at once)
    join,          // actor joins w<target> (deadline d)
    open_scope,    // actor opens an mt::scope and takes its next commands inside it
    scope_wait,    // actor waits for its innermost scope (deadline d)
    leave_scope,   // actor leaves its innermost scope: normally, or by an exception (f_by_exception)
    parallel,      // actor runs start_in_parallel over new puppets w<children...>
    put,           // actor puts a new value to p<pipe> (deadline d)
    get,           // actor gets from p<pipe> (deadline d)
    try_put,       // actor try_puts a new value to p<pipe>
    try_get,       // actor try_gets from p<pipe>
    close,         // actor closes p<pipe>
    close_err,     // actor closes p<pipe> with E<value>
    close_reader,  // actor closes p<pipe> as its reader
    put_out,       // actor puts a new value to its stdout (deadline d)
    get_in,        // actor gets from its stdin (deadline d; f_propagate: an error ends it)
    select,        // actor selects over <cases> (deadline d)
    arm,           // actor arms its deferred
    push,          // actor pushes callback <aux>(<value>) on its deferred
    fire,          // actor fires w<target>'s deferred: callback(<value>), or errback(E<value>) with f_error
    dwait,         // actor waits on its deferred (deadline d)
    dcancel,       // actor cancels its deferred
    yield,         // actor yields <value> times
    sleep,         // actor sleeps <us> microseconds
    drop_handle,   // driver drops its handle of w<target>
    tick,          // driver sleeps until every short deadline has passed
    count_
};

// dl — the deadline an operation passes. shortish (us microseconds) may
// pass at any moment, so the model learns from the run when it did; longish
// (an hour) never passes in a run but goes through the engine's timer heap.
enum class dl : std::uint8_t { none, zero, shortish, longish, negative };

enum : std::uint32_t {
    f_detached = 1,       // spawn: start_and_forget (no handle)
    f_in_scope = 2,       // spawn: into the actor's innermost scope
    f_abort_at_once = 4,  // spawn: the spawner aborts it before it ever runs
    f_catches_exit = 8,   // spawn: the puppet catches MicroThreadExit once and goes on
    f_propagate = 16,     // get_in: an error from the pipe ends the puppet with it
    f_by_exception = 32,  // leave_scope: leave it by throwing
    f_error = 64,         // fire: errback instead of callback
};

// callback kinds for push (op.aux)
enum cbk : int { cb_add = 0, cb_throw = 1, cb_rearm = 2, cb_yield = 3, cbk_count };

struct sel_case {
    bool put = false;
    int pipe = -1;  // -1: a null pipe handle (never chosen)
    bool enabled = true;
};

struct op {
    opk k = opk::yield;
    int actor = 0;   // 0: the driver
    int target = -1;
    int pipe = -1;
    int pipe2 = -1;  // spawn: stdout (pipe: stdin)
    long value = 0;
    int aux = 0;
    dl d = dl::none;
    int us = 0;  // shortish deadlines and sleeps
    std::uint32_t flags = 0;
    std::vector<sel_case> cases;
    std::vector<int> children;
};

// worker_only — may only a worker do it? (it may suspend, or acts on the
// actor itself); the driver does the rest directly.
bool worker_only(opk k);

// describe — one readable line: "w3: get p1 (timeout 0.5 ms)".
std::string describe(const op& o);

// serialize / parse — one line of a trace file, and back.
std::string serialize(const op& o);
bool parse(const std::string& line, op& out);

// names used in events and traces
std::string tok_name(int producer, int seq);
std::string err_name(long id);

}  // namespace mt_stress
