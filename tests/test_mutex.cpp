// mt::mutex and mt::recursive_mutex: FIFO handoff, deadlines, abort safety,
// lock cycles caught when they close, misuse, dump and deadlock chains.
#include <doctest/doctest.h>

#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/microthreading.hpp"
#include "pipes/micro_pipe.hpp"
#include "tests/alloc_counter.hpp"
#include "tests/child_process.hpp"
#include "tests/engine_fixture.hpp"

using namespace std::chrono_literals;
using mt_test::in_engine;

namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::uint64_t my_id() { return mt::current().id; }

// spin — a micro-thread that keeps running (yielding) until told to stop:
// the engine is never idle while it runs.
struct spinner {
    bool stop = false;
    long turns = 0;
    mt::micro_thread<void> h;
    spinner() {
        h = mt::spawn(mt::spawn_options{"spinner"}, [this] {
            while (!stop) {
                ++turns;
                mt::yield();
            }
        });
    }
    void finish() {
        stop = true;
        h.wait();
    }
};

}  // namespace

// ---- locking and the handoff ---------------------------------------------------------

TEST_CASE("an uncontended lock makes the caller the holder and unlock frees the mutex") {
    in_engine([] {
        mt::mutex m("accounts");
        CHECK(m.name() == "accounts");
        CHECK_FALSE(m.locked());
        CHECK_FALSE(m.holder().has_value());
        m.lock();
        CHECK(m.locked());
        REQUIRE(m.holder().has_value());
        CHECK(m.holder()->id == my_id());
        CHECK(m.holder()->name == "main");
        m.unlock();
        CHECK_FALSE(m.locked());
        {
            std::lock_guard g(m);
            CHECK(m.locked());
        }
        CHECK_FALSE(m.locked());
    });
}

TEST_CASE("lock suspends only the micro-thread while another holds the mutex") {
    in_engine([] {
        mt::mutex m("m");
        std::vector<std::string> log;
        m.lock();
        auto w = mt::spawn(mt::spawn_options{"waiter"}, [&] {
            log.push_back("waiter locks");
            std::lock_guard g(m);
            log.push_back("waiter holds");
        });
        auto other = mt::spawn([&] { log.push_back("other runs"); });
        mt::yield();
        CHECK(w.state() == mt::state::waiting);
        log.push_back("main unlocks");
        m.unlock();
        CHECK(m.holder()->id == w.id());  // handed over before the waiter even runs
        w.wait();
        other.wait();
        CHECK(log == std::vector<std::string>{"waiter locks", "other runs", "main unlocks", "waiter holds"});
        CHECK_FALSE(m.locked());
    });
}

TEST_CASE("waiters get the mutex in the order they arrived") {
    in_engine([] {
        mt::mutex m("fifo");
        std::vector<int> order;
        m.lock();
        std::vector<mt::micro_thread<void>> hs;
        for (int i = 0; i < 8; ++i)
            hs.push_back(mt::spawn([&, i] {
                std::lock_guard g(m);
                order.push_back(i);
                mt::yield();  // hold it across a switch: the others stay queued
            }));
        mt::yield();
        m.unlock();
        for (auto& h : hs) h.wait();
        CHECK(order == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7});
    });
}

TEST_CASE("a releasing micro-thread that locks again at once queues behind the waiters") {
    in_engine([] {
        mt::mutex m("no barging");
        std::vector<std::string> order;
        m.lock();
        auto a = mt::spawn([&] {
            std::lock_guard g(m);
            order.push_back("a");
        });
        auto b = mt::spawn([&] {
            std::lock_guard g(m);
            order.push_back("b");
        });
        mt::yield();  // both wait now
        m.unlock();
        m.lock();  // queues behind a and b
        order.push_back("main");
        m.unlock();
        a.wait();
        b.wait();
        CHECK(order == std::vector<std::string>{"a", "b", "main"});
    });
}

TEST_CASE("std::unique_lock and std::scoped_lock work with micro-thread mutexes under contention") {
    in_engine([] {
        mt::mutex a("a"), b("b");
        int inside = 0, max_inside = 0, done = 0;
        std::vector<mt::micro_thread<void>> hs;
        for (int i = 0; i < 6; ++i)
            hs.push_back(mt::spawn([&, i] {
                for (int k = 0; k < 20; ++k) {
                    if (i % 2) {
                        std::scoped_lock g(a, b);
                        max_inside = std::max(max_inside, ++inside);
                        mt::yield();
                        --inside;
                    } else {
                        std::scoped_lock g(b, a);
                        max_inside = std::max(max_inside, ++inside);
                        mt::yield();
                        --inside;
                    }
                    std::unique_lock u(a, std::defer_lock);
                    CHECK(u.try_lock_for(1s));
                    ++done;
                }
            }));
        for (auto& h : hs) h.wait();
        CHECK(max_inside == 1);
        CHECK(done == 120);
        CHECK_FALSE(a.locked());
        CHECK_FALSE(b.locked());
    });
}

// ---- deadlines ------------------------------------------------------------------------

TEST_CASE("lock with a deadline throws timeout_error naming the mutex and its holder, and leaves it held") {
    in_engine([] {
        mt::mutex m("accounts");
        auto writer = mt::spawn(mt::spawn_options{"writer"}, [&] {
            std::lock_guard g(m);
            mt::sleep_d(200ms);
        });
        mt::yield();
        std::string what;
        try {
            m.lock(20ms);
            FAIL("no timeout");
        } catch (const mt::timeout_error& e) {
            what = e.what();
        }
        CHECK(contains(what, "mutex::lock in micro-thread #1 'main' timed out after 0.020 s waiting for mutex "
                             "'accounts', held by #2 'writer'"));
        CHECK(m.holder()->id == writer.id());
        writer.wait();
        CHECK_FALSE(m.locked());
    });
}

TEST_CASE("try_lock, try_lock_for and try_lock_until report a held mutex as false") {
    in_engine([] {
        mt::mutex m("m");
        auto holder = mt::spawn([&] {
            std::lock_guard g(m);
            mt::sleep_d(100ms);
        });
        mt::yield();
        CHECK_FALSE(m.try_lock());
        CHECK_FALSE(m.try_lock_for(0ms));  // a zero timeout polls
        CHECK_FALSE(m.try_lock_for(10ms));
        CHECK_FALSE(m.try_lock_until(std::chrono::steady_clock::now() + 10ms));
        CHECK_FALSE(m.try_lock_until(std::chrono::system_clock::now() + 10ms));
        CHECK(m.try_lock_for(5s));  // the holder lets go first
        m.unlock();
        holder.wait();
        CHECK(m.try_lock());
        m.unlock();
    });
}

TEST_CASE("a waiter that times out in the middle of the queue leaves the order of the others intact") {
    in_engine([] {
        mt::mutex m("m");
        std::vector<int> order;
        m.lock();
        auto a = mt::spawn([&] {
            std::lock_guard g(m);
            order.push_back(1);
        });
        auto b = mt::spawn([&] { CHECK_FALSE(m.try_lock_for(10ms)); });
        auto c = mt::spawn([&] {
            std::lock_guard g(m);
            order.push_back(3);
        });
        b.wait();
        m.check_invariants();
        m.unlock();
        a.wait();
        c.wait();
        CHECK(order == std::vector<int>{1, 3});
    });
}

// ---- aborts ----------------------------------------------------------------------------

TEST_CASE("an aborted waiter leaves the queue and the mutex passes to the next waiter") {
    in_engine([] {
        mt::mutex m("m");
        bool victim_got_it = false;
        m.lock();
        auto victim = mt::spawn([&] {
            std::lock_guard g(m);
            victim_got_it = true;
        });
        auto next = mt::spawn([&] { std::lock_guard g(m); });
        mt::yield();
        victim.abort();
        mt::yield();
        CHECK(victim.done());
        m.unlock();
        CHECK(m.holder()->id == next.id());
        next.wait();
        CHECK_FALSE(victim_got_it);
        CHECK_THROWS_AS(victim.wait(), mt::micro_thread_aborted);
        CHECK_FALSE(m.locked());
    });
}

TEST_CASE("a waiter handed the mutex and aborted before it ran keeps it and its guard releases it") {
    in_engine([] {
        mt::mutex m("m");
        bool entered = false, unwound = false;
        m.lock();
        auto w = mt::spawn(mt::spawn_options{"w"}, [&] {
            std::lock_guard g(m);  // returns holding it, despite the abort
            entered = true;
            struct note {
                bool& b;
                ~note() { b = true; }
            } n{unwound};
            mt::yield();  // the abort lands here; g unlocks while unwinding
            FAIL("the abort did not land");
        });
        auto after = mt::spawn(mt::spawn_options{"after"}, [&] { std::lock_guard g(m); });
        mt::yield();
        m.unlock();  // handoff to w, which has not run yet
        CHECK(m.holder()->id == w.id());
        w.abort();
        CHECK(m.holder()->id == w.id());  // kept: it was handed over before the abort
        CHECK_THROWS_AS(w.wait(), mt::micro_thread_aborted);
        CHECK(entered);
        CHECK(unwound);
        after.wait();
        CHECK_FALSE(m.locked());
    });
}

TEST_CASE("random aborts of many contending micro-threads leave the mutex free and the count consistent") {
    in_engine([] {
        mt::mutex m("counter");
        long counter = 0, sections = 0;
        bool overlap = false;
        int inside = 0;
        struct section {  // counts who is inside, also when an abort unwinds it
            int& inside;
            bool& overlap;
            section(int& i, bool& o) : inside(i), overlap(o) {
                if (++inside != 1) overlap = true;
            }
            ~section() { --inside; }
        };
        std::mt19937 rng(12345);
        std::vector<mt::micro_thread<void>> hs;
        for (int i = 0; i < 40; ++i)
            hs.push_back(mt::spawn([&] {
                for (int k = 0; k < 50; ++k) {
                    std::lock_guard g(m);
                    section in(inside, overlap);
                    const long seen = counter;
                    mt::yield();  // an abort may land inside the critical section
                    counter = seen + 1;
                    ++sections;
                }
            }));
        for (int step = 0; step < 400; ++step) {
            if (rng() % 4 == 0) hs[rng() % hs.size()].abort();
            if (rng() % 7 == 0) {  // and some waits that time out
                if (m.try_lock_for(std::chrono::microseconds(rng() % 50))) {
                    { section in(inside, overlap); }
                    m.unlock();
                }
            }
            mt::yield();
            mt::engine::current()->check_invariants();
            m.check_invariants();
        }
        for (auto& h : hs) {
            try {
                h.wait();
            } catch (const mt::micro_thread_aborted&) {
            }
        }
        CHECK_FALSE(overlap);
        CHECK(counter == sections);  // an aborted section never wrote half an update
        CHECK_FALSE(m.locked());
        m.check_invariants();
    });
}

// ---- lock cycles -------------------------------------------------------------------------

TEST_CASE("a lock wait that closes a cycle of two raises deadlock_error at once while others run") {
    in_engine([] {
        spinner spin;
        mt::mutex m1("m1"), m2("m2");
        std::string what;
        auto a = mt::spawn(mt::spawn_options{"a"}, [&] {
            std::lock_guard g1(m1);
            mt::yield();
            std::lock_guard g2(m2);  // waits for b, which fails and lets go
        });
        auto b = mt::spawn(mt::spawn_options{"b"}, [&] {
            std::lock_guard g2(m2);
            mt::yield();
            mt::yield();
            try {
                std::lock_guard g1(m1);
                FAIL("no deadlock_error");
            } catch (const mt::deadlock_error& e) {
                what = e.what();
            }
        });
        a.wait();
        b.wait();
        CHECK(spin.turns > 0);
        CHECK_FALSE(spin.h.done());
        spin.finish();
        CHECK(what ==
              "mutex::lock in micro-thread #4 'b': deadlock: #4 'b' would wait for mutex 'm1' held by #3 'a', "
              "which waits for mutex 'm2' held by #4 'b'");
        CHECK_FALSE(m1.locked());
        CHECK_FALSE(m2.locked());
    });
}

TEST_CASE("a lock wait that closes a cycle of three names all three, and nothing is left linked") {
    in_engine([] {
        spinner spin;
        mt::mutex m1("m1"), m2("m2");
        mt::recursive_mutex m3("m3");
        std::string what;
        auto a = mt::spawn(mt::spawn_options{"a"}, [&] {
            std::lock_guard g(m1);
            mt::yield();
            std::lock_guard g2(m2);
        });
        auto b = mt::spawn(mt::spawn_options{"b"}, [&] {
            std::lock_guard g(m2);
            mt::yield();
            std::lock_guard g3(m3);
        });
        auto c = mt::spawn(mt::spawn_options{"c"}, [&] {
            std::lock_guard g(m3);
            std::lock_guard again(m3);  // recursion is not a cycle
            mt::yield();
            mt::yield();
            try {
                m1.lock(10s);
                FAIL("no deadlock_error");
            } catch (const mt::deadlock_error& e) {
                what = e.what();
            }
            mt::engine::current()->check_invariants();
            m1.check_invariants();
        });
        a.wait();
        b.wait();
        c.wait();
        spin.finish();
        CHECK(what ==
              "mutex::lock in micro-thread #5 'c': deadlock: #5 'c' would wait for mutex 'm1' held by #3 'a', "
              "which waits for mutex 'm2' held by #4 'b', which waits for recursive_mutex 'm3' held by #5 'c'");
        CHECK_FALSE(m1.locked());
        CHECK_FALSE(m3.locked());
    });
}

TEST_CASE("try_lock_for that would close a lock cycle returns false at once") {
    in_engine([] {
        mt::mutex m1("m1"), m2("m2");
        bool got = true;
        auto a = mt::spawn([&] {
            std::lock_guard g(m1);
            mt::yield();
            std::lock_guard g2(m2);
        });
        auto b = mt::spawn([&] {
            std::lock_guard g(m2);
            mt::yield();
            mt::yield();
            const auto t0 = std::chrono::steady_clock::now();
            got = m1.try_lock_for(30s);  // backs off: a gets m2
            CHECK(std::chrono::steady_clock::now() - t0 < 10s);
        });
        a.wait();
        b.wait();
        CHECK_FALSE(got);
    });
}

TEST_CASE("locking a mutex you already hold raises deadlock_error naming it, not a hang") {
    in_engine([] {
        mt::mutex m("m");
        std::lock_guard g(m);
        std::string what;
        try {
            m.lock();
        } catch (const mt::deadlock_error& e) {
            what = e.what();
        }
        CHECK(what ==
              "mutex::lock in micro-thread #1 'main': deadlock: #1 'main' would wait for mutex 'm' held by "
              "itself (a mutex is not recursive: the wait would never end)");
        CHECK_FALSE(m.try_lock());
        CHECK_FALSE(m.try_lock_for(1s));
        CHECK(m.holder()->id == my_id());
    });
}

TEST_CASE("a mutex deadlock that is not a lock cycle is reported by run() with the holder chain") {
    std::string report;
    try {
        mt::run([] {
            mt::mutex m("m");
            mt::micro_pipe<int> p("p");
            auto h = mt::spawn(mt::spawn_options{"h"}, [&] {
                std::lock_guard g(m);
                p.get();  // nobody ever puts
            });
            auto w = mt::spawn(mt::spawn_options{"w"}, [&] {
                mt::yield();
                std::lock_guard g(m);
            });
            w.wait();
            h.wait();
        });
        FAIL("no deadlock");
    } catch (const mt::deadlock_error& e) {
        report = e.what();
    }
    CHECK(contains(report, "#1 'main' waits to join #3 'w', which waits for mutex 'm', held by #2 'h', which "
                           "waits to get from pipe 'p'"));
}

TEST_CASE("a holder that joins its waiter is a deadlock through a join, reported by run() as a cycle") {
    std::string report;
    try {
        mt::run([] {
            mt::mutex m("m");
            std::lock_guard g(m);
            auto w = mt::spawn(mt::spawn_options{"w"}, [&] { std::lock_guard gw(m); });
            w.wait();  // not a lock wait: no deadlock_error at once
        });
        FAIL("no deadlock");
    } catch (const mt::deadlock_error& e) {
        report = e.what();
    }
    CHECK(contains(report, "#1 'main' waits to join #2 'w', which waits for mutex 'm', held by #1 'main' (a cycle)"));
}

// ---- recursive_mutex ----------------------------------------------------------------------

TEST_CASE("a recursive_mutex counts its holder's locks and is free after as many unlocks") {
    in_engine([] {
        mt::recursive_mutex r("tree");
        bool other_got = false;
        r.lock();
        CHECK(r.try_lock());
        CHECK(r.try_lock_for(1ms));
        CHECK(r.recursion() == 3);
        auto timer = mt::spawn([&] {
            CHECK_FALSE(r.try_lock());
            CHECK_FALSE(r.try_lock_for(5ms));
            CHECK_THROWS_AS(r.lock(5ms), mt::timeout_error);
        });
        timer.wait();
        auto other = mt::spawn([&] {
            std::lock_guard g(r);
            other_got = true;
        });
        mt::yield();
        CHECK(contains(mt::dump(), "holds recursive_mutex 'tree' (x3)"));
        r.unlock();
        r.unlock();
        mt::yield();
        CHECK_FALSE(other_got);
        CHECK(r.recursion() == 1);
        r.unlock();
        other.wait();
        CHECK(other_got);
        CHECK(r.recursion() == 0);
        CHECK_THROWS_AS(r.unlock(), mt::usage_error);
    });
}

// ---- misuse ---------------------------------------------------------------------------------

TEST_CASE("unlocking a mutex you do not hold is a usage_error naming both micro-threads and the mutex") {
    in_engine([] {
        mt::mutex m("m");
        std::string what;
        try {
            m.unlock();
        } catch (const mt::usage_error& e) {
            what = e.what();
        }
        CHECK(what == "mutex::unlock in micro-thread #1 'main' on mutex 'm', which is not locked");
        auto h = mt::spawn(mt::spawn_options{"h"}, [&] {
            std::lock_guard g(m);
            mt::yield();
        });
        mt::yield();
        try {
            m.unlock();
        } catch (const mt::usage_error& e) {
            what = e.what();
        }
        CHECK(what ==
              "mutex::unlock in micro-thread #1 'main' on mutex 'm', which is held by #2 'h' (only its holder "
              "may unlock it)");
        h.wait();
    });
}

TEST_CASE("a negative timeout is a usage_error, even on a free mutex") {
    in_engine([] {
        mt::mutex m("m");
        CHECK_THROWS_WITH_AS(m.lock(-1ms), "mutex::lock in micro-thread #1 'main': a negative timeout (use a zero timeout to poll)",
                             mt::usage_error);
        CHECK_THROWS_AS(m.try_lock_for(-1ms), mt::usage_error);
        CHECK_FALSE(m.locked());
    });
}

TEST_CASE("locking outside a micro-thread is a usage_error") {
    mt::engine e;
    mt::mutex m("m");
    CHECK_THROWS_WITH_AS(m.lock(),
                         "mutex::lock called outside a micro-thread (on the engine's root context), where it "
                         "would block the whole OS thread",
                         mt::usage_error);
    CHECK_THROWS_AS(m.try_lock(), mt::usage_error);
    CHECK_THROWS_AS(m.unlock(), mt::usage_error);
    mt::mutex no_engine_needed("free");  // making and destroying needs no engine
}

TEST_CASE("a mutex used after its engine ended or from another engine is a usage_error naming it") {
    mt::mutex m("shared");
    mt::run([&] {
        std::lock_guard g(m);
    });
    std::string what;
    mt::run([&] {
        try {
            m.lock();
        } catch (const mt::usage_error& e) {
            what = e.what();
        }
    });
    CHECK(contains(what, "mutex::lock in micro-thread #1 'main' on mutex 'shared', which belongs to"));
    mt::mutex local("local");
    std::string from_thread;
    mt::run([&] {
        std::lock_guard g(local);
        std::thread t([&] {
            mt::run([&] {
                try {
                    local.try_lock();
                } catch (const mt::usage_error& e) {
                    from_thread = e.what();
                }
            });
        });
        t.join();
    });
    CHECK(from_thread ==
          "mutex::try_lock in micro-thread #1 'main' on mutex 'local', which belongs to the engine of another OS thread");
}

TEST_CASE("destroying a mutex while micro-threads wait makes their lock throw a usage_error naming it") {
    in_engine([] {
        std::optional<mt::mutex> m;
        m.emplace("doomed");
        m->lock();
        std::string what;
        auto w = mt::spawn(mt::spawn_options{"w"}, [&] {
            try {
                m->lock();
                FAIL("locked a destroyed mutex");
            } catch (const mt::usage_error& e) {
                what = e.what();
            }
        });
        mt::yield();
        m.reset();  // locked, with a waiter: the destructor does not throw
        w.wait();
        CHECK(what == "mutex 'doomed' was destroyed while micro-thread #2 'w' waited to lock it (held by #1 'main')");
        CHECK_FALSE(contains(mt::dump(), "holds"));
    });
}

TEST_CASE("destroying a locked mutex nobody waits for is allowed: its holder just stops holding it") {
    in_engine([] {
        {
            mt::mutex m("local");
            mt::recursive_mutex r("local r");
            m.lock();
            r.lock();
            r.lock();
            CHECK(contains(mt::dump(), "holds recursive_mutex 'local r' (x2), mutex 'local'"));
        }
        CHECK_FALSE(contains(mt::dump(), "holds"));
        mt::engine::current()->check_invariants();
    });
}

TEST_CASE("a micro-thread that ends holding a mutex has it released and passed on, with a line on stderr") {
    auto out = mt_test::run_in_child([] {
        mt::run([] {
            mt::mutex m("forgotten");
            auto careless = mt::spawn(mt::spawn_options{"careless"}, [&] {
                m.lock();
                mt::yield();  // next queues for it
            });
            auto next = mt::spawn(mt::spawn_options{"next"}, [&] {
                std::lock_guard g(m);
                std::fprintf(stderr, "next got it\n");
            });
            careless.wait();
            next.wait();
            if (m.locked()) std::fprintf(stderr, "still locked\n");
        });
    });
    CHECK(out.exit_code == 0);
    CHECK(contains(out.err, "microthreading: micro-thread #2 'careless' ended holding mutex 'forgotten'; it was "
                            "unlocked and passed to #3 'next'\nnext got it\n"));
    CHECK_FALSE(contains(out.err, "still locked"));
}

// ---- cost and introspection ----------------------------------------------------------------------

TEST_CASE("lock, unlock and a contended handoff allocate nothing once warm") {
    in_engine([] {
        mt::mutex m("m");
        mt::recursive_mutex r("r");
        m.lock();
        m.unlock();
        r.lock();
        r.unlock();
        std::size_t before = mt_test::allocations();
        for (int i = 0; i < 1000; ++i) {
            m.lock();
            m.unlock();
            r.lock();
            r.lock();
            r.unlock();
            r.unlock();
        }
        CHECK(mt_test::allocations() - before == 0);
        m.lock();
        auto other = mt::spawn([&] {
            m.lock();
            for (int i = 0; i < 1000; ++i) {
                m.unlock();
                m.lock();
            }
            m.unlock();
        });
        mt::yield();
        before = mt_test::allocations();
        for (int i = 0; i < 1000; ++i) {
            m.unlock();
            m.lock();  // waits: the other holds it now
        }
        const std::size_t allocs = mt_test::allocations() - before;
        m.unlock();
        other.wait();
        CHECK(allocs == 0);
    });
}

TEST_CASE("the dump shows who holds a mutex and who waits for it") {
    in_engine([] {
        mt::mutex m("accounts");
        auto writer = mt::spawn(mt::spawn_options{"writer"}, [&] {
            std::lock_guard g(m);
            mt::sleep_d(50ms);
        });
        auto reader = mt::spawn(mt::spawn_options{"reader"}, [&] {
            std::lock_guard g(m);
        });
        mt::yield();
        const std::string d = mt::dump();
        CHECK(contains(d, "#2 'writer' waiting: waits in sleep_d"));
        CHECK(contains(d, "; holds mutex 'accounts'"));
        CHECK(contains(d, "#3 'reader' waiting: waits for mutex 'accounts', held by #2 'writer';"));
        writer.wait();
        reader.wait();
    });
}
