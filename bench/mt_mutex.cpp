// mt_mutex: mt::mutex costs on one engine.
//   lock_unlock_ns — one micro-thread locks and unlocks a free mutex N times
//                    (a counter is bumped inside); elapsed / N
//                    (lock_unlock_allocs: heap allocations per pair).
//   handoff_ns     — two micro-threads both want the mutex all the time:
//                    each loops { unlock(); lock(); }. Our unlock hands the
//                    mutex straight to the waiting other, and our lock then
//                    waits for it to come back: the mutex changes hands at
//                    every unlock, with one context switch. handoff_ns =
//                    elapsed / the number of times the holder changed
//                    (counted inside the critical sections; the program
//                    fails unless it changed at every unlock).
//   allocs_per_handoff — heap allocations (operator new) per handoff.
// Twins: peers/peer_fiber_mutex.cpp (boost::fibers::mutex) and
// peers/go/mutex (sync.Mutex), which count holder changes the same way.
#include <atomic>
#include <cstdio>
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
    const long n = peers::arg_count(argc, argv, 10'000'000);
    bool ok = true;
    mt::run([&] {
        mt::mutex m("bench");
        {  // uncontended
            long counter = 0;
            for (long i = 0; i < n / 10; ++i) {  // warm-up
                m.lock();
                ++counter;
                m.unlock();
            }
            const peers::measured meas;
            for (long i = 0; i < n; ++i) {
                m.lock();
                ++counter;
                m.unlock();
            }
            meas.report("lock_unlock", n);
            if (counter != n + n / 10) ok = false;
        }
        {  // handoff between two micro-threads
            long changes = 0;
            int last = -1;
            auto held = [&](int me) {
                if (last != me) ++changes;
                last = me;
            };
            auto run = [&](long rounds, long& allocs) {
                m.lock();
                held(0);
                auto other = mt::spawn([&] {
                    m.lock();
                    held(1);
                    for (long i = 0; i < rounds; ++i) {
                        m.unlock();
                        m.lock();
                        held(1);
                    }
                    m.unlock();
                });
                mt::yield();  // the other now waits for the mutex
                changes = 0;
                const long a0 = allocations.load();
                const auto t0 = peers::clock::now();
                for (long i = 0; i < rounds; ++i) {
                    m.unlock();
                    m.lock();
                    held(0);
                }
                const double ns = peers::ns_since(t0);
                allocs = allocations.load() - a0;
                const long counted = changes;
                m.unlock();
                other.wait();
                if (counted < 2 * rounds - 1) {
                    std::fprintf(stderr, "mt_mutex: the mutex changed hands %ld times in %ld unlocks\n", counted,
                                 2 * rounds);
                    ok = false;
                }
                return ns / static_cast<double>(counted > 0 ? counted : 1);
            };
            long allocs = 0;
            run(n / 20, allocs);  // warm-up
            const long rounds = n / 2;
            const double ns = run(rounds, allocs);
            peers::report("handoff_ns", ns);
            peers::report("allocs_per_handoff", static_cast<double>(allocs) / static_cast<double>(2 * rounds));
        }
    });
    return ok ? 0 : 1;
}
