// Deadlock: nothing runnable, nothing can fire, micro-threads still wait.
#include <doctest/doctest.h>

#include <string>

#include "core/microthreading.hpp"
#include "tests/engine_fixture.hpp"

TEST_CASE("a join cycle raises deadlock_error naming the wait-for chain, after running every destructor") {
    int cleaned = 0;
    struct guard {
        int& n;
        ~guard() { ++n; }
    };
    std::string report;
    try {
        mt::run([&] {
            guard g{cleaned};
            mt::micro_thread<void> a, b;
            a = mt::spawn(mt::spawn_options{"a"}, [&] {
                guard ga{cleaned};
                mt::yield();
                b.wait();
            });
            b = mt::spawn(mt::spawn_options{"b"}, [&] {
                guard gb{cleaned};
                mt::yield();
                a.wait();
            });
            a.wait();
        });
        FAIL("no deadlock reported");
    } catch (const mt::deadlock_error& e) {
        report = e.what();
    }
    CHECK(cleaned == 3);
    CHECK(report.find("#1 'main' waits to join #2 'a', which waits to join #3 'b', which waits to join "
                      "#2 'a' (a cycle)") != std::string::npos);
}

TEST_CASE("waiting on a deferred nobody will fire is a deadlock, not a hang") {
    std::string report;
    try {
        mt::run([] {
            auto h = mt::spawn(mt::spawn_options{"stuck"}, [] {
                mt::this_deferred().arm();
                mt::this_deferred().wait();
            });
            h.wait();
        });
    } catch (const mt::deadlock_error& e) {
        report = e.what();
    }
    CHECK(report.find("#1 'main' waits to join #2 'stuck', which waits on its deferred") != std::string::npos);
}

TEST_CASE("a deadlock among helpers is reported even after main has ended") {
    CHECK_THROWS_AS(mt::run([] {
        mt::start_and_forget(mt::spawn_options{"orphan"}, [] {
            mt::this_deferred().arm();
            mt::this_deferred().wait();
        });
        return 0;
    }), mt::deadlock_error);
}

TEST_CASE("the engine stays usable after a deadlock: a new run works") {
    CHECK_THROWS_AS(mt::run([] {
        mt::this_deferred().arm();
        mt::this_deferred().wait();
    }), mt::deadlock_error);
    CHECK(mt::run([] { return 3; }) == 3);
}
