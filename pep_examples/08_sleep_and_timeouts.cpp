// 08 — sleep_d and timeouts.
//
// What to notice:
//   * five micro-threads are started in the order 50, 10, 40, 20, 30 ms and
//     each sleeps that long with sleep_d; they wake in the order of their
//     deadlines (10, 20, 30, 40, 50), not in the order they were started —
//     and while they sleep the OS thread is free (one reactor timer each);
//   * a wait with a timeout: wait_readable on the read end of a pipe(2)
//     nobody writes to, with a 30 ms timeout, raises mt::timeout_error,
//     whose what() names the micro-thread and what it waited for.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <vector>

#include "core/microthreading.hpp"
#include "notifier/notifier.hpp"

using namespace std::chrono_literals;

int main() {
    mt::run([] {
        std::printf("starting sleepers:");
        std::vector<std::function<void()>> sleepers;
        for (int ms : {50, 10, 40, 20, 30}) {
            std::printf(" %d ms", ms);
            sleepers.push_back([ms] {
                mt::sleep_d(std::chrono::milliseconds(ms));
                std::printf("  the %d ms sleeper wakes\n", ms);
            });
        }
        std::printf("\n");
        mt::start_in_parallel(sleepers);
        std::printf("every sleeper has woken\n");

        int fds[2];
        if (::pipe(fds) != 0) return;
        auto waiter = mt::spawn(mt::spawn_options{"patient reader"}, [fd = fds[0]] {
            std::printf("waiting up to 30 ms for the pipe to become readable\n");
            try {
                mt::wait_readable(fd, 30ms);
                std::printf("readable (never printed)\n");
            } catch (const mt::timeout_error& e) {
                std::printf("timeout_error: %s\n", e.what());
            }
        });
        waiter.wait();
        mt::close_fd(fds[0]);
        mt::close_fd(fds[1]);
    });
}
