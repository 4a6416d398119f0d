// event: set wakes every waiter and stays set, clear, timeouts, aborts,
// misuse, the dump and deadlock chains.
#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "core/microthreading.hpp"
#include "tests/alloc_counter.hpp"
#include "tests/engine_fixture.hpp"

using namespace std::chrono_literals;
using mt_test::in_engine;

TEST_CASE("wait on an event that is already set returns at once") {
    in_engine([] {
        mt::event e("start");
        e.set();
        CHECK(e.is_set());
        e.wait();
        e.wait(0ms);  // a poll that succeeds
        CHECK(e.wait_for(0ms));
        CHECK(e.is_set());  // waiting does not consume it
    });
}

TEST_CASE("set wakes every waiter, in the order they began to wait, and the event stays set") {
    in_engine([] {
        mt::event e("start");
        std::vector<int> order;
        std::vector<mt::micro_thread<void>> ws;
        for (int i = 0; i < 5; ++i)
            ws.push_back(mt::spawn([&, i] {
                e.wait();
                order.push_back(i);
            }));
        mt::yield();
        CHECK(e.waiting() == 5);
        CHECK(order.empty());
        e.set();
        CHECK(e.waiting() == 0);
        for (auto& w : ws) w.wait();
        CHECK(order == std::vector<int>{0, 1, 2, 3, 4});
        e.wait();  // still set
        e.check_invariants();
    });
}

TEST_CASE("a waiter woken by set returns even if the event is cleared before it runs") {
    in_engine([] {
        mt::event e("flag");
        bool returned = false;
        auto w = mt::spawn([&] {
            e.wait();
            returned = true;
        });
        mt::yield();
        e.set();
        e.clear();
        CHECK_FALSE(e.is_set());
        w.wait();
        CHECK(returned);
        CHECK_FALSE(e.wait_for(1ms));  // cleared: a new wait suspends
    });
}

TEST_CASE("a waiter woken by set and aborted before it runs returns; the abort lands at its next suspension") {
    in_engine([] {
        mt::event e("flag");
        bool returned = false;
        auto w = mt::spawn([&] {
            e.wait();
            returned = true;
            mt::yield();
            FAIL("an aborted micro-thread ran on");
        });
        mt::yield();
        e.set();
        w.abort();
        CHECK_THROWS_AS(w.wait(), mt::micro_thread_aborted);
        CHECK(returned);
    });
}

TEST_CASE("an aborted event waiter leaves the event consistent") {
    in_engine([] {
        mt::event e("flag");
        auto a = mt::spawn([&] { e.wait(); });
        auto b = mt::spawn([&] { e.wait(); });
        mt::yield();
        a.abort();
        CHECK_THROWS_AS(a.wait(), mt::micro_thread_aborted);
        CHECK(e.waiting() == 1);
        e.check_invariants();
        e.set();
        b.wait();
    });
}

TEST_CASE("event wait with a timeout raises timeout_error naming the micro-thread and the event") {
    in_engine([] {
        mt::event e("start");
        CHECK_THROWS_WITH_AS(e.wait(10ms),
                             "event::wait in micro-thread #1 'main' timed out after 0.010 s waiting for event 'start'",
                             mt::timeout_error);
        CHECK(e.waiting() == 0);
        CHECK_FALSE(e.wait_for(5ms));
        CHECK_FALSE(e.wait_until(std::chrono::steady_clock::now() + 5ms));
        auto setter = mt::spawn([&] {
            mt::sleep_d(5ms);
            e.set();
        });
        CHECK(e.wait_for(10s));
        setter.wait();
    });
}

TEST_CASE("a negative timeout on an event wait is a usage error") {
    in_engine([] {
        mt::event e("start");
        CHECK_THROWS_WITH_AS(e.wait(-1ms), "event::wait in micro-thread #1 'main': a negative timeout (use a zero timeout to poll)",
                             mt::usage_error);
    });
}

TEST_CASE("destroying an event while micro-threads wait on it raises a named error in each waiter") {
    in_engine([] {
        std::string what;
        mt::micro_thread<void> w;
        {
            mt::event e("doomed");
            w = mt::spawn(mt::spawn_options{"w"}, [&] {
                try {
                    e.wait();
                } catch (const mt::usage_error& err) {
                    what = err.what();
                }
            });
            mt::yield();
        }
        w.wait();
        CHECK(what == "event 'doomed' was destroyed while micro-thread #2 'w' waited on it (by #1 'main')");
    });
}

TEST_CASE("an event used after its engine ended is a named usage error") {
    mt::event e("old");
    mt::run([&] { e.set(); });
    in_engine([&] {
        CHECK_THROWS_WITH_AS(e.wait(), "event::wait in micro-thread #1 'main' on event 'old', which belongs to an engine that has ended",
                             mt::usage_error);
        CHECK_THROWS_WITH_AS(e.clear(), doctest::Contains("which belongs to an engine that has ended"), mt::usage_error);
    });
}

TEST_CASE("an event wait allocates nothing once warm") {
    in_engine([] {
        mt::event go("go"), back("back");
        constexpr int rounds = 500;
        auto echo = mt::spawn([&] {
            for (int i = 0; i < rounds + 11; ++i) {
                go.wait(10s);
                go.clear();
                back.set();
            }
        });
        auto round = [&] {
            go.set();
            back.wait(10s);
            back.clear();
        };
        for (int i = 0; i < 10; ++i) round();
        const std::size_t before = mt_test::allocations();
        for (int i = 0; i < rounds; ++i) round();
        const std::size_t after = mt_test::allocations();
        CHECK(after - before == 0);
        round();
        echo.wait();
    });
}

TEST_CASE("the dump and a deadlock chain name the event waited for") {
    in_engine([] {
        mt::event e("start");
        auto w = mt::spawn(mt::spawn_options{"worker"}, [&] { e.wait(); });
        mt::yield();
        CHECK(mt::dump().find("#2 'worker' waiting: waits for event 'start'") != std::string::npos);
        e.set();
        w.wait();
    });
    std::string report;
    try {
        mt::run([] {
            mt::event e("never");
            e.wait();
        });
    } catch (const mt::deadlock_error& err) {
        report = err.what();
    }
    CHECK(report.find("#1 'main' waits for event 'never'") != std::string::npos);
}
