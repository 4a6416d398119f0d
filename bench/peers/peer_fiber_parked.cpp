// peer_fiber_parked: memory per parked Boost.Fiber. Creates N detached fibers
// (argv[1], default 100,000) with the default stack allocator (128 KiB malloc,
// only touched pages count), each blocking on a condition_variable so all N
// are alive at once. Prints rss_per_thread_bytes = (RSS after - RSS before)/N,
// then releases and joins (counts down) all of them.
#include <boost/fiber/all.hpp>
#include <mutex>
#include "common.hpp"

int main(int argc, char** argv) {
    long n = peers::arg_count(argc, argv, 100000);
    boost::fibers::mutex mu;
    boost::fibers::condition_variable cv_main, cv_release;
    long parked = 0, finished = 0;
    bool release = false;

    long before = peers::rss_bytes();
    for (long i = 0; i < n; ++i) {
        boost::fibers::fiber([&] {
            std::unique_lock<boost::fibers::mutex> lk(mu);
            if (++parked == n) cv_main.notify_one();
            cv_release.wait(lk, [&] { return release; });
            if (++finished == n) cv_main.notify_one();
        }).detach();
    }
    {
        std::unique_lock<boost::fibers::mutex> lk(mu);
        cv_main.wait(lk, [&] { return parked == n; });
    }
    long after = peers::rss_bytes();
    peers::report("rss_per_thread_bytes", double(after - before) / double(n));
    {
        std::unique_lock<boost::fibers::mutex> lk(mu);
        release = true;
        cv_release.notify_all();
        cv_main.wait(lk, [&] { return finished == n; });
    }
    std::fprintf(stderr, "parked: n=%ld rss_before=%ld rss_after=%ld\n", n, before, after);
}
