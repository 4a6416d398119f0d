// A program outside the tree, built against the installed library: the
// check that pkg-config, CMake and a meson subproject all give a working
// build (tests/consumer/check.sh builds it each way).
#include <microthreading/microthreading.hpp>

#include <chrono>
#include <cstdio>

using namespace std::chrono_literals;

int main() {
    const int total = mt::run([] {
        // a pipeline of two stages
        const int sum = mt::pipeline<int>(
            [](mt::micro_pipe<int> out) {
                for (int i = 1; i <= 10; ++i) out.put(i);
            },
            [](mt::micro_pipe<int> in) {
                int s = 0;
                for (int v : in) s += v;
                return s;
            });
        // a timeout
        mt::micro_pipe<int> quiet("quiet");
        bool timed_out = false;
        try {
            quiet.get(5ms);
        } catch (const mt::timeout_error&) {
            timed_out = true;
        }
        // a mutex and the worker pool
        mt::mutex m("m");
        std::lock_guard<mt::mutex> hold(m);
        const int doubled = mt::submit_work([](int x) { return 2 * x; }, sum);
        return timed_out ? doubled : -1;
    });
    std::printf("consumer: %d\n", total);
    return total == 110 ? 0 : 1;
}
