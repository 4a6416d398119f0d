// mt_semaphore: mt::semaphore costs between two micro-threads of one engine.
//   sem_roundtrip_ns — A releases `ping`, B (waiting in acquire) takes it and
//                  releases `pong`, A (waiting in acquire) takes it; per
//                  round trip. Both semaphores start at 0, so every acquire
//                  suspends and every release hands the permit straight over.
//   sem_uncontended_ns — one acquire + release pair nobody waits on
//                  (sem_uncontended_allocs: heap allocations per pair).
//   allocs_per_roundtrip — heap allocations (operator new) per round trip,
//                  counted by this program.
// The same round trip on Boost.Fiber (which has no semaphore: one is built
// from boost::fibers::mutex + condition_variable) and on Go (a chan struct{}
// of capacity 1 used as a semaphore) is in peers/.
#include <atomic>
#include <cstdlib>
#include <new>

#include "core/microthreading.hpp"
#include "peers/common.hpp"

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
            mt::semaphore ping(0, "ping"), pong(0, "pong");
            const long total = n + n / 10;
            auto echo = mt::spawn([&] {
                for (long i = 0; i < total; ++i) {
                    ping.acquire();
                    pong.release();
                }
            });
            for (long i = 0; i < n / 10; ++i) {  // warm-up
                ping.release();
                pong.acquire();
            }
            const long a0 = allocations.load();
            const auto t0 = peers::clock::now();
            for (long i = 0; i < n; ++i) {
                ping.release();
                pong.acquire();
            }
            const double ns = peers::ns_since(t0) / static_cast<double>(n);
            const long allocs = allocations.load() - a0;
            echo.wait();
            if (ping.available() != 0 || pong.available() != 0) std::abort();
            peers::report("sem_roundtrip_ns", ns);
            peers::report("allocs_per_roundtrip", static_cast<double>(allocs) / static_cast<double>(n));
        }
        {  // uncontended
            mt::semaphore s(1, "free");
            for (long i = 0; i < n / 10; ++i) {
                s.acquire();
                s.release();
            }
            const peers::measured meas;
            for (long i = 0; i < n; ++i) {
                s.acquire();
                s.release();
            }
            meas.report("sem_uncontended", n);
            if (s.available() != 1) std::abort();
        }
    });
}
