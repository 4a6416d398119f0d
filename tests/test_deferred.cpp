// The deferred: one per micro-thread, reused for every wait; the PEP's
// callback queue.
#include <doctest/doctest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <optional>
#include <thread>
#include <utility>

#include <stdexcept>
#include <string>
#include <vector>

#include "core/microthreading.hpp"
#include "notifier/notifier.hpp"
#include "pipes/micro_pipe.hpp"
#include "tests/alloc_counter.hpp"
#include "tests/child_process.hpp"
#include "tests/engine_fixture.hpp"

using mt_test::in_engine;

namespace {
void* as_ptr(long v) { return reinterpret_cast<void*>(v); }
long as_long(void* p) { return reinterpret_cast<long>(p); }
}  // namespace

TEST_CASE("wait returns the value given to callback by another micro-thread") {
    in_engine([] {
        mt::deferred& d = mt::this_deferred();
        d.arm();
        auto firer = mt::spawn([&d] { d.callback(as_ptr(99)); });
        CHECK(as_long(d.wait()) == 99);
        firer.wait();
    });
}

TEST_CASE("errback makes wait throw the exception") {
    in_engine([] {
        mt::deferred& d = mt::this_deferred();
        d.arm();
        auto firer = mt::spawn([&d] { d.errback(std::make_exception_ptr(std::runtime_error("bad news"))); });
        CHECK_THROWS_WITH_AS(d.wait(), "bad news", std::runtime_error);
        firer.wait();
    });
}

TEST_CASE("a deferred fired before wait returns at once: no lost wake-up") {
    in_engine([] {
        mt::deferred& d = mt::this_deferred();
        d.arm();
        d.callback(as_ptr(5));
        CHECK(d.fired());
        CHECK(as_long(d.wait()) == 5);
        CHECK_FALSE(d.fired());
    });
}

TEST_CASE("the deferred is reused: many waits in a row") {
    in_engine([] {
        mt::deferred& d = mt::this_deferred();
        for (long i = 0; i < 100; ++i) {
            d.arm();
            auto f = mt::spawn([&d, i] { d.callback(as_ptr(i)); });
            CHECK(as_long(d.wait()) == i);
            f.wait();
        }
    });
}

TEST_CASE("firing a deferred twice before a wait is a usage error naming its owner") {
    in_engine([] {
        mt::deferred& d = mt::this_deferred();
        d.arm();
        d.callback(nullptr);
        CHECK_THROWS_WITH_AS(d.callback(nullptr), doctest::Contains("'main': it fired twice before a wait"),
                             mt::usage_error);
        CHECK_THROWS_AS(d.errback(std::make_exception_ptr(std::runtime_error("x"))), mt::usage_error);
        d.wait();
    });
}

TEST_CASE("firing a deferred nobody armed is a usage error") {
    in_engine([] {
        CHECK_THROWS_WITH_AS(mt::this_deferred().callback(nullptr), doctest::Contains("nobody armed it"),
                             mt::usage_error);
    });
}

TEST_CASE("waiting on a deferred nobody armed is a usage error, not a hang") {
    in_engine([] {
        CHECK_THROWS_WITH_AS(mt::this_deferred().wait(), doctest::Contains("nothing armed it"), mt::usage_error);
    });
}

TEST_CASE("only the owner may wait on its deferred") {
    in_engine([] {
        mt::deferred& mine = mt::this_deferred();
        mine.arm();
        auto other = mt::spawn(mt::spawn_options{"intruder"}, [&mine] {
            CHECK_THROWS_WITH_AS(mine.wait(), doctest::Contains("'intruder' called wait() on the deferred"),
                                 mt::usage_error);
            mine.callback(nullptr);
        });
        mine.wait();
        other.wait();
    });
}

TEST_CASE("a deferred used from another OS thread is a usage error naming its owner; it stays armed") {
    in_engine([] {
        mt::deferred& d = mt::this_deferred();
        d.arm();
        std::string from_thread;
        std::thread([&] {
            try {
                d.callback(nullptr);
            } catch (const mt::usage_error& e) {
                from_thread = e.what();
            }
        }).join();
        CHECK(from_thread.find("callback() on the deferred of micro-thread #1") != std::string::npos);
        CHECK(from_thread.find("another OS thread") != std::string::npos);
        CHECK(d.armed());
        d.callback(reinterpret_cast<void*>(7));  // from its own engine: fine
        CHECK(d.wait() == reinterpret_cast<void*>(7));
    });
}

TEST_CASE("a deferred whose engine has ended is a usage error, not a crash") {
    auto out = mt_test::run_in_child([] {
        mt::micro_thread<void> kept;
        mt::run([&] { kept = mt::spawn(mt::spawn_options{"gone"}, [] {}); });
        for (const char* op : {"arm", "callback", "wait"}) {
            try {
                mt::deferred& d = kept.get_deferred();
                if (op[0] == 'a') d.arm();
                else if (op[0] == 'c') d.callback(nullptr);
                else d.wait();
                std::fprintf(stderr, "%s: no error\n", op);
            } catch (const mt::usage_error& e) {
                std::fprintf(stderr, "%s\n", e.what());
            }
        }
    });
    CHECK(out.signal == 0);
    CHECK(out.err.find("arm() on the deferred of micro-thread #2 'gone': its engine has ended") != std::string::npos);
    CHECK(out.err.find("callback() on the deferred of micro-thread #2 'gone': its engine has ended") != std::string::npos);
    CHECK(out.err.find("wait() on the deferred of micro-thread #2 'gone': its engine has ended") != std::string::npos);
}

TEST_CASE("abort while waiting raises MicroThreadExit from wait and cancels the registration") {
    in_engine([] {
        static int cancelled = 0;
        static const mt::detail::wait_kind kind{
            "test",
            [](const void*, std::string& out) { out += "for the test"; },
            [](const void*) -> mt::detail::control_block* { return nullptr; },
            [](void*, mt::detail::control_block&) { ++cancelled; },
        };
        bool raised = false;
        auto h = mt::spawn([&] {
            mt::deferred& d = mt::this_deferred();
            d.arm(kind, nullptr);
            try {
                d.wait();
            } catch (const mt::MicroThreadExit&) {
                raised = true;
                CHECK_FALSE(d.armed());
                throw;
            }
        });
        mt::yield();
        CHECK(h.state() == mt::state::waiting);
        CHECK(mt::dump().find("waits for the test") != std::string::npos);
        h.abort();
        CHECK_THROWS_AS(h.wait(), mt::micro_thread_aborted);
        CHECK(raised);
        CHECK(cancelled == 1);
    });
}

TEST_CASE("a value that fired before the abort is delivered; the abort lands at the next suspension") {
    in_engine([] {
        long got = 0;
        auto h = mt::spawn([&] {
            mt::deferred& d = mt::this_deferred();
            d.arm();
            got = as_long(d.wait());
            mt::yield();
            FAIL("not aborted");
        });
        mt::yield();
        h.get_deferred().callback(as_ptr(7));
        h.abort();
        CHECK_THROWS_AS(h.wait(), mt::micro_thread_aborted);
        CHECK(got == 7);
    });
}

// --- the PEP's callback queue ------------------------------------------------

namespace {

struct trace {
    std::vector<std::string> order;
    mt::deferred* d = nullptr;
};

struct step {
    const char* name;
    trace* t;
};

void* record(void* value, void* state) {
    auto* s = static_cast<step*>(state);
    s->t->order.push_back(std::string(s->name) + "(" + std::to_string(as_long(value)) + ")");
    return as_ptr(as_long(value) + 1);
}

}  // namespace

TEST_CASE("callback queue: A calls B calls C calls D, D defers; D', C', B', A' run in that order") {
    in_engine([] {
        trace t;
        mt::deferred& d = mt::this_deferred();
        step dp{"D'", &t}, cp{"C'", &t}, bp{"B'", &t}, ap{"A'", &t};
        // D defers, then each function pushes its continuation as it returns.
        d.arm();
        d.push("D'", record, &dp);
        d.push("C'", record, &cp);
        d.push("B'", record, &bp);
        d.push("A'", record, &ap);
        auto firer = mt::spawn([&d] { d.callback(as_ptr(10)); });
        CHECK(as_long(d.wait()) == 14);
        CHECK(t.order == std::vector<std::string>{"D'(10)", "C'(11)", "B'(12)", "A'(13)"});
        firer.wait();
    });
}

namespace {

struct redeferral {
    trace* t;
    step e_prime;
    step c_second;
    bool deferred_again = false;
};

// C' defers again: it calls E, which re-arms the deferred; as they return,
// E pushes E' and C' pushes C''.
void* c_prime(void* value, void* state) {
    auto* r = static_cast<redeferral*>(state);
    r->t->order.push_back("C'(" + std::to_string(as_long(value)) + ")");
    r->t->d->arm();                                // E defers
    r->t->d->push("E'", record, &r->e_prime);      // E returns
    r->t->d->push("C''", record, &r->c_second);    // C' returns
    r->deferred_again = true;
    return nullptr;
}

}  // namespace

TEST_CASE("callback queue: C' deferring again gives [E', C'', B', A']") {
    in_engine([] {
        trace t;
        mt::deferred& d = mt::this_deferred();
        t.d = &d;
        step dp{"D'", &t}, bp{"B'", &t}, ap{"A'", &t};
        redeferral r{&t, {"E'", &t}, {"C''", &t}};
        d.arm();
        d.push("D'", record, &dp);
        d.push("C'", c_prime, &r);
        d.push("B'", record, &bp);
        d.push("A'", record, &ap);
        auto firer = mt::spawn([&] {
            d.callback(as_ptr(1));
            while (!r.deferred_again) mt::yield();
            d.callback(as_ptr(100));  // the second deferral completes
        });
        CHECK(as_long(d.wait()) == 104);
        CHECK(t.order ==
              std::vector<std::string>{"D'(1)", "C'(2)", "E'(100)", "C''(101)", "B'(102)", "A'(103)"});
        firer.wait();
    });
}

TEST_CASE("callback queue: a callback that throws discards the rest and wait throws it") {
    in_engine([] {
        trace t;
        mt::deferred& d = mt::this_deferred();
        step a{"A'", &t};
        d.arm();
        d.push("thrower", [](void*, void*) -> void* { throw std::domain_error("in callback"); }, nullptr);
        d.push("A'", record, &a);
        d.callback(nullptr);
        CHECK_THROWS_WITH_AS(d.wait(), "in callback", std::domain_error);
        CHECK(t.order.empty());
        CHECK(d.pending_callbacks() == 0);
        // the deferred is usable again
        d.arm();
        d.callback(as_ptr(3));
        CHECK(as_long(d.wait()) == 3);
    });
}

TEST_CASE("waiting, yielding and joining allocate nothing once warm") {
    in_engine([] {
        mt::deferred& d = mt::this_deferred();
        auto partner = mt::spawn([&d] {
            for (int i = 0; i < 1000; ++i) {
                d.callback(as_ptr(i));
                mt::yield();
            }
        });
        // warm up
        d.arm();
        d.wait();
        const std::size_t before = mt_test::allocations();
        for (int i = 1; i < 1000; ++i) {
            d.arm();
            CHECK(as_long(d.wait()) == i);
        }
        const std::size_t after = mt_test::allocations();
        CHECK(after - before == 0);
        partner.wait();
    });
}

// --- callbacks that suspend --------------------------------------------------------

namespace {
void* sleepy_plus_one(void* value, void*) {
    mt::sleep_d(std::chrono::milliseconds(1));  // an internal wait inside a callback
    mt::yield();
    return as_ptr(as_long(value) + 1);
}
void* times_ten(void* value, void*) { return as_ptr(as_long(value) * 10); }
}  // namespace

TEST_CASE("a callback that suspends delays the rest of the queue, which is fed its result") {
    in_engine([] {
        mt::deferred& d = mt::this_deferred();
        d.arm();
        d.push("B'", sleepy_plus_one, nullptr);  // B' sleeps, then returns value + 1
        d.push("A'", times_ten, nullptr);        // A' expects B''s result
        auto firer = mt::spawn([&d] { d.callback(as_ptr(4)); });
        CHECK(as_long(d.wait()) == 50);
        firer.wait();
    });
}

TEST_CASE("a callback that calls wait() on its own deferred is a usage error") {
    in_engine([] {
        static mt::deferred* dp;
        dp = &mt::this_deferred();
        dp->arm();
        dp->push("nested", [](void*, void*) -> void* { return dp->wait(); }, nullptr);
        dp->callback(nullptr);
        CHECK_THROWS_WITH_AS(dp->wait(), doctest::Contains("called from one of its own callbacks"), mt::usage_error);
    });
}

// --- the user's fires and the engine's internal waits ------------------------------

TEST_CASE("a user's fire during a join is kept for the owner's next wait and does not end the join") {
    in_engine([] {
        bool child_done = false;
        auto owner = mt::spawn([&] {
            mt::deferred& d = mt::this_deferred();
            d.arm();
            auto child = mt::spawn([&] {
                mt::sleep_d(std::chrono::milliseconds(20));
                child_done = true;
            });
            child.wait();          // the fire below arrives during this join
            CHECK(child_done);     // the join ended by the child's end, not by the fire
            return as_long(d.wait());  // the kept fire: at once
        });
        mt::sleep_d(std::chrono::milliseconds(5));
        REQUIRE(owner.state() == mt::state::waiting);
        owner.get_deferred().callback(as_ptr(77));
        CHECK(owner.wait() == 77);
    });
}

TEST_CASE("a user's fire at a micro-thread in an internal wait is kept even when it never armed its deferred") {
    in_engine([] {
        auto owner = mt::spawn([] {
            mt::sleep_d(std::chrono::milliseconds(10));  // the fire arrives during this sleep
            return as_long(mt::this_deferred().wait());
        });
        mt::yield();
        owner.get_deferred().callback(as_ptr(5));
        CHECK_THROWS_WITH_AS(owner.get_deferred().callback(as_ptr(6)), doctest::Contains("fired twice before a wait"),
                             mt::usage_error);
        CHECK(owner.wait() == 5);
    });
}

TEST_CASE("a user's fire during a pipe get neither ends the get with a false end-of-stream nor loses the next put") {
    in_engine([] {
        mt::micro_pipe<int> p("data");
        auto reader = mt::spawn([&] {
            std::optional<int> v = p.get();     // the fire below arrives during this get
            const long kept = as_long(mt::this_deferred().wait());
            return std::pair<std::optional<int>, long>(v, kept);
        });
        mt::yield();
        REQUIRE(reader.state() == mt::state::waiting);
        reader.get_deferred().callback(as_ptr(9));
        mt::yield();
        CHECK(reader.state() == mt::state::waiting);  // still waiting for a value
        p.put(123);
        auto [v, kept] = reader.wait();
        CHECK(v == 123);
        CHECK(kept == 9);
    });
}

// Found by the stress test (tests/stress/): a sleeper whose deadline had
// passed but which had not run yet refused the fire as "nobody armed it".
TEST_CASE("a user's fire at a micro-thread woken from an internal wait but not yet resumed is kept, as during the wait") {
    in_engine([] {
        mt::micro_pipe<int> p("closing");
        auto reader = mt::spawn([&] {
            const bool eos = !p.get().has_value();  // woken by the close below; the fire arrives before it resumes
            return std::pair<bool, long>(eos, as_long(mt::this_deferred().wait()));
        });
        mt::yield();
        REQUIRE(reader.state() == mt::state::waiting);
        p.close();
        REQUIRE(reader.state() == mt::state::runnable);
        reader.get_deferred().callback(as_ptr(11));
        auto [eos, kept] = reader.wait();
        CHECK(eos);
        CHECK(kept == 11);
    });
}

TEST_CASE("a user's fire during an fd wait does not end the wait; the fd's readiness does") {
    in_engine([] {
        int sp[2];
        REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sp) == 0);
        auto reader = mt::spawn([&] {
            mt::wait_readable(sp[0]);
            char c = 0;
            CHECK(::read(sp[0], &c, 1) == 1);
            return as_long(mt::this_deferred().wait()) + c;
        });
        mt::yield();
        reader.get_deferred().callback(as_ptr(1000));
        mt::sleep_d(std::chrono::milliseconds(2));
        CHECK(reader.state() == mt::state::waiting);
        CHECK(::write(sp[1], "\x05", 1) == 1);
        CHECK(reader.wait() == 1005);
        mt::close_fd(sp[0]);
        mt::close_fd(sp[1]);
    });
}

TEST_CASE("wait with a deadline on a deferred nobody fires times out and leaves it armed for a later fire") {
    in_engine([] {
        mt::deferred& d = mt::this_deferred();
        d.arm();
        CHECK_THROWS_WITH_AS(d.wait(std::chrono::milliseconds(5)), doctest::Contains("timed out after 0.005 s waiting on its deferred"),
                             mt::timeout_error);
        CHECK(d.armed());
        auto firer = mt::spawn([&d] { d.callback(as_ptr(8)); });
        CHECK(as_long(d.wait(std::chrono::seconds(5))) == 8);
        firer.wait();
    });
}
