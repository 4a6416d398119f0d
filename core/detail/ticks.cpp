// core/detail/ticks.cpp — the rate of ticks, measured against the steady
// clock. See ticks.hpp.
#include "core/detail/ticks.hpp"

#include <atomic>
#include <chrono>

namespace mt::detail {
namespace {

using steady = std::chrono::steady_clock;

struct base_point {
    std::uint64_t tick;
    steady::time_point at;
};

const base_point& base() noexcept {
    static const base_point b{ticks(), steady::now()};  // thread-safe static init
    return b;
}

// The rate, once measured over at least a second (then it no longer
// improves enough to be worth two clock reads per conversion); 0 until then.
std::atomic<double> settled_rate{0.0};

}  // namespace

std::uint64_t tick_base() noexcept { return base().tick; }

double ns_per_tick() noexcept {
#if defined(__x86_64__)
    const double settled = settled_rate.load(std::memory_order_relaxed);
    if (settled > 0) return settled;
    const base_point& b = base();
    steady::time_point now = steady::now();
    while (now - b.at < std::chrono::milliseconds(10)) now = steady::now();
    const std::uint64_t t = ticks();
    const double ns = std::chrono::duration<double, std::nano>(now - b.at).count();
    const double rate = t > b.tick ? ns / static_cast<double>(t - b.tick) : 1.0;
    if (now - b.at >= std::chrono::seconds(1)) settled_rate.store(rate, std::memory_order_relaxed);
    return rate;
#else
    return 1.0;
#endif
}

}  // namespace mt::detail
