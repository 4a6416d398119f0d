// core/observe.cpp — what the engine watches of its own switches: each
// micro-thread's CPU time, the trace (core/trace.cpp), and the embedder's
// switch hook, all behind the one observer pointer the switch path tests.
//
// Invariants:
//   * observer_ == &observe_switch  <=>  CPU time is measured or a trace
//     runs; otherwise observer_ is the embedder's hook (or nullptr), called
//     directly, as it always was.
//   * while CPU time is measured, cpu_since_ is the tick at which the
//     running context (a micro-thread, or the root) was entered or the
//     measuring began, whichever is later.
//
// CPU time is wall time between switches on the engine's OS thread, read
// from the tick clock (rdtsc): time the kernel took the OS thread away is
// charged to whichever context was running. A thread CPU clock
// (CLOCK_THREAD_CPUTIME_ID) would not charge that, but it is a system call
// (no vDSO for it): ~20x the cost of the switch itself.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/detail/control_block.hpp"
#include "core/detail/ticks.hpp"
#include "core/detail/tracer.hpp"
#include "core/engine.hpp"

namespace mt {

void engine::update_observer() noexcept {
    if (cpu_on_ || tracer_) {
        observer_ = &engine::observe_switch;
        observer_user_ = this;
    } else {
        observer_ = embedder_hook_;
        observer_user_ = embedder_user_;
    }
}

// observe_switch — the switch from `from` to `to` (nullptr: the root) is
// about to happen: charge the time since the last switch to `from`, record
// the switch, then call the embedder's hook. Neither's state has changed
// yet. Never throws, never allocates.
void engine::observe_switch(void* self, const detail::control_block* from, const detail::control_block* to) noexcept {
    engine& e = *static_cast<engine*>(self);
    const std::uint64_t now = detail::ticks();
    const std::uint64_t ran = now - e.cpu_since_;
    // The blocks are the engine's own; the observer's signature is the
    // embedder's, which must not change them.
    if (from) const_cast<detail::control_block*>(from)->cpu_ticks += ran;
    else e.root_cpu_ += ran;
    e.cpu_since_ = now;
    if (e.tracer_) e.tracer_->on_switch(now, from, to);
    if (e.embedder_hook_) e.embedder_hook_(e.embedder_user_, from, to);
}

void engine::set_cpu_time(bool on) noexcept {
    if (on && !cpu_time_measured()) {
        detail::tick_base();
        cpu_since_ = detail::ticks();
    }
    cpu_on_ = on;
    update_observer();
}

std::chrono::nanoseconds engine::cpu_time(const detail::control_block* cb) const noexcept {
    std::uint64_t t = cb ? cb->cpu_ticks : root_cpu_;
    if (cpu_time_measured() && cb == current_) t += detail::ticks() - cpu_since_;  // its run so far
    return std::chrono::nanoseconds(static_cast<std::int64_t>(detail::ticks_to_ns(t)));
}

namespace {
bool env_on(const char* name) {
    const char* v = std::getenv(name);
    return v && *v && std::strcmp(v, "0") != 0;
}
}  // namespace

// start_trace_from_environment — MT_CPU_TIME=1 measures CPU time;
// MT_TRACE=<file> traces from the engine's start to its end into <file>,
// shared by every engine of the process. A trace that cannot start (out of
// memory) is reported and the engine runs on without it.
void engine::start_trace_from_environment() noexcept {
    if (env_on("MT_CPU_TIME")) set_cpu_time(true);
    const char* path = std::getenv("MT_TRACE");
    if (!path || !*path) return;
    std::size_t capacity = 1 << 16;
    if (const char* c = std::getenv("MT_TRACE_CAPACITY")) {
        char* end = nullptr;
        const unsigned long long n = std::strtoull(c, &end, 10);
        if (end != c && n > 0) capacity = static_cast<std::size_t>(n);
    }
    try {
        start_trace(path, capacity, true);
    } catch (const std::exception& ex) {
        std::fprintf(stderr, "microthreading: MT_TRACE: the trace of engine %llu did not start: %s\n",
                     static_cast<unsigned long long>(serial_), ex.what());
    }
}

}  // namespace mt
