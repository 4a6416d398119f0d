// 11 — CPU work on the worker pool, while the engine stays responsive.
//
// Counting primes by trial division is CPU work: done in a micro-thread it
// would hold the OS thread and nothing else would run. What to notice:
//   * submit_work(f, args...) runs f on a worker thread; only the calling
//     micro-thread waits for it — a ticker micro-thread, sleeping 1 ms with
//     sleep_d between ticks, keeps ticking meanwhile;
//   * submit_work_then(f, on_result, on_error) returns at once; the callback
//     (or, when the job throws, the errback) runs later on the engine's
//     thread. The three jobs finish in any order, so the callbacks hand their
//     lines to main through a micro_pipe and main prints them in job order;
//   * the counts are pi(1e6) = 78498, pi(2e6) - pi(1e6) = 148933 - 78498 =
//     70435 and pi(3e6) - pi(2e6) = 216816 - 148933 = 67883.
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <utility>

#include "core/microthreading.hpp"
#include "nonblocking_io/worker_pool.hpp"
#include "notifier/notifier.hpp"
#include "pipes/micro_pipe.hpp"

using namespace std::chrono_literals;

long count_primes(long from, long to) {  // the primes in [from, to)
    if (from >= to) throw std::invalid_argument("count_primes: the range [" + std::to_string(from) + ", " +
                                                std::to_string(to) + ") is empty");
    long count = 0;
    for (long n = from; n < to; ++n) {
        bool prime = n >= 2;
        for (long d = 2; d * d <= n && prime; d += (d == 2 ? 1 : 2)) prime = n % d != 0;
        count += prime;
    }
    return count;
}

int main() {
    mt::run([] {
        long ticks = 0;
        bool stop = false;
        auto ticker = mt::spawn(mt::spawn_options{"ticker"}, [&] {
            while (!stop) {
                mt::sleep_d(1ms);
                ++ticks;
            }
        });

        const long before = ticks;
        const long n = mt::submit_work(count_primes, 0L, 1'000'000L);  // main waits here
        std::printf("submit_work: primes below 1,000,000: %ld\n", n);
        const bool ticked_meanwhile = ticks > before;

        mt::micro_pipe<std::pair<int, std::string>> done("finished jobs");
        const long ranges[3][2] = {{1'000'000, 2'000'000}, {2'000'000, 3'000'000}, {3'000'000, 1'000'000}};
        for (int job = 0; job < 3; ++job) {
            const long from = ranges[job][0], to = ranges[job][1];
            mt::submit_work_then([from, to] { return count_primes(from, to); },
                                 [=](long r) mutable { done.put({job, "primes in [" + std::to_string(from) + ", " + std::to_string(to) + "): " + std::to_string(r)}); },
                                 [=](std::exception_ptr e) mutable {
                                     try {
                                         std::rethrow_exception(e);
                                     } catch (const std::exception& ex) {
                                         done.put({job, std::string("errback: ") + ex.what()});
                                     }
                                 });
        }
        std::printf("submit_work_then returned at once for the 3 jobs\n");
        const long before_then = ticks;
        std::string lines[3];
        for (int i = 0; i < 3; ++i) {
            auto [job, line] = *done.get();
            lines[job] = std::move(line);
        }
        for (int job = 0; job < 3; ++job) std::printf("  job %d: %s\n", job + 1, lines[job].c_str());
        std::printf("the ticker ticked while the pool worked: %s\n", ticked_meanwhile && ticks > before_then ? "yes" : "no");
        stop = true;
        ticker.wait();
    });
}
