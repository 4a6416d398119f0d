// 12 — a deadlock, reported instead of hanging.
//
// Two micro-threads, ping and pong, each start by getting from the other's
// pipe; neither ever puts. Main joins them. What to notice:
//   * nothing is runnable and nothing outside can wake anyone, so run()
//     throws mt::deadlock_error; its what() is the engine's report: the
//     wait-for chain (main waits to join ping, which waits on a pipe whose
//     writer is pong, which waits on a pipe whose writer is ping: a cycle);
//   * before throwing, the engine aborted every stuck micro-thread, so their
//     destructors ran (main's too) — no frame is leaked;
//   * the program catches the error and exits with status 0.
#include <cstdio>

#include "core/microthreading.hpp"
#include "pipes/micro_pipe.hpp"

struct cleanup {
    const char* who;
    ~cleanup() { std::printf("  %s: destructor ran\n", who); }
};

void player(const char* me) {
    cleanup c{me};
    std::printf("  %s waits for the other's message\n", me);
    auto msg = mt::this_stdin<int>().get();  // never comes
    std::printf("  %s got %d (never printed)\n", me, *msg);
    mt::this_stdout<int>().put(*msg + 1);
}

int main() {
    try {
        mt::run([] {
            cleanup c{"main"};
            mt::micro_pipe<int> to_pong("ping to pong"), to_ping("pong to ping");
            auto ping = mt::spawn(mt::spawn_options{.name = "ping", .in = to_ping, .out = to_pong}, player, "ping");
            auto pong = mt::spawn(mt::spawn_options{.name = "pong", .in = to_pong, .out = to_ping}, player, "pong");
            std::printf("  main joins ping and pong\n");
            ping.wait();
            pong.wait();
        });
        std::printf("run() returned (never printed)\n");
    } catch (const mt::deadlock_error& e) {
        std::printf("run() threw deadlock_error:\n%s\n", e.what());
    }
    std::printf("exiting cleanly\n");
    return 0;
}
