// mt_yield: cost of one yield() between two micro-threads on one engine.
// Two micro-threads yield to each other in a loop; yield_ns = elapsed / the
// total number of yield() calls of both. Each yield is one context switch:
// the program checks that the other micro-thread ran between any two
// consecutive yields of one, and fails otherwise.
#include <cstdlib>

#include "core/microthreading.hpp"
#include "peers/common.hpp"

int main(int argc, char** argv) {
    const long n = peers::arg_count(argc, argv, 10'000'000);
    long switches = 0;
    bool interleaved = true;
    mt::run([&] {
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
        const auto t0 = peers::clock::now();
        auto c = mt::spawn(body, 0);
        auto d = mt::spawn(body, 1);
        c.wait();
        d.wait();
        peers::report("yield_ns", peers::ns_since(t0) / static_cast<double>(switches));
    });
    if (!interleaved || switches != 2 * n) {
        std::fprintf(stderr, "mt_yield: the two micro-threads did not alternate\n");
        return 1;
    }
}
