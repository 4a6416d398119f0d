// mt::shield: an aborted micro-thread finishes its cleanup waits inside a
// shielded region, bounded by the shield's deadline; outside one, every
// suspension of an aborted micro-thread raises MicroThreadExit again.
#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <optional>
#include <string>

#include "core/microthreading.hpp"
#include "pipes/micro_pipe.hpp"
#include "tests/child_process.hpp"
#include "tests/engine_fixture.hpp"

using namespace std::chrono_literals;
using mt_test::in_engine;

namespace {

// A RAII guard that puts a final value on its way out, as a pipeline stage
// announcing its end would.
struct final_put {
    mt::micro_pipe<int>& out;
    bool& done;
    ~final_put() {
        mt::shield s(1s);
        try {
            out.put(-1);
            done = true;
        } catch (const mt::timeout_error&) {
        }
    }
};

}  // namespace

TEST_CASE("a destructor that puts a final value while unwinding from an abort completes inside a shield") {
    in_engine([] {
        mt::micro_pipe<int> out("final");
        out.put(0);  // full: the final put must wait for the reader
        bool done = false;
        auto worker = mt::spawn([&] {
            final_put guard{out, done};
            mt::sleep_d(10s);
        });
        mt::yield();
        worker.abort();
        mt::yield();
        CHECK(worker.state() == mt::state::waiting);  // in its shielded put
        CHECK(mt::dump().find("(shielded)") != std::string::npos);
        CHECK(out.get() == 0);
        CHECK_THROWS_AS(worker.wait(), mt::micro_thread_aborted);
        CHECK(done);
        CHECK(out.get() == -1);
    });
}

TEST_CASE("an abort does not interrupt a shielded wait; it lands at the first suspension after the shield") {
    in_engine([] {
        bool slept = false, reached_after = false;
        auto h = mt::spawn([&] {
            {
                mt::shield s(5s);
                mt::sleep_d(20ms);
                slept = true;
                mt::yield();  // still shielded: no raise
            }
            reached_after = true;
            mt::yield();  // raises MicroThreadExit here
            FAIL("not aborted");
        });
        mt::yield();
        h.abort();
        CHECK_THROWS_AS(h.wait(), mt::micro_thread_aborted);
        CHECK(slept);
        CHECK(reached_after);
    });
}

TEST_CASE("a shielded cleanup wait that reaches the shield's deadline raises timeout_error naming the shield") {
    in_engine([] {
        std::string what;
        auto h = mt::spawn([&] {
            try {
                mt::sleep_d(10s);
            } catch (const mt::MicroThreadExit&) {
                mt::shield s(20ms);
                mt::micro_pipe<int> never("never");
                try {
                    never.get();
                } catch (const mt::timeout_error& e) {
                    what = e.what();
                }
                throw;
            }
        });
        mt::yield();
        h.abort();
        CHECK_THROWS_AS(h.wait(), mt::micro_thread_aborted);
        CHECK(what.find("timed out after 0.020 s waiting to get from pipe 'never' (the deadline of its shield)") !=
              std::string::npos);
    });
}

TEST_CASE("outside a shield a suspension during abort unwinding raises MicroThreadExit again") {
    in_engine([] {
        int raised_again = 0;
        auto h = mt::spawn([&] {
            try {
                mt::sleep_d(10s);
            } catch (const mt::MicroThreadExit&) {
                try {
                    mt::yield();
                } catch (const mt::MicroThreadExit&) {
                    ++raised_again;
                }
                throw;
            }
        });
        mt::yield();
        h.abort();
        CHECK_THROWS_AS(h.wait(), mt::micro_thread_aborted);
        CHECK(raised_again == 1);
    });
}

TEST_CASE("nested shields: the inner one cannot extend the outer one's deadline") {
    in_engine([] {
        std::string what;
        auto h = mt::spawn([&] {
            mt::shield outer(10ms);
            mt::shield inner(10s);
            try {
                mt::sleep_until(mt::deadline{});  // no deadline of its own
            } catch (const mt::timeout_error& e) {
                what = e.what();
            }
        });
        h.wait();
        CHECK(what.find("(the deadline of its shield)") != std::string::npos);
    });
}

TEST_CASE("a shield with a negative timeout is a usage error") {
    in_engine([] { CHECK_THROWS_AS(mt::shield(-1ms), mt::usage_error); });
}

TEST_CASE("a destructor that suspends while unwinding from an abort, outside a shield, ends the program saying why") {
    auto out = mt_test::run_in_child([] {
        mt::run([] {
            struct waits_in_destructor {
                ~waits_in_destructor() { mt::sleep_d(1ms); }  // no shield: MicroThreadExit leaves a noexcept destructor
            };
            auto h = mt::spawn(mt::spawn_options{"careless"}, [] {
                waits_in_destructor w;
                mt::sleep_d(10s);
            });
            mt::yield();
            h.abort();
            mt::sleep_d(1s);
        });
    });
    CHECK(out.signal == SIGABRT);
    CHECK(out.err.find("micro-thread #2 'careless' suspended while unwinding from its abort") != std::string::npos);
    CHECK(out.err.find("mt::shield") != std::string::npos);
}

TEST_CASE("a shield destroyed by another micro-thread stops the program naming who did it; a leaked one ends with its micro-thread") {
    // Both were assertions only: without them the destroyer lowered the
    // opener's shield count (or freed memory's), and a micro-thread that
    // ended inside a shield stopped a checked build.
    auto leaked = mt_test::run_in_child([] {
        mt::run([] {
            mt::spawn(mt::spawn_options{"leaker"}, [] { new mt::shield(1s); }).wait();  // never deleted
            std::fputs("the leaker ended\n", stderr);
        });
    });
    CHECK(leaked.signal == 0);
    CHECK(leaked.err.find("the leaker ended") != std::string::npos);

    auto foreign = mt_test::run_in_child([] {
        mt::run([] {
            mt::shield* s = nullptr;
            auto opener = mt::spawn(mt::spawn_options{"opener"}, [&] {
                s = new mt::shield(1s);
                mt::sleep_d(10ms);
            });
            mt::yield();
            delete s;  // by main
            opener.wait();
        });
    });
    CHECK(foreign.signal == SIGABRT);
    CHECK(foreign.err.find("an mt::shield was destroyed by micro-thread #1 'main', not by the micro-thread that opened it") !=
          std::string::npos);
}
