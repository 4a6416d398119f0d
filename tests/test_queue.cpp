// mt::queue<T> of capacity N: the orders, the pipe's table (docs/reference/pipes.md)
// with N slots, fairness, deadlines, the unbuffered form, abort safety with every
// value counted, allocations, the dump and deadlock reports, misuse.
#include <doctest/doctest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/microthreading.hpp"
#include "core/queue.hpp"
#include "tests/alloc_counter.hpp"
#include "tests/engine_fixture.hpp"

using namespace std::chrono_literals;
using mt_test::in_engine;

namespace {

template <class Q>
std::vector<int> drain(Q& q) {
    std::vector<int> out;
    while (auto v = q.try_get()) out.push_back(*v);
    return out;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// counted — a value that records its destruction when it still holds one.
struct counted {
    int* destroyed;
    explicit counted(int* d) : destroyed(d) {}
    counted(counted&& o) noexcept : destroyed(std::exchange(o.destroyed, nullptr)) {}
    ~counted() {
        if (destroyed) ++*destroyed;
    }
};

}  // namespace

// ---- orders ------------------------------------------------------------------------

TEST_CASE("a queue gives values back first in, first out, across the ring's wrap") {
    in_engine([] {
        mt::queue<int> q(3, "fifo");
        for (int round = 0; round < 4; ++round) {  // wraps the ring several times
            q.put(round * 10 + 1);
            q.put(round * 10 + 2);
            CHECK(q.get() == round * 10 + 1);
            q.put(round * 10 + 3);
            CHECK(drain(q) == std::vector<int>{round * 10 + 2, round * 10 + 3});
        }
    });
}

TEST_CASE("a lifo_queue gives the last value put first") {
    in_engine([] {
        mt::lifo_queue<int> q(4, "stack");
        for (int v : {1, 2, 3}) q.put(v);
        CHECK(q.get() == 3);
        q.put(4);
        CHECK(drain(q) == std::vector<int>{4, 2, 1});
    });
}

TEST_CASE("a priority_queue gives the greatest first by its comparison, and equal ones in arrival order") {
    in_engine([] {
        mt::priority_queue<int> largest(8, "largest");
        for (int v : {5, 1, 9, 3, 7, 9, 2}) largest.put(v);
        CHECK(drain(largest) == std::vector<int>{9, 9, 7, 5, 3, 2, 1});

        mt::priority_queue<int, std::greater<int>> smallest(8, "smallest");
        for (int v : {5, 1, 9, 3}) smallest.put(v);
        CHECK(drain(smallest) == std::vector<int>{1, 3, 5, 9});

        struct job {
            int urgency;
            std::string name;
        };
        struct by_urgency {
            bool operator()(const job& a, const job& b) const { return a.urgency < b.urgency; }
        };
        mt::priority_queue<job, by_urgency> jobs(8, "jobs");
        for (const char* n : {"a", "b", "c"}) jobs.put(job{1, n});
        jobs.put(job{2, "urgent"});
        jobs.put(job{1, "d"});
        std::vector<std::string> order;
        while (auto j = jobs.try_get()) order.push_back(j->name);
        CHECK(order == std::vector<std::string>{"urgent", "a", "b", "c", "d"});
    });
}

TEST_CASE("a priority_queue keeps its order through thousands of random puts and gets") {
    in_engine([] {
        std::mt19937 rng(7);
        mt::priority_queue<int> q(64, "random");
        std::multiset<int> model;
        for (int i = 0; i < 20000; ++i) {
            if (model.size() < 64 && (model.empty() || rng() % 2)) {
                const int v = static_cast<int>(rng() % 100);
                q.put(v);
                model.insert(v);
            } else {
                const auto v = q.get();
                REQUIRE(v.has_value());
                CHECK(*v == *model.rbegin());
                model.erase(std::prev(model.end()));
            }
            CHECK(q.size() == model.size());
        }
    });
}

// ---- capacity -------------------------------------------------------------------------

TEST_CASE("a capacity whose bytes overflow is a usage error naming the queue, never a small ring written past") {
    // SIZE_MAX / 4 + 2 slots of 4 bytes made 8 bytes, and the queue then
    // stored its values past them.
    in_engine([] {
        const std::size_t wraps = SIZE_MAX / sizeof(int) + 2;
        CHECK_THROWS_WITH_AS(mt::queue<int>(wraps, "wrapped"),
                             ("mt::queue in micro-thread #1 'main' on queue 'wrapped': a capacity of " + std::to_string(wraps) +
                              " slots of 4 bytes, more than any memory can hold")
                                 .c_str(),
                             mt::usage_error);
        CHECK_THROWS_AS(mt::lifo_queue<int>(SIZE_MAX), mt::usage_error);
        CHECK_THROWS_AS(mt::priority_queue<int>(SIZE_MAX / 2), mt::usage_error);
        mt::queue<int> fine(4, "fine");
        fine.put(1);
        CHECK(fine.get() == 1);
    });
}

TEST_CASE("a queue reports its capacity, size, empty and full") {
    in_engine([] {
        mt::queue<std::string> q(2, "two");
        CHECK(q.capacity() == 2);
        CHECK(q.empty());
        CHECK_FALSE(q.full());
        q.put("a");
        CHECK(q.size() == 1);
        q.put("b");
        CHECK(q.full());
        CHECK(q.name() == "two");
        std::string c = "c";
        CHECK_FALSE(q.try_put(std::move(c)));
        CHECK(c == "c");  // a refused try_put leaves the value with the caller
    });
}

TEST_CASE("put on a full queue suspends until a get makes room; the first waiting putter's value goes in") {
    in_engine([] {
        mt::queue<int> q(2, "q");
        q.put(1);
        q.put(2);
        std::vector<std::string> log;
        auto putter = mt::spawn([&] {
            q.put(3);
            log.push_back("put 3");
        });
        mt::yield();
        CHECK(putter.state() == mt::state::waiting);
        CHECK(log.empty());
        CHECK(q.get() == 1);  // the putter's 3 goes in at once
        CHECK(q.size() == 2);
        putter.wait();
        CHECK(log == std::vector<std::string>{"put 3"});
        CHECK(drain(q) == std::vector<int>{2, 3});
    });
}

TEST_CASE("get on an empty queue suspends until a put, which hands the value over and runs the getter next") {
    in_engine([] {
        mt::queue<int> q(4, "q");
        std::vector<std::string> order;
        auto getter = mt::spawn([&] { order.push_back("got " + std::to_string(*q.get())); });
        mt::yield();
        CHECK(getter.state() == mt::state::waiting);
        auto other = mt::spawn([&] { order.push_back("other"); });
        q.put(7);
        CHECK(q.empty());  // handed straight to the getter, never stored
        mt::yield();
        CHECK(order == std::vector<std::string>{"got 7", "other"});
        getter.wait();
        other.wait();
    });
}

TEST_CASE("a queue's storage is made at construction: puts and gets allocate nothing") {
    in_engine([] {
        mt::queue<int> q(64, "stream");
        mt::priority_queue<int> pq(64, "prio");
        long sum = 0;
        auto consumer = mt::spawn([&] {
            for (int v : q) sum += v;
        });
        for (int i = 0; i < 200; ++i) q.put(i);  // warm: the consumer's stack, the run queue
        const std::size_t before = mt_test::allocations();
        for (int i = 0; i < 10000; ++i) {
            q.put(i);
            pq.put(i % 64);
            pq.get();
        }
        q.put(1, 1s);
        CHECK(mt_test::allocations() - before == 0);
        q.close();
        consumer.wait();
        CHECK(sum == 199 * 200 / 2 + 9999L * 10000 / 2 + 1);
    });
}

// ---- deadlines ----------------------------------------------------------------------------

TEST_CASE("a get that times out raises timeout_error naming the queue and how full it is") {
    in_engine([] {
        mt::queue<int> q(2, "slow");
        CHECK_THROWS_WITH_AS(q.get(20ms),
                             doctest::Contains("queue::get in micro-thread #1 'main' timed out after 0.020 s "
                                               "waiting to get from queue 'slow' (0 of 2)"),
                             mt::timeout_error);
        CHECK_THROWS_AS(q.get(0ms), mt::timeout_error);  // a poll
        q.put(1);
        CHECK(q.get(0ms) == 1);  // a poll that finds a value
        CHECK_THROWS_WITH_AS(q.get(-1ms), doctest::Contains("negative timeout"), mt::usage_error);
    });
}

TEST_CASE("a put that times out leaves its value with the caller") {
    in_engine([] {
        mt::queue<std::unique_ptr<int>> q(1, "full");
        q.put(std::make_unique<int>(1));
        auto mine = std::make_unique<int>(2);
        CHECK_THROWS_WITH_AS(q.put(std::move(mine), 10ms),
                             doctest::Contains("waiting to put to queue 'full' (1 of 1)"), mt::timeout_error);
        REQUIRE(mine != nullptr);
        CHECK(*mine == 2);
        CHECK(q.size() == 1);
        CHECK(**q.get() == 1);
        q.put(std::move(mine), 0ms);  // room now: even a poll succeeds
        CHECK(mine == nullptr);
        CHECK(**q.get() == 2);
    });
}

TEST_CASE("a timed-out waiter leaves the queue: a later value goes to the next waiter") {
    in_engine([] {
        mt::queue<int> q(1, "q");
        auto impatient = mt::spawn([&] { return q.get(5ms); });
        auto patient = mt::spawn([&] { return q.get(); });
        mt::sleep_d(20ms);
        CHECK_THROWS_AS(impatient.wait(), mt::timeout_error);
        q.put(4);
        CHECK(patient.wait() == 4);
        q.state().check_invariants();
    });
}

// ---- try_ forms ------------------------------------------------------------------------------

TEST_CASE("try_put and try_get never suspend") {
    in_engine([] {
        mt::queue<int> q(1, "q");
        CHECK_FALSE(q.try_get().has_value());
        CHECK(q.try_put(1));
        CHECK_FALSE(q.try_put(2));
        CHECK(q.try_get() == 1);
        // try_put to a waiting getter hands the value over
        auto getter = mt::spawn([&] { return *q.get(); });
        mt::yield();
        CHECK(q.try_put(9));
        CHECK(q.empty());
        CHECK(getter.wait() == 9);
        // try_get refills from a waiting putter
        q.put(1);
        auto putter = mt::spawn([&] { q.put(2); });
        mt::yield();
        CHECK(q.try_get() == 1);
        CHECK(q.size() == 1);
        putter.wait();
        CHECK(q.try_get() == 2);
    });
}

TEST_CASE("try_get tells end-of-stream through closed(), rethrows the close's error, and try_put raises MicroThreadExit") {
    in_engine([] {
        mt::queue<int> q(2, "q");
        q.put(1);
        q.close();
        CHECK(q.try_get() == 1);
        CHECK_FALSE(q.try_get().has_value());
        CHECK(q.closed());
        CHECK_THROWS_AS(q.try_put(3), mt::MicroThreadExit);

        mt::queue<int> e(2, "e");
        e.close(std::make_exception_ptr(std::runtime_error("broken")));
        CHECK_THROWS_WITH_AS(e.try_get(), "broken", std::runtime_error);
    });
}

TEST_CASE("try_put and try_get also work on the engine's root context") {
    mt::queue<int> q(2, "root");
    std::optional<int> got;
    mt::engine e;
    auto h = mt::spawn([&] { got = q.get(10s); });  // a deadline: run_once sees no deadlock
    e.run_once();                                   // the getter waits
    CHECK(q.try_put(5));      // from the root: handed over
    e.loop();
    CHECK(got == 5);
    CHECK(q.try_put(6));
    CHECK(q.try_get() == 6);
}

// ---- closing: the table ------------------------------------------------------------------------

TEST_CASE("put after close raises MicroThreadExit in the putter, which ends silently") {
    int reported = 0;
    in_engine([&] {
        mt::set_unhandled_exception_handler([&](const mt::micro_thread_info&, std::exception_ptr) { ++reported; });
        mt::queue<int> q(4, "q");
        q.close();
        auto putter = mt::spawn([&] { q.put(1); });
        CHECK_THROWS_AS(putter.wait(), mt::micro_thread_aborted);
        mt::start_and_forget([&] { q.put(2); });
        mt::yield();
    });
    CHECK(reported == 0);
}

TEST_CASE("the MicroThreadExit of a put to a closed queue names the queue") {
    in_engine([] {
        mt::queue<int> q(1, "jobs");
        q.close();
        std::string why;
        try {
            q.put(1);
        } catch (const mt::MicroThreadExit& e) {
            why = e.what();
        }
        CHECK(why == "MicroThreadExit: put to queue 'jobs', which is closed");
    });
}

TEST_CASE("get after close takes what is left, then sees end-of-stream every time") {
    in_engine([] {
        mt::queue<int> q(4, "q");
        for (int v : {1, 2, 3}) q.put(v);
        q.close();
        CHECK(q.get() == 1);
        CHECK(q.get() == 2);
        CHECK(q.get() == 3);
        CHECK_FALSE(q.get().has_value());
        CHECK_FALSE(q.get().has_value());
    });
}

TEST_CASE("get after a close with error E takes what is left, then rethrows E every time") {
    in_engine([] {
        mt::queue<int> q(4, "q");
        q.put(1);
        q.put(2);
        q.close(std::make_exception_ptr(std::invalid_argument("bad record")));
        q.close();  // the first close wins
        CHECK(q.get() == 1);
        CHECK(q.get() == 2);
        CHECK_THROWS_WITH_AS(q.get(), "bad record", std::invalid_argument);
        CHECK_THROWS_WITH_AS(q.get(), "bad record", std::invalid_argument);
    });
}

TEST_CASE("close wakes every waiting getter at once with end-of-stream, or with its error") {
    in_engine([] {
        mt::queue<int> q(4, "q");
        int eos = 0;
        mt::scope s;
        for (int i = 0; i < 3; ++i) s.spawn([&] { if (!q.get()) ++eos; });
        mt::yield();
        q.close();
        s.wait();
        CHECK(eos == 3);

        mt::queue<int> e(4, "e");
        auto g = mt::spawn([&] { e.get(); });
        mt::yield();
        e.close(std::make_exception_ptr(std::runtime_error("E")));
        CHECK_THROWS_WITH_AS(g.wait(), "E", std::runtime_error);
    });
}

TEST_CASE("close wakes every waiting putter with MicroThreadExit; their values stay with them") {
    in_engine([] {
        int destroyed = 0;
        mt::queue<counted> q(1, "q");
        q.put(counted(&destroyed));
        std::vector<mt::micro_thread<void>> putters;
        for (int i = 0; i < 3; ++i) putters.push_back(mt::spawn([&] { q.put(counted(&destroyed)); }));
        mt::yield();
        q.close();
        for (auto& p : putters) CHECK_THROWS_AS(p.wait(), mt::micro_thread_aborted);
        CHECK(destroyed == 3);  // each in its own putter's frame
        CHECK(q.get().has_value());  // the stored one is still got
        CHECK(destroyed == 4);
        CHECK_FALSE(q.get().has_value());
    });
}

TEST_CASE("the reader's close destroys what is stored and wakes waiting putters with MicroThreadExit") {
    in_engine([] {
        int destroyed = 0;
        mt::queue<counted> q(2, "q");
        q.put(counted(&destroyed));
        q.put(counted(&destroyed));
        auto putter = mt::spawn([&] { q.put(counted(&destroyed)); });
        mt::yield();
        q.close_reader();
        CHECK(destroyed == 2);
        CHECK(q.empty());
        CHECK_THROWS_AS(putter.wait(), mt::micro_thread_aborted);
        CHECK(destroyed == 3);
        CHECK_FALSE(q.get().has_value());
    });
}

TEST_CASE("range-for over a queue ends at end-of-stream") {
    in_engine([] {
        mt::queue<int> q(2, "q");
        auto w = mt::spawn([&] {
            for (int i = 1; i <= 5; ++i) q.put(i);
            q.close();
        });
        std::vector<int> got;
        for (int v : q) got.push_back(v);
        CHECK(got == std::vector<int>{1, 2, 3, 4, 5});
        w.wait();
    });
}

TEST_CASE("move-only values travel through a queue") {
    in_engine([] {
        mt::queue<std::unique_ptr<int>> q(2, "q");
        auto w = mt::spawn([&] {
            q.put(std::make_unique<int>(9));
            q.close();
        });
        auto v = q.get();
        REQUIRE(v.has_value());
        CHECK(**v == 9);
        CHECK_FALSE(q.get().has_value());
        w.wait();
    });
}

// ---- fairness --------------------------------------------------------------------------------

TEST_CASE("waiting getters are served first come, first served") {
    in_engine([] {
        mt::queue<int> q(4, "q");
        std::vector<int> got_by(4, -1);
        mt::scope s;
        for (int g = 0; g < 4; ++g) s.spawn([&, g] { got_by[static_cast<std::size_t>(g)] = *q.get(); });
        mt::yield();
        for (int v = 0; v < 4; ++v) q.put(v);
        s.wait();
        CHECK(got_by == std::vector<int>{0, 1, 2, 3});
    });
}

TEST_CASE("waiting putters are served first come, first served, whatever the order of the queue") {
    in_engine([] {
        mt::queue<int> fifo(1, "fifo");
        mt::lifo_queue<int> lifo(1, "lifo");
        mt::priority_queue<int> prio(1, "prio");
        fifo.put(100);
        lifo.put(100);
        prio.put(100);
        mt::scope s;
        for (int v = 1; v <= 3; ++v) {
            s.spawn([&, v] { fifo.put(v); });
            s.spawn([&, v] { lifo.put(v); });
            s.spawn([&, v] { prio.put(v); });
        }
        mt::yield();
        std::vector<int> f, l, p;
        for (int i = 0; i < 4; ++i) {
            f.push_back(*fifo.get());
            l.push_back(*lifo.get());
            p.push_back(*prio.get());
        }
        s.wait();
        CHECK(f == std::vector<int>{100, 1, 2, 3});
        // the putters enter in arrival order; each get then takes the top
        CHECK(l == std::vector<int>{100, 1, 2, 3});
        CHECK(p == std::vector<int>{100, 1, 2, 3});
    });
}

// ---- unbuffered ---------------------------------------------------------------------------------

TEST_CASE("an unbuffered queue: a put waits until a getter has taken its value") {
    in_engine([] {
        mt::queue<int> q(0, "rendezvous");
        CHECK(q.full());
        std::vector<std::string> log;
        auto putter = mt::spawn([&] {
            q.put(1);
            log.push_back("put returned");
        });
        mt::yield();
        CHECK(putter.state() == mt::state::waiting);
        CHECK(mt::dump().find("waits to put to queue 'rendezvous' (unbuffered)") != std::string::npos);
        CHECK(log.empty());
        CHECK(q.get() == 1);  // straight from the putter
        putter.wait();
        CHECK(log == std::vector<std::string>{"put returned"});
        // and a waiting getter takes a put at once
        auto getter = mt::spawn([&] { return *q.get(); });
        mt::yield();
        CHECK(q.try_put(2));
        CHECK(getter.wait() == 2);
        CHECK_FALSE(q.try_put(3));  // nobody waits to take it
        CHECK_THROWS_AS(q.put(3, 5ms), mt::timeout_error);
        q.close();
        CHECK_FALSE(q.get().has_value());
    });
}

TEST_CASE("an unbuffered queue streams a sequence between two micro-threads") {
    in_engine([] {
        mt::queue<int> q(0, "q");
        auto producer = mt::spawn([&] {
            for (int i = 0; i < 100; ++i) q.put(i);
            q.close();
        });
        int expect = 0;
        for (int v : q) CHECK(v == expect++);
        CHECK(expect == 100);
        producer.wait();
    });
}

// ---- abort safety -----------------------------------------------------------------------------

TEST_CASE("an aborted get never swallows a value: it goes to the next getter") {
    in_engine([] {
        mt::queue<int> q(2, "q");
        auto g1 = mt::spawn([&] { return *q.get(); });
        auto g2 = mt::spawn([&] { return *q.get(); });
        mt::yield();
        g1.abort();
        q.put(42);
        CHECK(g2.wait() == 42);
        CHECK_THROWS_AS(g1.wait(), mt::micro_thread_aborted);
    });
}

TEST_CASE("a get whose value was handed over returns it even if its micro-thread was aborted meanwhile") {
    in_engine([] {
        mt::queue<int> q(2, "q");
        std::optional<int> got;
        auto getter = mt::spawn([&] {
            got = q.get();
            mt::yield();  // the abort lands here
        });
        mt::yield();
        q.put(5);  // handed into the getter's frame
        getter.abort();
        CHECK_THROWS_AS(getter.wait(), mt::micro_thread_aborted);
        CHECK(got == 5);
    });
}

TEST_CASE("an aborted put leaves its value with the caller; a put that went in returns normally though aborted") {
    in_engine([] {
        mt::queue<std::unique_ptr<int>> q(1, "q");
        q.put(std::make_unique<int>(0));
        std::unique_ptr<int> kept;
        auto aborted = mt::spawn([&] {
            auto v = std::make_unique<int>(1);
            try {
                q.put(std::move(v));
            } catch (const mt::MicroThreadExit&) {
                kept = std::move(v);  // still ours
                throw;
            }
        });
        bool returned = false;
        auto delivered = mt::spawn([&] {
            q.put(std::make_unique<int>(2));
            returned = true;
            mt::yield();
        });
        mt::yield();
        aborted.abort();
        CHECK(**q.get() == 0);  // 2 goes in: its putter is fired
        delivered.abort();
        CHECK_THROWS_AS(aborted.wait(), mt::micro_thread_aborted);
        CHECK_THROWS_AS(delivered.wait(), mt::micro_thread_aborted);
        REQUIRE(kept);
        CHECK(*kept == 1);
        CHECK(returned);
        CHECK(**q.get() == 2);
    });
}

TEST_CASE("nothing is lost or duplicated: N producers, M consumers, random aborts, timeouts and closes, thousands of rounds") {
    std::mt19937 rng(20240611);
    constexpr int rounds = 2000;
    long accounted = 0;
    for (int round = 0; round < rounds; ++round) {
        // The ledger: every value ends up exactly once in one of these.
        std::multiset<long> put_ok, put_failed, got, destroyed_unread;
        struct tracked {
            long id;
            std::multiset<long>* destroyed;
            tracked(long i, std::multiset<long>* d) : id(i), destroyed(d) {}
            tracked(tracked&& o) noexcept : id(std::exchange(o.id, -1)), destroyed(o.destroyed) {}
            ~tracked() {
                if (id >= 0) destroyed->insert(id);
            }
        };
        const int producers = 1 + static_cast<int>(rng() % 4);
        const int consumers = 1 + static_cast<int>(rng() % 4);
        const int per_producer = static_cast<int>(rng() % 30);
        const std::size_t capacity = rng() % 5;  // 0: unbuffered
        const int order = static_cast<int>(rng() % 3);
        const int action = static_cast<int>(rng() % 3);  // 0: close, 1: close_reader, 2: close with error
        const bool early_close = rng() % 3 == 0;          // before the producers are done
        const bool aborts = rng() % 2 == 0;               // abort a producer and a consumer
        const int action_after = static_cast<int>(rng() % 12);
        const unsigned seed = static_cast<unsigned>(rng());
        auto body = [&](auto& q) {
            std::mt19937 r(seed);
            std::vector<mt::micro_thread<void>> ps, cs;
            for (int i = 0; i < producers; ++i)
                ps.push_back(mt::spawn([&, i] {
                    std::mt19937 pr(seed + static_cast<unsigned>(i));
                    for (int k = 0; k < per_producer; ++k) {
                        const long id = static_cast<long>(i) * 1000 + k;
                        tracked t(id, &destroyed_unread);
                        try {
                            if (pr() % 4 == 0) q.put(std::move(t), std::chrono::microseconds(pr() % 200));
                            else q.put(std::move(t));
                            REQUIRE(t.id == -1);  // moved in
                            put_ok.insert(id);
                        } catch (const mt::timeout_error&) {
                            REQUIRE(t.id == id);  // still ours
                            put_failed.insert(id);
                            t.id = -1;
                        } catch (const mt::MicroThreadExit&) {
                            REQUIRE(t.id == id);
                            put_failed.insert(id);
                            t.id = -1;
                            throw;
                        }
                        if (pr() % 3 == 0) mt::yield();
                    }
                }));
            for (int j = 0; j < consumers; ++j)
                cs.push_back(mt::spawn([&, j] {
                    std::mt19937 cr(seed * 7 + static_cast<unsigned>(j));
                    for (;;) {
                        try {
                            auto v = cr() % 4 == 0 ? q.get(std::chrono::microseconds(cr() % 200)) : q.get();
                            if (!v) return;
                            got.insert(v->id);
                            v->id = -1;
                        } catch (const mt::timeout_error&) {
                            continue;
                        } catch (const std::runtime_error&) {
                            return;  // closed with an error, and empty
                        }
                        if (cr() % 2) mt::yield();
                    }
                }));
            for (int t = 0; t < action_after; ++t) {
                mt::yield();
                q.state().check_invariants();
            }
            auto close = [&] {
                if (action == 1) q.close_reader();
                else if (action == 2) q.close(std::make_exception_ptr(std::runtime_error("closed")));
                else q.close();
            };
            if (early_close) close();  // producers still putting raise MicroThreadExit
            if (aborts) ps[r() % ps.size()].abort();
            if (aborts && consumers > 1) cs[r() % cs.size()].abort();  // one consumer at least lives on
            for (auto& h : ps) {
                try { h.wait(); } catch (const mt::micro_thread_aborted&) {}
                q.state().check_invariants();
            }
            close();
            for (auto& h : cs) {
                try { h.wait(); } catch (const mt::micro_thread_aborted&) {}
            }
            q.state().check_invariants();
            try {
                while (auto v = q.try_get()) {  // none: a consumer lives until end-of-stream
                    destroyed_unread.insert(v->id);
                    v->id = -1;
                }
            } catch (const std::runtime_error&) {  // the close's error, once empty
            }
            CHECK(q.empty());
        };
        in_engine([&] {
            if (order == 0) {
                mt::queue<tracked> q(capacity, "ledger");
                body(q);
            } else if (order == 1) {
                mt::lifo_queue<tracked> q(capacity, "ledger");
                body(q);
            } else {
                struct by_id {
                    bool operator()(const tracked& a, const tracked& b) const { return a.id < b.id; }
                };
                mt::priority_queue<tracked, by_id> q(capacity, "ledger");
                body(q);
            }
        });
        for (long id : put_ok) CHECK(got.count(id) + destroyed_unread.count(id) == 1);
        for (long id : got) CHECK(put_ok.count(id) == 1);
        for (long id : destroyed_unread) CHECK(put_ok.count(id) == 1);
        for (long id : put_failed) CHECK(put_ok.count(id) + got.count(id) + destroyed_unread.count(id) == 0);
        accounted += static_cast<long>(put_ok.size() + put_failed.size());
    }
    MESSAGE(rounds << " rounds, " << accounted << " values accounted for");
}

// ---- dump, deadlocks, misuse -----------------------------------------------------------------

TEST_CASE("the dump shows which queue each micro-thread waits on and how full it is") {
    in_engine([] {
        mt::queue<int> jobs(8, "jobs");
        auto g = mt::spawn(mt::spawn_options{"worker"}, [&] { jobs.get(); });
        mt::yield();
        CHECK(contains(mt::dump(), "'worker' waiting: waits to get from queue 'jobs' (0 of 8)"));
        jobs.put(1);
        g.wait();
        for (int i = 0; i < 8; ++i) jobs.put(i);
        auto p = mt::spawn(mt::spawn_options{"producer"}, [&] { jobs.put(9, 10s); });
        mt::yield();
        CHECK(contains(mt::dump(), "'producer' waiting: waits to put to queue 'jobs' (8 of 8) (timeout in"));
        jobs.close();
        CHECK_THROWS_AS(p.wait(), mt::micro_thread_aborted);
    });
}

TEST_CASE("queues join the deadlock report") {
    std::string report;
    try {
        mt::run([] {
            mt::queue<int> q(4, "jobs");
            auto worker = mt::spawn(mt::spawn_options{"worker"}, [&] { q.get(); });
            worker.wait();
        });
    } catch (const mt::deadlock_error& e) {
        report = e.what();
    }
    CHECK(contains(report, "#1 'main' waits to join #2 'worker', which waits to get from queue 'jobs' (0 of 4)"));
}

TEST_CASE("destroying a queue while micro-threads wait on it wakes them with a usage error naming it") {
    in_engine([] {
        auto q = std::make_unique<mt::queue<int>>(1, "doomed");
        auto getter = mt::spawn(mt::spawn_options{"getter"}, [&] { q->get(); });
        mt::yield();
        q.reset();
        CHECK_THROWS_WITH_AS(getter.wait(),
                             "queue 'doomed' was destroyed while micro-thread #2 'getter' waited to get from it",
                             mt::usage_error);
        q = std::make_unique<mt::queue<int>>(1, "doomed too");
        q->put(1);
        auto putter = mt::spawn(mt::spawn_options{"putter"}, [&] { q->put(2); });
        mt::yield();
        q.reset();
        CHECK_THROWS_WITH_AS(putter.wait(), doctest::Contains("waited to put to it"), mt::usage_error);
    });
}

TEST_CASE("a queue destroyed after a waiter timed out but before it resumed does not crash its timeout message") {
    in_engine([] {
        auto q = std::make_unique<mt::queue<int>>(1, "gone");
        auto getter = mt::spawn([&] { q->get(1ms); });
        mt::yield();
        REQUIRE(getter.state() == mt::state::waiting);
        // Two micro-threads take turns yielding until the getter's deadline
        // withdraws it. It is queued behind one of them, which then destroys
        // the queue before the getter resumes and builds its message.
        auto destroy_once_withdrawn = [&] {
            while (q) {
                if (getter.state() != mt::state::waiting) q.reset();
                else mt::yield();
            }
        };
        auto helper = mt::spawn(destroy_once_withdrawn);
        destroy_once_withdrawn();
        helper.wait();
        CHECK_THROWS_WITH_AS(getter.wait(), doctest::Contains("waiting to get from a queue that has been destroyed"),
                             mt::timeout_error);
    });
}

TEST_CASE("a queue used after the engine that first used it ended is a usage error naming it") {
    mt::queue<int> q(2, "left over");
    in_engine([&] { q.put(1); });
    in_engine([&] {
        CHECK_THROWS_WITH_AS(q.get(), doctest::Contains("queue::get in micro-thread #1 'main' on queue 'left over', which belongs to"),
                             mt::usage_error);
        CHECK_THROWS_AS(q.try_put(2), mt::usage_error);
    });
}

TEST_CASE("put and get outside a micro-thread are usage errors") {
    mt::engine e;
    mt::queue<int> q(2, "q");
    CHECK_THROWS_WITH_AS(q.put(1), doctest::Contains("outside a micro-thread"), mt::usage_error);
    CHECK_THROWS_WITH_AS(q.get(), doctest::Contains("outside a micro-thread"), mt::usage_error);
}
