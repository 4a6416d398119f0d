// micro_pipes: every row of the table of docs/reference/pipes.md, the death rules of the
// stdin/stdout attachment, generators by composition, pipeline, select.
#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/microthreading.hpp"
#include "notifier/notifier.hpp"
#include "pipes/boxed.hpp"
#include "pipes/micro_pipe.hpp"
#include "pipes/pipeline.hpp"
#include "pipes/select.hpp"
#include "tests/alloc_counter.hpp"
#include "tests/engine_fixture.hpp"

using namespace std::chrono_literals;
using mt_test::in_engine;

namespace {
struct guard {
    std::vector<std::string>& log;
    std::string what;
    ~guard() { log.push_back(what); }
};
}  // namespace

// ---- the table ----------------------------------------------------------------

TEST_CASE("put on an empty open pipe stores the value and returns at once") {
    in_engine([] {
        mt::micro_pipe<int> p("p");
        p.put(1);
        CHECK(p.state()->full());
        CHECK(p.get() == 1);
    });
}

TEST_CASE("put on an empty pipe wakes a waiting reader, which runs next") {
    in_engine([] {
        mt::micro_pipe<int> p;
        std::vector<std::string> order;
        auto reader = mt::spawn([&] {
            auto v = p.get();
            order.push_back("reader got " + std::to_string(*v));
        });
        auto bystander = mt::spawn([&] { order.push_back("bystander"); });
        mt::yield();  // reader waits; bystander ran
        order.clear();
        auto other = mt::spawn([&] { order.push_back("other"); });
        p.put(7);
        mt::yield();
        CHECK(order == std::vector<std::string>{"reader got 7", "other"});
        reader.wait();
        bystander.wait();
        other.wait();
    });
}

TEST_CASE("put on a full open pipe suspends until the reader takes the value") {
    in_engine([] {
        mt::micro_pipe<int> p;
        std::vector<std::string> log;
        auto writer = mt::spawn([&] {
            p.put(1);
            log.push_back("put 1");
            p.put(2);  // the slot is full: suspends
            log.push_back("put 2");
        });
        mt::yield();
        CHECK(log == std::vector<std::string>{"put 1"});
        CHECK(writer.state() == mt::state::waiting);
        CHECK(p.get() == 1);  // takes it and wakes the writer, whose value enters the slot
        CHECK(p.state()->full());
        writer.wait();
        CHECK(log == std::vector<std::string>{"put 1", "put 2"});
        CHECK(p.get() == 2);
    });
}

TEST_CASE("get on an empty open pipe suspends until a put") {
    in_engine([] {
        mt::micro_pipe<std::string> p;
        auto reader = mt::spawn([&] { return *p.get(); });
        mt::yield();
        CHECK(reader.state() == mt::state::waiting);
        p.put("late");
        CHECK(reader.wait() == "late");
    });
}

TEST_CASE("get on an empty open pipe suspends until a close, then sees end-of-stream") {
    in_engine([] {
        mt::micro_pipe<int> p;
        auto reader = mt::spawn([&] { return p.get().has_value(); });
        mt::yield();
        p.close();
        CHECK(reader.wait() == false);
    });
}

TEST_CASE("put after close raises MicroThreadExit in the writer, which ends silently with its destructors run") {
    std::vector<std::string> log;
    int reported = 0;
    in_engine([&] {
        mt::set_unhandled_exception_handler([&](const mt::micro_thread_info&, std::exception_ptr) { ++reported; });
        mt::micro_pipe<int> p;
        p.close();
        auto writer = mt::spawn([&] {
            guard g{log, "writer cleaned up"};
            p.put(1);
            log.push_back("not reached");
        });
        CHECK_THROWS_AS(writer.wait(), mt::micro_thread_aborted);
        mt::start_and_forget([&] { p.put(2); });  // detached: silent too
        mt::yield();
    });
    CHECK(log == std::vector<std::string>{"writer cleaned up"});
    CHECK(reported == 0);
}

TEST_CASE("put to a pipe closed with an error raises MicroThreadExit") {
    in_engine([] {
        mt::micro_pipe<int> p;
        p.close(std::make_exception_ptr(std::runtime_error("E")));
        auto writer = mt::spawn([&] { p.put(1); });
        CHECK_THROWS_AS(writer.wait(), mt::micro_thread_aborted);
    });
}

TEST_CASE("the MicroThreadExit of a put to a closed pipe names the pipe") {
    in_engine([] {
        mt::micro_pipe<int> p("numbers");
        p.close();
        std::string why;
        try {
            p.put(1);
        } catch (const mt::MicroThreadExit& e) {
            why = e.what();
        }
        CHECK(why == "MicroThreadExit: put to pipe 'numbers', which is closed");
        int v = 2;
        try {
            p.try_put(v);
        } catch (const mt::MicroThreadExit& e) {
            why = e.what();
        }
        CHECK(why == "MicroThreadExit: put to pipe 'numbers', which is closed");
    });
}

TEST_CASE("a writer woken by the reader's close gets a MicroThreadExit naming the pipe, even with every handle dropped") {
    in_engine([] {
        auto p = std::make_unique<mt::micro_pipe<int>>("short-lived");
        p->put(1);  // the slot is full: the next put waits
        std::string why;
        auto writer = mt::spawn([&, q = *p] () mutable {
            try {
                q.put(2);
            } catch (const mt::MicroThreadExit& e) {
                why = e.what();
            }
        });
        mt::yield();
        p->close();
        p.reset();
        writer.wait();
        CHECK(why == "MicroThreadExit: put to pipe 'short-lived', which is closed");
    });
}

TEST_CASE("get after the writer closed takes what is left in the slot, then end-of-stream") {
    in_engine([] {
        mt::micro_pipe<int> p;
        p.put(5);
        p.close();
        CHECK(p.get() == 5);
        CHECK_FALSE(p.get().has_value());
        CHECK_FALSE(p.get().has_value());
    });
}

TEST_CASE("get after a close with error E takes what is left, then rethrows E on every later get") {
    in_engine([] {
        mt::micro_pipe<int> p;
        p.put(5);
        p.close(std::make_exception_ptr(std::invalid_argument("bad record")));
        CHECK(p.get() == 5);
        CHECK_THROWS_WITH_AS(p.get(), "bad record", std::invalid_argument);
        CHECK_THROWS_WITH_AS(p.get(), "bad record", std::invalid_argument);
    });
}

TEST_CASE("the reader's close destroys a value left in the slot and never delivers it") {
    in_engine([] {
        int destroyed = 0;
        struct counted {
            int* n;
            counted(int* c) : n(c) {}
            counted(counted&& o) noexcept : n(std::exchange(o.n, nullptr)) {}
            ~counted() {
                if (n) ++*n;
            }
        };
        mt::micro_pipe<counted> p;
        p.put(counted{&destroyed});
        CHECK(destroyed == 0);
        p.close_reader();
        CHECK(destroyed == 1);
        CHECK_FALSE(p.get().has_value());
    });
}

TEST_CASE("the reader's close wakes a waiting writer at once with MicroThreadExit") {
    in_engine([] {
        mt::micro_pipe<int> p;
        auto writer = mt::spawn([&] {
            p.put(1);
            p.put(2);  // waits: full
        });
        mt::yield();
        CHECK(writer.state() == mt::state::waiting);
        p.close_reader();
        CHECK_THROWS_AS(writer.wait(), mt::micro_thread_aborted);
    });
}

TEST_CASE("the writer's close wakes every waiting reader at once") {
    in_engine([] {
        mt::micro_pipe<int> p;
        int eos = 0;
        mt::scope s;
        for (int i = 0; i < 3; ++i) s.spawn([&] { if (!p.get()) ++eos; });
        mt::yield();
        p.close();
        s.wait();
        CHECK(eos == 3);
    });
}

TEST_CASE("range-for over a pipe ends at end-of-stream") {
    in_engine([] {
        mt::micro_pipe<int> p;
        auto w = mt::spawn([p]() mutable {
            for (int i = 1; i <= 4; ++i) p.put(i);
            p.close();
        });
        std::vector<int> got;
        for (int v : p) got.push_back(v);
        CHECK(got == std::vector<int>{1, 2, 3, 4});
        w.wait();
    });
}

TEST_CASE("several putters and getters are served first come, first served") {
    in_engine([] {
        mt::micro_pipe<int> p;
        std::vector<int> got_by(3, -1);
        mt::scope s;
        // three getters wait in order 0, 1, 2: the values go to them in that order
        for (int g = 0; g < 3; ++g) s.spawn([&, g] { got_by[static_cast<std::size_t>(g)] = *p.get(); });
        mt::yield();
        for (int v = 0; v < 3; ++v) p.put(v);
        s.wait();
        CHECK(got_by == std::vector<int>{0, 1, 2});
        // putters: the slot is full, three wait in order
        p.put(100);
        mt::scope s2;
        for (int v = 101; v <= 103; ++v) s2.spawn([&, v] { p.put(v); });
        mt::yield();
        std::vector<int> got;
        for (int i = 0; i < 4; ++i) got.push_back(*p.get());
        s2.wait();
        CHECK(got == std::vector<int>{100, 101, 102, 103});
    });
}

TEST_CASE("move-only values travel through a pipe") {
    in_engine([] {
        mt::micro_pipe<std::unique_ptr<int>> p;
        auto w = mt::spawn([p]() mutable {
            p.put(std::make_unique<int>(9));
            p.close();
        });
        auto v = p.get();
        REQUIRE(v.has_value());
        CHECK(**v == 9);
        CHECK_FALSE(p.get().has_value());
        w.wait();
    });
}

TEST_CASE("the untyped pipe of boxed values follows the same table") {
    in_engine([] {
        static int destroyed = 0;
        auto make = [](int v) { return mt::boxed(new int(v), [](void* x) noexcept { ++destroyed; delete static_cast<int*>(x); }); };
        mt::any_pipe p("boxed");
        p.put(make(1));
        auto b = p.get();
        CHECK(*static_cast<int*>(b->get()) == 1);
        b.reset();
        CHECK(destroyed == 1);
        p.put(make(2));
        p.close_reader();  // destroyed in the slot
        CHECK(destroyed == 2);
        auto w = mt::spawn([&] { p.put(make(3)); });
        CHECK_THROWS_AS(w.wait(), mt::micro_thread_aborted);
        CHECK(destroyed == 3);
    });
}

TEST_CASE("an aborted get never swallows a value: it stays for the next getter") {
    in_engine([] {
        mt::micro_pipe<int> p;
        auto g1 = mt::spawn([&] { return *p.get(); });
        auto g2 = mt::spawn([&] { return *p.get(); });
        mt::yield();
        g1.abort();  // withdrawn from the queue
        p.put(42);
        CHECK(g2.wait() == 42);
        CHECK_THROWS_AS(g1.wait(), mt::micro_thread_aborted);
    });
}

TEST_CASE("a put that delivered its value returns normally even if its micro-thread was aborted meanwhile") {
    in_engine([] {
        mt::micro_pipe<int> p;
        bool returned = false;
        auto writer = mt::spawn([&] {
            p.put(1);
            p.put(2);  // waits
            returned = true;
            mt::yield();  // the abort lands here
        });
        mt::yield();
        CHECK(p.get() == 1);  // delivers 2 into the slot and fires the writer
        writer.abort();
        CHECK_THROWS_AS(writer.wait(), mt::micro_thread_aborted);
        CHECK(returned);
        CHECK(p.get() == 2);
    });
}

TEST_CASE("a handoff to a waiting getter allocates nothing") {
    in_engine([] {
        mt::micro_pipe<int> a, b;
        auto echo = mt::spawn([&] {
            for (auto v : a) b.put(*&v);
            b.close();
        });
        a.put(0);
        b.get();
        const std::size_t before = mt_test::allocations();
        for (int i = 1; i < 1000; ++i) {
            a.put(i);
            CHECK(b.get() == i);
        }
        CHECK(mt_test::allocations() - before == 0);
        a.close();
        echo.wait();
    });
}

// ---- stdin/stdout and the death rules ------------------------------------------

TEST_CASE("inside a micro-thread its attached pipes are its stdin and stdout") {
    in_engine([] {
        mt::micro_pipe<int> in("in"), out("out");
        auto doubler = mt::spawn(mt::spawn_options{.name = "doubler", .in = in, .out = out}, [] {
            auto i = mt::this_stdin<int>();
            auto o = mt::this_stdout<int>();
            for (int v : i) o.put(2 * v);
        });
        auto feeder = mt::spawn(mt::spawn_options{.name = "feeder", .out = in}, [] {
            for (int v = 1; v <= 3; ++v) mt::this_stdout<int>().put(v);
        });
        std::vector<int> got;
        for (int v : out) got.push_back(v);
        CHECK(got == std::vector<int>{2, 4, 6});  // the feeder's end closed `in`, the doubler's closed `out`
        feeder.wait();
        doubler.wait();
    });
}

TEST_CASE("this_stdin without an attached pipe, or of the wrong type, is a usage error") {
    in_engine([] {
        CHECK_THROWS_WITH_AS(mt::this_stdin<int>(), doctest::Contains("no stdin pipe is attached"), mt::usage_error);
        mt::micro_pipe<int> p;
        auto h = mt::spawn(mt::spawn_options{.name = "typed", .in = p}, [] { mt::this_stdin<std::string>(); });
        CHECK_THROWS_WITH_AS(h.wait(), doctest::Contains("'typed'"), mt::usage_error);
    });
}

TEST_CASE("the last attached writer ending normally closes its stdout: end-of-stream downstream") {
    in_engine([] {
        mt::micro_pipe<int> p;
        auto w1 = mt::spawn(mt::spawn_options{.out = p}, [] { mt::this_stdout<int>().put(1); });
        auto w2 = mt::spawn(mt::spawn_options{.out = p}, [] { mt::yield(); mt::this_stdout<int>().put(2); });
        std::multiset<int> got;
        for (int v : p) got.insert(v);  // ends only when both writers ended
        CHECK(got == std::multiset<int>{1, 2});
        w1.wait();
        w2.wait();
    });
}

TEST_CASE("an attached writer ending with E closes its stdout with E at once; the reader's get rethrows it") {
    in_engine([] {
        mt::micro_pipe<int> p;
        auto w = mt::spawn(mt::spawn_options{.out = p}, [] {
            mt::this_stdout<int>().put(1);
            throw std::out_of_range("writer broke");
        });
        CHECK(p.get() == 1);
        CHECK_THROWS_WITH_AS(p.get(), "writer broke", std::out_of_range);
        CHECK_THROWS_WITH_AS(w.wait(), "writer broke", std::out_of_range);
    });
}

TEST_CASE("the last attached reader ending closes its stdin: the writer's pending put raises MicroThreadExit") {
    in_engine([] {
        std::vector<std::string> log;
        mt::micro_pipe<int> p;
        auto writer = mt::spawn(mt::spawn_options{.name = "writer", .out = p}, [&] {
            guard g{log, "writer cleaned up"};
            for (int i = 0;; ++i) mt::this_stdout<int>().put(i);
        });
        auto reader = mt::spawn(mt::spawn_options{.name = "reader", .in = p}, [] {
            auto in = mt::this_stdin<int>();
            return *in.get() + *in.get();  // takes two, then stops
        });
        CHECK(reader.wait() == 1);
        CHECK_THROWS_AS(writer.wait(), mt::micro_thread_aborted);
        CHECK(log == std::vector<std::string>{"writer cleaned up"});
    });
}

namespace {

// The four pipes of a five-stage chain, p1..p4.
std::vector<mt::micro_pipe<int>> chain_pipes() {
    std::vector<mt::micro_pipe<int>> pipes;
    for (int i = 0; i < 4; ++i) pipes.emplace_back("p" + std::to_string(i + 1));
    return pipes;
}

// chain_stage — the options of stage k (1..5): p(k-1) as stdin, p(k) as stdout.
mt::spawn_options chain_stage(int k, std::vector<mt::micro_pipe<int>>& pipes, const std::string& name) {
    mt::spawn_options o;
    o.name = name;
    if (k > 1) o.in = pipes[static_cast<std::size_t>(k - 2)];
    if (k < 5) o.out = pipes[static_cast<std::size_t>(k - 1)];
    return o;
}

// A five-stage chain: source -> s2 -> s3 -> s4 -> sink, where stage `fail_at`
// (1..5) throws after passing on two values; returns the sink's outcome.
void run_chain_failing_at(int fail_at, std::vector<std::string>& cleanups) {
    auto pipes = chain_pipes();
    std::vector<mt::micro_thread<int>> stages;
    for (int k = 1; k <= 5; ++k) {
        const std::string name = "stage" + std::to_string(k);
        const mt::spawn_options o = chain_stage(k, pipes, name);
        stages.push_back(mt::spawn(o, [&cleanups, k, fail_at, name]() -> int {
            guard g{cleanups, name};
            int passed = 0, sum = 0;
            auto step = [&](int v) {
                if (k == fail_at && passed == 2) throw std::runtime_error("stage " + std::to_string(k) + " failed");
                ++passed;
                if (k < 5) mt::this_stdout<int>().put(v);
                else sum += v;
            };
            if (k == 1) {
                for (int v = 1;; ++v) step(v);  // until its reader goes away (or it fails)
            } else {
                for (int v : mt::this_stdin<int>()) step(v);
            }
            return sum;
        }));
    }
    // whoever joins the last stage receives the original exception
    const std::string expected = "stage " + std::to_string(fail_at) + " failed";
    CHECK_THROWS_WITH_AS(stages[4].wait(), expected.c_str(), std::runtime_error);
    for (int k = 1; k <= 4; ++k) {
        CAPTURE(k);
        auto& h = stages[static_cast<std::size_t>(k - 1)];
        if (k < fail_at) {
            // upstream of the failure: its reader is gone, so its put raised MicroThreadExit
            CHECK_THROWS_AS(h.wait(), mt::micro_thread_aborted);
        } else {
            // the failing stage, and every stage E reached from upstream
            CHECK_THROWS_WITH_AS(h.wait(), expected.c_str(), std::runtime_error);
        }
    }
}

// A five-stage chain whose stage `stop_at` stops reading early and ends
// normally; every stage upstream of it ends by MicroThreadExit.
void run_chain_stopping_at(int stop_at, std::vector<std::string>& cleanups, std::vector<mt::state>& ends) {
    auto pipes = chain_pipes();
    std::vector<mt::micro_thread<void>> stages;
    for (int k = 1; k <= 5; ++k) {
        const std::string name = "stage" + std::to_string(k);
        const mt::spawn_options o = chain_stage(k, pipes, name);
        stages.push_back(mt::spawn(o, [&cleanups, k, stop_at, name] {
            guard g{cleanups, name};
            if (k == 1) {
                for (int v = 0;; ++v) mt::this_stdout<int>().put(v);
            }
            int n = 0;
            for (int v : mt::this_stdin<int>()) {
                if (k == stop_at && ++n == 3) return;  // wants no more
                if (k < 5) mt::this_stdout<int>().put(v);
            }
        }));
    }
    for (auto& s : stages) {
        try {
            s.wait();
        } catch (const mt::micro_thread_aborted&) {
        }
        ends.push_back(s.state());
    }
}

}  // namespace

TEST_CASE("a five-stage chain failing at each stage in turn: E travels downstream to whoever joins the last stage") {
    for (int fail_at = 1; fail_at <= 5; ++fail_at) {
        CAPTURE(fail_at);
        std::vector<std::string> cleanups;
        in_engine([&] { run_chain_failing_at(fail_at, cleanups); });
        CHECK(cleanups.size() == 5);  // every stage's destructors ran
    }
}

TEST_CASE("a five-stage chain whose stage k stops early: MicroThreadExit travels upstream and every stage cleans up") {
    for (int stop_at = 2; stop_at <= 5; ++stop_at) {
        CAPTURE(stop_at);
        std::vector<std::string> cleanups;
        std::vector<mt::state> ends;
        in_engine([&] { run_chain_stopping_at(stop_at, cleanups, ends); });
        CHECK(cleanups.size() == 5);
        for (int k = 1; k <= 5; ++k) {
            CAPTURE(k);
            const mt::state st = ends[static_cast<std::size_t>(k - 1)];
            if (k < stop_at) CHECK(st == mt::state::aborted);        // upstream: MicroThreadExit
            else CHECK(st == mt::state::finished);                  // the stopper and downstream end normally
        }
    }
}

// ---- generators by composition ----------------------------------------------------

namespace {

struct tree {
    int value;
    std::vector<tree> children;
};

// walk — a producer: writes the tree's values to its stdout, depth first.
// Calling itself puts the subtree's values in the same stream, in order.
void walk(const tree& t) {
    mt::this_stdout<int>().put(t.value);
    for (const tree& c : t.children) walk(c);
}

}  // namespace

TEST_CASE("generators by composition: a producer that calls another producer includes its output in order") {
    in_engine([] {
        const tree t{1, {{2, {{3, {}}, {4, {}}}}, {5, {{6, {}}}}}};
        mt::micro_pipe<int> out("walk");
        auto walker = mt::spawn(mt::spawn_options{.name = "walker", .out = out}, [&] { walk(t); });
        std::vector<int> got;
        for (int v : out) got.push_back(v);
        CHECK(got == std::vector<int>{1, 2, 3, 4, 5, 6});
        walker.wait();
    });
}

// ---- pipeline ----------------------------------------------------------------------

TEST_CASE("pipeline runs each stage in its own micro-thread, links them and returns the last stage's result") {
    in_engine([] {
        const int total = mt::pipeline<int, int>(
            [](mt::micro_pipe<int> out) { for (int i = 1; i <= 10; ++i) out.put(i); },
            [](mt::micro_pipe<int> in, mt::micro_pipe<int> out) { for (int v : in) out.put(v * v); },
            [](mt::micro_pipe<int> in) { int s = 0; for (int v : in) s += v; return s; });
        CHECK(total == 385);
    });
}

TEST_CASE("pipeline stages may reach their pipes as this_stdin/this_stdout") {
    in_engine([] {
        const std::string r = mt::pipeline<std::string>(
            [] { for (const char* w : {"a", "b", "c"}) mt::this_stdout<std::string>().put(w); },
            [] { std::string s; for (auto& w : mt::this_stdin<std::string>()) s += w; return s; });
        CHECK(r == "abc");
    });
}

TEST_CASE("pipeline rethrows the original failure of a middle stage") {
    in_engine([] {
        std::vector<std::string> cleanups;
        CHECK_THROWS_WITH_AS((mt::pipeline<int, int>(
                                 [&](mt::micro_pipe<int> out) { guard g{cleanups, "source"}; for (int i = 0;; ++i) out.put(i); },
                                 [&](mt::micro_pipe<int> in, mt::micro_pipe<int> out) {
                                     guard g{cleanups, "filter"};
                                     for (int v : in) {
                                         if (v == 3) throw std::logic_error("filter choked on 3");
                                         out.put(v);
                                     }
                                 },
                                 [&](mt::micro_pipe<int> in) { guard g{cleanups, "sink"}; int n = 0; for (int v : in) n += v; return n; })),
                             "filter choked on 3", std::logic_error);
        CHECK(cleanups.size() == 3);
    });
}

// ---- select ------------------------------------------------------------------------

TEST_CASE("select performs the first case that can happen at once") {
    in_engine([] {
        mt::micro_pipe<int> a("a"), b("b");
        b.put(2);
        std::optional<int> va, vb;
        CHECK(mt::select(mt::on_get(a, va), mt::on_get(b, vb)) == 1);
        CHECK_FALSE(va.has_value());
        CHECK(vb == 2);
        int x = 5;
        CHECK(mt::select(mt::on_get(a, va), mt::on_put(b, x)) == 1);
        CHECK(b.get() == 5);
    });
}

TEST_CASE("select waits until one case can happen, and only that one happens") {
    in_engine([] {
        mt::micro_pipe<int> a("a"), b("b");
        std::optional<int> va, vb;
        auto sel = mt::spawn([&] { return mt::select(mt::on_get(a, va), mt::on_get(b, vb)); });
        mt::yield();
        CHECK(mt::dump().find("in select on 2 pipe operations (get from pipe 'a', get from pipe 'b')") !=
              std::string::npos);
        b.put(7);
        a.put(8);  // the select took b's value: a's stays in its slot
        CHECK(sel.wait() == 1);
        CHECK(vb == 7);
        CHECK_FALSE(va.has_value());
        CHECK(a.get() == 8);
    });
}

TEST_CASE("select with a timeout returns nullopt when nothing happens in time, and withdraws its cases") {
    in_engine([] {
        mt::micro_pipe<int> a;
        std::optional<int> va;
        CHECK_FALSE(mt::select(20ms, mt::on_get(a, va)).has_value());
        CHECK_FALSE(mt::select(0ms, mt::on_get(a, va)).has_value());  // a poll
        a.put(1);                                                       // no stale case takes it
        CHECK(a.get() == 1);
    });
}

TEST_CASE("a select whose chosen put goes to a closed pipe raises MicroThreadExit; a get sees end-of-stream") {
    in_engine([] {
        mt::micro_pipe<int> closed_pipe, open_pipe;
        closed_pipe.close();
        std::optional<int> v = 3;
        CHECK(mt::select(mt::on_get(open_pipe, v), mt::on_get(closed_pipe, v)) == 1);
        CHECK_FALSE(v.has_value());
        auto putter = mt::spawn([&] {
            int x = 1;
            mt::select(mt::on_put(closed_pipe, x));
        });
        CHECK_THROWS_AS(putter.wait(), mt::micro_thread_aborted);
    });
}

TEST_CASE("select loses and duplicates no value when several cases are ready at once") {
    in_engine([] {
        constexpr int n = 2000;
        mt::micro_pipe<int> a("a"), b("b"), c("c");
        std::multiset<int> got;
        mt::scope s;
        auto produce = [](mt::micro_pipe<int> p, int base) {
            for (int i = 0; i < n; ++i) p.put(base + i);
        };
        s.spawn(produce, a, 0);
        s.spawn(produce, b, 100000);
        s.spawn(produce, c, 200000);
        for (int taken = 0; taken < 3 * n;) {
            std::optional<int> va, vb, vc;
            const std::size_t i = mt::select(mt::on_get(a, va), mt::on_get(b, vb), mt::on_get(c, vc));
            const std::optional<int>& v = i == 0 ? va : i == 1 ? vb : vc;
            REQUIRE(v.has_value());
            got.insert(*v);
            ++taken;
            // exactly one case happened
            CHECK(int(va.has_value()) + int(vb.has_value()) + int(vc.has_value()) == 1);
        }
        s.wait();
        CHECK(got.size() == 3 * n);
        CHECK(std::set<int>(got.begin(), got.end()).size() == 3 * n);  // no duplicates
    });
}

TEST_CASE("aborting a micro-thread in select withdraws every case") {
    in_engine([] {
        mt::micro_pipe<int> a, b;
        std::optional<int> va, vb;
        auto sel = mt::spawn([&] { mt::select(1s, mt::on_get(a, va), mt::on_get(b, vb)); });
        mt::yield();
        sel.abort();
        CHECK_THROWS_AS(sel.wait(), mt::micro_thread_aborted);
        a.put(1);  // nobody takes it
        CHECK(a.get() == 1);
    });
}

// ---- deadlocks and dumps ---------------------------------------------------------------

TEST_CASE("pipes join the deadlock report: who waits on which pipe, and whose writer waits on what") {
    std::string report;
    try {
        mt::run([] {
            mt::micro_pipe<int> p2("p2"), p3("p3");
            // filter writes p2 only after reading p3; sink reads p2 before writing p3.
            auto filter = mt::spawn(mt::spawn_options{.name = "filter", .in = p3, .out = p2}, [] {
                for (int v : mt::this_stdin<int>()) mt::this_stdout<int>().put(v);
            });
            auto sink = mt::spawn(mt::spawn_options{.name = "sink", .in = p2, .out = p3}, [] {
                for (int v : mt::this_stdin<int>()) mt::this_stdout<int>().put(v);
            });
            filter.wait();
        });
    } catch (const mt::deadlock_error& e) {
        report = e.what();
    }
    MESSAGE(report);
    CHECK(report.find("#1 'main' waits to join #2 'filter', which waits to get from pipe 'p3', whose writer "
                      "#3 'sink' waits to get from pipe 'p2', whose writer #2 'filter' (a cycle)") != std::string::npos);
}

TEST_CASE("the dump shows which pipe each micro-thread waits on") {
    in_engine([] {
        mt::micro_pipe<int> p("inbox");
        auto g = mt::spawn(mt::spawn_options{"getter"}, [&] { p.get(); });
        mt::yield();
        CHECK(mt::dump().find("'getter' waiting: waits to get from pipe 'inbox'") != std::string::npos);
        p.close();
        g.wait();
    });
}

// ---- nothing lost ------------------------------------------------------------------------

TEST_CASE("nothing is lost: N producers and M consumers with random closes and aborts, thousands of rounds") {
    std::mt19937 rng(12345);
    constexpr int rounds = 2000;
    long values_total = 0;
    for (int round = 0; round < rounds; ++round) {
        // The ledger: every value ends up exactly once in one of these.
        std::set<long> put_ok, put_raised, got, destroyed_unread;
        struct tracked {
            long id;
            std::set<long>* destroyed;
            tracked(long i, std::set<long>* d) : id(i), destroyed(d) {}
            tracked(tracked&& o) noexcept : id(std::exchange(o.id, -1)), destroyed(o.destroyed) {}
            ~tracked() {
                if (id >= 0) destroyed->insert(id);
            }
        };
        const int producers = 1 + static_cast<int>(rng() % 4);
        const int consumers = 1 + static_cast<int>(rng() % 4);
        const int per_producer = static_cast<int>(rng() % 20);
        const int action = static_cast<int>(rng() % 4);  // 0: none, 1: reader close, 2: abort some, 3: writer close
        const int action_after = static_cast<int>(rng() % 10);
        in_engine([&] {
            // Producers are attached as the pipe's writers and consumers as its
            // readers, so the death rules close it: when the last consumer ends
            // (even aborted) puts raise; when the last producer ends, gets see
            // end-of-stream. Nobody can be left hanging.
            mt::micro_pipe<tracked> p("ledger");
            std::vector<mt::micro_thread<void>> ps, cs;
            for (int i = 0; i < producers; ++i)
                ps.push_back(mt::spawn(mt::spawn_options{.out = p}, [&, i] {
                    for (int k = 0; k < per_producer; ++k) {
                        const long id = static_cast<long>(i) * 1000 + k;
                        tracked t(id, &destroyed_unread);
                        try {
                            mt::this_stdout<tracked>().put(std::move(t));  // moved only if it went in
                            put_ok.insert(id);
                        } catch (const mt::MicroThreadExit&) {
                            put_raised.insert(id);
                            t.id = -1;  // its put raised: not a slot value
                            throw;
                        }
                    }
                }));
            for (int j = 0; j < consumers; ++j)
                cs.push_back(mt::spawn(mt::spawn_options{.in = p}, [&] {
                    auto in = mt::this_stdin<tracked>();
                    while (auto v = in.get()) {
                        got.insert(v->id);
                        v->id = -1;
                        mt::yield();
                    }
                }));
            for (int t = 0; t < action_after; ++t) mt::yield();
            if (action == 1) p.close_reader();
            if (action == 2) {
                ps[rng() % ps.size()].abort();
                cs[rng() % cs.size()].abort();
            }
            if (action == 3) p.close();
            p = mt::micro_pipe<tracked>();  // only the attachments hold the ledger pipe now
            for (auto& h : ps) {
                try { h.wait(); } catch (const mt::micro_thread_aborted&) {}
            }
            for (auto& h : cs) {
                try { h.wait(); } catch (const mt::micro_thread_aborted&) {}
            }
        });
        // every value that went in was got exactly once or destroyed unread in the slot
        for (long id : put_ok) {
            const int places = int(got.count(id)) + int(destroyed_unread.count(id));
            CHECK(places == 1);
        }
        for (long id : got) CHECK(put_ok.count(id) == 1);
        for (long id : put_raised) CHECK(put_ok.count(id) == 0);
        values_total += static_cast<long>(put_ok.size() + put_raised.size());
    }
    MESSAGE(rounds << " rounds, " << values_total << " values accounted for");
}

// --- a getter whose pipe loses every handle while it waits -----------------------

TEST_CASE("a getter woken by a close with an error rethrows it even when every handle was dropped meanwhile") {
    in_engine([] {
        std::optional<mt::micro_pipe<int>> p;
        p.emplace("short-lived");
        auto getter = mt::spawn([&p] {
            mt::micro_pipe<int>& pipe = *p;  // a reference: the getter holds no handle of its own
            return pipe.get();
        });
        mt::yield();
        REQUIRE(getter.state() == mt::state::waiting);
        p->close(std::make_exception_ptr(std::runtime_error("producer failed")));
        p.reset();  // the last handle: only the waiting get keeps the pipe alive now
        CHECK_THROWS_WITH_AS(getter.wait(), "producer failed", std::runtime_error);
    });
}

TEST_CASE("a getter woken by a plain close sees end-of-stream even when every handle was dropped meanwhile") {
    in_engine([] {
        std::optional<mt::micro_pipe<int>> p;
        p.emplace("short-lived");
        auto getter = mt::spawn([&p] { return (*p).get(); });
        mt::yield();
        p->close();
        p.reset();
        CHECK(getter.wait() == std::nullopt);
    });
}

// --- select with no case ---------------------------------------------------------------

TEST_CASE("select with no case and a timeout waits out its timeout") {
    in_engine([] {
        const auto t0 = std::chrono::steady_clock::now();
        CHECK_FALSE(mt::select(mt::deadline(20ms)).has_value());
        CHECK(std::chrono::steady_clock::now() - t0 >= 20ms);
        std::vector<mt::select_case> none;
        CHECK_FALSE(mt::select(none, 5ms).has_value());
    });
}

TEST_CASE("select whose every case is disabled waits out its timeout and never touches the pipes") {
    in_engine([] {
        mt::micro_pipe<int> a("a");
        mt::micro_pipe<int> nil(nullptr);
        a.put(1);  // ready, but disabled
        std::optional<int> va, vn;
        CHECK_FALSE(mt::select(10ms, mt::on_get(a, va, false), mt::on_get(nil, vn)).has_value());
        CHECK_FALSE(va.has_value());
        CHECK(a.get() == 1);
    });
}

TEST_CASE("select with no case and no deadline waits until it is aborted") {
    in_engine([] {
        bool unwound = false;
        auto forever = mt::spawn([&] {
            struct flag {
                bool& f;
                ~flag() { f = true; }
            } g{unwound};
            std::vector<mt::select_case> none;
            mt::select(none);
        });
        mt::sleep_d(5ms);
        CHECK(forever.state() == mt::state::waiting);
        CHECK(mt::dump().find("in select with no enabled case") != std::string::npos);
        forever.abort();
        CHECK_THROWS_AS(forever.wait(), mt::micro_thread_aborted);
        CHECK(unwound);
    });
}

TEST_CASE("a select with no case and no deadline, with nothing else to run, is reported as a deadlock") {
    mt::engine e;
    auto h = mt::spawn(mt::spawn_options{"stuck"}, [] {
        std::vector<mt::select_case> none;
        mt::select(none);
    });
    CHECK_THROWS_WITH_AS(e.loop(), doctest::Contains("#1 'stuck' waits in select with no enabled case"),
                         mt::deadlock_error);
}

TEST_CASE("a pipe used after the engine that first used it ended is a usage error naming it") {
    mt::micro_pipe<int> p("left over");
    in_engine([&] { p.put(1); });
    in_engine([&] {
        CHECK_THROWS_WITH_AS(p.get(), doctest::Contains("micro_pipe::get in micro-thread #1 'main' on pipe 'left over', which belongs to"),
                             mt::usage_error);
    });
}

TEST_CASE("pipeline stages may take their pipes by reference") {
    in_engine([] {
        const int sum = mt::pipeline<int, int>(
            [](mt::micro_pipe<int>& out) { for (int i = 1; i <= 4; ++i) out.put(i); },
            [](mt::micro_pipe<int>& in, mt::micro_pipe<int>& out) { for (int v : in) out.put(v * 10); },
            [](const mt::micro_pipe<int>&) {
                int s = 0;
                for (int v : mt::this_stdin<int>()) s += v;
                return s;
            });
        CHECK(sum == 100);
    });
}
