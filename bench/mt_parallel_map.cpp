// mt_parallel_map: parallel_map of a CPU-bound function (a few thousand
// rounds of an integer hash per item) over engine groups of 1 and 2 engines.
//   map_1_engine_ms / map_2_engines_ms — the median of 5 runs each;
//   map_speedup_x100 — 100 x (1-engine time / 2-engine time).
// `mt_parallel_map N K` measures only the group of K engines (map_1_engine_ms
// or map_2_engines_ms), so that bench/run_bench.py interleaves the two.
// Meaningful only on a machine with 2 free cores.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <numeric>
#include <vector>

#include "core/microthreading.hpp"
#include "peers/common.hpp"

namespace {
std::uint64_t work(std::uint64_t x) {
    for (int i = 0; i < 20000; ++i) x = (x ^ (x >> 31)) * 0x9E3779B97F4A7C15ull + static_cast<std::uint64_t>(i);
    return x;
}

double time_map(std::size_t engines, const std::vector<std::uint64_t>& in) {
    std::vector<double> runs;
    for (int r = 0; r < 5; ++r) {
        mt::engine_group g({.threads = engines});
        runs.push_back(g.run([&] {
            const auto t0 = peers::clock::now();
            auto out = mt::parallel_map(in, work);
            const double ms = peers::ns_since(t0) / 1e6;
            if (out.size() != in.size() || out[7] != work(in[7])) std::abort();
            return ms;
        }));
    }
    std::sort(runs.begin(), runs.end());
    return runs[runs.size() / 2];
}
}  // namespace

int main(int argc, char** argv) {
    const long n = peers::arg_count(argc, argv, 20'000);
    std::vector<std::uint64_t> in(static_cast<std::size_t>(n));
    std::iota(in.begin(), in.end(), 1);
    if (argc > 2) {
        const long k = std::atol(argv[2]);
        if (k != 1 && k != 2) return 2;
        peers::report(k == 1 ? "map_1_engine_ms" : "map_2_engines_ms", time_map(static_cast<std::size_t>(k), in));
        return 0;
    }
    const double one = time_map(1, in);
    const double two = time_map(2, in);
    peers::report("map_1_engine_ms", one);
    peers::report("map_2_engines_ms", two);
    peers::report("map_speedup_x100", 100.0 * one / two);
}
