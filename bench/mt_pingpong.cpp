// mt_pingpong: micro_pipe costs between two micro-threads of one engine.
//   roundtrip_ns — A puts to p1, B gets it and puts it to p2, A gets it.
//   handoff_ns   — a producer puts N values to a consumer through one pipe;
//                  elapsed / N.
//   allocs_per_handoff — heap allocations (operator new) per value during
//                  the handoff run, counted by this program.
// The same on Go's unbuffered channels and Boost.Fiber's unbuffered_channel
// is in peers/.
#include <atomic>
#include <cstdlib>
#include <new>

#include "core/microthreading.hpp"
#include "peers/common.hpp"
#include "pipes/micro_pipe.hpp"

namespace {
std::atomic<long> allocations{0};
}

void* operator new(std::size_t n) {
    allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

int main(int argc, char** argv) {
    const long n = peers::arg_count(argc, argv, 2'000'000);
    mt::run([n] {
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
            const auto t0 = peers::clock::now();
            long check = 0;
            for (long i = 0; i < n; ++i) {
                p1.put(i);
                check += *p2.get();
            }
            peers::report("roundtrip_ns", peers::ns_since(t0) / static_cast<double>(n));
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
            const long a0 = allocations.load();
            const auto t0 = peers::clock::now();
            for (long i = 0; i < n; ++i) p.put(i);
            const double ns = peers::ns_since(t0) / static_cast<double>(n);
            const long allocs = allocations.load() - a0;
            p.close();
            consumer.wait();
            if (sum != n * (n - 1) / 2) std::abort();
            peers::report("handoff_ns", ns);
            peers::report("allocs_per_handoff", static_cast<double>(allocs) / static_cast<double>(n));
        }
    });
}
