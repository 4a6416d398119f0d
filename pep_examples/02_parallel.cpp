// 02 — parallel: start_in_parallel over a list of inputs.
//
// The PEP's second scenario. What to notice:
//   * the results come back in the order of the inputs, whatever order the
//     micro-threads finish in;
//   * when one input raises, the others are aborted (their cleanup runs) and
//     the caller catches the original exception, type and message intact;
//   * a plain join: wait() on a handle returns the micro-thread's result.
#include <cstdio>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/microthreading.hpp"

// Pretend work: yields `steps` times (as if waiting for I/O), then squares.
int slow_square(int x, int steps) {
    for (int i = 0; i < steps; ++i) mt::yield();
    if (x < 0) throw std::invalid_argument("negative input " + std::to_string(x));
    return x * x;
}

struct cleanup_notice {
    int x;
    ~cleanup_notice() { std::printf("  worker for %d cleans up\n", x); }
};

int main() {
    mt::run([] {
        // 1. Over a list of inputs: later inputs finish first, results stay in order.
        std::vector<int> inputs{1, 2, 3, 4, 5};
        std::vector<std::function<int()>> jobs;
        for (int x : inputs) jobs.push_back([x] { return slow_square(x, 6 - x); });
        std::printf("squares:");
        for (int r : mt::start_in_parallel(jobs)) std::printf(" %d", r);
        std::printf("\n");

        // 2. Different functions, different result types.
        auto [n, s] = mt::start_in_parallel([] { return slow_square(7, 1); },
                                            [] { return std::string("seven"); });
        std::printf("%s squared is %d\n", s.c_str(), n);

        // 3. One input raises: the others are aborted and the caller gets the error.
        std::printf("now with a bad input:\n");
        try {
            std::vector<std::function<int()>> risky;
            for (int x : {10, -1, 30})
                risky.push_back([x] {
                    cleanup_notice c{x};
                    return slow_square(x, x < 0 ? 1 : 100);
                });
            mt::start_in_parallel(risky);
        } catch (const std::invalid_argument& e) {
            std::printf("caught invalid_argument: %s\n", e.what());
        }

        // 4. A plain join.
        auto h = mt::spawn(mt::spawn_options{"adder"}, [](int a, int b) { return a + b; }, 40, 2);
        std::printf("joined '%s': %d\n", h.name().c_str(), h.wait());
    });
}
