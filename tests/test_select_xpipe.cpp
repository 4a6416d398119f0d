// select over micro_pipes and thread-safe xpipes together: readiness and
// the random choice, waits that another engine or a plain OS thread ends,
// exactly one case under concurrent puts, timeouts, aborts, closing, and
// the wake-up a withdrawn case passes on. Every test name holds "select over
// xpipes" so test.sh runs them under ThreadSanitizer too.
#include <doctest/doctest.h>

#include <chrono>
#include <deque>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/microthreading.hpp"
#include "pipes/micro_pipe.hpp"
#include "pipes/select.hpp"
#include "pipes/xpipe.hpp"
#include "tests/alloc_counter.hpp"
#include "tests/engine_fixture.hpp"

using namespace std::chrono_literals;
using mt_test::in_engine;

TEST_CASE("select over xpipes: among ready cases of both kinds each is chosen, uniformly, without allocating") {
    in_engine([] {
        mt::micro_pipe<int> a("a");
        mt::xpipe<int> x("x");
        constexpr int rounds = 3000;
        int chose[2] = {0, 0};
        std::size_t allocs = 0;
        for (int i = 0; i < rounds; ++i) {
            int one = 1, two = 2;
            a.try_put(one);  // false when the slot is still full
            x.try_put(two);
            std::optional<int> va, vx;
            const std::size_t before = mt_test::allocations();
            const std::size_t k = mt::select(mt::on_get(a, va), mt::on_get(x, vx));
            allocs += mt_test::allocations() - before;
            REQUIRE(k < 2);
            ++chose[k];
            CHECK(int(va.has_value()) + int(vx.has_value()) == 1);  // exactly one happened
            CHECK((k == 0 ? va : vx) == (k == 0 ? 1 : 2));
        }
        CHECK(allocs == 0);
        // A fair coin: each side far from 0 and from `rounds` (5 sigma is about 140).
        CHECK(chose[0] > rounds / 2 - 300);
        CHECK(chose[1] > rounds / 2 - 300);

        // put cases of both kinds, ready at once
        std::string s = "s", t = "t";
        mt::micro_pipe<std::string> pa("pa");
        mt::xpipe<std::string> px("px");
        const std::size_t k = mt::select(mt::on_put(pa, s), mt::on_put(px, t));
        if (k == 0) {
            CHECK(s.empty());
            CHECK(t == "t");  // moved only if its case happens
            CHECK(pa.try_get() == "s");
        } else {
            CHECK(s == "s");
            CHECK(t.empty());
            CHECK(px.try_get() == "t");
        }
        a.try_get();
    });
}

TEST_CASE("select over xpipes: a waiting select is woken by a put from a plain OS thread") {
    in_engine([] {
        mt::micro_pipe<int> a("a");
        mt::xpipe<int> x("b");
        std::optional<int> va, vx;
        auto sel = mt::spawn([&] { return mt::select(mt::on_get(a, va), mt::on_get(x, vx)); });
        mt::yield();
        CHECK(mt::dump().find("in select on 2 pipe operations (get from pipe 'a', get from xpipe 'b')") !=
              std::string::npos);
        std::thread t([&] {
            std::this_thread::sleep_for(2ms);
            x.put(42);
        });
        CHECK(sel.wait() == 1);
        t.join();
        CHECK(vx == 42);
        CHECK_FALSE(va.has_value());
        a.put(1);  // no stale case of the select takes it
        CHECK(a.get() == 1);
    });
}

TEST_CASE("select over xpipes: a value from another of the group's engines ends a mixed select") {
    mt::engine_group g({.threads = 2});
    g.run([] {
        mt::micro_pipe<int> a("a");
        mt::xpipe<int> x("x"), room("room");
        room.put(0);  // full: a put case waits
        auto other = mt::spawn_on(1, [x]() mutable {
            mt::sleep_d(2ms);
            x.put(7);
        });
        std::optional<int> va, vx;
        int r = 9;
        CHECK(mt::select(mt::on_get(a, va), mt::on_put(room, r), mt::on_get(x, vx)) == 2);
        CHECK(vx == 7);
        CHECK(r == 9);
        other.wait();
        // and a put case that waits for room another engine makes
        auto taker = mt::spawn_on(1, [room]() mutable {
            mt::sleep_d(2ms);
            return room.get();
        });
        CHECK(mt::select(mt::on_get(a, va), mt::on_put(room, r)) == 1);
        CHECK(taker.wait() == 0);
        CHECK(room.try_get() == 9);
    });
}

TEST_CASE("select over xpipes: under a storm of puts from two OS threads exactly one case happens, no value lost or doubled") {
    constexpr int n = 20000, local_n = 5000;
    mt::xpipe<int> x1("x1", 4), x2("x2", 2);
    std::thread p1([&] {
        for (int i = 0; i < n; ++i) x1.put(i);
        x1.close();
    });
    std::thread p2([&] {
        for (int i = 0; i < n; ++i) x2.put(100000 + i);
        x2.close();
    });
    std::vector<int> seen(300000, 0);
    in_engine([&] {
        mt::micro_pipe<int> a("a");
        auto local = mt::spawn([a]() mutable {
            for (int i = 0; i < local_n; ++i) a.put(200000 + i);
            a.close();
        });
        auto consume = [&] {
            bool open[3] = {true, true, true};
            int took = 0;
            while (open[0] || open[1] || open[2]) {
                std::optional<int> v1, v2, va;
                const std::size_t k = mt::select(mt::on_get(x1, v1, open[0]), mt::on_get(x2, v2, open[1]),
                                                 mt::on_get(a, va, open[2]));
                CHECK(int(v1.has_value()) + int(v2.has_value()) + int(va.has_value()) <= 1);
                const std::optional<int>& v = k == 0 ? v1 : k == 1 ? v2 : va;
                if (!v) {
                    open[k] = false;  // end-of-stream
                    continue;
                }
                ++seen[static_cast<std::size_t>(*v)];
                ++took;
            }
            return took;
        };
        auto c1 = mt::spawn(consume);
        auto c2 = mt::spawn(consume);
        const int took = c1.wait() + c2.wait();
        local.wait();
        CHECK(took == 2 * n + local_n);
    });
    p1.join();
    p2.join();
    int missing = 0, doubled = 0;
    for (int i = 0; i < n; ++i) {
        missing += seen[i] == 0;
        doubled += seen[i] > 1;
        missing += seen[100000 + i] == 0;
        doubled += seen[100000 + i] > 1;
    }
    for (int i = 0; i < local_n; ++i) {
        missing += seen[200000 + i] == 0;
        doubled += seen[200000 + i] > 1;
    }
    CHECK(missing == 0);
    CHECK(doubled == 0);
}

TEST_CASE("select over xpipes: a timeout returns nullopt, withdraws every case and keeps the put's value") {
    in_engine([] {
        mt::micro_pipe<int> a("a");
        mt::xpipe<int> x("x"), full("full");
        full.put(1);
        std::optional<int> va, vx;
        int v = 5;
        CHECK_FALSE(mt::select(10ms, mt::on_get(a, va), mt::on_get(x, vx), mt::on_put(full, v)).has_value());
        CHECK_FALSE(mt::select(0ms, mt::on_get(x, vx), mt::on_put(full, v)).has_value());  // a poll
        CHECK(v == 5);
        std::thread t([&] { x.put(2); });  // no stale case takes it, and nothing waits there
        t.join();
        CHECK(x.get() == 2);
        CHECK(full.get() == 1);
        CHECK_THROWS_WITH_AS(mt::select(-1ms, mt::on_get(x, vx)), doctest::Contains("select"), mt::usage_error);
    });
}

TEST_CASE("select over xpipes: an aborted select takes no value, and a wake-up it got goes to the next getter") {
    in_engine([] {
        mt::xpipe<int> x("x");
        mt::micro_pipe<int> a("a");
        std::optional<int> va, vx;
        auto sel = mt::spawn([&] { mt::select(mt::on_get(a, va), mt::on_get(x, vx)); });
        mt::yield();
        auto next = mt::spawn([&] { return x.get(); });  // queued behind the select
        mt::yield();
        // The put wakes the select (first in the queue) through its engine's
        // mailbox; the abort comes before the engine drains it.
        std::thread t([&] { x.put(7); });
        t.join();
        sel.abort();
        CHECK_THROWS_AS(sel.wait(), mt::micro_thread_aborted);
        CHECK_FALSE(vx.has_value());
        CHECK(next.wait() == 7);

        // aborted while nothing woke it: a later value is the next getter's
        auto sel2 = mt::spawn([&] { mt::select(mt::on_get(a, va), mt::on_get(x, vx)); });
        mt::yield();
        sel2.abort();
        CHECK_THROWS_AS(sel2.wait(), mt::micro_thread_aborted);
        std::thread t2([&] { x.put(8); });
        t2.join();
        CHECK(x.get() == 8);
        CHECK_FALSE(vx.has_value());
    });
}

TEST_CASE("select over xpipes: a put case on a closed xpipe raises MicroThreadExit and keeps the value") {
    in_engine([] {
        mt::xpipe<std::string> x("x"), full("full");
        mt::micro_pipe<int> a("a");
        x.close();
        auto putter = mt::spawn([&] {
            std::string s = "kept";
            std::optional<int> va;
            try {
                mt::select(mt::on_get(a, va), mt::on_put(x, s));
            } catch (const mt::MicroThreadExit&) {
                CHECK(s == "kept");
                throw;
            }
        });
        CHECK_THROWS_AS(putter.wait(), mt::micro_thread_aborted);
        // closed by another OS thread while the case waits
        full.put("first");
        auto waiter = mt::spawn([&] {
            std::string s = "second";
            std::optional<int> va;
            mt::select(mt::on_get(a, va), mt::on_put(full, s));
        });
        mt::yield();
        std::thread t([&] { full.close(); });
        t.join();
        CHECK_THROWS_AS(waiter.wait(), mt::micro_thread_aborted);
        CHECK(full.get() == "first");
    });
}

TEST_CASE("select over xpipes: a get case sees end-of-stream, or rethrows the close error, also when closed by another OS thread") {
    in_engine([] {
        mt::micro_pipe<int> a("a");
        mt::xpipe<int> x("x", 2);
        std::optional<int> va, vx = 3;
        x.put(1);
        x.close();
        CHECK(mt::select(mt::on_get(a, va), mt::on_get(x, vx)) == 1);
        CHECK(vx == 1);  // what is left first
        CHECK(mt::select(mt::on_get(a, va), mt::on_get(x, vx)) == 1);
        CHECK_FALSE(vx.has_value());

        mt::xpipe<int> e("e");
        e.close_with(std::make_exception_ptr(std::runtime_error("upstream broke")));
        CHECK_THROWS_WITH_AS(mt::select(mt::on_get(a, va), mt::on_get(e, vx)), "upstream broke", std::runtime_error);

        mt::xpipe<int> y("y"), z("z");
        auto sel = mt::spawn([&] {
            std::optional<int> vy = 4;
            const std::size_t k = mt::select(mt::on_get(a, va), mt::on_get(y, vy));
            CHECK_FALSE(vy.has_value());
            return k;
        });
        auto sel_err = mt::spawn([&] {
            std::optional<int> vz;
            return mt::select(mt::on_get(a, va), mt::on_get(z, vz));
        });
        mt::yield();
        std::thread t([&] {
            y.close();
            z.close_with(std::make_exception_ptr(std::runtime_error("z broke")));
        });
        t.join();
        CHECK(sel.wait() == 1);
        CHECK_THROWS_WITH_AS(sel_err.wait(), "z broke", std::runtime_error);
    });
}

TEST_CASE("select over xpipes: a wake-up a select withdraws from goes to the other selecting micro-thread") {
    in_engine([] {
        mt::xpipe<int> x("x");
        mt::micro_pipe<int> a("a");
        std::optional<int> va, vx1, vx2;
        auto s1 = mt::spawn([&] { return mt::select(mt::on_get(a, va), mt::on_get(x, vx1)); });
        mt::yield();
        auto s2 = mt::spawn([&] { return mt::select(mt::on_get(x, vx2)); });
        mt::yield();
        // x's put wakes s1 (first in x's queue); before its engine drains
        // the wake-up, a's put completes s1 by its local case: the wake-up
        // s1 got from x must reach s2.
        std::thread t([&] { x.put(7); });
        t.join();
        a.put(1);
        CHECK(s1.wait() == 0);
        CHECK(va == 1);
        CHECK_FALSE(vx1.has_value());
        CHECK(s2.wait() == 0);
        CHECK(vx2 == 7);

        // two selects on one xpipe, one value each time: each value to one of them
        std::optional<int> w1, w2;
        auto t1 = mt::spawn([&] { return mt::select(mt::on_get(x, w1)); });
        auto t2 = mt::spawn([&] { return mt::select(mt::on_get(x, w2)); });
        mt::yield();
        std::thread p([&] { x.put(1); });
        p.join();
        while (!w1 && !w2) mt::sleep_d(1ms);
        CHECK(int(w1.has_value()) + int(w2.has_value()) == 1);
        std::thread p2([&] { x.put(2); });
        p2.join();
        t1.wait();
        t2.wait();
        CHECK(w1.has_value());
        CHECK(w2.has_value());
        CHECK(*w1 + *w2 == 3);
    });
}

TEST_CASE("select over xpipes: disabled cases and empty handles are never chosen") {
    in_engine([] {
        mt::xpipe<int> x("x"), moved("moved");
        auto keep = std::move(moved);
        x.put(1);
        keep.put(2);
        std::optional<int> vx, vm;
        int v = 3;
        CHECK_FALSE(mt::select(5ms, mt::on_get(x, vx, false), mt::on_get(moved, vm), mt::on_put(moved, v)).has_value());
        CHECK_FALSE(vx.has_value());
        CHECK(x.get() == 1);
        CHECK(keep.get() == 2);
        std::vector<mt::select_case> cases;  // a run-time list
        cases.push_back(mt::on_get(x, vx));
        cases.push_back(mt::on_get(keep, vm));
        std::thread t([&] { keep.put(5); });
        CHECK(mt::select(cases) == 1);
        t.join();
        CHECK(vm == 5);
    });
}

TEST_CASE("select over xpipes: on a plain OS thread it is a usage error naming select") {
    mt::xpipe<int> x("x");
    std::optional<int> v;
    std::thread t([&] {
        CHECK_THROWS_WITH_AS(mt::select(mt::on_get(x, v)), doctest::Contains("select"), mt::usage_error);
    });
    t.join();
}

TEST_CASE("select over xpipes: a run-time list of more than 64 cases, woken from another OS thread") {
    in_engine([] {
        constexpr std::size_t n = 70;
        std::vector<mt::xpipe<int>> pipes;
        std::vector<mt::micro_pipe<int>> locals;
        for (std::size_t i = 0; i < n; ++i) {
            pipes.emplace_back("x" + std::to_string(i));
            locals.emplace_back("a" + std::to_string(i));
        }
        std::vector<std::optional<int>> got(2 * n);
        std::vector<mt::select_case> cases;
        for (std::size_t i = 0; i < n; ++i) {
            cases.push_back(mt::on_get(locals[i], got[2 * i]));
            cases.push_back(mt::on_get(pipes[i], got[2 * i + 1]));
        }
        pipes[67].put(67);  // ready at once
        CHECK(mt::select(cases) == 2 * 67 + 1);
        CHECK(got[2 * 67 + 1] == 67);
        std::thread t([&] {
            std::this_thread::sleep_for(2ms);
            pipes[66].put(66);
        });
        CHECK(mt::select(cases) == 2 * 66 + 1);  // waits
        t.join();
        CHECK(got[2 * 66 + 1] == 66);
    });
}

TEST_CASE("select over xpipes: a relay that selects between a get and a put, each side a plain OS thread, keeps every value in order") {
    constexpr int n = 20000;
    mt::xpipe<int> in("in", 2), out("out", 2);
    std::thread producer([&] {
        for (int i = 0; i < n; ++i) in.put(i);
        in.close();
    });
    std::vector<int> received;
    std::thread consumer([&] {
        while (auto v = out.get()) received.push_back(*v);
    });
    in_engine([&] {
        std::deque<int> pending;
        bool in_open = true;
        while (in_open || !pending.empty()) {
            std::optional<int> got;
            int next = pending.empty() ? -1 : pending.front();
            const std::size_t k =
                mt::select(mt::on_get(in, got, in_open && pending.size() < 8), mt::on_put(out, next, !pending.empty()));
            if (k == 0) {
                if (got) pending.push_back(*got);
                else in_open = false;
            } else {
                pending.pop_front();
            }
        }
        out.close();
    });
    producer.join();
    consumer.join();
    REQUIRE(received.size() == std::size_t(n));
    bool in_order = true;
    for (int i = 0; i < n; ++i) in_order = in_order && received[std::size_t(i)] == i;
    CHECK(in_order);
}
