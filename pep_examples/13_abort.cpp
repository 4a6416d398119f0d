// 13 — aborting micro-threads wherever they wait.
//
// Three micro-threads block: one in a pipe get, one in wait_readable on the
// read end of a pipe(2) nobody writes to, one in a one-hour sleep_d. Main
// aborts each. What to notice:
//   * abort() raises MicroThreadExit at the suspension point, whatever the
//     wait: the pipe wait, the fd watcher and the timer are withdrawn at once
//     (the program does not sit out the hour);
//   * each one's destructors run as the exception unwinds its stack;
//   * a killed child does not silently kill its parent: joining it throws
//     mt::micro_thread_aborted, which names it.
#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "core/microthreading.hpp"
#include "notifier/notifier.hpp"
#include "pipes/micro_pipe.hpp"

using namespace std::chrono_literals;

struct cleanup {
    const char* who;
    ~cleanup() { std::printf("  %s: cleanup runs\n", who); }
};

void abort_and_join(mt::micro_thread<void>& h) {
    std::printf("main aborts '%s' (%s)\n", h.name().c_str(), mt::to_string(h.state()));
    h.abort();
    try {
        h.wait();
    } catch (const mt::micro_thread_aborted& e) {
        std::printf("  joining it threw micro_thread_aborted: %s\n", e.what());
    }
}

int main() {
    mt::run([] {
        mt::micro_pipe<int> p("nobody writes here");
        int fds[2];
        if (::pipe(fds) != 0) return;

        auto getter = mt::spawn(mt::spawn_options{"getter"}, [p]() mutable {
            cleanup c{"getter"};
            std::printf("  getter blocks in get()\n");
            p.get();
        });
        auto reader = mt::spawn(mt::spawn_options{"fd reader"}, [fd = fds[0]] {
            cleanup c{"fd reader"};
            std::printf("  fd reader blocks in wait_readable()\n");
            mt::wait_readable(fd);
        });
        auto sleeper = mt::spawn(mt::spawn_options{"sleeper"}, [] {
            cleanup c{"sleeper"};
            std::printf("  sleeper blocks in sleep_d(1h)\n");
            mt::sleep_d(1h);
        });

        mt::yield();  // let each of them run until it blocks
        abort_and_join(getter);
        abort_and_join(reader);
        abort_and_join(sleeper);
        mt::close_fd(fds[0]);
        mt::close_fd(fds[1]);
        std::printf("all three ended; main ends\n");
    });
}
