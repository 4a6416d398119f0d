// deadlock detection and Ctrl-C across an engine group: the census that
// reports a group waiting on itself forever, never a program that is only
// idle for a while, and Ctrl-C reaching the group's main. Every test name
// holds "engines" so test.sh runs them under ThreadSanitizer too (the
// Ctrl-C ones run in a forked child, which ThreadSanitizer does not follow:
// they say "group" instead).
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <string>
#include <thread>

#include "core/microthreading.hpp"
#include "notifier/notifier.hpp"
#include "nonblocking_io/worker_pool.hpp"
#include "pipes/xpipe.hpp"
#include "tests/child_process.hpp"

using namespace std::chrono_literals;

namespace {

// expect_deadlock — runs `g` with `main` and returns the deadlock_error's
// message ("" and a failed check when run ended otherwise).
template <class F>
std::string expect_deadlock(mt::engine_group& g, F main) {
    try {
        g.run(main);
        FAIL("run returned: no deadlock reported");
    } catch (const mt::deadlock_error& e) {
        return e.what();
    } catch (const std::exception& e) {
        FAIL("run threw something else: " << e.what());
    }
    return {};
}

}  // namespace

TEST_CASE("engines: two engines waiting on each other's xpipes fail the group with a deadlock naming both waits") {
    mt::engine_group g({.threads = 2});
    mt::xpipe<int> a("a"), b("b");
    std::atomic<int> unwound{0};
    const std::string msg = expect_deadlock(g, [&] {
        struct guard {
            std::atomic<int>& n;
            ~guard() { ++n; }
        } gm{unwound};
        auto h = mt::spawn_on(1, "worker", [&, b]() mutable {
            guard gw{unwound};
            return b.get().value_or(0);
        });
        return a.get().value_or(0) + h.wait();
    });
    INFO(msg);
    CHECK(msg.find("deadlock across the engine group: 2 micro-threads wait") == 0);
    CHECK(msg.find("engine 0: #") != std::string::npos);
    CHECK(msg.find("'main' waits to get from xpipe 'a'") != std::string::npos);
    CHECK(msg.find("engine 1: #") != std::string::npos);
    CHECK(msg.find("'worker' waits to get from xpipe 'b'") != std::string::npos);
    CHECK(msg.find("anchor") == std::string::npos);
    CHECK(unwound == 2);  // both were aborted and unwound
}

TEST_CASE("engines: main joining a remote micro-thread that waits forever is a deadlock across the group") {
    mt::engine_group g({.threads = 2});
    const std::string msg = expect_deadlock(g, [] {
        return mt::spawn_on(1, "stuck", [] {
                   mt::event never("never");
                   never.wait();
                   return 1;
               }).wait();
    });
    INFO(msg);
    CHECK(msg.find("engine 0: #") != std::string::npos);
    CHECK(msg.find("'main' waits to join micro-thread 'stuck' on engine 1") != std::string::npos);
    CHECK(msg.find("engine 1: #") != std::string::npos);
    CHECK(msg.find("'stuck' waits") != std::string::npos);
    CHECK(msg.find("'never'") != std::string::npos);
}

TEST_CASE("engines: a deadlock among three engines is found, and the group can be made again") {
    for (int round = 0; round < 3; ++round) {
        mt::engine_group g({.threads = 3});
        mt::xpipe<int> p("p");
        const std::string msg = expect_deadlock(g, [p]() mutable {
            auto hs = mt::on_every([p](std::size_t i) mutable {
                if (i == 0) return 0;
                return p.get().value_or(0);
            });
            return mt::join_all(hs).size();
        });
        CHECK(msg.find("engine 1: #") != std::string::npos);
        CHECK(msg.find("engine 2: #") != std::string::npos);
    }
}

TEST_CASE("engines: a plain OS thread blocked without a deadline, or an idle worker, does not hide a deadlock") {
    mt::engine_group g({.threads = 2});
    mt::xpipe<int> a("a"), b("b");
    std::thread blocked([b]() mutable { (void)b.get(); });  // parked: only a put or close ends it
    const std::string msg = expect_deadlock(g, [a]() mutable {
        CHECK(mt::submit_work([] { return 5; }) == 5);  // the worker pool's threads exist, idle
        return a.get().value_or(0);
    });
    CHECK(msg.find("'main' waits to get from xpipe 'a'") != std::string::npos);
    b.close();  // not woken by the group's failure
    blocked.join();
}

TEST_CASE("engines: a deadlock is reported once an OS thread that might have ended it has ended") {
    mt::engine_group g({.threads = 2});
    mt::xpipe<int> a("a");
    std::atomic<bool> done{false};
    std::thread bystander([&] {
        std::this_thread::sleep_for(300ms);  // holds nothing, but the census cannot know
        done = true;
    });
    const auto t0 = std::chrono::steady_clock::now();
    const std::string msg = expect_deadlock(g, [a]() mutable { return a.get().value_or(0); });
    CHECK(done);  // not reported while it lived
    CHECK(std::chrono::steady_clock::now() - t0 >= 300ms);
    CHECK(msg.find("'main' waits to get from xpipe 'a'") != std::string::npos);
    bystander.join();
}

TEST_CASE("engines: waiting briefly on a plain OS thread that puts later is not a deadlock") {
    mt::engine_group g({.threads = 2});
    mt::xpipe<int> p("late");
    std::thread late([p]() mutable {
        std::this_thread::sleep_for(200ms);
        p.put(42);
    });
    const int r = g.run([p]() mutable {
        return mt::spawn_on(1, [p]() mutable { return p.get().value_or(-1); }).wait();
    });
    late.join();
    CHECK(r == 42);
}

TEST_CASE("engines: a plain OS thread blocked in an xpipe's get is known, and answers when the group puts") {
    // The plain thread is parked (no deadline): known to the census, which
    // must still see that the group is not stuck while an engine sleeps.
    mt::engine_group g({.threads = 2});
    mt::xpipe<int> ask("ask"), answer("answer");
    std::thread echo([ask, answer]() mutable {
        while (auto v = ask.get()) answer.put(*v + 1);
    });
    int r = -1;
    try {
        r = g.run([&]() mutable {
        int sum = 0;
        for (int i = 0; i < 50; ++i) {
            auto h = mt::spawn_on(1, [ask, answer, i]() mutable {
                mt::sleep_d(1ms);
                ask.put(i);
                return answer.get().value_or(-1);
            });
            sum += h.wait();
        }
        ask.close();
        return sum;
    });
    } catch (const std::exception& e) {
        ask.close();
        FAIL_CHECK(std::string(e.what()));
    }
    echo.join();
    CHECK(r == 50 * 49 / 2 + 50);
}

TEST_CASE("engines: a group whose only other waiter sleeps on a timer is not deadlocked") {
    mt::engine_group g({.threads = 2});
    const int r = g.run([] {
        return mt::spawn_on(1, [] {
                   mt::sleep_d(300ms);
                   return 7;
               }).wait();
    });
    CHECK(r == 7);
}

TEST_CASE("engines: a group waiting on fd readability fed by another OS thread is not deadlocked") {
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0);
    std::thread feeder([w = fds[1]] {
        std::this_thread::sleep_for(200ms);
        const char c = 'x';
        CHECK(::write(w, &c, 1) == 1);
    });
    mt::engine_group g({.threads = 2});
    int r = -1;
    try {
        r = g.run([fd = fds[0]] {
            return mt::spawn_on(1, [fd] {
                       mt::wait_readable(fd);
                       char c = 0;
                       return ::read(fd, &c, 1) == 1 && c == 'x' ? 1 : 0;
                   }).wait();
        });
    } catch (const std::exception& e) {
        FAIL_CHECK(std::string(e.what()));
    }
    feeder.join();
    ::close(fds[0]);
    ::close(fds[1]);
    CHECK(r == 1);
}

TEST_CASE("engines: 200 small groups exchanging values through xpipes report no deadlock") {
    for (int i = 0; i < 200; ++i) {
        mt::engine_group g({.threads = 2});
        const int r = g.run([i] {
            mt::xpipe<int> there("there"), back("back");
            auto h = mt::spawn_on(1, [there, back]() mutable {
                const int v = there.get().value_or(0);
                back.put(v * 2);
                return 1;
            });
            there.put(i);
            return back.get().value_or(-1) + h.wait();
        });
        REQUIRE(r == 2 * i + 1);
    }
}

TEST_CASE("group Ctrl-C raised from engine 1 reaches main as interrupted_error, which main may catch") {
    auto out = mt_test::run_in_child([] {
        mt::engine_group g({.threads = 2});
        int r = -1;
        try {
            r = g.run([] {
                mt::xpipe<int> never("never");
                try {
                    mt::spawn_on(1, [] { ::kill(::getpid(), SIGINT); }).wait();
                    never.get(60s);  // timed: a group waiting only for Ctrl-C is deadlocked
                    return 1;
                } catch (const mt::interrupted_error&) {
                    return 7;
                }
            });
        } catch (const std::exception& e) {
            std::fprintf(stderr, "run threw: %s\n", e.what());
            ::_exit(3);
        }
        ::_exit(r == 7 ? 0 : 4);
    });
    INFO(out.err);
    CHECK(out.signal == 0);
    CHECK(out.exit_code == 0);
}

TEST_CASE("group Ctrl-C uncaught in main fails the group: run rethrows it and every engine's servers are aborted") {
    auto out = mt_test::run_in_child([] {
        mt::engine_group g({.threads = 2});
        std::atomic<int> servers_unwound{0};
        try {
            g.run([&] {
                mt::xpipe<int> never("never");
                auto servers = mt::on_every([&, never](std::size_t) mutable {
                    struct guard {
                        std::atomic<int>& n;
                        ~guard() { ++n; }
                    } gs{servers_unwound};
                    never.get();
                });
                mt::spawn_on(1, [] { ::kill(::getpid(), SIGINT); }).wait();
                never.get(60s);
            });
        } catch (const mt::interrupted_error&) {
            ::_exit(servers_unwound == 2 ? 0 : 5);
        } catch (...) {
            ::_exit(3);
        }
        ::_exit(4);
    });
    INFO(out.err);
    CHECK(out.signal == 0);
    CHECK(out.exit_code == 0);
}

TEST_CASE("group Ctrl-C a second time, while main handles the first, fails the group") {
    auto out = mt_test::run_in_child([] {
        mt::engine_group g({.threads = 2});
        try {
            g.run([] {
                mt::xpipe<int> never("never");
                try {
                    mt::spawn_on(1, [] { ::kill(::getpid(), SIGINT); }).wait();
                    never.get(60s);
                } catch (const mt::interrupted_error&) {
                    // cleaning up takes a while, and Ctrl-C comes again
                    try {
                        mt::spawn_on(1, [] { ::kill(::getpid(), SIGINT); }).wait();
                        never.get(60s);
                    } catch (const mt::interrupted_error&) {
                        return 1;  // not reached: the second one is not raised in main
                    }
                }
                return 2;
            });
        } catch (const mt::interrupted_error&) {
            ::_exit(0);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "run threw: %s\n", e.what());
            ::_exit(3);
        }
        ::_exit(4);
    });
    INFO(out.err);
    CHECK(out.signal == 0);
    CHECK(out.exit_code == 0);
}
