// Dumps on a signal (notifier/dump_on_signal.hpp): opt-in, printed by each
// engine from its own loop, and the program goes on. Every test runs in a
// child process: the signal's disposition and the opt-in are the process's.
#include <doctest/doctest.h>

#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "core/microthreading.hpp"
#include "notifier/dump_on_signal.hpp"
#include "notifier/notifier.hpp"
#include "pipes/micro_pipe.hpp"
#include "tests/child_process.hpp"
#include "tests/engine_fixture.hpp"

using namespace std::chrono_literals;

namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::size_t count(const std::string& s, const std::string& part) {
    std::size_t n = 0;
    for (std::size_t at = 0; (at = s.find(part, at)) != std::string::npos; at += part.size()) ++n;
    return n;
}

// A child that a test's own SIGQUIT must not leave a core file behind.
void no_core_files() {
    rlimit none{0, 0};
    ::setrlimit(RLIMIT_CORE, &none);
    ::signal(SIGQUIT, SIG_DFL);
    ::unsetenv("MT_DUMP_ON_SIGQUIT");
}

// parked_then_quit — 'parked' waits on a pipe while main sends the process
// SIGQUIT and lets the engine poll; then everything ends normally. `opt_in`:
// main calls dump_on_signal first.
void parked_then_quit(bool opt_in) {
    mt::run([opt_in] {
        if (opt_in) mt::dump_on_signal(SIGQUIT);
        mt::micro_pipe<int> inbox("inbox");
        auto parked = mt::spawn(mt::spawn_options{"parked"}, [&] { inbox.get(); });
        mt::yield();
        ::kill(::getpid(), SIGQUIT);
        mt::sleep_d(50ms);  // the engine polls meanwhile: the dump is printed then
        inbox.put(1);
        parked.wait();
    });
    std::fputs("went on\n", stderr);
}

}  // namespace

TEST_CASE("with dump_on_signal, SIGQUIT prints every micro-thread and what it waits on, and the program goes on") {
    auto out = mt_test::run_in_child([] {
        no_core_files();
        parked_then_quit(true);
    });
    CHECK(out.signal == 0);
    CHECK(out.exit_code == 0);
    CHECK(contains(out.err, "microthreading: engine "));
    CHECK(contains(out.err, "2 live micro-threads\n"));
    CHECK(contains(out.err, "#1 'main' waiting: waits in sleep_d"));
    CHECK(contains(out.err, "#2 'parked' waiting: waits to get from pipe 'inbox'; stack"));
    CHECK(contains(out.err, "went on\n"));
    CHECK(count(out.err, "microthreading: engine ") == 1);
}

TEST_CASE("MT_DUMP_ON_SIGQUIT=1 opts in from the environment") {
    auto out = mt_test::run_in_child([] {
        no_core_files();
        ::setenv("MT_DUMP_ON_SIGQUIT", "1", 1);
        parked_then_quit(false);
    });
    CHECK(out.signal == 0);
    CHECK(out.exit_code == 0);
    CHECK(contains(out.err, "#2 'parked' waiting: waits to get from pipe 'inbox'"));
    CHECK(contains(out.err, "went on\n"));
}

TEST_CASE("without the opt-in, SIGQUIT keeps its default action") {
    auto out = mt_test::run_in_child([] {
        no_core_files();
        parked_then_quit(false);
    });
    CHECK(out.signal == SIGQUIT);
    CHECK_FALSE(contains(out.err, "microthreading: engine"));
}

TEST_CASE("one SIGQUIT dumps every engine of the process, each from its own OS thread") {
    auto out = mt_test::run_in_child([] {
        no_core_files();
        std::atomic<bool> b_ready{false}, b_may_end{false};
        std::thread b([&] {
            mt::run([&] {
                auto w = mt::spawn(mt::spawn_options{"b-worker"}, [&] {
                    b_ready = true;
                    while (!b_may_end) mt::sleep_d(5ms);
                });
                w.wait();
            });
        });
        mt::run([&] {
            mt::dump_on_signal();
            auto w = mt::spawn(mt::spawn_options{"a-worker"}, [&] {
                while (!b_ready) mt::sleep_d(1ms);
                ::kill(::getpid(), SIGQUIT);
                mt::sleep_d(100ms);
                b_may_end = true;
            });
            w.wait();
        });
        b.join();
    });
    CHECK(out.exit_code == 0);
    CHECK(count(out.err, "microthreading: engine ") == 2);
    CHECK(contains(out.err, "'a-worker' waiting: waits in sleep_d"));
    CHECK(contains(out.err, "'b-worker' "));
}

TEST_CASE("when the engine watching the dump signal ends, another engine of the process takes it over") {
    auto out = mt_test::run_in_child([] {
        no_core_files();
        std::atomic<bool> b_ready{false}, a_ended{false}, b_may_end{false};
        std::thread b([&] {
            mt::run([&] {
                auto w = mt::spawn(mt::spawn_options{"survivor"}, [&] {
                    b_ready = true;
                    while (!a_ended) mt::sleep_d(1ms);
                    mt::sleep_d(50ms);  // the hand-over reaches this engine's loop
                    ::kill(::getpid(), SIGQUIT);
                    mt::sleep_d(50ms);
                });
                w.wait();
            });
        });
        while (!b_ready) std::this_thread::sleep_for(1ms);
        mt::run([] { mt::dump_on_signal(); });  // this engine watches SIGQUIT, then ends
        a_ended = true;
        b.join();
    });
    CHECK(out.signal == 0);
    CHECK(out.exit_code == 0);
    CHECK(contains(out.err, "'survivor' waiting: waits in sleep_d"));
}

TEST_CASE("dump_on_signal refuses signals that cannot be caught, SIGINT, and a thread with no engine") {
    CHECK_THROWS_WITH_AS(mt::dump_on_signal(), "dump_on_signal() called with no engine on this OS thread (start one with mt::run)",
                         mt::usage_error);
    mt_test::in_engine([] {
        CHECK_THROWS_WITH_AS(mt::dump_on_signal(SIGKILL), "dump_on_signal(9): not a signal that can be caught",
                             mt::usage_error);
        CHECK_THROWS_AS(mt::dump_on_signal(SIGSTOP), mt::usage_error);
        CHECK_THROWS_AS(mt::dump_on_signal(0), mt::usage_error);
        CHECK_THROWS_AS(mt::dump_on_signal(NSIG), mt::usage_error);
        CHECK_THROWS_WITH_AS(mt::dump_on_signal(SIGINT),
                             "dump_on_signal(2): SIGINT is Ctrl-C, which goes to the main micro-thread",
                             mt::usage_error);
    });
}
