// 15 — every core: an engine group, a parallel map, a stream between
// engines, and a server listening on every engine.
//
// What to notice:
//   * mt::engine_group runs one engine per OS thread (here 2; by default one
//     per available core); run() returns main's result once every engine's
//     work has ended;
//   * parallel_map splits the items over the engines and gives the results
//     in order; spawn_on starts a micro-thread on another engine and its
//     handle joins it from here;
//   * an xpipe carries values between engines (only the waiting micro-thread
//     suspends; its engine runs the others);
//   * a server on every engine: one SO_REUSEPORT listener per engine on one
//     port, the kernel spreading the connections (the example servers do
//     the same with --threads N).
#include <cstdio>
#include <numeric>
#include <string>
#include <vector>

#include "core/microthreading.hpp"
#include "nonblocking_io/io.hpp"
#include "nonblocking_io/socket.hpp"
#include "pipes/xpipe.hpp"

long collatz_steps(long x) {  // CPU-bound work
    long steps = 0;
    for (; x != 1; ++steps) x = x % 2 ? 3 * x + 1 : x / 2;
    return steps;
}

mt::fd listen_shared(std::uint16_t port) {
    mt::listen_options o;
    o.reuse_port = true;
    return mt::tcp_listen("127.0.0.1", port, o);
}

// answer_one — answers one connection on `l` ("ok" to its line), or
// returns false when none came within 10 ms.
bool answer_one(const mt::fd& l) {
    mt::fd c;
    try {
        c = mt::accept_d(l.get(), std::chrono::milliseconds(10));
    } catch (const mt::timeout_error&) {
        return false;
    }
    char buf[64];
    (void)mt::read_d(c.get(), buf, sizeof buf);
    mt::write_all(c.get(), std::string_view("ok\n"));
    return true;
}

int main() {
    mt::engine_group group({.threads = 2});
    const long total = group.run([] {
        std::printf("%zu engines; main runs on engine %zu\n", mt::group_engines(), mt::this_engine_index());

        std::vector<long> inputs(10);
        std::iota(inputs.begin(), inputs.end(), 1);
        const auto steps = mt::parallel_map(inputs, collatz_steps);
        std::printf("collatz steps of 1..10:");
        for (long s : steps) std::printf(" %ld", s);
        std::printf("\n");

        auto h = mt::spawn_on(1, [] { return mt::this_engine_index(); });
        std::printf("a micro-thread spawned on engine 1 says it ran on engine %zu\n", h.wait());

        mt::xpipe<long> numbers("numbers", 64);
        auto producer = mt::spawn_on(1, [numbers]() mutable {
            for (long i = 1; i <= 100000; ++i) numbers.put(i);
            numbers.close();
        });
        long sum = 0;
        while (auto v = numbers.get()) sum += *v;
        producer.wait();
        std::printf("the sum of 1..100000 streamed from engine 1: %ld\n", sum);

        // A listener on each engine, one port; 8 connections in all.
        mt::fd l0 = listen_shared(0);
        const std::uint16_t port = mt::local_port(l0.get());
        mt::xpipe<int> served("served");
        mt::xpipe<int> listening("listening");
        auto other = mt::spawn_on(1, [port, served, listening]() mutable {
            mt::fd l1 = listen_shared(port);
            listening.put(1);
            while (!served.try_get()) (void)answer_one(l1);  // until told to stop
        });
        (void)listening.get();
        int answers = 0;
        auto local = mt::spawn([&] {
            while (answers < 8) (void)answer_one(l0);
        });
        for (int i = 0; i < 8; ++i) {
            mt::fd c = mt::tcp_connect("127.0.0.1", port);
            mt::write_all(c.get(), std::string_view("hello\n"));
            char buf[8];
            if (mt::read_d(c.get(), buf, sizeof buf) == 3) ++answers;
        }
        local.wait();
        served.put(1);
        other.wait();
        std::printf("%d connections answered by the listeners of 2 engines\n", answers);
        return sum;
    });
    std::printf("run() returned %ld\n", total);
}
