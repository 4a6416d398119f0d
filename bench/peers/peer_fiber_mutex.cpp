// peer_fiber_mutex: Boost.Fiber twin of mt_mutex, on one thread, N
// iterations (argv[1], default 10,000,000). Prints:
//   lock_unlock_ns — one fiber locks and unlocks a free boost::fibers::mutex
//                    N times (a counter is bumped inside); elapsed / N.
//   handoff_ns     — two fibers both want the mutex all the time; elapsed /
//                    the number of times the holder changed, counted inside
//                    the critical sections as mt_mutex does. Boost's mutex
//                    lets the releaser take it straight back (unlock wakes
//                    the waiter, a lock before it runs wins), so the loop
//                    { unlock(); lock(); } never lets the other in; each
//                    fiber loops { unlock(); yield(); lock(); } instead,
//                    which makes the holder change at every unlock.
#include <boost/fiber/all.hpp>
#include "common.hpp"

static double uncontended(long n) {
    boost::fibers::mutex m;
    long counter = 0;
    auto t0 = peers::clock::now();
    for (long i = 0; i < n; ++i) {
        m.lock();
        ++counter;
        m.unlock();
    }
    double ns = peers::ns_since(t0) / double(n);
    if (counter != n) std::fprintf(stderr, "uncontended: bad count\n");
    return ns;
}

static double handoff(long rounds) {
    boost::fibers::mutex m;
    long changes = 0;
    int last = -1;
    auto held = [&](int me) {
        if (last != me) ++changes;
        last = me;
    };
    double ns = 0;
    long counted = 0;
    boost::fibers::fiber a([&] {
        m.lock();
        held(0);
        boost::fibers::fiber b([&] {
            m.lock();
            held(1);
            for (long i = 0; i < rounds; ++i) {
                m.unlock();
                boost::this_fiber::yield();
                m.lock();
                held(1);
            }
            m.unlock();
        });
        boost::this_fiber::yield();  // b now waits for the mutex
        changes = 0;
        auto t0 = peers::clock::now();
        for (long i = 0; i < rounds; ++i) {
            m.unlock();
            boost::this_fiber::yield();
            m.lock();
            held(0);
        }
        ns = peers::ns_since(t0);
        counted = changes;
        m.unlock();
        b.join();
    });
    a.join();
    if (counted < 2 * rounds - 1)
        std::fprintf(stderr, "peer_fiber_mutex: the mutex changed hands %ld times in %ld unlocks\n", counted,
                     2 * rounds);
    return ns / double(counted > 0 ? counted : 1);
}

int main(int argc, char** argv) {
    long n = peers::arg_count(argc, argv, 10000000);
    uncontended(n / 10 + 1);  // warm-up
    peers::report("lock_unlock_ns", uncontended(n));
    handoff(n / 20 + 1);
    peers::report("handoff_ns", handoff(n / 2));
}
