// peer_fiber_yield: Boost.Fiber yield cost. Two fibers on one thread call
// boost::this_fiber::yield() N times each (argv[1], default 2,000,000).
// Prints: yield_ns = elapsed / (total yield() calls across both fibers).
#include <boost/fiber/all.hpp>
#include "common.hpp"

static double run(long n) {
    auto body = [n] { for (long i = 0; i < n; ++i) boost::this_fiber::yield(); };
    auto t0 = peers::clock::now();
    boost::fibers::fiber a(body), b(body);
    a.join();
    b.join();
    return peers::ns_since(t0) / double(2 * n);
}

int main(int argc, char** argv) {
    long n = peers::arg_count(argc, argv, 2000000);
    run(n / 10 + 1);  // warm-up
    peers::report("yield_ns", run(n));
}
