// peer_fiber_yield: Boost.Fiber yield cost. Two fibers on one thread call
// boost::this_fiber::yield() N times each (argv[1], default 2,000,000).
// Prints: yield_ns = elapsed / (total yield() calls across both fibers),
// yield_allocs = heap allocations per yield (the two fibers' creation included).
#include <boost/fiber/all.hpp>
#include "common.hpp"

static void run(long n, const char* name) {
    auto body = [n] { for (long i = 0; i < n; ++i) boost::this_fiber::yield(); };
    const peers::measured m;
    boost::fibers::fiber a(body), b(body);
    a.join();
    b.join();
    if (name) m.report(name, 2 * n);
}

int main(int argc, char** argv) {
    long n = peers::arg_count(argc, argv, 2000000);
    run(n / 10 + 1, nullptr);  // warm-up
    run(n, "yield");
}
