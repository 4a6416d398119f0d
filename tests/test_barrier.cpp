// barrier: generations, arrival indices, breaking on a timeout or an abort,
// reset, misuse, the dump and deadlock chains.
#include <doctest/doctest.h>

#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "core/microthreading.hpp"
#include "tests/alloc_counter.hpp"
#include "tests/engine_fixture.hpp"

using namespace std::chrono_literals;
using mt_test::in_engine;

TEST_CASE("the n-th arrival releases the generation; each gets its arrival index") {
    in_engine([] {
        mt::barrier b(3, "phase");
        std::vector<std::size_t> index(3, 99);
        std::vector<mt::micro_thread<void>> ws;
        for (int i = 0; i < 2; ++i) ws.push_back(mt::spawn([&, i] { index[i] = b.arrive_and_wait(); }));
        mt::yield();
        CHECK(b.arrived() == 2);
        CHECK(b.generation() == 0);
        index[2] = b.arrive_and_wait();  // the last: does not suspend
        CHECK(index[2] == 2);
        CHECK(b.generation() == 1);
        CHECK(b.arrived() == 0);
        for (auto& w : ws) w.wait();
        CHECK(index[0] == 0);
        CHECK(index[1] == 1);
    });
}

TEST_CASE("a barrier is reused generation after generation; nobody runs ahead of a generation") {
    in_engine([] {
        constexpr int parties = 4, steps = 5;
        mt::barrier b(parties, "step");
        std::vector<int> step_of(parties, 0);
        std::vector<std::set<std::size_t>> indices(steps);
        mt::scope s;
        for (int p = 0; p < parties; ++p)
            s.spawn([&, p] {
                for (int k = 0; k < steps; ++k) {
                    for (int q = 0; q < parties; ++q) CHECK(step_of[q] >= k);  // everyone finished step k-1
                    step_of[p] = k + 1;
                    indices[k].insert(b.arrive_and_wait());
                    b.check_invariants();
                }
            });
        s.wait();
        CHECK(b.generation() == steps);
        for (const auto& ix : indices) CHECK(ix == std::set<std::size_t>{0, 1, 2, 3});
    });
}

TEST_CASE("a waiter that times out breaks the barrier: the others get broken_barrier_error naming it") {
    in_engine([] {
        mt::barrier b(3, "phase");
        std::string timed_out, broken;
        auto patient = mt::spawn(mt::spawn_options{"patient"}, [&] {
            try {
                b.arrive_and_wait();
            } catch (const mt::broken_barrier_error& e) {
                broken = e.what();
            }
        });
        auto hasty = mt::spawn(mt::spawn_options{"hasty"}, [&] {
            try {
                b.arrive_and_wait(10ms);
            } catch (const mt::timeout_error& e) {
                timed_out = e.what();
            }
        });
        patient.wait();
        hasty.wait();
        CHECK(timed_out ==
              "barrier::arrive_and_wait in micro-thread #3 'hasty' timed out after 0.010 s waiting at barrier 'phase' "
              "(2 of 3 arrived), which it broke");
        CHECK(broken ==
              "barrier::arrive_and_wait in micro-thread #2 'patient': barrier 'phase' broke: #3 'hasty' timed out "
              "while 2 of 3 had arrived");
        CHECK(b.broken());
        CHECK(b.arrived() == 0);
        b.check_invariants();
        // Every later arrival is refused until reset().
        CHECK_THROWS_WITH_AS(b.arrive_and_wait(),
                             "barrier::arrive_and_wait in micro-thread #1 'main': barrier 'phase' broke: #3 'hasty' "
                             "timed out while 2 of 3 had arrived (reset() makes it usable again)",
                             mt::broken_barrier_error);
        b.reset();
        CHECK_FALSE(b.broken());
        auto a = mt::spawn([&] { b.arrive_and_wait(); });
        auto c = mt::spawn([&] { b.arrive_and_wait(); });
        b.arrive_and_wait();
        a.wait();
        c.wait();
    });
}

TEST_CASE("an aborted waiter breaks the barrier for the others") {
    in_engine([] {
        mt::barrier b(3, "phase");
        std::string broken;
        auto w1 = mt::spawn(mt::spawn_options{"w1"}, [&] {
            try {
                b.arrive_and_wait();
            } catch (const mt::broken_barrier_error& e) {
                broken = e.what();
            }
        });
        auto w2 = mt::spawn(mt::spawn_options{"w2"}, [&] { b.arrive_and_wait(); });
        mt::yield();
        w2.abort();
        CHECK_THROWS_AS(w2.wait(), mt::micro_thread_aborted);
        w1.wait();
        CHECK(broken.find("barrier 'phase' broke: #3 'w2' was aborted while 2 of 3 had arrived") != std::string::npos);
        CHECK(b.broken());
        b.reset();
    });
}

TEST_CASE("a waiter released by its generation and aborted before it runs returns its index") {
    in_engine([] {
        mt::barrier b(2, "pair");
        std::size_t got = 99;
        auto w = mt::spawn([&] {
            got = b.arrive_and_wait();
            mt::yield();
        });
        mt::yield();
        CHECK(b.arrive_and_wait() == 1);  // releases w
        w.abort();
        CHECK_THROWS_AS(w.wait(), mt::micro_thread_aborted);
        CHECK(got == 0);
        CHECK_FALSE(b.broken());
        CHECK(b.generation() == 1);
    });
}

TEST_CASE("reset breaks the barrier for those waiting, then makes it usable") {
    in_engine([] {
        mt::barrier b(3, "phase");
        std::string broken;
        auto w = mt::spawn(mt::spawn_options{"w"}, [&] {
            try {
                b.arrive_and_wait();
            } catch (const mt::broken_barrier_error& e) {
                broken = e.what();
            }
        });
        mt::yield();
        b.reset();
        CHECK_FALSE(b.broken());
        w.wait();
        CHECK(broken ==
              "barrier::arrive_and_wait in micro-thread #2 'w': barrier 'phase' was reset by #1 'main' while 1 of 3 "
              "had arrived");
    });
}

TEST_CASE("bad barrier input is a named usage error: no parties, a negative timeout, destroyed under waiters") {
    in_engine([] {
        CHECK_THROWS_WITH_AS(mt::barrier(0, "empty"),
                             "barrier in micro-thread #1 'main' on barrier 'empty': made for 0 parties (at least 1)",
                             mt::usage_error);
        mt::barrier b(2, "b");
        CHECK_THROWS_WITH_AS(b.arrive_and_wait(-1ms), doctest::Contains("a negative timeout"), mt::usage_error);
        CHECK(b.arrived() == 0);  // the refused call did not arrive
        std::string what;
        mt::micro_thread<void> w;
        {
            mt::barrier doomed(2, "doomed");
            w = mt::spawn(mt::spawn_options{"w"}, [&] {
                try {
                    doomed.arrive_and_wait();
                } catch (const mt::usage_error& e) {
                    what = e.what();
                }
            });
            mt::yield();
        }
        w.wait();
        CHECK(what == "barrier 'doomed' was destroyed while micro-thread #2 'w' waited on it (by #1 'main')");
    });
}

TEST_CASE("a barrier of one never waits") {
    in_engine([] {
        mt::barrier b(1, "solo");
        CHECK(b.arrive_and_wait() == 0);
        CHECK(b.arrive_and_wait(0ms) == 0);
        CHECK(b.generation() == 2);
    });
}

TEST_CASE("a barrier arrival allocates nothing once warm") {
    in_engine([] {
        mt::barrier b(2, "pair");
        constexpr int rounds = 300, warm = 20;
        auto partner = mt::spawn([&] {
            for (int i = 0; i < rounds; ++i) b.arrive_and_wait(10s);
        });
        std::size_t before = 0, after = 0;
        for (int i = 0; i < rounds; ++i) {
            if (i == warm) before = mt_test::allocations();
            if (i == rounds - 1) after = mt_test::allocations();
            b.arrive_and_wait(10s);
        }
        partner.wait();
        CHECK(after - before == 0);
    });
}

TEST_CASE("the dump and a deadlock chain show who waits at a barrier and how many arrived") {
    in_engine([] {
        mt::barrier b(5, "phase");
        std::vector<mt::micro_thread<void>> ws;
        for (const char* n : {"a", "b"}) ws.push_back(mt::spawn(mt::spawn_options{n}, [&] { b.arrive_and_wait(); }));
        mt::yield();
        const std::string d = mt::dump();
        CHECK(d.find("#2 'a' waiting: waits at barrier 'phase' (2 of 5 arrived)") != std::string::npos);
        CHECK(d.find("#3 'b' waiting: waits at barrier 'phase' (2 of 5 arrived)") != std::string::npos);
        b.reset();
        for (auto& w : ws) CHECK_THROWS_AS(w.wait(), mt::broken_barrier_error);
    });
    std::string report;
    try {
        mt::run([] {
            mt::barrier b(2, "never");
            b.arrive_and_wait();
        });
    } catch (const mt::deadlock_error& e) {
        report = e.what();
    }
    CHECK(report.find("#1 'main' waits at barrier 'never' (1 of 2 arrived)") != std::string::npos);
}
