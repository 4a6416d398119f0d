// peer_fiber_pingpong: Boost.Fiber channel ping-pong on one thread, N
// iterations (argv[1], default 1,000,000), on two kinds of channel:
//   unbuffered_channel<long>                      -> roundtrip_ns, handoff_ns
//   buffered_channel<long>(2), the smallest one   -> roundtrip_buf_ns, handoff_buf_ns
//     (the capacity must be a power of 2 and one slot stays empty, so it holds
//     one value: what a micro_pipe holds)
// roundtrip = one value A->B over `ping` and back B->A over `pong`;
// handoff = a producer pushes N values to a consumer over one channel,
// elapsed / N. Each also prints <name>_allocs, heap allocations per operation.
#include <boost/fiber/all.hpp>
#include <string>
#include "common.hpp"

using unbuffered = boost::fibers::unbuffered_channel<long>;
using buffered = boost::fibers::buffered_channel<long>;

template <class Chan, class... Cap>
static void roundtrip(long n, const char* name, Cap... cap) {
    Chan ping(cap...), pong(cap...);
    boost::fibers::fiber echo([&] {
        long v;
        while (ping.pop(v) == boost::fibers::channel_op_status::success) pong.push(v);
    });
    long v;
    for (long i = 0; i < n / 10 + 1; ++i) {  // warm-up
        ping.push(i);
        pong.pop(v);
    }
    const peers::measured m;
    for (long i = 0; i < n; ++i) {
        ping.push(i);
        pong.pop(v);
    }
    m.report(name, n);
    ping.close();
    echo.join();
}

template <class Chan, class... Cap>
static void handoff(long n, const char* name, Cap... cap) {
    Chan ch(cap...);
    long sum = 0;
    boost::fibers::fiber consumer([&] {
        for (long v : ch) sum += v;  // range-for pops until closed
    });
    for (long i = 0; i < n / 10 + 1; ++i) ch.push(0);  // warm-up
    const peers::measured m;
    for (long i = 0; i < n; ++i) ch.push(i);
    m.report(name, n);
    ch.close();
    consumer.join();
    if (sum != n * (n - 1) / 2) std::fprintf(stderr, "handoff: bad sum\n");
}

int main(int argc, char** argv) {
    long n = peers::arg_count(argc, argv, 1000000);
    roundtrip<unbuffered>(n, "roundtrip");
    handoff<unbuffered>(n, "handoff");
    roundtrip<buffered>(n, "roundtrip_buf", std::size_t{2});
    handoff<buffered>(n, "handoff_buf", std::size_t{2});
}
