// mt_pingpong: micro_pipe costs between two micro-threads of one engine.
// Usage: mt_pingpong [N] [reactor|bare].
//   roundtrip_ns — A puts to p1, B gets it and puts it to p2, A gets it.
//   handoff_ns   — a producer puts N values to a consumer through one pipe;
//                  elapsed / N.
//   roundtrip_allocs, handoff_allocs — heap allocations per operation in the
//                  measured loops (bench/alloc_count.cpp).
// With "reactor": the same with a live reactor and one idle fd watcher
// (bench/idle_watcher.hpp); metrics roundtrip_reactor_*, handoff_reactor_*.
// With "bare": an engine without a notifier, metrics *_bare_* (what
// scripts/check_instructions.sh counts; see mt_yield.cpp).
// The twins: Go's channels and Boost.Fiber's, unbuffered and of the smallest
// capacity (a micro_pipe holds one value), are in peers/.
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "core/microthreading.hpp"
#include "idle_watcher.hpp"
#include "peers/common.hpp"
#include "pipes/micro_pipe.hpp"

int main(int argc, char** argv) {
    const long n = peers::arg_count(argc, argv, 2'000'000);
    const bool reactor = argc > 2 && std::string_view(argv[2]) == "reactor";
    const bool bare = argc > 2 && std::string_view(argv[2]) == "bare";
    const std::string suffix = reactor ? "_reactor" : bare ? "_bare" : "";
    mt::engine_options opts;
    opts.default_notifier = !bare;
    mt::run([n, reactor, &suffix] {
        std::optional<peers::idle_watcher> idle;
        if (reactor) idle.emplace();
        {  // round trips
            mt::micro_pipe<long> p1("ping"), p2("pong");
            auto echo = mt::spawn([&] {
                for (long v : p1) p2.put(v);
                p2.close();
            });
            for (long i = 0; i < n / 10; ++i) {  // warm-up
                p1.put(i);
                p2.get();
            }
            const peers::measured m;
            long check = 0;
            for (long i = 0; i < n; ++i) {
                p1.put(i);
                check += *p2.get();
            }
            m.report(("roundtrip" + suffix).c_str(), n);
            if (check != n * (n - 1) / 2) std::abort();
            p1.close();
            echo.wait();
        }
        {  // one-way handoff
            mt::micro_pipe<long> p("stream");
            long sum = 0;
            auto consumer = mt::spawn([&] {
                for (long v : p) sum += v;
            });
            for (long i = 0; i < n / 10; ++i) p.put(0);  // warm-up
            const peers::measured m;
            for (long i = 0; i < n; ++i) p.put(i);
            m.report(("handoff" + suffix).c_str(), n);
            p.close();
            consumer.wait();
            if (sum != n * (n - 1) / 2) std::abort();
        }
    }, opts);
}
