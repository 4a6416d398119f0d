// wait_group and latch: counting to zero, timeouts, aborts, misuse, the dump
// and deadlock chains.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include "core/microthreading.hpp"
#include "tests/alloc_counter.hpp"
#include "tests/engine_fixture.hpp"

using namespace std::chrono_literals;
using mt_test::in_engine;

TEST_CASE("wait_group::wait returns when every job added is done") {
    in_engine([] {
        mt::wait_group jobs("jobs");
        int finished = 0;
        for (int i = 0; i < 4; ++i) {
            jobs.add();
            mt::start_and_forget([&, i] {
                mt::sleep_d(std::chrono::milliseconds(i));
                ++finished;
                jobs.done();
            });
        }
        CHECK(jobs.count() == 4);
        jobs.wait();
        CHECK(finished == 4);
        CHECK(jobs.count() == 0);
        jobs.wait();  // at zero: returns at once
    });
}

TEST_CASE("a wait_group wakes every waiter at zero, in order, and can be used again") {
    in_engine([] {
        mt::wait_group g("g");
        std::vector<int> order;
        for (int round = 0; round < 2; ++round) {
            order.clear();
            g.add(2);
            std::vector<mt::micro_thread<void>> ws;
            for (int i = 0; i < 3; ++i)
                ws.push_back(mt::spawn([&, i] {
                    g.wait();
                    order.push_back(i);
                }));
            mt::yield();
            CHECK(g.waiting() == 3);
            g.done();
            mt::yield();
            CHECK(order.empty());
            g.add(-1);  // Go's Add with a negative delta counts down too
            for (auto& w : ws) w.wait();
            CHECK(order == std::vector<int>{0, 1, 2});
            g.check_invariants();
        }
    });
}

TEST_CASE("a wait_group going negative is a usage error naming the micro-thread and the wait_group") {
    in_engine([] {
        mt::wait_group g("jobs");
        g.add(1);
        g.done();
        CHECK_THROWS_WITH_AS(g.done(),
                             "wait_group::done in micro-thread #1 'main' on wait_group 'jobs': the counter would go "
                             "negative (0 -1 = -1): more done() than add() counted",
                             mt::usage_error);
        CHECK(g.count() == 0);  // left as it was
        g.add(2);
        CHECK_THROWS_WITH_AS(g.add(-3), doctest::Contains("the counter would go negative (2 -3 = -1)"), mt::usage_error);
        CHECK(g.count() == 2);
        g.add(-2);
    });
}

TEST_CASE("wait_group::wait with a timeout raises timeout_error naming what is left") {
    in_engine([] {
        mt::wait_group g("jobs");
        g.add(3);
        CHECK_THROWS_WITH_AS(g.wait(10ms),
                             "wait_group::wait in micro-thread #1 'main' timed out after 0.010 s waiting for wait_group "
                             "'jobs' (3 to go)",
                             mt::timeout_error);
        CHECK(g.waiting() == 0);
        CHECK_THROWS_WITH_AS(g.wait(-1ms), doctest::Contains("a negative timeout"), mt::usage_error);
        g.add(-3);
    });
}

TEST_CASE("an aborted wait_group waiter leaves it consistent; one woken then aborted returns first") {
    in_engine([] {
        mt::wait_group g("g");
        g.add();
        auto a = mt::spawn([&] { g.wait(); });
        bool returned = false;
        auto b = mt::spawn([&] {
            g.wait();
            returned = true;
            mt::yield();
        });
        mt::yield();
        a.abort();
        CHECK_THROWS_AS(a.wait(), mt::micro_thread_aborted);
        CHECK(g.waiting() == 1);
        g.done();  // wakes b...
        b.abort();  // ...which is aborted before it runs
        CHECK_THROWS_AS(b.wait(), mt::micro_thread_aborted);
        CHECK(returned);
        g.check_invariants();
    });
}

TEST_CASE("destroying a wait_group while micro-threads wait on it raises a named error in each waiter") {
    in_engine([] {
        std::string what;
        mt::micro_thread<void> w;
        {
            mt::wait_group g("doomed");
            g.add();
            w = mt::spawn(mt::spawn_options{"w"}, [&] {
                try {
                    g.wait();
                } catch (const mt::usage_error& e) {
                    what = e.what();
                }
            });
            mt::yield();
        }
        w.wait();
        CHECK(what == "wait_group 'doomed' was destroyed while micro-thread #2 'w' waited on it (by #1 'main')");
    });
}

TEST_CASE("a latch releases its waiters when counted down to zero") {
    in_engine([] {
        mt::latch ready(3, "ready");
        std::vector<std::string> log;
        std::vector<mt::micro_thread<void>> ws;
        for (int i = 0; i < 3; ++i)
            ws.push_back(mt::spawn([&, i] {
                log.push_back("arrive " + std::to_string(i));
                ready.arrive_and_wait();
                log.push_back("go " + std::to_string(i));
            }));
        CHECK_FALSE(ready.try_wait());
        ready.wait();
        CHECK(ready.try_wait());
        for (auto& w : ws) w.wait();
        // The last arrival counts it down to zero and goes on without
        // waiting; the two before it go in the order they waited.
        CHECK(log == std::vector<std::string>{"arrive 0", "arrive 1", "arrive 2", "go 2", "go 0", "go 1"});
        ready.wait();  // stays at zero
    });
}

TEST_CASE("count_down by several, and a timed latch wait") {
    in_engine([] {
        mt::latch l(4, "l");
        l.count_down(3);
        CHECK(l.count() == 1);
        CHECK_THROWS_WITH_AS(l.wait(5ms), doctest::Contains("waiting for latch 'l' (1 to go)"), mt::timeout_error);
        CHECK_THROWS_AS(l.arrive_and_wait(0, 1ms), mt::timeout_error);
        l.arrive_and_wait(1, 0ms);
        CHECK(l.try_wait());
    });
}

TEST_CASE("a latch counted down past zero, or made or counted with a negative count, is a usage error") {
    in_engine([] {
        mt::latch l(2, "gate");
        CHECK_THROWS_WITH_AS(l.count_down(3),
                             "latch::count_down in micro-thread #1 'main' on latch 'gate': counting down 3 would take "
                             "it below zero (2 left)",
                             mt::usage_error);
        CHECK(l.count() == 2);
        CHECK_THROWS_WITH_AS(l.count_down(-1), "latch::count_down in micro-thread #1 'main' on latch 'gate': a negative count (-1)",
                             mt::usage_error);
        CHECK_THROWS_WITH_AS(mt::latch(-2, "bad"), "latch in micro-thread #1 'main' on latch 'bad': made with a negative count (-2)",
                             mt::usage_error);
        CHECK_THROWS_AS(l.arrive_and_wait(1, -1ms), mt::usage_error);
        CHECK(l.count() == 2);  // the bad timeout was refused before counting down
        l.count_down(2);
    });
}

TEST_CASE("wait_group and latch waits allocate nothing once warm") {
    in_engine([] {
        constexpr int rounds = 300, warm = 20;
        std::size_t before = 0, after = 0;
        {
            mt::wait_group g("g");
            auto helper = mt::spawn([&] {
                for (int i = 0; i < rounds; ++i) {
                    mt::yield();
                    g.done();
                }
            });
            for (int i = 0; i < rounds; ++i) {
                if (i == warm) before = mt_test::allocations();
                if (i == rounds - 1) after = mt_test::allocations();  // before the helper ends
                g.add();
                g.wait(10s);
            }
            helper.wait();
        }
        CHECK(after - before == 0);
        {
            mt::latch* current = nullptr;
            int made = 0;
            auto helper = mt::spawn([&] {
                for (int i = 0; i < rounds; ++i) {
                    while (made <= i) mt::yield();
                    current->count_down();
                }
            });
            for (int i = 0; i < rounds; ++i) {
                if (i == warm) before = mt_test::allocations();
                if (i == rounds - 1) after = mt_test::allocations();
                mt::latch l(1, "round");  // a new latch at each round: a latch is used once
                current = &l;
                ++made;
                l.wait(10s);
            }
            helper.wait();
        }
        CHECK(after - before == 0);
    });
}

TEST_CASE("the dump and a deadlock chain name the wait_group or latch and what is left") {
    in_engine([] {
        mt::wait_group g("jobs");
        g.add(2);
        auto w = mt::spawn(mt::spawn_options{"collector"}, [&] { g.wait(); });
        mt::yield();
        CHECK(mt::dump().find("#2 'collector' waiting: waits for wait_group 'jobs' (2 to go)") != std::string::npos);
        g.add(-2);
        w.wait();
    });
    std::string report;
    try {
        mt::run([] {
            mt::latch l(2, "ready");
            l.arrive_and_wait();
        });
    } catch (const mt::deadlock_error& e) {
        report = e.what();
    }
    CHECK(report.find("#1 'main' waits for latch 'ready' (1 to go)") != std::string::npos);
}
