// core/detail/ticks.hpp — the clock of CPU time and of traces: cheap enough
// to read on a switch.
//
// On x86-64 a tick is one count of the CPU's time-stamp counter (rdtsc: no
// system call, no vDSO, ~7 ns here); elsewhere it is one nanosecond of the
// steady clock. Ticks are turned into nanoseconds only when someone looks
// (the dump, a trace written out), by a rate measured against the steady
// clock from the first read of the process (tick_base) to then. The counter
// is invariant on every x86-64 CPU of the last fifteen years (constant_tsc,
// nonstop_tsc): it runs at one rate whatever the core's frequency or sleep
// state. Where it is not, figures are off by the frequency changes, nothing
// worse.
//
// Threading: any OS thread.
#pragma once

#include <cstdint>

#if defined(__x86_64__)
#include <x86intrin.h>
#else
#include <chrono>
#endif

namespace mt::detail {

// ticks — now, in ticks. Never fails, never allocates.
inline std::uint64_t ticks() noexcept {
#if defined(__x86_64__)
    return __rdtsc();
#else
    return static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
#endif
}

// tick_base — the tick of the process's first call (the epoch of traces,
// so the tracks of several engines line up). Call it before recording the
// first tick that ticks_to_ns will convert.
std::uint64_t tick_base() noexcept;

// ns_per_tick — the length of one tick, measured from tick_base() to now;
// the first call less than 10 ms after tick_base() spins out the rest of
// those 10 ms (a shorter span measures the rate too coarsely).
double ns_per_tick() noexcept;

// ticks_to_ns — a number of ticks as nanoseconds.
inline double ticks_to_ns(std::uint64_t n) noexcept { return static_cast<double>(n) * ns_per_tick(); }

}  // namespace mt::detail
