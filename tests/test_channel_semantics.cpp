// Channel semantics: the behaviour that Go's own channel tests check
// (runtime/chan_test.go and test/chan/), restated for micro_pipes and
// select. Where Go and our pipes differ the tests follow docs/reference/pipes.md
// and select.md: a pipe holds one value (Go's buffered channel of capacity
// 1), end-of-stream is an empty optional, a put to a closed pipe raises
// MicroThreadExit in the putter, closing is allowed from either side (and a
// second close changes nothing), and a select with a zero timeout is Go's
// select with a default case.
//
// Not restated, as they have no counterpart here: unbuffered channels (a
// send that waits for its receiver, a select of a send and a receive on one
// channel that blocks), capacities other than 1 for micro_pipes (xpipes
// have them: tested below), len/cap, zero values from a closed channel,
// panics on closing twice, stack shrinking and the garbage collector.
//
// Every test runs inside a live engine (tests/engine_fixture.hpp), on one OS
// thread, except the last three, which move values over xpipes between
// engines and plain OS threads: their names say so, so that test.sh runs
// them under ThreadSanitizer too (this file is in thread_tests for them).
// No test asserts on wall-clock time; the bounds of the statistical tests
// are many standard deviations wide and the choice among ready cases is
// seeded, so they replay exactly.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <map>
#include <numeric>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "core/microthreading.hpp"
#include "pipes/micro_pipe.hpp"
#include "pipes/select.hpp"
#include "pipes/xpipe.hpp"
#include "tests/alloc_counter.hpp"
#include "tests/engine_fixture.hpp"

using namespace std::chrono_literals;
using mt_test::in_engine;

namespace {

// ended_by_exit — joins `h`; true when it ended by MicroThreadExit (a put
// to a closed pipe, or an abort), which a join reports as micro_thread_aborted.
template <class R>
bool ended_by_exit(mt::micro_thread<R>& h) {
    try {
        h.wait();
        return false;
    } catch (const mt::micro_thread_aborted&) {
        return true;
    }
}

void yield_times(int n) {
    for (int i = 0; i < n; ++i) mt::yield();
}

// ---- an instrumented value: where every value ended up ------------------------------

// ledger — the fate of every value, by id (SPEC 8: every value put is either
// got, destroyed with the slot by a reader's close, or its put raised).
struct ledger {
    std::set<long> made, put_ok, put_raised, got, destroyed_owning;
    long live = 0;  // token objects alive (moved-from ones included)
};

struct token {
    long id;
    ledger* led;
    token(long i, ledger& l) : id(i), led(&l) {
        ++led->live;
        led->made.insert(i);
    }
    token(token&& o) noexcept : id(std::exchange(o.id, -1)), led(o.led) { ++led->live; }
    token& operator=(token&&) = delete;
    ~token() {
        --led->live;
        if (id >= 0) led->destroyed_owning.insert(id);  // it still owned its value
    }
};

// take — the id of a got value; the value is now accounted for as got.
long take(std::optional<token>& v, ledger& led) {
    REQUIRE(v.has_value());
    const long id = std::exchange(v->id, -1);
    led.got.insert(id);
    return id;
}

// put_logged — puts value `id`, recording whether its put returned or raised.
void put_logged(mt::micro_pipe<token>& p, long id, ledger& led) {
    token t(id, led);
    try {
        p.put(std::move(t));
        led.put_ok.insert(id);
    } catch (const mt::MicroThreadExit&) {
        led.put_raised.insert(id);
        throw;
    }
}

// check_ledger — nothing lost and nothing doubled: each value made was got
// exactly once or destroyed while it still owned itself; those destroyed
// are the puts that raised plus at most `slot_destroys` values that a
// reader's close destroyed in a slot; no token object is left.
void check_ledger(const ledger& led, std::size_t slot_destroys) {
    CHECK(led.live == 0);
    for (long id : led.made) {
        const int places = int(led.got.count(id)) + int(led.destroyed_owning.count(id));
        CHECK_MESSAGE(places == 1, "value " << id << " got " << led.got.count(id) << " times, destroyed unread "
                                           << led.destroyed_owning.count(id) << " times");
        CHECK_MESSAGE(led.put_ok.count(id) + led.put_raised.count(id) == 1, "value " << id << ": its put both returned and raised, or neither");
    }
    for (long id : led.got) CHECK_MESSAGE(led.put_ok.count(id) == 1, "value " << id << " was got, but its put raised");
    for (long id : led.put_raised) CHECK_MESSAGE(led.destroyed_owning.count(id) == 1, "value " << id << "'s put raised, yet it was not destroyed");
    std::size_t in_slots = 0;
    for (long id : led.destroyed_owning)
        if (!led.put_raised.count(id)) ++in_slots;
    CHECK(in_slots <= slot_destroys);
}

}  // namespace

// =====================================================================================
// The table, one row at a time (TestChan, select3.go, nonblock.go)
// =====================================================================================

TEST_CASE("channel semantics: a get on an empty pipe waits, and a zero-timeout select on it takes no case") {
    in_engine([] {
        mt::micro_pipe<int> p("p");
        bool got_plain = false, got_select = false;
        auto plain = mt::spawn([&] { got_plain = p.get().has_value(); });
        auto selecting = mt::spawn([&] {
            std::optional<int> v;
            CHECK(mt::select(mt::on_get(p, v)) == 0);
            got_select = v.has_value();
        });
        yield_times(5);
        CHECK(plain.state() == mt::state::waiting);
        CHECK(selecting.state() == mt::state::waiting);
        CHECK_FALSE(got_plain);
        CHECK_FALSE(got_select);

        std::optional<int> v;
        CHECK_FALSE(mt::select(0ms, mt::on_get(p, v)).has_value());  // Go: the default case
        CHECK_FALSE(v.has_value());
        CHECK_FALSE(p.try_get().has_value());

        p.put(0);  // to the first waiting getter, then to the second
        p.put(0);
        plain.wait();
        selecting.wait();
        CHECK(got_plain);
        CHECK(got_select);
        CHECK_FALSE(p.state()->full());
    });
}

TEST_CASE("channel semantics: a put to a full pipe waits, and a zero-timeout select put to it neither happens nor moves the value") {
    in_engine([] {
        mt::micro_pipe<std::string> p("p");
        p.put("first");
        bool sent = false;
        auto writer = mt::spawn([&] {
            p.put("second");
            sent = true;
        });
        yield_times(5);
        CHECK(writer.state() == mt::state::waiting);
        CHECK_FALSE(sent);

        std::string third = "third";
        CHECK_FALSE(mt::select(0ms, mt::on_put(p, third)).has_value());
        CHECK(third == "third");
        CHECK_FALSE(p.try_put(third));
        CHECK(third == "third");

        CHECK(p.get() == "first");  // the waiting writer's value takes its place
        writer.wait();
        CHECK(sent);
        CHECK(p.get() == "second");
        CHECK(mt::select(0ms, mt::on_put(p, third)) == 0);  // room now
        CHECK(third.empty());
        CHECK(p.get() == "third");
    });
}

TEST_CASE("channel semantics: after a close the value left is got first, then every get reports end-of-stream") {
    in_engine([] {
        for (int round = 0; round < 3; ++round) {
            mt::micro_pipe<int> p("p");
            p.put(7);
            p.close();
            p.close();  // a second close changes nothing
            p.close(std::make_exception_ptr(std::runtime_error("too late")));  // the first close wins
            if (round == 0) {
                CHECK(p.get() == 7);
            } else if (round == 1) {
                CHECK(p.try_get() == 7);
            } else {
                std::optional<int> v;
                CHECK(mt::select(mt::on_get(p, v)) == 0);
                CHECK(v == 7);
            }
            for (int i = 0; i < 10; ++i) {
                CHECK_FALSE(p.get().has_value());
                CHECK_FALSE(p.try_get().has_value());
                std::optional<int> v = 99;
                CHECK(mt::select(0ms, mt::on_get(p, v)) == 0);  // a closed pipe is always ready
                CHECK_FALSE(v.has_value());
            }
            int n = 0;
            for (int x : p) n += x + 1;
            CHECK(n == 0);
        }
    });
}

TEST_CASE("channel semantics: close wakes every waiting getter, putter and select at once") {
    in_engine([] {
        constexpr int n = 6;
        mt::micro_pipe<int> in("in"), out("out"), idle("idle");
        out.put(-1);  // full: putters wait
        int eos = 0, exits = 0, select_eos = 0;
        std::vector<mt::micro_thread<void>> hs;
        for (int i = 0; i < n; ++i) {
            hs.push_back(mt::spawn([&] {
                if (!in.get()) ++eos;
            }));
            hs.push_back(mt::spawn([&, i] {
                try {
                    out.put(i);
                } catch (const mt::MicroThreadExit&) {
                    ++exits;
                    throw;
                }
            }));
            hs.push_back(mt::spawn([&] {
                std::optional<int> a, b;
                if (mt::select(mt::on_get(idle, a), mt::on_get(in, b)) == 1 && !b) ++select_eos;
            }));
        }
        mt::yield();
        for (auto& h : hs) REQUIRE(h.state() == mt::state::waiting);
        in.close();
        out.close();
        mt::yield();  // one turn: everyone the closes woke has run before main again
        CHECK(eos == n);
        CHECK(exits == n);
        CHECK(select_eos == n);
        for (auto& h : hs) CHECK(h.done());
        int aborted = 0;
        for (auto& h : hs) aborted += ended_by_exit(h);
        CHECK(aborted == n);  // the putters, ended silently
        CHECK(out.get() == -1);  // what was in the slot is still got
        CHECK_FALSE(out.get().has_value());
        idle.close();
    });
}

TEST_CASE("channel semantics: the reader's close wakes every waiting putter at once and destroys the value left in the slot") {
    ledger led;
    in_engine([&] {
        constexpr int n = 5;
        mt::micro_pipe<token> p("p");
        p.put(token(100, led));
        led.put_ok.insert(100);
        std::vector<mt::micro_thread<void>> hs;
        for (int i = 0; i < n; ++i) hs.push_back(mt::spawn([&, i] { put_logged(p, i, led); }));
        mt::yield();
        for (auto& h : hs) REQUIRE(h.state() == mt::state::waiting);
        p.close_reader();
        CHECK(led.destroyed_owning.count(100) == 1);
        mt::yield();
        for (auto& h : hs) CHECK(h.done());
        for (auto& h : hs) CHECK(ended_by_exit(h));
        CHECK(led.put_raised.size() == n);
        CHECK_FALSE(p.get().has_value());  // the reader's close is end-of-stream for any getter too
        mt::micro_thread<void> late = mt::spawn([&] { put_logged(p, 200, led); });
        CHECK(ended_by_exit(late));
    });
    check_ledger(led, 1);
}

TEST_CASE("channel semantics: a put to a closed pipe ends its micro-thread silently, its destructors run and nothing is reported") {
    int reported = 0;
    std::vector<std::string> cleanups;
    in_engine([&] {
        mt::set_unhandled_exception_handler([&](const mt::micro_thread_info&, std::exception_ptr) { ++reported; });
        struct cleanup {
            std::vector<std::string>& log;
            const char* what;
            ~cleanup() { log.push_back(what); }
        };
        mt::micro_pipe<int> by_writer("closed by its writer"), by_reader("closed by its reader"),
            with_error("closed with an error");
        by_writer.close();
        by_reader.close_reader();
        with_error.close(std::make_exception_ptr(std::runtime_error("E")));
        bool reached = false;
        for (auto* p : {&by_writer, &by_reader, &with_error}) {
            mt::start_and_forget([&, p] {
                cleanup c{cleanups, "forgotten"};
                p->put(1);
                reached = true;
            });
            auto joined = mt::spawn([&, p] {
                cleanup c{cleanups, "joined"};
                int v = 1;
                mt::select(mt::on_put(*p, v));
                reached = true;
            });
            CHECK_THROWS_AS(joined.wait(), mt::micro_thread_aborted);
        }
        yield_times(3);
        CHECK_FALSE(reached);
        CHECK(cleanups.size() == 6);
    });
    CHECK(reported == 0);
}

TEST_CASE("channel semantics: a pipe closed with an error rethrows it on every later get, after the value left") {
    in_engine([] {
        mt::micro_pipe<int> p("p");
        p.put(5);
        p.close(std::make_exception_ptr(std::runtime_error("source failed")));
        CHECK(p.get() == 5);
        for (int i = 0; i < 3; ++i) {
            CHECK_THROWS_WITH_AS(p.get(), "source failed", std::runtime_error);
            CHECK_THROWS_WITH_AS(p.try_get(), "source failed", std::runtime_error);
            std::optional<int> v;
            CHECK_THROWS_WITH_AS(mt::select(mt::on_get(p, v)), "source failed", std::runtime_error);
        }
        p.close_reader();  // the reader gives up too: the error stays
        CHECK_THROWS_WITH_AS(p.get(), "source failed", std::runtime_error);

        // a getter already waiting when the error arrives
        mt::micro_pipe<int> q("q");
        auto waiting = mt::spawn([&] { return q.get(); });
        mt::yield();
        q.close(std::make_exception_ptr(std::logic_error("broken")));
        CHECK_THROWS_WITH_AS(waiting.wait(), "broken", std::logic_error);
    });
}

namespace {
// nonblocking_round_trip — nonblock.go for one element type: a zero-timeout
// select put is retried until it happens, the receiver checks the value;
// then the other way round, with a zero-timeout select get.
template <class T>
void nonblocking_round_trip(T to_receiver, T from_sender) {
    mt::micro_pipe<T> p("p");
    std::optional<T> v;
    REQUIRE_FALSE(mt::select(0ms, mt::on_get(p, v)).has_value());

    bool received = false;
    auto receiver = mt::spawn([&] {
        received = p.get() == to_receiver;
    });
    int tries = 0;
    for (T x = to_receiver; !mt::select(0ms, mt::on_put(p, x)); mt::yield()) REQUIRE(++tries < 1000);
    receiver.wait();
    CHECK(received);

    auto sender = mt::spawn([&] { p.put(from_sender); });
    tries = 0;
    while (!mt::select(0ms, mt::on_get(p, v))) {
        REQUIRE(++tries < 1000);
        mt::yield();
    }
    CHECK(tries >= 1);  // the sender had not run at the first try
    CHECK(v == from_sender);
    sender.wait();
}
}  // namespace

TEST_CASE("channel semantics: a zero-timeout select is a non-blocking try that eventually meets the other side, for values of any type") {
    in_engine([] {
        nonblocking_round_trip<std::int32_t>(123, 234);
        nonblocking_round_trip<std::int64_t>(123456, 234567);
        nonblocking_round_trip<bool>(true, true);
        nonblocking_round_trip<std::string>("hello", "hello again");
    });
}

TEST_CASE("channel semantics: a non-blocking get on a closed pipe that still holds a value always succeeds") {
    std::mt19937 rng(11);
    in_engine([&] {
        int took_in_select = 0, took_in_main = 0;
        for (int i = 0; i < 1000; ++i) {
            mt::micro_pipe<int> c("c");
            c.put(1);
            bool defaulted = false;
            std::optional<int> seen;
            auto g = mt::spawn([&] {
                const auto k = mt::select(0ms, mt::on_get(c, seen));
                defaulted = !k.has_value();
            });
            if (rng() % 2) mt::yield();  // sometimes the select runs first
            c.close();
            const auto v = c.get();
            g.wait();
            CHECK_FALSE(defaulted);
            CHECK(int(v.has_value()) + int(seen.has_value()) == 1);  // the one value, exactly once
            took_in_main += v.has_value();
            took_in_select += seen.has_value();
        }
        CHECK(took_in_main > 0);
        CHECK(took_in_select > 0);
    });
}

TEST_CASE("channel semantics: a non-blocking select over two pipes never takes its default while one of them is ready") {
    std::mt19937 rng(12);
    in_engine([&] {
        for (int i = 0; i < 2000; ++i) {
            const bool close_second = i % 2;
            mt::micro_pipe<int> c1("c1"), c2("c2");
            c1.put(1);
            bool defaulted = false;
            auto g = mt::spawn([&] {
                std::optional<int> a, b;
                defaulted = !mt::select(0ms, mt::on_get(c1, a), mt::on_get(c2, b)).has_value();
            });
            const int when = static_cast<int>(rng() % 3);  // where the select gets its turn
            if (when == 0) mt::yield();
            if (close_second) c2.close();
            else c2.put(1);
            if (when == 1) mt::yield();
            std::optional<int> a;
            (void)mt::select(0ms, mt::on_get(c1, a));  // c1 stops being ready, if it still was
            if (when == 2) mt::yield();
            g.wait();
            CHECK_FALSE(defaulted);
        }
    });
}

TEST_CASE("channel semantics: put cases disabled once they happened are never chosen again") {
    in_engine([] {
        // Send from select.go: each round, one of the enabled cases happens
        // and is disabled; a round with none ready takes the default path.
        auto send = [](mt::micro_pipe<unsigned>& a, mt::micro_pipe<unsigned>& b, bool b_enabled) {
            int done = 0;
            bool a_on = true, b_on = b_enabled;
            for (unsigned shift = 0;; ++shift) {
                unsigned va = 1u << shift, vb = 1u << shift;
                const auto k = mt::select(0ms, mt::on_put(a, va, a_on), mt::on_put(b, vb, b_on));
                if (!k) break;
                ++done;
                (*k == 0 ? a_on : b_on) = false;
            }
            return done;
        };
        mt::micro_pipe<unsigned> a("a"), b("b");
        CHECK(send(a, b, true) == 2);
        const unsigned av = *a.get(), bv = *b.get();
        CHECK((av | bv) == 3u);
        CHECK(send(a, b, false) == 1);
        CHECK(a.get() == 1u);
        CHECK_FALSE(b.try_get().has_value());
    });
}

// =====================================================================================
// Order and counting (TestChan, fifo.go, TestMultiConsumer)
// =====================================================================================

TEST_CASE("channel semantics: values arrive in the order they were put, through get and through select") {
    in_engine([] {
        mt::micro_pipe<int> c("c"), never("never");
        for (int mode = 0; mode < 2; ++mode) {
            auto producer = mt::spawn([&] {
                for (int i = 0; i < 100; ++i) c.put(i);
            });
            for (int i = 0; i < 100; ++i) {
                std::optional<int> v, w;
                if (mode == 0) v = c.get();
                else REQUIRE(mt::select(mt::on_get(never, w), mt::on_get(c, v)) == 1);
                REQUIRE(v.has_value());
                CHECK(*v == i);
            }
            producer.wait();
        }
        never.close();
    });
}

TEST_CASE("channel semantics: waiting getters are served in the order they began to wait, selects among them") {
    in_engine([] {
        constexpr int n = 10;
        mt::micro_pipe<int> c("c"), idle("idle");
        std::vector<int> got(n, -1);
        std::vector<mt::micro_thread<void>> hs;
        for (int i = 0; i < n; ++i) {
            hs.push_back(mt::spawn([&, i] {
                if (i % 3 == 1) {
                    std::optional<int> v, w;
                    REQUIRE(mt::select(mt::on_get(idle, w), mt::on_get(c, v)) == 1);
                    got[i] = *v;
                } else {
                    got[i] = *c.get();
                }
            }));
            mt::yield();  // it waits before the next one starts
        }
        for (int i = 0; i < n; ++i) c.put(i);
        for (auto& h : hs) h.wait();
        for (int i = 0; i < n; ++i) CHECK(got[i] == i);

        // a relay (SynchFifo): stage i waits for its turn, gets from c, passes the turn on
        std::vector<mt::micro_pipe<int>> turn;
        for (int i = 0; i <= n; ++i) turn.emplace_back("turn " + std::to_string(i));
        bool in_order = true;
        mt::scope s;
        for (int i = 0; i < n; ++i)
            s.spawn([&, i] {
                turn[i].get();
                if (c.get() != i) in_order = false;
                turn[i + 1].put(1);
            });
        turn[0].put(0);
        for (int i = 0; i < n; ++i) c.put(i);
        CHECK(turn[n].get() == 1);
        s.wait();
        CHECK(in_order);
        idle.close();
    });
}

TEST_CASE("channel semantics: waiting putters are served in the order they began to wait, selects among them") {
    in_engine([] {
        constexpr int n = 10;
        mt::micro_pipe<int> c("c"), full("full");
        full.put(-1);
        c.put(-1);
        std::vector<mt::micro_thread<void>> hs;
        for (int i = 0; i < n; ++i) {
            hs.push_back(mt::spawn([&, i] {
                if (i % 3 == 2) {
                    int v = i, w = 1000 + i;
                    REQUIRE(mt::select(mt::on_put(full, w), mt::on_put(c, v)) == 1);
                } else {
                    c.put(i);
                }
            }));
            mt::yield();
        }
        CHECK(c.get() == -1);
        for (int i = 0; i < n; ++i) CHECK(c.get() == i);
        for (auto& h : hs) h.wait();
        CHECK(full.get() == -1);
        CHECK_FALSE(full.try_get().has_value());
    });
}

TEST_CASE("channel semantics: four producers and four consumers exchange every value exactly once") {
    in_engine([] {
        constexpr int producers = 4, per = 1000;
        mt::micro_pipe<int> c("c");
        mt::scope s;
        for (int p = 0; p < producers; ++p)
            s.spawn([&] {
                for (int i = 0; i < per; ++i) c.put(i);
            });
        mt::micro_pipe<std::vector<int>> done("done");
        for (int p = 0; p < producers; ++p)
            s.spawn([&] {
                std::vector<int> seen(per, 0);
                for (int i = 0; i < per; ++i) ++seen.at(static_cast<std::size_t>(*c.get()));
                done.put(std::move(seen));
            });
        std::vector<int> all(per, 0);
        for (int p = 0; p < producers; ++p) {
            const std::vector<int> seen = *done.get();
            for (int v = 0; v < per; ++v) all[v] += seen[v];
        }
        s.wait();
        for (int v = 0; v < per; ++v) CHECK_MESSAGE(all[v] == producers, "value " << v << " seen " << all[v] << " times");
    });
}

TEST_CASE("channel semantics: twenty-three consumers ranging over one pipe pass on every value exactly once") {
    in_engine([] {
        constexpr int consumers = 23, count = 271828;
        const std::array<int, 10> pn{2, 3, 7, 11, 13, 17, 19, 23, 27, 31};
        mt::micro_pipe<int> q("work"), r("results");
        std::vector<mt::micro_thread<void>> ws;
        for (int w = 0; w < consumers; ++w)
            ws.push_back(mt::spawn([&, w] {
                for (int v : q) {
                    if (pn[w % pn.size()] == v) mt::yield();  // upsets the order of the waiting consumers
                    r.put(v);
                }
            }));
        long expect = 0;
        auto feeder = mt::spawn([&] {
            for (int i = 0; i < count; ++i) {
                const int v = pn[i % pn.size()];
                expect += v;
                q.put(v);
            }
            q.close();
            for (auto& w : ws) w.wait();
            r.close();
        });
        long n = 0, sum = 0;
        for (int v : r) {
            ++n;
            sum += v;
        }
        feeder.wait();
        CHECK(n == count);
        CHECK(sum == expect);
    });
}

// =====================================================================================
// select (TestSelectFairness, TestPseudoRandomSend, TestSelectDuplicateChannel,
// TestSelfSelect, TestSelectStress, select2-select7.go, doubleselect.go)
// =====================================================================================

TEST_CASE("channel semantics: select chooses uniformly among its ready get cases and never a case that is not ready") {
    mt::detail::seed_select_random(20240601);
    in_engine([] {
        // The fairness test of Go's runtime: two always-ready pipes (kept
        // full before each select, as Go's are by a deep buffer) and two
        // never-ready ones; the chosen value goes out through a select of a
        // put and a get.
        constexpr int trials = 10000;
        mt::micro_pipe<int> c1("c1"), c2("c2"), c3("c3"), c4("c4"), out("out"), done("done");
        mt::scope s;
        s.spawn([&] {
            for (;;) {
                int one = 1, two = 2;
                (void)c1.try_put(one);
                (void)c2.try_put(two);
                std::optional<int> v1, v2, v3, v4, stop;
                const std::size_t k = mt::select(mt::on_get(c3, v3), mt::on_get(c4, v4), mt::on_get(c1, v1), mt::on_get(c2, v2));
                int b = *(k == 0 ? v3 : k == 1 ? v4 : k == 2 ? v1 : v2);
                if (mt::select(mt::on_put(out, b), mt::on_get(done, stop)) == 1) return;
            }
        });
        int cnt1 = 0, cnt2 = 0;
        for (int i = 0; i < trials; ++i) {
            const int b = *out.get();
            REQUIRE((b == 1 || b == 2));
            (b == 1 ? cnt1 : cnt2)++;
        }
        done.close();
        s.wait();
        out.close_reader();
        c3.close();
        c4.close();
        // A fair coin: the standard deviation is 50; 8 of them (10^-15 by chance).
        MESSAGE("c1 " << cnt1 << ", c2 " << cnt2);
        CHECK(std::abs(cnt1 - trials / 2) < 400);

        // Four ready cases: Pearson's chi-square with 3 degrees of freedom;
        // 60 is exceeded by chance with probability about 10^-12.
        std::array<mt::micro_pipe<int>, 4> ps{mt::micro_pipe<int>("r0"), mt::micro_pipe<int>("r1"), mt::micro_pipe<int>("r2"),
                                              mt::micro_pipe<int>("r3")};
        std::array<int, 4> chose{};
        for (int i = 0; i < trials; ++i) {
            for (auto& p : ps) {
                int v = 0;
                (void)p.try_put(v);  // keeps every slot full
            }
            std::array<std::optional<int>, 4> vs;
            const std::size_t k = mt::select(mt::on_get(ps[0], vs[0]), mt::on_get(ps[1], vs[1]), mt::on_get(ps[2], vs[2]),
                                             mt::on_get(ps[3], vs[3]));
            ++chose[k];
        }
        double chi2 = 0;
        for (int k : chose) chi2 += (k - trials / 4.0) * (k - trials / 4.0) / (trials / 4.0);
        MESSAGE("chose " << chose[0] << " " << chose[1] << " " << chose[2] << " " << chose[3] << ", chi-square " << chi2);
        CHECK(chi2 < 60);
    });
}

TEST_CASE("channel semantics: putters that refill pipes a select takes from each get their turn, none is overtaken forever") {
    mt::detail::seed_select_random(20240602);
    in_engine([] {
        // The shape of Go's fairness test with our one-slot pipes: a putter
        // per pipe refills it, so a pipe is ready only once its putter has
        // run again after its value was taken. Every wake-up in this loop
        // is a handoff (the one woken runs next), and none may keep another
        // from running.
        constexpr int trials = 10000;
        mt::micro_pipe<int> c1("c1"), c2("c2"), out("out"), done("done");
        std::array<int, 2> puts{};
        mt::scope s;
        s.spawn([&] {
            for (;;) {
                c1.put(1);
                ++puts[0];
            }
        });
        s.spawn([&] {
            for (;;) {
                c2.put(2);
                ++puts[1];
            }
        });
        s.spawn([&] {
            for (;;) {
                std::optional<int> v1, v2, stop;
                const std::size_t k = mt::select(mt::on_get(c1, v1), mt::on_get(c2, v2));
                if (!(k == 0 ? v1 : v2)) return;  // shut down: its sources were closed
                int b = *(k == 0 ? v1 : v2);
                if (mt::select(mt::on_put(out, b), mt::on_get(done, stop)) == 1) return;
            }
        });
        std::array<int, 2> cnt{};
        for (int i = 0; i < trials; ++i) ++cnt[*out.get() - 1];
        done.close();
        c1.close_reader();
        c2.close_reader();
        s.wait();
        out.close_reader();
        MESSAGE("c1 " << cnt[0] << ", c2 " << cnt[1] << "; putters ran " << puts[0] << ", " << puts[1] << " times");
        CHECK(cnt[0] > trials / 10);
        CHECK(cnt[1] > trials / 10);
        CHECK(puts[0] > trials / 10);
        CHECK(puts[1] > trials / 10);
    });
}

TEST_CASE("channel semantics: select chooses uniformly between two put cases on one pipe, also when it had to wait") {
    mt::detail::seed_select_random(777);
    in_engine([] {
        constexpr int n = 10000;
        for (int receiver_yields = 0; receiver_yields < 2; ++receiver_yields) {
            // receiver_yields: the receiver yields before each get, so the
            // sender finds the slot full and waits, and both its cases
            // become possible at once when the receiver takes the value;
            // otherwise a waiting receiver makes both ready at once.
            mt::micro_pipe<int> c("c");
            std::vector<int> l;
            auto receiver = mt::spawn([&] {
                for (int i = 0; i < n; ++i) {
                    if (receiver_yields) mt::yield();
                    l.push_back(*c.get());
                }
            });
            for (int i = 0; i < n; ++i) {
                int one = 1, zero = 0;
                mt::select(mt::on_put(c, one), mt::on_put(c, zero));
            }
            receiver.wait();
            const int ones = static_cast<int>(std::count(l.begin(), l.end(), 1));
            MESSAGE("receiver yields: " << receiver_yields << "; " << ones << " ones, " << n - ones << " zeros");
            // a fair coin: the standard deviation is 50
            CHECK(std::abs(ones - n / 2) < 400);
        }
    });
}

TEST_CASE("channel semantics: a select waiting with the same pipe in two get cases is woken once, and the pipe's other getters still get theirs") {
    mt::detail::seed_select_random(5);
    in_engine([] {
        mt::micro_pipe<int> c("c"), d("d");
        std::optional<int> c1, c2, dv;
        auto a = mt::spawn([&] { return mt::select(mt::on_get(c, c1), mt::on_get(c, c2), mt::on_get(d, dv)); });
        mt::yield();  // a waits on c (twice) first
        auto b = mt::spawn([&] { return c.get(); });
        mt::yield();  // then b waits on c
        d.put(7);     // a wakes through d and withdraws both of its cases on c
        CHECK(a.wait() == 2);
        CHECK(dv == 7);
        CHECK_FALSE(c1.has_value());
        CHECK_FALSE(c2.has_value());
        c.put(8);  // b, the only getter left
        CHECK(b.wait() == 8);

        // When the duplicated pipe is the one that fires, either of its cases
        // may be chosen, and only the chosen case's target is written.
        std::array<int, 2> chose{};
        for (int i = 0; i < 400; ++i) {
            std::optional<int> x, y, z;
            auto s = mt::spawn([&] { return mt::select(mt::on_get(c, x), mt::on_get(d, z), mt::on_get(c, y)); });
            mt::yield();
            c.put(i);
            const std::size_t k = s.wait();
            REQUIRE((k == 0 || k == 2));
            CHECK((k == 0 ? x : y) == i);
            CHECK_FALSE((k == 0 ? y : x).has_value());
            CHECK_FALSE(z.has_value());
            ++chose[k / 2];
        }
        CHECK(chose[0] > 100);  // 200 expected, standard deviation 10
        CHECK(chose[1] > 100);

        // A close wakes two selects that each hold d twice; the values on their stacks are intact.
        mt::micro_pipe<int> nil(nullptr);
        auto deep = [](auto& self, int depth) -> int {
            volatile char pad[256];
            pad[0] = static_cast<char>(depth);
            return depth == 0 ? pad[0] : self(self, depth - 1) + pad[0];
        };
        std::array<bool, 2> ok{};
        std::vector<mt::micro_thread<void>> hs;
        for (int dup = 0; dup < 2; ++dup)
            hs.push_back(mt::spawn([&, dup] {
                (void)deep(deep, 40);  // uses the stack before waiting
                int val = 42;
                int* px = &val;
                std::optional<int> from_c, from_c2, from_d, from_d2;
                mt::micro_pipe<int>& c2p = dup ? c : nil;
                mt::micro_pipe<int>& d2p = dup ? d : nil;
                const std::size_t k = mt::select(mt::on_get(c, from_c), mt::on_get(c2p, from_c2), mt::on_get(d, from_d),
                                                 mt::on_get(d2p, from_d2));
                ok[dup] = (k == 2 || k == 3) && !from_c && !from_c2 && !from_d && !from_d2 && px == &val && val == 42;
            }));
        mt::yield();
        d.close();
        for (auto& h : hs) h.wait();
        CHECK(ok[0]);
        CHECK(ok[1]);
        c.close();
    });
}

TEST_CASE("channel semantics: selects of a put and a get on the same pipe never deadlock and lose no value") {
    std::mt19937 rng(3);
    in_engine([&] {
        // one select alone: exactly the case that can happen happens
        mt::micro_pipe<int> c("c");
        std::optional<int> got;
        int v = 1;
        CHECK(mt::select(mt::on_put(c, v), mt::on_get(c, got)) == 0);  // empty: the put
        CHECK_FALSE(got.has_value());
        v = 2;
        CHECK(mt::select(mt::on_put(c, v), mt::on_get(c, got)) == 1);  // full: the get
        CHECK(got == 1);
        CHECK(v == 2);
        CHECK_FALSE(c.state()->full());

        // two micro-threads doing it 1000 times each (TestSelfSelect)
        std::array<int, 2> puts{}, gets{};
        std::multiset<int> sent, received;
        mt::scope s;
        for (int p = 0; p < 2; ++p)
            s.spawn([&, p] {
                for (int i = 0; i < 1000; ++i) {
                    int x = p * 10000 + i;
                    std::optional<int> y;
                    const std::size_t k =
                        (p == 0 || i % 2 == 0) ? mt::select(mt::on_put(c, x), mt::on_get(c, y)) : 1 - mt::select(mt::on_get(c, y), mt::on_put(c, x));
                    if (k == 0) {
                        ++puts[p];
                        sent.insert(p * 10000 + i);
                    } else {
                        ++gets[p];
                        received.insert(*y);
                    }
                    if (rng() % 3 == 0) mt::yield();
                }
            });
        s.wait();
        if (auto left = c.try_get()) received.insert(*left);
        CHECK(sent == received);
        CHECK(puts[0] + puts[1] == static_cast<int>(sent.size()));
        CHECK(puts[0] + puts[1] - (gets[0] + gets[1]) <= 1);
    });
}

TEST_CASE("channel semantics: a select over a run-time list of a hundred pipes reaches every ready case and wakes on any") {
    mt::detail::seed_select_random(100);
    in_engine([] {
        constexpr int n = 100, trials = 20000;
        std::vector<mt::micro_pipe<int>> ps;
        for (int i = 0; i < n; ++i) ps.emplace_back("p" + std::to_string(i));
        std::vector<std::optional<int>> got(n);
        std::vector<mt::select_case> cases;
        for (int i = 0; i < n; ++i) cases.push_back(mt::on_get(ps[i], got[i], i % 10 != 3));  // every tenth disabled
        std::vector<int> chose(n, 0);
        int wrong = 0;
        for (int t = 0; t < trials; ++t) {
            for (int i = 0; i < n; ++i) {
                int v = i;
                (void)ps[i].try_put(v);
            }
            const std::size_t k = mt::select(cases);
            wrong += got[k] != static_cast<int>(k);
            ++chose[k];
        }
        CHECK(wrong == 0);
        for (int i = 0; i < n; ++i) {
            CAPTURE(i);
            if (i % 10 == 3) CHECK(chose[i] == 0);
            else CHECK(chose[i] > 100);  // about 222 expected, standard deviation under 15
        }
        for (auto& p : ps) (void)p.try_get();

        // waiting on all of them: the one put to wakes it
        auto sel = mt::spawn([&] { return mt::select(cases); });
        mt::yield();
        REQUIRE(sel.state() == mt::state::waiting);
        ps[74].put(740);
        CHECK(sel.wait() == 74);
        CHECK(got[74] == 740);
        int stray = 0;
        for (auto& p : ps) stray += p.try_get().has_value();
        CHECK(stray == 0);
    });
}

TEST_CASE("channel semantics: a select whose every case is disabled waits for its timeout, or until it is aborted") {
    in_engine([] {
        mt::micro_pipe<int> nil(nullptr), ready("ready");
        ready.put(1);
        std::optional<int> v;
        int x = 7;
        // with a timeout: Go's select over nil channels with a default
        CHECK_FALSE(mt::select(0ms, mt::on_get(nil, v), mt::on_put(nil, x)).has_value());
        CHECK_FALSE(mt::select(2ms, mt::on_get(nil, v), mt::on_put(nil, x), mt::on_get(ready, v, false)).has_value());
        CHECK_FALSE(v.has_value());
        CHECK(x == 7);
        CHECK(ready.state()->full());
        CHECK_FALSE(mt::select(mt::deadline(1ms)).has_value());  // no case at all
        // a plain get or put on a nil handle is a usage error, not a wait
        CHECK_THROWS_AS(nil.get(), mt::usage_error);
        CHECK_THROWS_AS(nil.put(1), mt::usage_error);

        // without a timeout: waits until aborted (Go's `select {}` and select over nil channels)
        std::vector<mt::micro_thread<void>> hs;
        hs.push_back(mt::spawn([&] {
            std::optional<int> w;
            mt::select(mt::on_get(nil, w));
        }));
        hs.push_back(mt::spawn([&] {
            int y = 7;
            mt::select(mt::on_put(nil, y));
        }));
        hs.push_back(mt::spawn([&] {
            std::optional<int> w;
            int y = 7;
            mt::select(mt::on_get(nil, w), mt::on_put(nil, y), mt::on_get(ready, w, false), mt::on_put(ready, y, false));
        }));
        hs.push_back(mt::spawn([&] {
            std::vector<mt::select_case> none;
            mt::select(none);
        }));
        yield_times(5);
        for (auto& h : hs) CHECK(h.state() == mt::state::waiting);
        for (auto& h : hs) h.abort();
        for (auto& h : hs) CHECK(ended_by_exit(h));
        CHECK(ready.get() == 1);
    });
}

TEST_CASE("channel semantics: select on a closed pipe behaves like the plain operation") {
    in_engine([] {
        mt::micro_pipe<int> closed("closed");
        closed.close();
        for (int i = 0; i < 10; ++i) {
            std::optional<int> v = 1;
            CHECK(mt::select(mt::on_get(closed, v)) == 0);
            CHECK_FALSE(v.has_value());
        }
        auto putter = mt::spawn([&] {
            int v = 7;
            mt::select(mt::on_put(closed, v));
        });
        CHECK(ended_by_exit(putter));
        // a waiting select on a pipe that another micro-thread then closes
        mt::micro_pipe<int> p("p"), q("q");
        p.put(0);  // full: the put case waits
        auto waiting = mt::spawn([&] {
            int v = 7;
            std::optional<int> w;
            mt::select(mt::on_put(p, v), mt::on_get(q, w));
        });
        mt::yield();
        p.close();
        CHECK(ended_by_exit(waiting));
        CHECK(p.get() == 0);
        q.close();
    });
}

TEST_CASE("channel semantics: a stress of putters, getters and two selecting micro-threads over four pipes completes with every count right") {
    mt::detail::seed_select_random(42);
    in_engine([] {
        constexpr int n = 10000;
        std::array<mt::micro_pipe<int>, 4> c{mt::micro_pipe<int>("c0"), mt::micro_pipe<int>("c1"), mt::micro_pipe<int>("c2"),
                                             mt::micro_pipe<int>("c3")};
        std::array<int, 4> plain_got{}, select_put{}, select_got{};
        mt::scope s;
        for (int k = 0; k < 4; ++k) {
            s.spawn([&, k] {
                for (int i = 0; i < n; ++i) c[k].put(0);
            });
            s.spawn([&, k] {
                for (int i = 0; i < n; ++i) plain_got[k] += c[k].get().has_value();
            });
        }
        s.spawn([&] {
            for (int i = 0; i < 4 * n; ++i) {
                std::array<int, 4> z{};
                std::array<mt::select_case, 4> cases;
                const std::array<int, 4> order{3, 2, 0, 1};
                for (int j = 0; j < 4; ++j) cases[j] = mt::on_put(c[order[j]], z[j], select_put[order[j]] < n);
                ++select_put[order[mt::select(cases)]];
            }
        });
        s.spawn([&] {
            for (int i = 0; i < 4 * n; ++i) {
                std::array<std::optional<int>, 4> v;
                std::vector<mt::select_case> cases;
                for (int k = 0; k < 4; ++k) cases.push_back(mt::on_get(c[k], v[k], select_got[k] < n));
                const std::size_t k = mt::select(cases);
                select_got[k] += v[k].has_value();
            }
        });
        s.wait();
        for (int k = 0; k < 4; ++k) {
            CHECK(plain_got[k] == n);
            CHECK(select_put[k] == n);
            CHECK(select_got[k] == n);
            CHECK_FALSE(c[k].state()->full());
        }
    });
}

TEST_CASE("channel semantics: a waiting get, one-case select or two-case select is completed by a put, a one-case select or a two-case select") {
    in_engine([] {
        for (int recv = 0; recv < 3; ++recv)
            for (int send = 0; send < 3; ++send)
                for (int receiver_first = 0; receiver_first < 2; ++receiver_first) {
                    CAPTURE(recv);
                    CAPTURE(send);
                    CAPTURE(receiver_first);
                    mt::micro_pipe<int> c("c"), idle_get("idle get"), idle_put("idle put");
                    idle_put.put(0);  // full: a put case there cannot happen
                    if (!receiver_first) c.put(0);  // full: the sender waits
                    auto receive = [&]() -> int {
                        std::optional<int> v, w;
                        if (recv == 0) return *c.get();
                        if (recv == 1) REQUIRE(mt::select(mt::on_get(c, v)) == 0);
                        else REQUIRE(mt::select(mt::on_get(c, v), mt::on_get(idle_get, w)) == 0);
                        return *v;
                    };
                    auto sender = [&] {
                        int one = 1, other = 2;
                        if (send == 0) c.put(1);
                        else if (send == 1) REQUIRE(mt::select(mt::on_put(c, one)) == 0);
                        else REQUIRE(mt::select(mt::on_put(c, one), mt::on_put(idle_put, other)) == 0);
                    };
                    if (receiver_first) {
                        auto r = mt::spawn(receive);
                        mt::yield();
                        REQUIRE(r.state() == mt::state::waiting);
                        sender();
                        CHECK(r.wait() == 1);
                    } else {
                        auto s = mt::spawn(sender);
                        mt::yield();
                        REQUIRE(s.state() == mt::state::waiting);
                        CHECK(receive() == 0);  // the value that was there
                        s.wait();
                        CHECK(c.get() == 1);
                    }
                    CHECK(idle_put.get() == 0);
                    CHECK_FALSE(idle_put.try_get().has_value());
                    CHECK_FALSE(idle_get.try_get().has_value());
                    CHECK_FALSE(c.try_get().has_value());
                }
    });
}

TEST_CASE("channel semantics: a select woken through one case no longer waits on its other pipes") {
    in_engine([] {
        mt::micro_pipe<bool> c1("c1"), c2("c2"), c3("c3");
        bool wrong_case = false;
        mt::scope s;
        s.spawn([&] { c1.get(); });
        s.spawn([&] {
            std::optional<bool> a, b;
            if (mt::select(mt::on_get(c1, a), mt::on_get(c2, b)) == 0) wrong_case = true;
            else c3.put(true);
            c1.get();
        });
        s.spawn([&] { c2.put(true); });
        CHECK(c3.get() == true);
        c1.put(true);  // to the first plain getter
        c1.put(true);  // to the select's later plain get, not to its withdrawn case
        s.wait();
        CHECK_FALSE(wrong_case);
    });
}

TEST_CASE("channel semantics: a sender selecting over four pipes, muxed back into one, delivers every value exactly once") {
    mt::detail::seed_select_random(99);
    in_engine([] {
        constexpr int n = 100000;
        std::array<mt::micro_pipe<int>, 4> c{mt::micro_pipe<int>("c1"), mt::micro_pipe<int>("c2"), mt::micro_pipe<int>("c3"),
                                             mt::micro_pipe<int>("c4")};
        mt::micro_pipe<int> cmux("mux");
        mt::micro_pipe<bool> done("done");
        mt::scope s;
        s.spawn([&] {
            for (int i = 0; i < n; ++i) {
                int v = i;
                mt::select(mt::on_put(c[0], v), mt::on_put(c[1], v), mt::on_put(c[2], v), mt::on_put(c[3], v));
            }
            for (auto& p : c) p.close();
        });
        std::array<int, 4> per{};
        for (int k = 0; k < 4; ++k)
            s.spawn([&, k] {
                for (int v : c[k]) {
                    cmux.put(v);
                    ++per[k];
                }
                done.put(true);
            });
        s.spawn([&] {
            for (int k = 0; k < 4; ++k) done.get();
            cmux.close();
        });
        std::vector<char> seen(n, 0);
        int count = 0, duplicates = 0;
        for (int v : cmux) {
            REQUIRE((v >= 0 && v < n));
            duplicates += seen[v]++ != 0;
            ++count;
        }
        s.wait();
        CHECK(count == n);
        CHECK(duplicates == 0);
        for (int k : per) CHECK(k > n / 20);  // each route carried a share (n/4 expected)
    });
}

TEST_CASE("channel semantics: a hundred thousand selects that wait allocate nothing") {
    in_engine([] {
        constexpr int n = 100000;
        mt::micro_pipe<int> c("c"), dummy("dummy");
        auto one_round = [&] {
            auto sender = mt::spawn([&] {
                for (int i = 0; i < n; ++i) c.put(1);
            });
            int received = 0;
            for (int i = 0; i < n; ++i) {
                std::optional<int> v, d;
                REQUIRE(mt::select(mt::on_get(c, v), mt::on_get(dummy, d)) == 0);
                received += *v;
            }
            sender.wait();
            return received;
        };
        CHECK(one_round() == n);  // warm-up
        auto sender = mt::spawn([&] {
            for (int i = 0; i < n; ++i) c.put(1);
        });
        const std::size_t after_spawn = mt_test::allocations();
        int received = 0, wrong = 0;
        for (int i = 0; i < n; ++i) {
            std::optional<int> v, d;
            wrong += mt::select(mt::on_get(c, v), mt::on_get(dummy, d)) != 0;
            received += v.value_or(0);
        }
        const std::size_t allocated = mt_test::allocations() - after_spawn;
        sender.wait();
        CHECK(allocated == 0);
        CHECK(wrong == 0);
        CHECK(received == n);
        dummy.close();
    });
}

TEST_CASE("channel semantics: a select writes the target of the case that happens, and no other") {
    in_engine([] {
        mt::micro_pipe<int> c("c"), c1("c1");
        c.put(42);
        std::optional<int> untouched = 7, x;
        CHECK(mt::select(mt::on_get(c1, untouched), mt::on_get(c, x)) == 1);
        CHECK(x == 42);
        CHECK(untouched == 7);
        // the put side: a value is moved only by the case that happens
        std::string stays = "stays", goes = "goes";
        mt::micro_pipe<std::string> full("full"), empty("empty");
        full.put("x");
        CHECK(mt::select(mt::on_put(full, stays), mt::on_put(empty, goes)) == 1);
        CHECK(stays == "stays");
        CHECK(goes.empty());
        CHECK(empty.get() == "goes");
        c1.close();
    });
}

TEST_CASE("channel semantics: a pipe of pipes carries a pipe that a select then puts to") {
    in_engine([] {
        mt::micro_pipe<mt::micro_pipe<int>> cc("pipes");
        mt::micro_pipe<int> c("c");
        cc.put(c);
        auto inner = cc.get();
        REQUIRE(inner.has_value());
        int two = 2;
        CHECK(mt::select(0ms, mt::on_put(*inner, two)) == 0);
        CHECK(c.get() == 2);
        CHECK(inner->state() == c.state());
    });
}

TEST_CASE("channel semantics: pipes of empty types carry their values and close like any other") {
    in_engine([] {
        struct nothing {};
        mt::micro_pipe<nothing> a("a");
        mt::micro_pipe<std::monostate> b("b");
        a.put(nothing{});
        CHECK(a.get().has_value());
        auto writer = mt::spawn([&] {
            for (int i = 0; i < 3; ++i) b.put(std::monostate{});
            b.close();
        });
        int n = 0;
        for (;;) {
            std::optional<nothing> x;
            std::optional<std::monostate> y;
            if (mt::select(mt::on_get(a, x), mt::on_get(b, y)) == 1) {
                if (!y) break;
                ++n;
            }
        }
        writer.wait();
        CHECK(n == 3);
        a.close();
        CHECK_FALSE(a.get().has_value());
    });
}

// =====================================================================================
// Pipelines (sieve1.go, sieve2.go, powser1.go, goroutines.go)
// =====================================================================================

TEST_CASE("channel semantics: a prime sieve of chained filter stages yields the first hundred primes") {
    in_engine([] {
        std::vector<int> expect;
        for (int k = 2; expect.size() < 100; ++k) {
            bool prime = true;
            for (int d : expect) prime = prime && k % d != 0;
            if (prime) expect.push_back(k);
        }
        mt::scope s;
        mt::micro_pipe<int> ch("generated");
        s.spawn(mt::spawn_options{.name = "generate", .out = ch}, [] {
            auto out = mt::this_stdout<int>();
            for (int i = 2;; ++i) out.put(i);
        });
        std::vector<int> primes;
        for (int i = 0; i < 100; ++i) {
            const int prime = *ch.get();
            primes.push_back(prime);
            mt::micro_pipe<int> next("filtered by " + std::to_string(prime));
            s.spawn(mt::spawn_options{.name = "filter", .in = ch, .out = next}, [prime] {
                auto out = mt::this_stdout<int>();
                for (int v : mt::this_stdin<int>())
                    if (v % prime != 0) out.put(v);
            });
            ch = next;
        }
        ch.close_reader();  // no more wanted: every stage ends, from the last one up
        s.wait();
        CHECK(primes == expect);
    });
}

TEST_CASE("channel semantics: a buffering proxy built from a select whose put case is disabled while it holds nothing delivers every value in order") {
    in_engine([] {
        constexpr int n = 1000;
        mt::micro_pipe<int> in("in"), out("out");
        std::size_t most = 0;
        mt::scope s;
        s.spawn([&] {
            for (int i = 0; i < n; ++i) in.put(i);
            in.close();
        });
        s.spawn([&] {
            std::deque<int> buf;
            bool in_open = true;
            while (in_open || !buf.empty()) {
                std::optional<int> v;
                int head = buf.empty() ? 0 : buf.front();
                if (mt::select(mt::on_get(in, v, in_open), mt::on_put(out, head, !buf.empty())) == 0) {
                    if (v) buf.push_back(*v);
                    else in_open = false;
                } else {
                    buf.pop_front();
                }
                most = std::max(most, buf.size());
            }
            out.close();
        });
        std::vector<int> got;
        while (auto v = out.get()) {
            got.push_back(*v);
            yield_times(3);  // a slow consumer: the proxy buffers for it
        }
        s.wait();
        std::vector<int> expect(n);
        std::iota(expect.begin(), expect.end(), 0);
        CHECK(got == expect);
        CHECK(most > 10);
    });
}

namespace {
// rat — an exact rational, for the power series.
struct rat {
    long long num = 0, den = 1;
    rat() = default;
    rat(long long n, long long d = 1) : num(n), den(d) {
        if (den < 0) num = -num, den = -den;
        const long long g = std::gcd(num < 0 ? -num : num, den);
        if (g > 1) num /= g, den /= g;
    }
    friend rat operator+(rat a, rat b) { return {a.num * b.den + b.num * a.den, a.den * b.den}; }
    friend rat operator*(rat a, rat b) { return {a.num * b.num, a.den * b.den}; }
    bool operator==(const rat&) const = default;
};

using series = mt::micro_pipe<rat>;

// stage_ends — however a stage ends, its inputs are closed as their reader
// (whoever puts to them stops) and its outputs as their writer.
struct stage_ends {
    std::vector<series> ins, outs;
    ~stage_ends() {
        for (auto& p : ins) p.close_reader();
        for (auto& p : outs) p.close();
    }
};

void ones(series out) {
    stage_ends e{{}, {out}};
    for (;;) out.put(rat(1));
}

// mul — the product of two series, coefficient by coefficient.
void mul(series f, series g, series out) {
    stage_ends e{{f, g}, {out}};
    std::vector<rat> fs, gs;
    for (;;) {
        auto a = f.get();
        auto b = g.get();
        if (!a || !b) return;
        fs.push_back(*a);
        gs.push_back(*b);
        rat c;
        for (std::size_t i = 0; i < fs.size(); ++i) c = c + fs[i] * gs[fs.size() - 1 - i];
        out.put(c);
    }
}

// integ — the integral of `in`, with constant term c0.
void integ(rat c0, series in, series out) {
    stage_ends e{{in}, {out}};
    out.put(c0);
    for (long long k = 1;; ++k) {
        auto a = in.get();
        if (!a) return;
        out.put(*a * rat(1, k));
    }
}

// split — copies `in` to both outputs, to whichever can take it first.
void split(series in, series a, series b) {
    stage_ends e{{in}, {a, b}};
    for (rat v : in) {
        rat x = v, y = v;
        if (mt::select(mt::on_put(a, x), mt::on_put(b, y)) == 0) b.put(y);
        else a.put(x);
    }
}

long long binomial(long long n, long long k) {
    long long r = 1;
    for (long long i = 1; i <= k; ++i) r = r * (n - k + i) / i;
    return r;
}
}  // namespace

TEST_CASE("channel semantics: power series as pipelines of many stages: a chain of products and a feedback loop for exp") {
    in_engine([] {
        mt::scope s;
        // 1/(1-x)^8 as seven products of 1/(1-x) = 1 + x + x^2 + ...
        constexpr int k = 8;
        series prod("ones");
        s.spawn(ones, prod);
        for (int j = 1; j < k; ++j) {
            series o("ones"), next("product");
            s.spawn(ones, o);
            s.spawn(mul, prod, o, next);
            prod = next;
        }
        for (int n = 0; n < 12; ++n) CHECK(prod.get() == rat(binomial(n + k - 1, n)));
        prod.close_reader();

        // exp = 1 + the integral of exp: its own output fed back through a split
        series raw("exp"), back("exp fed back"), result("exp out");
        s.spawn(integ, rat(1), back, raw);
        s.spawn(split, raw, result, back);
        long long factorial = 1;
        for (int n = 0; n < 15; ++n) {
            if (n > 0) factorial *= n;
            CHECK(result.get() == rat(1, factorial));
        }
        result.close_reader();
        s.wait();
    });
}

TEST_CASE("channel semantics: ten thousand micro-threads chained by pipes pass a value from one end to the other") {
    in_engine([] {
        constexpr int n = 10000;
        mt::micro_pipe<int> leftmost("leftmost");
        mt::micro_pipe<int> left = leftmost;
        std::vector<mt::micro_thread<void>> hs;
        hs.reserve(n);
        for (int i = 0; i < n; ++i) {
            mt::micro_pipe<int> right("link");
            hs.push_back(mt::spawn([left, right]() mutable { left.put(*right.get() + 1); }));
            left = right;
        }
        yield_times(2);  // all of them wait now
        auto last = mt::spawn([right = left]() mutable { right.put(1); });
        CHECK(leftmost.get() == 1 + n);
        last.wait();
        for (auto& h : hs) h.wait();
    });
}

// =====================================================================================
// Nothing lost (SPEC 8): random interleavings, closes and aborts
// =====================================================================================

TEST_CASE("channel semantics: random interleavings of putters, getters and selects with closes and aborts lose and double nothing") {
    std::mt19937 rng(2024);
    mt::detail::seed_select_random(2024);
    long values = 0;
    for (int round = 0; round < 1000; ++round) {
        ledger led;
        std::size_t reader_closes = 0;
        const int npipes = 1 + static_cast<int>(rng() % 3);
        const int producers = 1 + static_cast<int>(rng() % 4);
        const int consumers = 1 + static_cast<int>(rng() % 3);
        const int per = static_cast<int>(rng() % 25);
        in_engine([&] {
            std::vector<mt::micro_pipe<token>> pipes;
            for (int j = 0; j < npipes; ++j) pipes.emplace_back("p" + std::to_string(j));
            auto maybe_yield = [&] {
                if (rng() % 3 == 0) mt::yield();
            };
            std::vector<mt::micro_thread<void>> ps, cs;
            for (int i = 0; i < producers; ++i)
                ps.push_back(mt::spawn([&, i] {
                    for (int k = 0; k < per; ++k) {
                        const long id = i * 1000L + k;
                        const int how = static_cast<int>(rng() % 3);
                        if (how == 0) {
                            put_logged(pipes[rng() % pipes.size()], id, led);
                        } else {
                            token t(id, led);
                            try {
                                std::vector<mt::select_case> cases;
                                const std::size_t always = rng() % pipes.size();
                                for (std::size_t j = 0; j < pipes.size(); ++j)
                                    cases.push_back(mt::on_put(pipes[j], t, j == always || rng() % 2));
                                if (how == 2 && !mt::select(cases, 0ms)) mt::select(cases);  // a try first
                                else if (how == 1) mt::select(cases);
                                led.put_ok.insert(id);
                            } catch (const mt::MicroThreadExit&) {
                                led.put_raised.insert(id);
                                throw;
                            }
                        }
                        maybe_yield();
                    }
                }));
            for (int i = 0; i < consumers; ++i)
                cs.push_back(mt::spawn([&] {
                    std::vector<bool> open(pipes.size(), true);
                    std::size_t left = pipes.size();
                    while (left > 0) {
                        std::vector<std::optional<token>> got(pipes.size());
                        std::vector<mt::select_case> cases;
                        for (std::size_t j = 0; j < pipes.size(); ++j) cases.push_back(mt::on_get(pipes[j], got[j], open[j]));
                        const std::size_t k = mt::select(cases);
                        if (got[k]) {
                            take(got[k], led);
                        } else {
                            open[k] = false;
                            --left;
                        }
                        maybe_yield();
                    }
                }));
            // The driver: closes and aborts at random moments. Consumer 0 is
            // never aborted, so every pipe is drained in the end.
            const int steps = static_cast<int>(rng() % 12);
            for (int t = 0; t < steps; ++t) {
                mt::yield();
                switch (rng() % 6) {
                    case 0: ps[rng() % ps.size()].abort(); break;
                    case 1:
                        if (cs.size() > 1) cs[1 + rng() % (cs.size() - 1)].abort();
                        break;
                    case 2:
                        pipes[rng() % pipes.size()].close_reader();
                        ++reader_closes;
                        break;
                    case 3: pipes[rng() % pipes.size()].close(); break;
                    default: break;
                }
            }
            for (auto& h : ps) ended_by_exit(h);
            for (auto& p : pipes) p.close();
            for (auto& h : cs) ended_by_exit(h);
        });
        check_ledger(led, reader_closes);
        values += static_cast<long>(led.made.size());
    }
    MESSAGE(values << " values accounted for");
}

TEST_CASE("channel semantics: aborting micro-threads that wait in get, put or select leaves every value in its place") {
    ledger led;
    in_engine([&] {
        mt::micro_pipe<token> p("p"), idle("idle"), full("full");
        full.put(token(999, led));  // a slot that stays full: put cases there wait
        led.put_ok.insert(999);
        auto get_into = [&](long& where) {
            return [&led, &p, w = &where] {
                auto v = p.get();
                *w = v ? take(v, led) : -1;
            };
        };

        // getters: two of four are aborted; the values go to the other two, in order
        std::array<long, 4> got{-2, -2, -2, -2};
        auto g0 = mt::spawn(get_into(got[0]));
        auto g1 = mt::spawn(get_into(got[1]));
        auto s2 = mt::spawn([&] {
            std::optional<token> a, b;
            mt::select(mt::on_get(idle, a), mt::on_get(p, b));
            got[2] = take(b, led);
        });
        auto g3 = mt::spawn(get_into(got[3]));
        mt::yield();
        g1.abort();
        s2.abort();
        CHECK(ended_by_exit(g1));
        CHECK(ended_by_exit(s2));
        put_logged(p, 10, led);
        put_logged(p, 11, led);
        g0.wait();
        g3.wait();
        CHECK(got == std::array<long, 4>{10, -2, -2, 11});
        CHECK_FALSE(p.state()->full());

        // putters: two of four are aborted; their values are destroyed with their puts
        put_logged(p, 20, led);
        auto p0 = mt::spawn([&] { put_logged(p, 21, led); });
        auto p1 = mt::spawn([&] { put_logged(p, 22, led); });
        auto s3 = mt::spawn([&] {
            token t(23, led);
            try {
                mt::select(mt::on_put(full, t), mt::on_put(p, t));
                led.put_ok.insert(23);
            } catch (const mt::MicroThreadExit&) {
                led.put_raised.insert(23);
                throw;
            }
        });
        auto p4 = mt::spawn([&] { put_logged(p, 24, led); });
        mt::yield();
        p1.abort();
        s3.abort();
        CHECK(ended_by_exit(p1));
        CHECK(ended_by_exit(s3));
        std::vector<long> order;
        for (int i = 0; i < 3; ++i) {
            auto v = p.get();
            order.push_back(take(v, led));
        }
        CHECK(order == std::vector<long>{20, 21, 24});
        p0.wait();
        p4.wait();
        CHECK(led.put_raised == std::set<long>{22, 23});

        // handed a value, then aborted before it ran: the value is still its own
        long handed = -2;
        bool then_raised = false;
        auto g = mt::spawn([&] {
            auto v = p.get();
            handed = take(v, led);
            try {
                mt::yield();  // the abort lands here
            } catch (const mt::MicroThreadExit&) {
                then_raised = true;
                throw;
            }
        });
        mt::yield();
        put_logged(p, 30, led);  // the handoff: g's wait has ended
        g.abort();
        CHECK(ended_by_exit(g));
        CHECK(handed == 30);
        CHECK(then_raised);

        put_logged(p, 40, led);
        auto q = mt::spawn([&] {
            put_logged(p, 41, led);
            mt::yield();  // the abort lands here
        });
        mt::yield();
        auto v40 = p.get();  // 41 moves into the slot: q's put has happened
        CHECK(take(v40, led) == 40);
        q.abort();
        CHECK(ended_by_exit(q));  // by its abort, at its next suspension (after the put returned)
        CHECK(led.put_ok.count(41) == 1);
        auto v41 = p.get();
        CHECK(take(v41, led) == 41);

        std::optional<token> sa, sb;
        auto sel = mt::spawn([&] { return mt::select(mt::on_get(idle, sa), mt::on_get(p, sb)); });
        mt::yield();
        put_logged(p, 50, led);
        sel.abort();
        CHECK(sel.wait() == 1);  // it ended its select before the abort could land
        CHECK(take(sb, led) == 50);

        CHECK_FALSE(p.state()->full());
        auto vf = full.get();
        take(vf, led);
        idle.close();
    });
    check_ledger(led, 0);
    CHECK(led.got.size() == 10);
}

// =====================================================================================
// Across OS threads: xpipes between engines and plain OS threads
// =====================================================================================

TEST_CASE("channel semantics: an xpipe of each capacity from 1 to 8 between a plain OS thread and a micro-thread keeps FIFO order and drains after close") {
    in_engine([] {
        for (std::size_t cap = 1; cap <= 8; ++cap) {
            CAPTURE(cap);
            mt::xpipe<int> to_engine("to engine", cap), from_engine("from engine", cap);
            std::vector<int> thread_got;
            std::thread t([&] {
                for (int i = 0; i < 300; ++i) to_engine.put(i);
                to_engine.close();
                while (auto v = from_engine.get()) thread_got.push_back(*v);
            });
            int expect = 0;
            bool in_order = true;
            while (auto v = to_engine.get()) in_order = in_order && *v == expect++;
            for (int i = 0; i < 300; ++i) from_engine.put(i);
            from_engine.close();
            t.join();
            CHECK(in_order);
            CHECK(expect == 300);
            std::vector<int> all(300);
            std::iota(all.begin(), all.end(), 0);
            CHECK(thread_got == all);

            // filled to capacity, closed: what is buffered comes out first, in order
            mt::xpipe<int> p("p", cap);
            for (std::size_t i = 0; i < cap; ++i) p.put(static_cast<int>(i));
            p.close();
            CHECK_THROWS_AS(p.put(0), mt::MicroThreadExit);
            for (std::size_t i = 0; i < cap; ++i) CHECK(p.get() == static_cast<int>(i));
            CHECK_FALSE(p.get().has_value());
            CHECK_FALSE(p.get().has_value());
        }
    });
}

TEST_CASE("channel semantics: producers and consumers spread over two engines exchange every value exactly once through one xpipe") {
    constexpr int producers = 4, per = 2000;
    std::map<int, int> all;
    mt::engine_group g({.threads = 2});
    g.run([&] {
        mt::xpipe<int> c("shared", 4);
        std::vector<mt::remote_thread<void>> ps;
        std::vector<mt::remote_thread<std::map<int, int>>> cs;
        for (int k = 0; k < producers; ++k)
            ps.push_back(mt::spawn_on(k % 2, [c]() mutable {
                for (int i = 0; i < per; ++i) c.put(i);
            }));
        for (int k = 0; k < producers; ++k)
            cs.push_back(mt::spawn_on((k + 1) % 2, [c]() mutable {
                std::map<int, int> seen;
                while (auto v = c.get()) ++seen[*v];
                return seen;
            }));
        mt::join_all(ps);
        c.close();
        for (auto& h : cs)
            for (auto [v, n] : h.wait()) all[v] += n;
    });
    CHECK(all.size() == std::size_t(per));
    for (auto [v, n] : all) CHECK_MESSAGE(n == producers, "value " << v << " seen " << n << " times");
}

TEST_CASE("channel semantics: a sender on one of two engines selecting over four xpipes feeds relays on the other, and every value arrives exactly once") {
    constexpr int n = 5000;
    std::vector<char> seen(n, 0);
    int count = 0, duplicates = 0;
    mt::engine_group g({.threads = 2});
    g.run([&] {
        std::array<mt::xpipe<int>, 4> c{mt::xpipe<int>("x1"), mt::xpipe<int>("x2"), mt::xpipe<int>("x3"), mt::xpipe<int>("x4")};
        auto sender = mt::spawn_on(1, [c]() mutable {
            for (int i = 0; i < n; ++i) {
                int v = i;
                mt::select(mt::on_put(c[0], v), mt::on_put(c[1], v), mt::on_put(c[2], v), mt::on_put(c[3], v));
            }
            for (auto& p : c) p.close();
        });
        mt::micro_pipe<int> mux("mux");
        mt::scope s;
        for (int k = 0; k < 4; ++k)
            s.spawn(mt::spawn_options{.name = "relay", .out = mux}, [x = c[k]]() mutable {
                auto out = mt::this_stdout<int>();
                while (auto v = x.get()) out.put(*v);
            });  // the last relay to end closes mux
        for (int v : mux) {
            if (v < 0 || v >= n) continue;
            duplicates += seen[v]++ != 0;
            ++count;
        }
        s.wait();
        sender.wait();
    });
    CHECK(count == n);
    CHECK(duplicates == 0);
}
