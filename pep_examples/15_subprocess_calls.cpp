// 15 — functions run in subprocesses, a pool bounding how many at once.
//
// Counting primes is CPU work; here each range is counted in a forked child,
// so the work runs beside the engine and a crash cannot take the program
// down. What to notice:
//   * pool.submit(f, args...) never suspends: two calls start at once (the
//     pool's max_processes), the other two wait in line and start as places
//     free up; result() suspends only the micro-thread that asks;
//   * the counts are pi(1e6) = 78498, then 70435, 67883 and 66330 for the
//     next three millions;
//   * an exception thrown in the child comes back as its type and text, a
//     crash as the signal that ended the child;
//   * a call that hangs is bounded by a deadline on result(), then aborted:
//     the child is killed and reaped before abort() returns.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/microthreading.hpp"
#include "nonblocking_io/process_pool.hpp"
#include "nonblocking_io/subprocess_call.hpp"

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
        mt::process_pool pool(2, "primes");
        std::vector<mt::subprocess_call<long>> calls;
        for (long m = 0; m < 4; ++m) calls.push_back(pool.submit(count_primes, m * 1'000'000, (m + 1) * 1'000'000));
        std::printf("submitted 4 calls: %zu running, %zu waiting in line\n", pool.running(), pool.pending());
        for (std::size_t i = 0; i < calls.size(); ++i)
            std::printf("  %s: %ld primes\n", calls[i].name().c_str(), calls[i].result());

        auto bad = mt::call_in_subprocess(mt::subprocess_options{"backwards"}, count_primes, 3'000'000L, 1'000'000L);
        try {
            bad.result();
        } catch (const mt::subprocess_error& e) {
            std::printf("an exception came back: %s: %s\n", e.exception_type().c_str(), e.exception_what().c_str());
        }

        auto crash = mt::call_in_subprocess(mt::subprocess_options{"crash"}, []() -> long {
            ::raise(SIGSEGV);
            return 0;
        });
        try {
            crash.result();
        } catch (const mt::subprocess_error& e) {
            std::printf("a crash came back: the child was killed by SIG%s\n", ::sigabbrev_np(e.signal()));
        }

        auto hang = mt::call_in_subprocess(mt::subprocess_options{"hang"}, [] { ::pause(); });
        try {
            hang.result(50ms);
        } catch (const mt::timeout_error&) {
            std::printf("result(50ms) timed out; the call is still running: %s\n", hang.running() ? "yes" : "no");
        }
        hang.abort();
        std::printf("after abort(): done %s, the child reaped %s\n", hang.done() ? "yes" : "no",
                    ::kill(hang.pid(), 0) != 0 ? "yes" : "no");
    });
}
