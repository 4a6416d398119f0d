// peer_fiber_pingpong: Boost.Fiber channel ping-pong on one thread, using
// boost::fibers::unbuffered_channel, N iterations (argv[1], default 1,000,000).
// Prints: roundtrip_ns = one value A->B over `ping` and back B->A over `pong`;
//         handoff_ns   = producer pushes N values to a consumer over one
//                        unbuffered channel, elapsed / N.
#include <boost/fiber/all.hpp>
#include "common.hpp"

using chan = boost::fibers::unbuffered_channel<long>;

static double roundtrip(long n) {
    chan ping, pong;
    boost::fibers::fiber echo([&] {
        long v;
        while (ping.pop(v) == boost::fibers::channel_op_status::success) pong.push(v);
    });
    auto t0 = peers::clock::now();
    long v;
    for (long i = 0; i < n; ++i) {
        ping.push(i);
        pong.pop(v);
    }
    double ns = peers::ns_since(t0) / double(n);
    ping.close();
    echo.join();
    return ns;
}

static double handoff(long n) {
    chan ch;
    long sum = 0;
    boost::fibers::fiber consumer([&] {
        for (long v : ch) sum += v;  // range-for pops until closed
    });
    auto t0 = peers::clock::now();
    for (long i = 0; i < n; ++i) ch.push(i);
    ch.close();
    consumer.join();
    double ns = peers::ns_since(t0) / double(n);
    if (sum != n * (n - 1) / 2) std::fprintf(stderr, "handoff: bad sum\n");
    return ns;
}

int main(int argc, char** argv) {
    long n = peers::arg_count(argc, argv, 1000000);
    roundtrip(n / 10 + 1);  // warm-up
    peers::report("roundtrip_ns", roundtrip(n));
    handoff(n / 10 + 1);
    peers::report("handoff_ns", handoff(n));
}
