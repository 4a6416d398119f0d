// tests/gdb/parked_program.cpp — micro-threads parked in known waits, for
// the gdb extension's test (tests/gdb/check_gdb.sh). Main parks them, then
// stops itself with SIGTRAP: gdb looks (mt list, mt bt), continues, and the
// program unparks everything and ends, printing "ended cleanly" — so a
// `mt bt` that left a register changed shows up as a crash. With --no-trap
// it runs through (the trace check runs it under MT_TRACE).
//
//   #1 main      running (it raised SIGTRAP)
//   #2 getter    waiting: pipe get from pipe 'inbox'      in park_on_pipe
//   #3 locker    waiting: lock on mutex 'accounts'        in park_on_mutex
//   #4 sleeper   waiting: sleep                           in park_in_sleep
//   #5 joiner    waiting: join #4 'sleeper'               in park_on_join
//   #6 reader    waiting: fd, readable                    in park_on_fd
//   #7 yielder   runnable (yielded)                       in park_in_yield
//   #8 (unnamed) created, never ran
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <mutex>
#include <string_view>

#include <microthreading/microthreading.hpp>

using namespace std::chrono_literals;

namespace {

bool stop_yielding = false;

[[gnu::noinline]] void park_on_pipe(mt::micro_pipe<int>& inbox) {
    inbox.get();
    asm volatile("");  // keeps the call a call (not a tail call): the frame stays on the stack
}

[[gnu::noinline]] void park_on_mutex(mt::mutex& m) {
    std::lock_guard<mt::mutex> g(m);
    asm volatile("");
}

[[gnu::noinline]] void park_in_sleep() {
    try {
        mt::sleep_d(1h);
    } catch (const mt::MicroThreadExit&) {
        throw;
    }
    asm volatile("");
}

[[gnu::noinline]] void park_on_join(mt::micro_thread<void>& t) {
    try {
        t.wait();
    } catch (const mt::micro_thread_aborted&) {
    }
    asm volatile("");
}

[[gnu::noinline]] void park_on_fd(int fd) {
    mt::wait_readable(fd);
    asm volatile("");
}

[[gnu::noinline]] void park_in_yield() {
    while (!stop_yielding) mt::yield();
    asm volatile("");
}

}  // namespace

int main(int argc, char** argv) {
    const bool trap = !(argc > 1 && std::string_view(argv[1]) == "--no-trap");
    mt::run([trap] {
        mt::micro_pipe<int> inbox("inbox");
        mt::mutex accounts("accounts");
        int fds[2];
        if (::pipe(fds) != 0) return;
        std::printf("reader's fd: %d\n", fds[0]);  // what mt list must say #6 waits for
        std::fflush(stdout);
        std::unique_lock<mt::mutex> held(accounts);
        auto getter = mt::spawn(mt::spawn_options{"getter"}, [&] { park_on_pipe(inbox); });
        auto locker = mt::spawn(mt::spawn_options{"locker"}, [&] { park_on_mutex(accounts); });
        auto sleeper = mt::spawn(mt::spawn_options{"sleeper"}, [] { park_in_sleep(); });
        auto joiner = mt::spawn(mt::spawn_options{"joiner"}, [&] { park_on_join(sleeper); });
        auto reader = mt::spawn(mt::spawn_options{"reader"}, [&] { park_on_fd(fds[0]); });
        auto yielder = mt::spawn(mt::spawn_options{"yielder"}, [] { park_in_yield(); });
        mt::yield();  // everyone runs to where it parks; the yielder is queued behind us
        auto unstarted = mt::spawn([] {});
        if (trap) std::raise(SIGTRAP);  // gdb stops here
        // Unpark everything.
        stop_yielding = true;
        inbox.put(1);
        held.unlock();
        sleeper.abort();
        if (::write(fds[1], "x", 1) != 1) return;
        getter.wait();
        locker.wait();
        joiner.wait();
        reader.wait();
        yielder.wait();
        unstarted.wait();
        ::close(fds[0]);
        ::close(fds[1]);
        std::puts("parked program: ended cleanly");
    });
}
