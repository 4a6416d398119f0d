// Structured scopes and the PEP's start_in_parallel.
#include <doctest/doctest.h>

#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/microthreading.hpp"
#include "tests/engine_fixture.hpp"

using mt_test::in_engine;

TEST_CASE("start_in_parallel runs every function and returns the results in order") {
    in_engine([] {
        auto [a, b, c] = mt::start_in_parallel(
            [] { mt::yield(); return 1; },
            [] { return std::string("two"); },
            [] { mt::yield(); mt::yield(); });
        CHECK(a == 1);
        CHECK(b == "two");
        CHECK(c == mt::none{});
    });
}

TEST_CASE("start_in_parallel over a range returns a vector of results in order") {
    in_engine([] {
        std::vector<std::function<int()>> fs;
        for (int i = 0; i < 50; ++i)
            fs.push_back([i] {
                for (int k = 0; k < i % 3; ++k) mt::yield();
                return i * i;
            });
        const std::vector<int> r = mt::start_in_parallel(fs);
        REQUIRE(r.size() == 50);
        for (int i = 0; i < 50; ++i) CHECK(r[static_cast<std::size_t>(i)] == i * i);
    });
}

TEST_CASE("start_in_parallel: one raising aborts the others, waits for them, rethrows the first exception") {
    in_engine([] {
        int aborted_cleanups = 0;
        struct guard {
            int& n;
            ~guard() { ++n; }
        };
        auto sleeper = [&] {
            guard g{aborted_cleanups};
            for (;;) mt::yield();
        };
        CHECK_THROWS_WITH_AS(mt::start_in_parallel(sleeper, [] {
            mt::yield();
            throw std::invalid_argument("second input is bad");
        }, sleeper), "second input is bad", std::invalid_argument);
        CHECK(aborted_cleanups == 2);
    });
}

TEST_CASE("start_in_parallel: the first exception in time wins, not the first in argument order") {
    in_engine([] {
        CHECK_THROWS_WITH(mt::start_in_parallel(
                              [] { for (int i = 0; i < 5; ++i) mt::yield(); throw std::runtime_error("late"); },
                              [] { throw std::runtime_error("early"); }),
                          "early");
    });
}

TEST_CASE("scope: wait returns when every child has ended") {
    in_engine([] {
        int done = 0;
        mt::scope s;
        for (int i = 0; i < 10; ++i) s.spawn([&done, i] {
            for (int k = 0; k < i; ++k) mt::yield();
            ++done;
        });
        CHECK(s.running() == 10);
        s.wait();
        CHECK(done == 10);
        CHECK(s.running() == 0);
    });
}

TEST_CASE("scope: the destructor waits for the children") {
    in_engine([] {
        int done = 0;
        {
            mt::scope s;
            s.spawn([&] { mt::yield(); ++done; });
            s.spawn([&] { ++done; });
        }
        CHECK(done == 2);
    });
}

TEST_CASE("scope: the first failure aborts the rest and wait rethrows it") {
    in_engine([] {
        bool other_finished = false;
        mt::scope s;
        s.spawn([&] {
            for (int i = 0; i < 100; ++i) mt::yield();
            other_finished = true;
        });
        s.spawn([] { throw std::runtime_error("child failed"); });
        CHECK_THROWS_WITH(s.wait(), "child failed");
        CHECK_FALSE(other_finished);
    });
}

TEST_CASE("scope: a failure not collected by wait is thrown by the destructor") {
    in_engine([] {
        auto body = [] {
            mt::scope s;
            s.spawn([] { throw std::runtime_error("from the destructor"); });
        };
        CHECK_THROWS_WITH(body(), "from the destructor");
    });
}

TEST_CASE("scope: left by an exception, it aborts its children and joins them") {
    in_engine([] {
        int cleaned = 0;
        struct guard {
            int& n;
            ~guard() { ++n; }
        };
        auto body = [&] {
            mt::scope s;
            s.spawn([&] { guard g{cleaned}; for (;;) mt::yield(); });
            s.spawn([&] { guard g{cleaned}; for (;;) mt::yield(); });
            mt::yield();
            throw std::runtime_error("owner failed");
        };
        CHECK_THROWS_WITH(body(), "owner failed");
        CHECK(cleaned == 2);
    });
}

TEST_CASE("scope: an aborted owner aborts and joins its children") {
    in_engine([] {
        int cleaned = 0;
        struct guard {
            int& n;
            ~guard() { ++n; }
        };
        auto owner = mt::spawn([&] {
            mt::scope s;
            s.spawn([&] { guard g{cleaned}; for (;;) mt::yield(); });
            s.wait();
        });
        mt::yield();
        mt::yield();
        owner.abort();
        CHECK_THROWS_AS(owner.wait(), mt::micro_thread_aborted);
        CHECK(cleaned == 1);
    });
}

TEST_CASE("scope: a child ending by MicroThreadExit is not a failure") {
    in_engine([] {
        mt::scope s;
        s.spawn([] { throw mt::MicroThreadExit{}; });
        s.spawn([] {});
        s.wait();
    });
}
