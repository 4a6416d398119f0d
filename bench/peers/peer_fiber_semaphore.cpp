// peer_fiber_semaphore: the twin of mt_semaphore on Boost.Fiber, one thread,
// N iterations (argv[1], default 1,000,000). Boost.Fiber has no semaphore, so
// one is built here the usual way: a count guarded by boost::fibers::mutex,
// and a boost::fibers::condition_variable that acquire waits on.
// Prints: sem_roundtrip_ns   = A releases `ping`, B acquires it and releases
//                              `pong`, A acquires it; per round trip;
//         sem_uncontended_ns = one acquire + release pair nobody waits on.
#include <boost/fiber/all.hpp>
#include <mutex>

#include "common.hpp"

namespace {

class fiber_semaphore {
public:
    explicit fiber_semaphore(long n) : count_(n) {}
    void acquire() {
        std::unique_lock<boost::fibers::mutex> lock(m_);
        cv_.wait(lock, [this] { return count_ > 0; });
        --count_;
    }
    void release() {
        {
            std::lock_guard<boost::fibers::mutex> lock(m_);
            ++count_;
        }
        cv_.notify_one();
    }
    long available() {
        std::lock_guard<boost::fibers::mutex> lock(m_);
        return count_;
    }

private:
    boost::fibers::mutex m_;
    boost::fibers::condition_variable cv_;
    long count_;
};

double roundtrip(long n) {
    fiber_semaphore ping(0), pong(0);
    boost::fibers::fiber echo([&] {
        for (long i = 0; i < n; ++i) {
            ping.acquire();
            pong.release();
        }
    });
    auto t0 = peers::clock::now();
    for (long i = 0; i < n; ++i) {
        ping.release();
        pong.acquire();
    }
    double ns = peers::ns_since(t0) / double(n);
    echo.join();
    if (ping.available() != 0 || pong.available() != 0) std::fprintf(stderr, "roundtrip: permits lost\n");
    return ns;
}

double uncontended(long n) {
    fiber_semaphore s(1);
    auto t0 = peers::clock::now();
    for (long i = 0; i < n; ++i) {
        s.acquire();
        s.release();
    }
    return peers::ns_since(t0) / double(n);
}

}  // namespace

int main(int argc, char** argv) {
    long n = peers::arg_count(argc, argv, 1000000);
    roundtrip(n / 10 + 1);  // warm-up
    peers::report("sem_roundtrip_ns", roundtrip(n));
    uncontended(n / 10 + 1);
    peers::report("sem_uncontended_ns", uncontended(n));
}
