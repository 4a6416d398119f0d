// mt_yield: cost of one yield() between two micro-threads on one engine.
// Usage: mt_yield [N] [reactor|bare]. Two micro-threads yield to each other in a
// loop; yield_ns = elapsed / the total number of yield() calls of both, and
// yield_allocs = heap allocations per yield. Each yield is one context
// switch: the program checks that the other micro-thread ran between any two
// consecutive yields of one, and fails otherwise. With "reactor", the same
// with a live reactor and one idle fd watcher (bench/idle_watcher.hpp), the
// way a server runs: the metrics are yield_reactor_ns / yield_reactor_allocs.
// With "bare": an engine without a notifier (engine_options::default_notifier
// off), the switch path alone, metrics yield_bare_*: what
// scripts/check_instructions.sh counts, since a notifier is polled by time
// and callgrind's count would then depend on valgrind's speed.
#include <cstdlib>
#include <optional>
#include <string_view>

#include "core/microthreading.hpp"
#include "idle_watcher.hpp"
#include "peers/common.hpp"

int main(int argc, char** argv) {
    const long n = peers::arg_count(argc, argv, 10'000'000);
    const bool reactor = argc > 2 && std::string_view(argv[2]) == "reactor";
    const bool bare = argc > 2 && std::string_view(argv[2]) == "bare";
    mt::engine_options opts;
    opts.default_notifier = !bare;
    long switches = 0;
    bool interleaved = true;
    mt::run([&] {
        std::optional<peers::idle_watcher> idle;
        if (reactor) idle.emplace();
        auto body = [&](int me) {
            static int last = -1;
            for (long i = 0; i < n; ++i) {
                if (last == me) interleaved = false;
                last = me;
                ++switches;
                mt::yield();
            }
        };
        auto a = mt::spawn(body, 0);  // warm-up round
        auto b = mt::spawn(body, 1);
        a.wait();
        b.wait();
        switches = 0;
        const peers::measured m;
        auto c = mt::spawn(body, 0);
        auto d = mt::spawn(body, 1);
        c.wait();
        d.wait();
        m.report(reactor ? "yield_reactor" : bare ? "yield_bare" : "yield", switches);
    }, opts);
    if (!interleaved || switches != 2 * n) {
        std::fprintf(stderr, "mt_yield: the two micro-threads did not alternate\n");
        return 1;
    }
}
