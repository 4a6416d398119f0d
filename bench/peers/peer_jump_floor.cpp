// peer_jump_floor: raw context-switch floor. Two boost::context::fiber
// contexts ping-pong with std::move(f).resume(), N round trips (argv[1],
// default 20,000,000). Prints jump_ns = elapsed / number of resume() calls
// (2 per round trip: one in each direction).
#include <boost/context/fiber.hpp>
#include "common.hpp"

namespace ctx = boost::context;

static double run(long n) {
    bool stop = false;
    ctx::fiber f([&stop](ctx::fiber&& sink) {
        while (!stop) sink = std::move(sink).resume();
        return std::move(sink);
    });
    auto t0 = peers::clock::now();
    for (long i = 0; i < n; ++i) f = std::move(f).resume();
    double ns = peers::ns_since(t0) / double(2 * n);
    stop = true;
    f = std::move(f).resume();  // let the fiber return
    return ns;
}

int main(int argc, char** argv) {
    long n = peers::arg_count(argc, argv, 20000000);
    run(n / 10 + 1);  // warm-up
    peers::report("jump_ns", run(n));
}
