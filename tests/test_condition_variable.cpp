// mt::condition_variable: FIFO notify, predicate loops, deadlines, the
// mutex held again after every kind of return, misuse, the dump.
#include <doctest/doctest.h>

#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/microthreading.hpp"
#include "pipes/micro_pipe.hpp"
#include "tests/alloc_counter.hpp"
#include "tests/engine_fixture.hpp"

using namespace std::chrono_literals;
using mt_test::in_engine;

namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

bool i_hold(const mt::mutex& m) { return m.holder() && m.holder()->id == mt::current().id; }

}  // namespace

TEST_CASE("notify_one wakes the waiters one at a time in the order they began to wait") {
    in_engine([] {
        mt::mutex m("m");
        mt::condition_variable cv("cv");
        std::vector<int> woken;
        std::vector<mt::micro_thread<void>> hs;
        for (int i = 0; i < 5; ++i)
            hs.push_back(mt::spawn([&, i] {
                std::unique_lock lk(m);
                cv.wait(lk);
                CHECK(i_hold(m));
                woken.push_back(i);
            }));
        mt::yield();
        CHECK(cv.waiters() == 5);
        for (int i = 0; i < 5; ++i) {
            cv.notify_one();
            mt::yield();
            mt::yield();
            CHECK(woken.size() == static_cast<std::size_t>(i + 1));
        }
        for (auto& h : hs) h.wait();
        CHECK(woken == std::vector<int>{0, 1, 2, 3, 4});
    });
}

TEST_CASE("notify_all wakes every waiter in arrival order, each holding the mutex in turn") {
    in_engine([] {
        mt::mutex m("m");
        mt::condition_variable cv("cv");
        std::vector<int> woken;
        int inside = 0;
        bool overlap = false;
        std::vector<mt::micro_thread<void>> hs;
        for (int i = 0; i < 5; ++i)
            hs.push_back(mt::spawn([&, i] {
                std::unique_lock lk(m);
                cv.wait(lk);
                if (++inside != 1) overlap = true;
                woken.push_back(i);
                mt::yield();
                --inside;
            }));
        mt::yield();
        cv.check_invariants();
        {
            std::lock_guard g(m);  // notify while holding: they queue for the mutex
            cv.notify_all();
            CHECK(cv.waiters() == 0);
            cv.check_invariants();
            m.check_invariants();
        }
        for (auto& h : hs) h.wait();
        CHECK_FALSE(overlap);
        CHECK(woken == std::vector<int>{0, 1, 2, 3, 4});
    });
}

TEST_CASE("a predicate loop waits until the condition holds: a bounded queue between producers and consumers") {
    in_engine([] {
        mt::mutex m("queue");
        mt::condition_variable not_empty("not empty"), not_full("not full");
        std::deque<int> q;
        long sum = 0;
        int got = 0;
        std::vector<mt::micro_thread<void>> hs;
        for (int p = 0; p < 3; ++p)
            hs.push_back(mt::spawn([&, p] {
                for (int i = 0; i < 100; ++i) {
                    std::unique_lock lk(m);
                    not_full.wait(lk, [&] { return q.size() < 4; });
                    q.push_back(p * 1000 + i);
                    not_empty.notify_one();
                }
            }));
        for (int c = 0; c < 2; ++c)
            hs.push_back(mt::spawn([&] {
                for (;;) {
                    std::unique_lock lk(m);
                    not_empty.wait(lk, [&] { return !q.empty() || got == 300; });
                    if (q.empty()) return;
                    sum += q.front();
                    q.pop_front();
                    if (++got == 300) not_empty.notify_all();
                    not_full.notify_one();
                }
            }));
        for (auto& h : hs) h.wait();
        CHECK(got == 300);
        CHECK(sum == 3 * (99 * 100 / 2) + 100 * (0 + 1000 + 2000));
    });
}

TEST_CASE("wait_for and wait_until return timeout with the mutex held again; the predicate forms return pred()") {
    in_engine([] {
        mt::mutex m("m");
        mt::condition_variable cv("cv");
        std::unique_lock lk(m);
        CHECK(cv.wait_for(lk, 10ms) == std::cv_status::timeout);
        CHECK(i_hold(m));
        CHECK(cv.wait_until(lk, std::chrono::steady_clock::now() + 5ms) == std::cv_status::timeout);
        CHECK(cv.wait_until(lk, std::chrono::system_clock::now() + 5ms) == std::cv_status::timeout);
        CHECK(i_hold(m));
        CHECK_FALSE(cv.wait_for(lk, 5ms, [] { return false; }));
        bool flag = false;
        auto setter = mt::spawn([&] {
            std::lock_guard g(m);
            flag = true;
            cv.notify_one();
        });
        CHECK(cv.wait_for(lk, 10s, [&] { return flag; }));
        CHECK(i_hold(m));
        lk.unlock();
        setter.wait();
    });
}

TEST_CASE("wait with a deadline throws timeout_error naming the condition, with the mutex held again") {
    in_engine([] {
        mt::mutex m("m");
        mt::condition_variable cv("ready");
        std::unique_lock lk(m);
        std::string what;
        try {
            cv.wait(lk, 20ms);
        } catch (const mt::timeout_error& e) {
            what = e.what();
            CHECK(i_hold(m));
            CHECK(lk.owns_lock());
        }
        CHECK(what ==
              "condition_variable::wait in micro-thread #1 'main' timed out after 0.020 s waiting for condition "
              "'ready' (mutex 'm')");
        CHECK_THROWS_AS(cv.wait(lk, mt::deadline(10ms), [] { return false; }), mt::timeout_error);
        CHECK(i_hold(m));
    });
}

TEST_CASE("a timed-out wait re-locks a mutex that another micro-thread holds by then") {
    in_engine([] {
        mt::mutex m("m");
        mt::condition_variable cv("cv");
        auto w = mt::spawn([&] {
            std::unique_lock lk(m);
            CHECK(cv.wait_for(lk, 10ms) == std::cv_status::timeout);
            CHECK(i_hold(m));
        });
        mt::yield();  // w waits on cv and let go of m
        {
            std::lock_guard g(m);
            mt::sleep_d(40ms);  // w times out meanwhile and queues for m
            CHECK(w.state() == mt::state::waiting);
            CHECK(contains(mt::dump(), "waits to re-lock mutex 'm' after a condition wait, held by #1 'main'"));
        }
        w.wait();
    });
}

TEST_CASE("an abort while waiting raises MicroThreadExit with the mutex held again") {
    in_engine([] {
        mt::mutex m("m");
        mt::condition_variable cv("cv");
        bool held_when_raised = false;
        auto w = mt::spawn([&] {
            std::unique_lock lk(m);
            try {
                cv.wait(lk);
            } catch (const mt::MicroThreadExit&) {
                held_when_raised = i_hold(m) && lk.owns_lock();
                throw;
            }
        });
        mt::yield();
        w.abort();
        CHECK_THROWS_AS(w.wait(), mt::micro_thread_aborted);
        CHECK(held_when_raised);
        CHECK_FALSE(m.locked());
        CHECK(cv.waiters() == 0);
    });
}

TEST_CASE("re-locking after a notify cannot be interrupted: the wait returns holding the mutex, the abort lands next") {
    in_engine([] {
        mt::mutex m("m");
        mt::condition_variable cv("cv");
        bool returned_holding = false, raised_at_next = false;
        auto w = mt::spawn(mt::spawn_options{"w"}, [&] {
            std::unique_lock lk(m);
            cv.wait(lk);  // notified before the abort: the notify is not lost
            returned_holding = i_hold(m);
            try {
                mt::yield();
            } catch (const mt::MicroThreadExit&) {
                raised_at_next = true;
                throw;
            }
        });
        mt::yield();
        {
            std::lock_guard g(m);
            cv.notify_one();
            mt::yield();  // w runs and queues for m
            CHECK(contains(mt::dump(), "#2 'w' waiting: waits to re-lock mutex 'm' after a condition wait, held by #1 'main'"));
            w.abort();
            for (int i = 0; i < 5; ++i) mt::yield();
            CHECK(w.state() == mt::state::waiting);  // still waiting for m
        }
        CHECK_THROWS_AS(w.wait(), mt::micro_thread_aborted);
        CHECK(returned_holding);
        CHECK(raised_at_next);
        CHECK_FALSE(m.locked());
    });
}

TEST_CASE("re-locking after a wait is not bounded by a shield's deadline") {
    in_engine([] {
        mt::mutex m("m");
        mt::condition_variable cv("cv");
        std::string what;
        bool held = false;
        auto w = mt::spawn([&] {
            std::unique_lock lk(m);
            mt::shield s(10ms);
            try {
                cv.wait(lk);
            } catch (const mt::timeout_error& e) {
                what = e.what();
                held = i_hold(m);
            }
        });
        mt::yield();
        {
            std::lock_guard g(m);
            mt::sleep_d(50ms);  // w's shield ends its condition wait; it re-locks after us
        }
        w.wait();
        CHECK(held);
        CHECK(contains(what, "(the deadline of its shield)"));
    });
}

TEST_CASE("there are no spurious wake-ups: other traffic never ends a wait") {
    in_engine([] {
        mt::mutex m("m");
        mt::condition_variable cv("cv"), other("other");
        bool returned = false;
        auto w = mt::spawn([&] {
            std::unique_lock lk(m);
            cv.wait(lk);
            returned = true;
        });
        for (int i = 0; i < 50; ++i) {
            std::lock_guard g(m);
            other.notify_all();
            mt::yield();
        }
        mt::sleep_d(5ms);
        CHECK_FALSE(returned);
        cv.notify_one();
        w.wait();
        CHECK(returned);
    });
}

TEST_CASE("a re-lock that would close a lock cycle fails the other lock wait in the cycle instead") {
    in_engine([] {
        mt::mutex m("m"), m0("m0");
        mt::condition_variable cv("cv");
        std::string what;
        bool w_returned_holding = false;
        auto w = mt::spawn(mt::spawn_options{"w"}, [&] {
            std::lock_guard g0(m0);
            std::unique_lock lk(m);
            cv.wait(lk);
            w_returned_holding = i_hold(m);
        });
        auto h = mt::spawn(mt::spawn_options{"h"}, [&] {
            std::lock_guard g(m);
            cv.notify_one();  // w wakes and will re-lock m, held by us
            try {
                std::lock_guard g0(m0);  // held by w
                FAIL("no deadlock_error");
            } catch (const mt::deadlock_error& e) {
                what = e.what();
            }
        });
        w.wait();
        h.wait();
        CHECK(w_returned_holding);
        CHECK(what ==
              "lock in micro-thread #3 'h': deadlock: #3 'h' waits for mutex 'm0' held by #2 'w', which would wait "
              "to re-lock mutex 'm' held by #3 'h' (a re-lock after a condition wait cannot fail, so this lock "
              "wait fails instead)");
    });
}

TEST_CASE("a re-lock stuck behind a holder that waits forever is in the deadlock report and ends without the mutex") {
    std::string report;
    bool lk_released = false;
    try {
        mt::run([&] {
            mt::mutex m("m");
            mt::condition_variable cv("cv");
            mt::micro_pipe<int> p("p");
            auto w = mt::spawn(mt::spawn_options{"w"}, [&] {
                std::unique_lock lk(m);
                try {
                    cv.wait(lk);
                } catch (const mt::MicroThreadExit&) {
                    lk_released = !lk.owns_lock() && lk.mutex() == nullptr;  // its destructor must not unlock
                    throw;
                }
            });
            auto h = mt::spawn(mt::spawn_options{"h"}, [&] {
                std::lock_guard g(m);
                cv.notify_one();
                p.get();  // nobody ever puts
            });
            w.wait();
        });
        FAIL("no deadlock");
    } catch (const mt::deadlock_error& e) {
        report = e.what();
    }
    CHECK(contains(report, "#1 'main' waits to join #2 'w', which waits to re-lock mutex 'm' after a condition wait, "
                           "held by #3 'h', which waits to get from pipe 'p'"));
    CHECK(lk_released);
}

// ---- misuse --------------------------------------------------------------------------------

TEST_CASE("waiting without holding the mutex is a usage_error naming the condition and the mutex") {
    in_engine([] {
        mt::mutex m("m");
        mt::condition_variable cv("cv");
        std::unique_lock lk(m, std::defer_lock);
        CHECK_THROWS_WITH_AS(cv.wait(lk),
                             "condition_variable::wait in micro-thread #1 'main' on condition 'cv' without holding "
                             "its mutex (mutex 'm')",
                             mt::usage_error);
        std::unique_lock<mt::mutex> none;
        CHECK_THROWS_AS(cv.wait_for(none, 1ms), mt::usage_error);
    });
}

TEST_CASE("waiting with another mutex than the current waiters use is a usage_error") {
    in_engine([] {
        mt::mutex a("a"), b("b");
        mt::condition_variable cv("cv");
        auto w = mt::spawn([&] {
            std::unique_lock lk(a);
            cv.wait(lk);
        });
        mt::yield();
        std::unique_lock lk(b);
        CHECK_THROWS_WITH_AS(cv.wait(lk),
                             "condition_variable::wait in micro-thread #1 'main' on condition 'cv' with mutex 'b', "
                             "while other micro-threads wait on it with mutex 'a' (one condition, one mutex)",
                             mt::usage_error);
        CHECK(i_hold(b));
        cv.notify_all();
        w.wait();
        CHECK(cv.wait_for(lk, 1ms) == std::cv_status::timeout);  // nobody waits now: b is fine
    });
}

TEST_CASE("a negative timeout on a condition wait is a usage_error, and the mutex stays held") {
    in_engine([] {
        mt::mutex m("m");
        mt::condition_variable cv("cv");
        std::unique_lock lk(m);
        CHECK_THROWS_AS(cv.wait_for(lk, -1ms), mt::usage_error);
        CHECK_THROWS_AS(cv.wait(lk, -5ms), mt::usage_error);
        CHECK(i_hold(m));
    });
}

TEST_CASE("destroying a condition while micro-threads wait makes their wait throw, with the mutex held again") {
    in_engine([] {
        mt::mutex m("m");
        std::optional<mt::condition_variable> cv;
        cv.emplace("doomed");
        std::string what;
        bool held = false;
        auto w = mt::spawn(mt::spawn_options{"w"}, [&] {
            std::unique_lock lk(m);
            try {
                cv->wait(lk);
            } catch (const mt::usage_error& e) {
                what = e.what();
                held = i_hold(m);
            }
        });
        mt::yield();
        cv.reset();
        w.wait();
        CHECK(what == "condition 'doomed' was destroyed while micro-thread #2 'w' waited on it");
        CHECK(held);
    });
}

TEST_CASE("notify from another engine's OS thread is a usage_error naming the condition") {
    mt::condition_variable cv("cv");
    mt::mutex m("m");
    std::string what;
    mt::run([&] {
        std::unique_lock lk(m);
        CHECK(cv.wait_for(lk, 1ms) == std::cv_status::timeout);  // binds it
        std::thread t([&] {
            mt::engine e;
            try {
                cv.notify_one();
            } catch (const mt::usage_error& ex) {
                what = ex.what();
            }
        });
        t.join();
    });
    CHECK(what ==
          "condition_variable::notify_one on the engine's root on condition_variable 'cv', which belongs to the "
          "engine of another OS thread");
}

// ---- cost and introspection ---------------------------------------------------------------

TEST_CASE("condition waits and notifies allocate nothing once warm") {
    in_engine([] {
        mt::mutex m("m");
        mt::condition_variable cv("cv");
        int turn = 0;
        auto other = mt::spawn([&] {
            std::unique_lock lk(m);
            for (int i = 0; i < 1001; ++i) {
                cv.wait(lk, [&] { return turn % 2 == 1; });
                ++turn;
                cv.notify_one();
            }
        });
        std::unique_lock lk(m);
        std::size_t before = 0, allocs = 0;
        for (int i = 0; i < 1001; ++i) {
            if (i == 1) before = mt_test::allocations();
            if (i == 1000) allocs = mt_test::allocations() - before;  // before the other ends (its stack goes back)
            ++turn;
            cv.notify_one();
            cv.wait(lk, [&] { return turn % 2 == 0; });
        }
        lk.unlock();
        other.wait();
        CHECK(allocs == 0);
    });
}

TEST_CASE("the dump shows a condition wait with its condition and mutex") {
    in_engine([] {
        mt::mutex m("queue");
        mt::condition_variable cv("not empty");
        auto w = mt::spawn(mt::spawn_options{"consumer"}, [&] {
            std::unique_lock lk(m);
            cv.wait(lk);
        });
        mt::yield();
        CHECK(contains(mt::dump(), "#2 'consumer' waiting: waits for condition 'not empty' (mutex 'queue')"));
        cv.notify_one();
        w.wait();
    });
}
