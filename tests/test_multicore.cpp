// engines on many OS threads: engine groups, xpipes between engines and
// plain OS threads, spawn_on / join / abort across engines, parallel_map,
// and the misuses that must be named errors. Every test name holds
// "engines" so test.sh runs them under ThreadSanitizer too.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <numeric>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/detail/mailbox.hpp"
#include "core/group_dump.hpp"
#include "core/microthreading.hpp"
#include "pipes/micro_pipe.hpp"
#include "pipes/xpipe.hpp"
#include "tests/engine_fixture.hpp"

using namespace std::chrono_literals;
using mt_test::in_engine;

TEST_CASE("engines: a group runs main on engine 0 and returns its result") {
    mt::engine_group g({.threads = 2});
    CHECK(g.size() == 2);
    const int r = g.run([] {
        CHECK(mt::this_engine_index() == 0);
        CHECK(mt::group_engines() == 2);
        return 42;
    });
    CHECK(r == 42);
}

TEST_CASE("engines: the default size is the available cores, at least one") {
    const std::size_t n = mt::default_engine_count();
    CHECK(n >= 1);
    CHECK(n <= std::thread::hardware_concurrency());
    mt::engine_group g;
    CHECK(g.size() == n);
}

TEST_CASE("engines: a group of 0 or 10,000 engines is a named usage error") {
    CHECK_THROWS_WITH_AS(mt::engine_group({.threads = 0}), doctest::Contains("1 to 1024"), mt::usage_error);
    CHECK_THROWS_WITH_AS(mt::engine_group({.threads = 10000}), doctest::Contains("10000 engines"), mt::usage_error);
}

TEST_CASE("engines: spawn_on runs on the other engine's OS thread and the result crosses back") {
    mt::engine_group g({.threads = 2, .pin = true});
    g.run([] {
        const auto here = std::this_thread::get_id();
        auto h = mt::spawn_on(1, [] { return std::make_pair(mt::this_engine_index(), std::this_thread::get_id()); });
        auto [index, id] = h.wait();
        CHECK(index == 1);
        CHECK(id != here);
        CHECK(h.done());
        CHECK(h.engine_index() == 1);
    });
}

TEST_CASE("engines: an exception crosses back to the joiner, who may catch it") {
    mt::engine_group g({.threads = 2});
    const int r = g.run([] {
        auto h = mt::spawn_on(1, []() -> int { throw std::runtime_error("bad input 7"); });
        CHECK_THROWS_WITH_AS(h.wait(), "bad input 7", std::runtime_error);
        return 1;
    });
    CHECK(r == 1);
}

TEST_CASE("engines: main's exception is the group's failure, after everything ended") {
    mt::engine_group g({.threads = 2});
    std::atomic<bool> other_ended{false};
    CHECK_THROWS_WITH_AS(g.run([&] {
        auto h = mt::spawn_on(1, [&] {
            struct mark {
                std::atomic<bool>& f;
                ~mark() { f = true; }
            } m{other_ended};
            mt::sleep_d(60s);  // aborted by the failure
        });
        mt::sleep_d(10ms);
        throw std::logic_error("main failed");
    }),
                         "main failed", std::logic_error);
    CHECK(other_ended);
}

TEST_CASE("engines: an unjoined failure on another engine fails the group") {
    mt::engine_group g({.threads = 2});
    CHECK_THROWS_WITH_AS(g.run([] { (void)mt::spawn_on(1, [] { throw std::runtime_error("lost"); }); }), "lost",
                         std::runtime_error);
}

TEST_CASE("engines: abort crosses over: the remote micro-thread unwinds, its joiner gets micro_thread_aborted") {
    mt::engine_group g({.threads = 2});
    g.run([] {
        std::atomic<bool> unwound{false};
        auto h = mt::spawn_on(1, [&] {
            struct mark {
                std::atomic<bool>& f;
                ~mark() { f = true; }
            } m{unwound};
            mt::sleep_d(60s);
        });
        mt::sleep_d(5ms);
        h.abort();
        CHECK_THROWS_AS(h.wait(), mt::micro_thread_aborted);
        CHECK(unwound);
        h.abort();  // ended: nothing
    });
}

TEST_CASE("engines: a join from another engine can time out, and joins later") {
    mt::engine_group g({.threads = 2});
    g.run([] {
        mt::xpipe<int> go("go");
        auto h = mt::spawn_on(1, [go]() mutable { return *go.get() + 1; });
        CHECK_THROWS_WITH_AS(h.wait(10ms), doctest::Contains("to join micro-thread"), mt::timeout_error);
        go.put(41);
        CHECK(h.wait() == 42);
    });
}

TEST_CASE("engines: on_every runs once on each engine") {
    mt::engine_group g({.threads = 3});
    g.run([] {
        auto hs = mt::on_every([](std::size_t i) { return i * 10 + mt::this_engine_index(); });
        auto rs = mt::join_all(hs);
        CHECK(rs == std::vector<std::size_t>{0, 11, 22});
    });
}

TEST_CASE("engines: spawn_on_least_loaded picks the engine with the fewest group micro-threads") {
    mt::engine_group g({.threads = 3});
    g.run([] {
        mt::xpipe<int> hold("hold");
        auto busy1 = mt::spawn_on(1, [hold]() mutable { (void)hold.get(); });
        auto busy0 = mt::spawn_on(0, [hold]() mutable { (void)hold.get(); });
        auto h = mt::spawn_on_least_loaded([] { return mt::this_engine_index(); });
        CHECK(h.wait() == 2);
        hold.close();
        busy0.wait();
        busy1.wait();
    });
}

TEST_CASE("engines: parallel_map returns the results in order") {
    mt::engine_group g({.threads = 2});
    g.run([] {
        std::vector<int> in(1000);
        std::iota(in.begin(), in.end(), 0);
        auto out = mt::parallel_map(in, [](int x) { return x * x; });
        REQUIRE(out.size() == 1000);
        for (int i = 0; i < 1000; ++i) CHECK(out[i] == i * i);
        CHECK(mt::parallel_map(std::vector<int>{}, [](int x) { return x; }).empty());
        CHECK(mt::parallel_map(std::vector<int>{5}, [](int x) { return x; }) == std::vector<int>{5});
    });
}

TEST_CASE("engines: parallel_map's first failure aborts the rest and is rethrown") {
    mt::engine_group g({.threads = 2});
    g.run([] {
        std::vector<int> in{1, 2, 3, 4};
        CHECK_THROWS_WITH_AS(mt::parallel_map(in,
                                              [](int x) {
                                                  if (x == 1) throw std::runtime_error("item 1");
                                                  mt::sleep_d(60s);
                                                  return x;
                                              }),
                             "item 1", std::runtime_error);
    });
}

TEST_CASE("engines: spawn_on outside a group, or to an engine that does not exist, is a usage error") {
    CHECK_THROWS_WITH_AS(mt::spawn_on(0, [] {}), doctest::Contains("outside an engine group"), mt::usage_error);
    mt::engine_group g({.threads = 2});
    g.run([] { CHECK_THROWS_WITH_AS(mt::spawn_on(2, [] {}), doctest::Contains("does not exist"), mt::usage_error); });
}

TEST_CASE("engines: a group's run from an OS thread that runs an engine is a usage error") {
    in_engine([] {
        mt::engine_group g({.threads = 1});
        CHECK_THROWS_WITH_AS(g.run([] {}), doctest::Contains("runs an engine"), mt::usage_error);
    });
}

TEST_CASE("engines: a micro_pipe or a micro-thread handle used from another engine is a named usage error") {
    mt::engine_group g({.threads = 2});
    g.run([] {
        mt::micro_pipe<int> local("local");
        local.put(1);  // binds it to engine 0
        mt::xpipe<int> gate("gate");
        auto child = mt::spawn([gate]() mutable { (void)gate.get(); });  // its block stays put meanwhile
        auto h = mt::spawn_on(1, [&] {
            CHECK_THROWS_WITH_AS((void)local.get(), doctest::Contains("another OS thread"), mt::usage_error);
            CHECK_THROWS_WITH_AS(child.wait(), doctest::Contains("another OS thread"), mt::usage_error);
        });
        h.wait();
        gate.close();
        child.wait();
        CHECK(local.get() == 1);
    });
}

TEST_CASE("engines: an xpipe streams values in order between two engines") {
    mt::engine_group g({.threads = 2});
    g.run([] {
        for (std::size_t cap : {std::size_t(1), std::size_t(64)}) {
            mt::xpipe<std::unique_ptr<int>> p("stream", cap);
            auto producer = mt::spawn_on(1, [p]() mutable {
                for (int i = 0; i < 20000; ++i) p.put(std::make_unique<int>(i));
                p.close();
            });
            int expect = 0;
            while (auto v = p.get()) CHECK_EQ(**v, expect++);
            CHECK(expect == 20000);
            producer.wait();
        }
    });
}

TEST_CASE("engines: xpipe between a micro-thread and a plain OS thread, both ways") {
    mt::xpipe<int> to_engine("to engine", 4), from_engine("from engine", 2);
    std::thread writer([&] {
        for (int i = 0; i < 5000; ++i) to_engine.put(i);
        to_engine.close();
    });
    long sum = 0;
    std::thread reader([&] {
        while (auto v = from_engine.get()) sum += *v;
    });
    in_engine([&] {
        while (auto v = to_engine.get()) from_engine.put(*v);
        from_engine.close();
    });
    writer.join();
    reader.join();
    CHECK(sum == 5000L * 4999 / 2);
}

TEST_CASE("engines: xpipe close, close with an error, put after close, timeouts") {
    mt::xpipe<int> p("p", 2);
    p.put(1);
    p.close_with(std::make_exception_ptr(std::runtime_error("upstream broke")));
    CHECK(p.get() == 1);  // what is left first
    CHECK_THROWS_WITH_AS(p.get(), "upstream broke", std::runtime_error);
    CHECK_THROWS_WITH_AS(p.get(), "upstream broke", std::runtime_error);
    CHECK_THROWS_AS(p.put(2), mt::MicroThreadExit);
    mt::xpipe<int> q("q");
    CHECK_THROWS_WITH_AS(q.get(5ms), doctest::Contains("to get from xpipe 'q'"), mt::timeout_error);
    q.close();
    CHECK_FALSE(q.get().has_value());
    CHECK_THROWS_WITH_AS(mt::xpipe<int>("zero", 0), doctest::Contains("capacity 0"), mt::usage_error);
    mt::xpipe<int> moved("m");
    auto other = std::move(moved);
    CHECK_THROWS_WITH_AS(moved.put(1), doctest::Contains("empty"), mt::usage_error);
}

TEST_CASE("engines: an xpipe waiter that times out or is aborted loses no value and no wake-up") {
    in_engine([] {
        mt::xpipe<int> p("p");
        auto a = mt::spawn([&] { return p.get(); });
        auto b = mt::spawn([&] { return p.get(); });
        mt::yield();
        a.abort();  // its wait is withdrawn
        CHECK_THROWS_AS(a.wait(), mt::micro_thread_aborted);
        std::thread t([&] { p.put(7); });
        CHECK(b.wait() == 7);
        t.join();
        CHECK_THROWS_WITH_AS(p.get(1ms), doctest::Contains("timed out"), mt::timeout_error);
        CHECK_THROWS_WITH_AS(p.put(1, -1ms), doctest::Contains("negative"), mt::usage_error);
        std::string d;
        auto c = mt::spawn([&] { return p.put(2); });  // slot empty: stores at once
        c.wait();
        auto w = mt::spawn([&] { p.put(3); });  // full: waits
        mt::yield();
        CHECK(mt::dump().find("to put to xpipe 'p'") != std::string::npos);
        CHECK(p.get() == 2);
        w.wait();
        CHECK(p.get() == 3);
    });
}

TEST_CASE("engines: an xpipe that would wait on an engine's root context is a usage error") {
    mt::engine e;
    mt::xpipe<int> p("p");
    p.put(1);  // room: no wait
    CHECK_THROWS_WITH_AS(p.put(2), doctest::Contains("outside a micro-thread"), mt::usage_error);
    CHECK(p.get() == 1);
    CHECK_THROWS_WITH_AS(p.get(), doctest::Contains("outside a micro-thread"), mt::usage_error);
}

TEST_CASE("engines: many producers on both engines and a plain thread fan in to one xpipe") {
    mt::xpipe<int> p("fan-in", 8);
    std::atomic<long> got{0};
    std::thread plain([&] {
        for (int i = 0; i < 1000; ++i) p.put(1);
    });
    mt::engine_group g({.threads = 2});
    g.run([&] {
        std::vector<mt::remote_thread<void>> hs;
        for (int k = 0; k < 4; ++k)
            hs.push_back(mt::spawn_on(k % 2, [p]() mutable {
                for (int i = 0; i < 1000; ++i) p.put(1);
            }));
        auto reader = mt::spawn_on(1, [&, p]() mutable {
            while (auto v = p.get()) got += *v;
        });
        mt::join_all(hs);
        while (got.load() < 4000) mt::sleep_d(1ms);
        plain.join();
        p.close();
        reader.wait();
    });
    CHECK(got == 5000);
}

TEST_CASE("engines: the group's dump lists the micro-threads of every engine and what they wait for") {
    mt::engine_group g({.threads = 2});
    g.run([] {
        mt::xpipe<int> gate("gate");
        auto parked = mt::spawn_on(1, "parked", [gate]() mutable { (void)gate.get(); });
        std::string d;
        for (int tries = 0; tries < 1000 && d.find("waits to get from xpipe 'gate'") == std::string::npos; ++tries) {
            d = mt::group_dump();
            if (d.find("waits to get from xpipe 'gate'") == std::string::npos) mt::sleep_d(1ms);
        }
        CHECK(d.find("engine 0:") != std::string::npos);
        CHECK(d.find("engine 1:") != std::string::npos);
        CHECK(d.find("'parked'") != std::string::npos);
        CHECK(d.find("waits to get from xpipe 'gate'") != std::string::npos);
        CHECK(d.find("'group anchor'") != std::string::npos);
        gate.close();
        parked.wait();
    });
}

// ---- the mailbox's sleep protocol (core/detail/mailbox.hpp) ----------------------------

namespace {
// thread_cpu — CPU time of the calling OS thread so far.
std::chrono::nanoseconds thread_cpu() {
    timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}
}  // namespace

TEST_CASE("engines: a lone engine blocking in its notifier does not spin") {
    in_engine([] {
        mt::detail::mailbox& box = mt::engine::current()->mailbox();
        const auto spins = box.spins();
        const auto cpu = thread_cpu();
        mt::sleep_d(200ms);
        // Blocked in epoll the whole time: a spin would burn the 200 ms.
        CHECK(thread_cpu() - cpu < 50ms);
        CHECK(box.spins() == spins);
    });
}

TEST_CASE("engines: an engine waiting on a slow peer engine spins a bounded time, then blocks") {
    mt::engine_group g({.threads = 2});
    g.run([] {
        mt::xpipe<int> p("slow");
        auto late = mt::spawn_on(1, [p]() mutable {
            mt::sleep_d(300ms);
            p.put(7);
        });
        mt::detail::mailbox& box = mt::engine::current()->mailbox();
        const auto spins = box.spins();
        const auto cpu = thread_cpu();
        CHECK(p.get() == 7);
        CHECK(thread_cpu() - cpu < 100ms);
        CHECK(box.spins() - spins <= 2);  // one spin before the one sleep (a spurious wake-up may add one)
        late.wait();
    });
}

TEST_CASE("engines: a mailbox loses no post between its engine's sleeps, spinning or not") {
    auto box = std::make_shared<mt::detail::mailbox>();
    box->set_awake(true);
    constexpr int n = 20000;
    std::thread poster([box] {
        for (int i = 0; i < n; ++i) {
            CHECK(box->post(static_cast<std::uint32_t>(i), 0, nullptr, nullptr));
            if (i % 97 == 0) std::this_thread::sleep_for(20us);
        }
    });
    std::vector<mt::detail::remote_post> batch;
    int got = 0, round = 0;
    while (got < n) {
        const auto spin = (++round % 2) ? std::chrono::nanoseconds(2us) : std::chrono::nanoseconds(0);
        if (box->begin_sleep(spin)) {
            const auto t0 = std::chrono::steady_clock::now();
            box->sleep_until(t0 + 10s);
            box->end_sleep(true);
            REQUIRE(std::chrono::steady_clock::now() - t0 < 5s);  // a lost post sleeps the 10 s
        }
        CHECK(box->state() == mt::detail::sleep_state::awake);
        box->drain(batch);
        for (const auto& p : batch) CHECK(p.slot == static_cast<std::uint32_t>(got++));
        batch.clear();
    }
    poster.join();
    box->set_awake(false);
    CHECK(box->close().empty());
}
