// peer_fiber_queue: Boost.Fiber twin of mt_queue, one thread,
// boost::fibers::buffered_channel<long>, N iterations (argv[1], default
// 1,000,000). A buffered_channel's capacity must be a power of 2 and it
// holds capacity - 1 values: buffered_channel(64) holds 63 (ours and Go's
// hold 64; 128 would hold 127).
// Prints: queue_roundtrip_ns = one value A->B over `ping` and back B->A over
//                              `pong` (two channels); elapsed / N;
//         queue_stream_ns    = a producer pushes N values to a consumer over
//                              one channel; elapsed / N.
#include <boost/fiber/all.hpp>
#include "common.hpp"

using chan = boost::fibers::buffered_channel<long>;
static constexpr std::size_t capacity = 64;

static double roundtrip(long n) {
    chan ping(capacity), pong(capacity);
    boost::fibers::fiber echo([&] {
        long v;
        while (ping.pop(v) == boost::fibers::channel_op_status::success) pong.push(v);
    });
    auto t0 = peers::clock::now();
    long v, check = 0;
    for (long i = 0; i < n; ++i) {
        ping.push(i);
        pong.pop(v);
        check += v;
    }
    double ns = peers::ns_since(t0) / double(n);
    ping.close();
    echo.join();
    if (check != n * (n - 1) / 2) std::fprintf(stderr, "roundtrip: bad sum\n");
    return ns;
}

static double stream(long n) {
    chan ch(capacity);
    long sum = 0;
    boost::fibers::fiber consumer([&] {
        for (long v : ch) sum += v;  // range-for pops until closed
    });
    auto t0 = peers::clock::now();
    for (long i = 0; i < n; ++i) ch.push(i);
    ch.close();
    consumer.join();
    double ns = peers::ns_since(t0) / double(n);
    if (sum != n * (n - 1) / 2) std::fprintf(stderr, "stream: bad sum\n");
    return ns;
}

int main(int argc, char** argv) {
    long n = peers::arg_count(argc, argv, 1000000);
    roundtrip(n / 10 + 1);  // warm-up
    peers::report("queue_roundtrip_ns", roundtrip(n));
    stream(n / 10 + 1);
    peers::report("queue_stream_ns", stream(n));
}
