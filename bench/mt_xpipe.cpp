// mt_xpipe: xpipe costs between micro-threads of two engines on two OS
// threads (an engine_group of 2).
//   cross_roundtrip_ns — a micro-thread on engine 0 puts to p1, one on
//                   engine 1 gets it and puts it to p2, the first gets it;
//                   capacity 1; elapsed / N.
//   cross_stream_ns — engine 1 puts N values to engine 0 through one xpipe
//                   of capacity 128; elapsed / N.
// The Go twin (peers/go/xchan) does the same with GOMAXPROCS=2 on channels
// of the same capacities.
#include <cstdlib>

#include "core/microthreading.hpp"
#include "peers/common.hpp"
#include "pipes/xpipe.hpp"

int main(int argc, char** argv) {
    const long n = peers::arg_count(argc, argv, 200'000);
    mt::engine_group g({.threads = 2});
    g.run([n] {
        {
            mt::xpipe<long> p1("ping"), p2("pong");
            auto echo = mt::spawn_on(1, [p1, p2]() mutable {
                while (auto v = p1.get()) p2.put(*v);
                p2.close();
            });
            for (long i = 0; i < n / 10; ++i) {  // warm-up
                p1.put(i);
                (void)p2.get();
            }
            const auto t0 = peers::clock::now();
            long check = 0;
            for (long i = 0; i < n; ++i) {
                p1.put(i);
                check += *p2.get();
            }
            peers::report("cross_roundtrip_ns", peers::ns_since(t0) / static_cast<double>(n));
            if (check != n * (n - 1) / 2) std::abort();
            p1.close();
            echo.wait();
        }
        {
            const long m = n * 10;
            mt::xpipe<long> p("stream", 128);
            const auto t0 = peers::clock::now();
            auto producer = mt::spawn_on(1, [p, m]() mutable {
                for (long i = 0; i < m; ++i) p.put(i);
                p.close();
            });
            long sum = 0;
            while (auto v = p.get()) sum += *v;
            peers::report("cross_stream_ns", peers::ns_since(t0) / static_cast<double>(m));
            if (sum != m * (m - 1) / 2) std::abort();
            producer.wait();
        }
    });
}
