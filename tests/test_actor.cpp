// mt::actor<State>: results and exceptions back to the caller, arrival
// order, withdrawal of queued calls, the wait that a call being served
// cannot leave, stopping, aborts, self-calls, allocations, the dump and
// deadlock reports.
#include <doctest/doctest.h>

#include <chrono>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/actor.hpp"
#include "core/microthreading.hpp"
#include "core/queue.hpp"
#include "tests/alloc_counter.hpp"
#include "tests/engine_fixture.hpp"

using namespace std::chrono_literals;
using mt_test::in_engine;

namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

struct counter {
    int n = 0;
    std::vector<int> log;  // who was served, in order
};

}  // namespace

TEST_CASE("an actor's call returns fn's result, run on the actor's own micro-thread") {
    in_engine([] {
        mt::actor<counter> c("counter");
        std::uint64_t served_by = 0;
        const int n = c.call([&](counter& s) {
            served_by = mt::current().id;
            return ++s.n;
        });
        CHECK(n == 1);
        CHECK(served_by != mt::current().id);
        CHECK(c.call([](counter& s) { return s.n * 10; }) == 10);
        c.call([](counter& s) { s.n = 0; });  // void
        CHECK(c.call([](const counter& s) { return s.n; }) == 0);
        CHECK(c.name() == "counter");
    });
}

TEST_CASE("an actor is made from its state's constructor arguments and destroys the state on its own micro-thread") {
    in_engine([] {
        std::uint64_t destroyed_by = 0;
        struct state {
            std::string greeting;
            std::uint64_t* destroyed_by;
            state(std::string g, std::uint64_t* d) : greeting(std::move(g)), destroyed_by(d) {}
            ~state() { *destroyed_by = mt::current().id; }
        };
        std::uint64_t actor_id = 0;
        {
            mt::actor<state> a("greeter", "hello", &destroyed_by);
            CHECK(a.call([&](state& s) {
                actor_id = mt::current().id;
                return s.greeting;
            }) == "hello");
            a.stop();
            a.wait();
            CHECK(a.done());
        }
        CHECK(destroyed_by == actor_id);
    });
}

TEST_CASE("an exception thrown by fn goes back to its caller, and the actor serves on") {
    in_engine([] {
        mt::actor<counter> c("counter");
        CHECK_THROWS_WITH_AS(c.call([](counter&) -> int { throw std::out_of_range("no such key"); }), "no such key",
                             std::out_of_range);
        CHECK(c.call([](counter& s) { return ++s.n; }) == 1);
    });
}

TEST_CASE("calls are served one at a time in arrival order, even when fn suspends") {
    in_engine([] {
        mt::actor<counter> c("counter");
        int inside = 0, most_inside = 0;
        mt::scope s;
        for (int i = 0; i < 8; ++i) {
            s.spawn([&, i] {
                c.call([&, i](counter& st) {
                    most_inside = std::max(most_inside, ++inside);
                    mt::yield();  // the others are queued meanwhile
                    st.log.push_back(i);
                    --inside;
                });
            });
        }
        s.wait();
        CHECK(most_inside == 1);
        CHECK(c.call([](counter& st) { return st.log; }) == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7});
    });
}

TEST_CASE("many micro-threads calling an actor lose no update") {
    in_engine([] {
        mt::actor<std::map<int, int>> counts("counts");
        mt::scope s;
        for (int t = 0; t < 20; ++t) {
            s.spawn([&, t] {
                for (int i = 0; i < 50; ++i) {
                    counts.call([&](std::map<int, int>& m) { ++m[t % 5]; });
                    if (i % 7 == 0) mt::yield();
                }
            });
        }
        s.wait();
        const auto m = counts.call([](std::map<int, int>& x) { return x; });
        CHECK(m.size() == 5);
        for (auto& [k, v] : m) CHECK(v == 200);
    });
}

TEST_CASE("a call whose deadline passes while it is queued is withdrawn and never runs") {
    in_engine([] {
        mt::actor<counter> c("counter");
        mt::queue<int> gate(1, "gate");
        auto busy = mt::spawn([&] { c.call([&](counter&) { gate.get(); }); });  // holds the actor
        mt::yield();
        bool ran = false;
        CHECK_THROWS_WITH_AS(c.call([&](counter&) { ran = true; }, 10ms),
                             doctest::Contains("actor::call in micro-thread #1 'main' timed out after 0.010 s "
                                               "waiting for actor 'counter' to serve its call"),
                             mt::timeout_error);
        gate.put(1);
        busy.wait();
        c.call([](counter&) {});  // everything queued before it was served
        CHECK_FALSE(ran);
    });
}

TEST_CASE("an aborted caller whose call is queued has it withdrawn: it never runs") {
    in_engine([] {
        mt::actor<counter> c("counter");
        mt::queue<int> gate(1, "gate");
        auto busy = mt::spawn([&] { c.call([&](counter&) { gate.get(); }); });
        bool ran = false;
        auto caller = mt::spawn([&] { c.call([&](counter&) { ran = true; }); });
        mt::yield();
        caller.abort();
        CHECK_THROWS_AS(caller.wait(), mt::micro_thread_aborted);
        gate.put(1);
        busy.wait();
        c.call([](counter&) {});
        CHECK_FALSE(ran);
    });
}

TEST_CASE("an abort of a caller whose call is being served waits for the end of the call") {
    in_engine([] {
        mt::actor<counter> c("counter");
        mt::queue<int> gate(1, "gate");
        std::vector<std::string> log;
        auto caller = mt::spawn(mt::spawn_options{"caller"}, [&] {
            const int r = c.call([&](counter& s) {
                gate.get();  // suspends while being served
                log.push_back("served");
                return ++s.n;
            });
            log.push_back("call returned " + std::to_string(r));
            mt::yield();  // the abort lands here
            log.push_back("not reached");
        });
        mt::yield();
        mt::yield();
        CHECK(contains(mt::dump(), "'caller' waiting: waits for actor 'counter' to serve its call (being served)"));
        caller.abort();
        mt::yield();
        CHECK(caller.state() == mt::state::waiting);  // pinned: the abort did not end its wait
        gate.put(1);
        CHECK_THROWS_AS(caller.wait(), mt::micro_thread_aborted);
        CHECK(log == std::vector<std::string>{"served", "call returned 1"});
    });
}

TEST_CASE("a deadline no longer applies once the call is being served") {
    in_engine([] {
        mt::actor<counter> c("counter");
        const int r = c.call(
            [](counter& s) {
                mt::sleep_d(30ms);
                return ++s.n;
            },
            5ms);
        CHECK(r == 1);
    });
}

TEST_CASE("a stopped actor serves the calls already queued, then fails later calls with actor_stopped") {
    in_engine([] {
        auto c = std::make_unique<mt::actor<counter>>("counter");
        mt::queue<int> gate(1, "gate");
        std::vector<int> results;
        mt::scope s;
        s.spawn([&] { c->call([&](counter&) { gate.get(); }); });
        for (int i = 0; i < 3; ++i) s.spawn([&] { results.push_back(c->call([](counter& st) { return ++st.n; })); });
        mt::yield();
        c->stop();
        CHECK_FALSE(c->accepting());
        CHECK_THROWS_WITH_AS(c->call([](counter&) {}),
                             "actor::call in micro-thread #1 'main' on actor 'counter': the actor is stopping "
                             "(stop() was called) and takes no more calls",
                             mt::actor_stopped);
        gate.put(1);
        s.wait();
        CHECK(results == std::vector<int>{1, 2, 3});
        c->wait();
        CHECK(c->done());
        CHECK_THROWS_WITH_AS(c->call([](counter&) {}), doctest::Contains("the actor has stopped (stop() was called)"),
                             mt::actor_stopped);
        c.reset();
    });
}

TEST_CASE("destroying an actor stops it; the calls queued are still served") {
    in_engine([] {
        auto c = std::make_unique<mt::actor<counter>>("counter");
        mt::queue<int> gate(1, "gate");
        int served = 0;
        mt::scope s;
        s.spawn([&] { c->call([&](counter&) { gate.get(); ++served; }); });
        s.spawn([&] { c->call([&](counter&) { ++served; }); });
        mt::yield();
        c.reset();  // does not wait
        gate.put(1);
        s.wait();
        CHECK(served == 2);
    });
}

TEST_CASE("an actor whose micro-thread is aborted fails the call being served, the queued ones and later ones") {
    in_engine([] {
        mt::actor<counter> c("counter");
        mt::queue<int> gate(1, "gate");
        bool unwound = false;
        auto serving = mt::spawn(mt::spawn_options{"serving"}, [&] {
            c.call([&](counter&) {
                struct flag {
                    bool& f;
                    ~flag() { f = true; }
                } g{unwound};
                gate.get();
            });
        });
        auto queued = mt::spawn(mt::spawn_options{"queued"}, [&] { c.call([](counter&) {}); });
        mt::yield();
        mt::yield();
        REQUIRE(c.core().server() != nullptr);
        mt::engine::current()->abort(*c.core().server());
        CHECK_THROWS_WITH_AS(serving.wait(),
                             "call to actor 'counter' from micro-thread #3 'serving' failed: the actor's micro-thread "
                             "was aborted while serving it",
                             mt::actor_stopped);
        CHECK(unwound);
        CHECK_THROWS_WITH_AS(queued.wait(),
                             "call to actor 'counter' from micro-thread #4 'queued' failed: the actor's micro-thread "
                             "was aborted before serving it",
                             mt::actor_stopped);
        CHECK_THROWS_WITH_AS(c.call([](counter&) {}),
                             doctest::Contains("the actor has stopped (its micro-thread was aborted)"), mt::actor_stopped);
        c.wait();
        CHECK(c.done());
    });
}

TEST_CASE("MicroThreadExit raised inside a call ends the actor like an abort") {
    in_engine([] {
        mt::queue<int> gate(1, "gate");
        std::uint64_t server_id = 0;
        mt::actor<counter> c("counter");
        auto serving = mt::spawn(mt::spawn_options{"serving"}, [&] {
            c.call([&](counter&) {
                server_id = mt::current().id;
                mt::yield();  // 'queued' gets in line
                // The actor's micro-thread ends itself: as if aborted from outside.
                throw mt::MicroThreadExit{};
            });
        });
        auto queued = mt::spawn(mt::spawn_options{"queued"}, [&] { c.call([](counter&) {}); });
        CHECK_THROWS_WITH_AS(serving.wait(),
                             "call to actor 'counter' from micro-thread #3 'serving' failed: the actor's micro-thread "
                             "was aborted while serving it",
                             mt::actor_stopped);
        CHECK_THROWS_WITH_AS(queued.wait(),
                             "call to actor 'counter' from micro-thread #4 'queued' failed: the actor's micro-thread "
                             "was aborted before serving it",
                             mt::actor_stopped);
        CHECK_THROWS_WITH_AS(c.call([](counter&) {}), doctest::Contains("the actor has stopped (its micro-thread was aborted)"),
                             mt::actor_stopped);
        CHECK(server_id == 2);
        c.wait();
        CHECK(c.done());
    });
}

TEST_CASE("a call from inside the actor to itself is a usage error at once") {
    in_engine([] {
        mt::actor<counter> c("counter");
        std::string what;
        c.call([&](counter&) {
            try {
                c.call([](counter&) {});
            } catch (const mt::usage_error& e) {
                what = e.what();
            }
        });
        CHECK(contains(what, "actor::call in micro-thread #2 'counter' on actor 'counter': a call from the actor's own "
                             "micro-thread would wait for itself forever"));
        CHECK_THROWS_AS(c.call([&](counter&) { c.wait(); }), mt::usage_error);
    });
}

TEST_CASE("stop from inside a call ends the actor after the queue drains") {
    in_engine([] {
        mt::actor<counter> c("counter");
        c.call([&](counter&) { c.stop(); });
        c.wait(1s);
        CHECK(c.done());
    });
}

TEST_CASE("a call allocates nothing once warm") {
    in_engine([] {
        mt::actor<counter> c("counter");
        auto other = mt::spawn([&] {
            for (int i = 0; i < 100; ++i) c.call([](counter& s) { ++s.n; });
        });
        for (int i = 0; i < 100; ++i) c.call([](counter& s) { ++s.n; }, 1s);  // warms the timer heap too
        other.wait();
        const std::size_t before = mt_test::allocations();
        int sum = 0;
        for (int i = 0; i < 1000; ++i) sum += c.call([](counter& s) { return ++s.n; }, 1s);
        CHECK(mt_test::allocations() - before == 0);
        CHECK(sum > 0);
    });
}

TEST_CASE("the dump shows a call's place in line and an idle actor") {
    in_engine([] {
        mt::actor<counter> c("counter");
        mt::queue<int> gate(1, "gate");
        mt::scope s;
        s.spawn(mt::spawn_options{"first"}, [&] { c.call([&](counter&) { gate.get(); }); });
        s.spawn(mt::spawn_options{"second"}, [&] { c.call([](counter&) {}); });
        s.spawn(mt::spawn_options{"third"}, [&] { c.call([](counter&) {}); });
        s.spawn(mt::spawn_options{"fourth"}, [&] { c.call([](counter&) {}); });
        mt::yield();
        mt::yield();
        const std::string d = mt::dump();
        MESSAGE(d);
        CHECK(contains(d, "'first' waiting: waits for actor 'counter' to serve its call (being served)"));
        CHECK(contains(d, "'second' waiting: waits for actor 'counter' to serve its call (1st in line)"));
        CHECK(contains(d, "'fourth' waiting: waits for actor 'counter' to serve its call (3rd in line)"));
        CHECK(contains(d, "'counter' waiting: waits to get from queue 'gate' (0 of 1)"));
        gate.put(1);
        s.wait();
        CHECK(contains(mt::dump(), "'counter' waiting: waits for calls to actor 'counter'"));
    });
}

TEST_CASE("an actor joins the deadlock report: the caller waits behind the actor's micro-thread") {
    std::string report;
    try {
        mt::run([] {
            mt::queue<int> never(1, "never");
            mt::actor<counter> c("counter");
            c.call([&](counter&) { never.get(); });
        });
    } catch (const mt::deadlock_error& e) {
        report = e.what();
    }
    MESSAGE(report);
    CHECK(contains(report, "#1 'main' waits for actor 'counter' to serve its call (being served), whose micro-thread "
                           "#2 'counter' waits to get from queue 'never' (0 of 1)"));
}

TEST_CASE("an actor that is never stopped while its owner waits for it is reported as a deadlock") {
    std::string report;
    try {
        mt::run([] {
            mt::actor<counter> c("counter");
            c.wait();
        });
    } catch (const mt::deadlock_error& e) {
        report = e.what();
    }
    CHECK(contains(report, "#1 'main' waits for actor 'counter' to end, whose micro-thread #2 'counter' waits for "
                           "calls to actor 'counter'"));
}

TEST_CASE("an actor used from an engine after its own ended is a usage error") {
    std::unique_ptr<mt::actor<counter>> kept;
    in_engine([&] {
        kept = std::make_unique<mt::actor<counter>>("counter");
        kept->stop();
    });
    in_engine([&] {
        CHECK_THROWS_WITH_AS(kept->call([](counter&) {}),
                             doctest::Contains("actor::call in micro-thread #1 'main' on actor 'counter', which belongs to"),
                             mt::usage_error);
    });
    kept.reset();
}

TEST_CASE("an actor outside a micro-thread is a usage error") {
    mt::engine e;
    CHECK_THROWS_WITH_AS(mt::actor<counter>("counter"), doctest::Contains("outside a micro-thread"), mt::usage_error);
}

TEST_CASE("every call either ran once and returned, or was withdrawn and never ran: random timeouts and aborts") {
    std::mt19937 rng(99);
    long calls_total = 0;
    for (int round = 0; round < 300; ++round) {
        std::multiset<long> ran, returned, withdrawn;
        const int callers = 1 + static_cast<int>(rng() % 6);
        const int per_caller = 1 + static_cast<int>(rng() % 20);
        const unsigned seed = static_cast<unsigned>(rng());
        in_engine([&] {
            mt::actor<counter> c("counter");
            std::vector<mt::micro_thread<void>> hs;
            for (int i = 0; i < callers; ++i) {
                hs.push_back(mt::spawn([&, i] {
                    std::mt19937 r(seed + static_cast<unsigned>(i));
                    for (int k = 0; k < per_caller; ++k) {
                        const long id = i * 1000L + k;
                        const bool slow = r() % 3 == 0;
                        try {
                            const long got = c.call(
                                [&, id, slow](counter&) {
                                    ran.insert(id);
                                    if (slow) mt::sleep_d(std::chrono::microseconds(50));
                                    return id;
                                },
                                r() % 2 ? mt::deadline(std::chrono::microseconds(r() % 300)) : mt::deadline{});
                            CHECK(got == id);
                            returned.insert(id);
                        } catch (const mt::timeout_error&) {
                            withdrawn.insert(id);
                        } catch (const mt::MicroThreadExit&) {
                            // aborted: it returned before the abort landed, or was withdrawn
                            if (!returned.count(id)) withdrawn.insert(id);
                            throw;
                        }
                    }
                }));
            }
            std::mt19937 r(seed);
            for (int t = 0; t < static_cast<int>(r() % 8); ++t) mt::yield();
            if (r() % 2) hs[r() % hs.size()].abort();
            for (auto& h : hs) {
                try { h.wait(); } catch (const mt::micro_thread_aborted&) {}
                c.core().check_invariants();
            }
        });
        for (long id : returned) CHECK(ran.count(id) == 1);
        for (long id : withdrawn) CHECK(ran.count(id) == 0);
        for (long id : ran) CHECK(returned.count(id) == 1);
        calls_total += static_cast<long>(ran.size() + withdrawn.size());
    }
    MESSAGE(calls_total << " calls accounted for");
}
