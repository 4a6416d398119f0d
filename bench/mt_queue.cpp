// mt_queue: mt::queue<long> costs between two micro-threads of one engine,
// capacity 64 (kCapacity).
//   queue_roundtrip_ns — A puts to q1, B gets it and puts it to q2, A gets
//                  it (two queues of capacity 64); elapsed / N
//                  (queue_roundtrip_allocs: heap allocations per round trip).
//   queue_stream_ns — a producer puts N values to a consumer through one
//                  queue of capacity 64; elapsed / N.
//   allocs_per_queue_value — heap allocations (operator new) per value
//                  during the stream run, counted by this program.
// The same on Go's buffered channels (make(chan int, 64)) and Boost.Fiber's
// buffered_channel is in peers/.
#include <atomic>
#include <cstdlib>
#include <new>

#include "core/microthreading.hpp"
#include "core/queue.hpp"
#include "peers/common.hpp"

namespace {
std::atomic<long> allocations{0};
constexpr std::size_t kCapacity = 64;
}  // namespace

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
            mt::queue<long> q1(kCapacity, "ping"), q2(kCapacity, "pong");
            auto echo = mt::spawn([&] {
                for (long v : q1) q2.put(v);
                q2.close();
            });
            for (long i = 0; i < n / 10; ++i) {  // warm-up
                q1.put(i);
                q2.get();
            }
            const peers::measured m;
            long check = 0;
            for (long i = 0; i < n; ++i) {
                q1.put(i);
                check += *q2.get();
            }
            m.report("queue_roundtrip", n);
            if (check != n * (n - 1) / 2) std::abort();
            q1.close();
            echo.wait();
        }
        {  // streaming through a buffer of 64
            mt::queue<long> q(kCapacity, "stream");
            long sum = 0;
            auto consumer = mt::spawn([&] {
                for (long v : q) sum += v;
            });
            for (long i = 0; i < n / 10; ++i) q.put(0);  // warm-up
            const long a0 = allocations.load();
            const auto t0 = peers::clock::now();
            for (long i = 0; i < n; ++i) q.put(i);
            q.close();
            consumer.wait();  // every value consumed
            const double ns = peers::ns_since(t0) / static_cast<double>(n);
            const long allocs = allocations.load() - a0;
            if (sum != n * (n - 1) / 2) std::abort();
            peers::report("queue_stream_ns", ns);
            peers::report("allocs_per_queue_value", static_cast<double>(allocs) / static_cast<double>(n));
        }
    });
}
