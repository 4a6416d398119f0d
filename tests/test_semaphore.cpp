// semaphore and bounded_semaphore: permits, FIFO handoff, timeouts, aborts
// with permits counted, misuse, the dump and deadlock chains.
#include <doctest/doctest.h>

#include <chrono>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/microthreading.hpp"
#include "tests/alloc_counter.hpp"
#include "tests/engine_fixture.hpp"

using namespace std::chrono_literals;
using mt_test::in_engine;

namespace {

// permits — gives back what it holds when it goes, also when unwinding,
// and keeps a count of what is held if given one.
struct permits {
    mt::semaphore& s;
    std::ptrdiff_t* held = nullptr;
    std::ptrdiff_t n = 0;
    void took(std::ptrdiff_t k) {
        n = k;
        if (held) *held += k;
    }
    ~permits() {
        if (!n) return;
        if (held) *held -= n;
        s.release(n);
    }
};

}  // namespace

TEST_CASE("acquire takes a free permit at once and release gives it back") {
    in_engine([] {
        mt::semaphore s(2, "s");
        s.acquire();
        CHECK(s.available() == 1);
        s.acquire(1);
        CHECK(s.available() == 0);
        s.release(2);
        CHECK(s.available() == 2);
        s.acquire(0);  // nothing to take: returns at once
        CHECK(s.available() == 2);
    });
}

TEST_CASE("acquire suspends only the calling micro-thread until a release") {
    in_engine([] {
        mt::semaphore s(0, "signal");
        std::vector<std::string> log;
        auto waiter = mt::spawn([&] {
            s.acquire();
            log.push_back("acquired");
        });
        auto other = mt::spawn([&] { log.push_back("other ran"); });
        mt::yield();
        CHECK(waiter.state() == mt::state::waiting);
        CHECK(log == std::vector<std::string>{"other ran"});
        s.release();
        waiter.wait();
        other.wait();
        CHECK(log == std::vector<std::string>{"other ran", "acquired"});
        CHECK(s.available() == 0);
    });
}

TEST_CASE("a release hands its permit to the waiter: nobody arriving later takes it first") {
    in_engine([] {
        mt::semaphore s(0, "s");
        bool got = false;
        auto waiter = mt::spawn([&] {
            s.acquire();
            got = true;
        });
        mt::yield();
        s.release();
        CHECK_FALSE(got);              // it has not run yet...
        CHECK(s.available() == 0);     // ...but the permit is already its own
        CHECK_FALSE(s.try_acquire());  // so a barging try_acquire finds none
        waiter.wait();
        CHECK(got);
    });
}

TEST_CASE("waiters get permits in the order they began to wait") {
    in_engine([] {
        mt::semaphore s(0, "fifo");
        std::vector<int> order;
        std::vector<mt::micro_thread<void>> ws;
        for (int i = 0; i < 6; ++i)
            ws.push_back(mt::spawn([&, i] {
                s.acquire();
                order.push_back(i);
            }));
        mt::yield();
        CHECK(s.waiting() == 6);
        for (int i = 0; i < 6; ++i) {
            s.release();
            mt::yield();
        }
        for (auto& w : ws) w.wait();
        CHECK(order == std::vector<int>{0, 1, 2, 3, 4, 5});
        // One release of several permits serves several waiters, still in order.
        order.clear();
        ws.clear();
        for (int i = 0; i < 4; ++i)
            ws.push_back(mt::spawn([&, i] {
                s.acquire();
                order.push_back(i);
            }));
        mt::yield();
        s.release(4);
        for (auto& w : ws) w.wait();
        CHECK(order == std::vector<int>{0, 1, 2, 3});
    });
}

TEST_CASE("a waiter wanting several permits at the head blocks later smaller ones") {
    in_engine([] {
        mt::semaphore s(0, "s");
        std::vector<std::string> order;
        auto big = mt::spawn([&] {
            s.acquire(3);
            order.push_back("big");
            s.release(3);
        });
        mt::yield();
        auto small = mt::spawn([&] {
            s.acquire(1);
            order.push_back("small");
            s.release(1);
        });
        mt::yield();
        s.release(2);  // enough for small, not for big: small still waits behind big
        mt::yield();
        CHECK(order.empty());
        CHECK(s.available() == 2);
        CHECK_FALSE(s.try_acquire());  // nobody barges past the line either
        s.release(1);
        big.wait();
        small.wait();
        CHECK(order == std::vector<std::string>{"big", "small"});
        CHECK(s.available() == 3);
    });
}

TEST_CASE("when the head times out, the waiters behind it that the free permits satisfy are served") {
    in_engine([] {
        mt::semaphore s(2, "s");
        bool small_got = false;
        auto big = mt::spawn([&] { CHECK_THROWS_AS(s.acquire(3, 20ms), mt::timeout_error); });
        mt::yield();
        auto small = mt::spawn([&] {
            s.acquire(2);  // 2 are free, but big is first in line
            small_got = true;
            s.release(2);
        });
        mt::yield();
        CHECK_FALSE(small_got);
        big.wait();
        small.wait();
        CHECK(small_got);
        CHECK(s.available() == 2);
        s.check_invariants();
    });
}

TEST_CASE("when the head is aborted, the waiters behind it are served from the free permits") {
    in_engine([] {
        mt::semaphore s(1, "s");
        auto big = mt::spawn([&] { s.acquire(2); });
        mt::yield();
        auto small = mt::spawn([&] {
            s.acquire();
            s.release();
        });
        mt::yield();
        big.abort();
        CHECK_THROWS_AS(big.wait(), mt::micro_thread_aborted);
        small.wait();
        CHECK(s.available() == 1);
        CHECK(s.waiting() == 0);
    });
}

TEST_CASE("acquire with a timeout raises timeout_error naming the micro-thread and the semaphore") {
    in_engine([] {
        mt::semaphore s(3, "downloads");
        s.acquire(3);
        CHECK_THROWS_WITH_AS(
            s.acquire(10ms),
            doctest::Contains("semaphore::acquire in micro-thread #1 'main' timed out after 0.010 s waiting for "
                              "semaphore 'downloads' (0 of 3 free)"),
            mt::timeout_error);
        CHECK_THROWS_WITH_AS(s.acquire(2, mt::deadline::at(std::chrono::steady_clock::now() + 5ms)),
                             doctest::Contains("waiting for 2 permits of semaphore 'downloads'"), mt::timeout_error);
        CHECK(s.waiting() == 0);
        CHECK(s.available() == 0);
        s.release(3);
    });
}

TEST_CASE("try_acquire never suspends; try_acquire_for and try_acquire_until return false at their deadline") {
    in_engine([] {
        mt::semaphore s(1, "s");
        CHECK(s.try_acquire());
        CHECK_FALSE(s.try_acquire());
        CHECK_FALSE(s.try_acquire_for(5ms));
        CHECK_FALSE(s.try_acquire_until(std::chrono::steady_clock::now() + 5ms));
        CHECK_FALSE(s.try_acquire_for(0ms));  // a poll
        auto releaser = mt::spawn([&] {
            mt::sleep_d(5ms);
            s.release();
        });
        CHECK(s.try_acquire_for(10s));
        releaser.wait();
        CHECK(s.available() == 0);
        s.release();
    });
}

TEST_CASE("a zero timeout polls: it takes free permits, or times out without suspending") {
    in_engine([] {
        mt::semaphore s(1, "s");
        s.acquire(0ms);
        CHECK(s.available() == 0);
        CHECK_THROWS_AS(s.acquire(0ms), mt::timeout_error);
        s.release();
    });
}

TEST_CASE("a permit handed to a waiter that is aborted before it runs is not lost") {
    in_engine([] {
        mt::semaphore s(1, "one");
        s.acquire();
        bool acquired = false;
        auto w = mt::spawn(mt::spawn_options{"w"}, [&] {
            permits held{s};
            s.acquire();
            held.took(1);
            acquired = true;
            mt::yield();  // the abort lands here; `held` gives the permit back
            FAIL("an aborted micro-thread ran on");
        });
        mt::yield();
        s.release();  // handed to w, which has not run yet
        CHECK(s.available() == 0);
        w.abort();
        CHECK_THROWS_AS(w.wait(), mt::micro_thread_aborted);
        CHECK(acquired);  // its acquire returned holding the permit...
        CHECK(s.available() == 1);  // ...and the permit came back
        CHECK(s.waiting() == 0);
    });
}

TEST_CASE("an aborted waiter holds nothing: the next release stays free") {
    in_engine([] {
        mt::semaphore s(0, "s");
        auto w = mt::spawn([&] { s.acquire(); });
        mt::yield();
        w.abort();
        CHECK_THROWS_AS(w.wait(), mt::micro_thread_aborted);
        CHECK(s.waiting() == 0);
        s.release();
        CHECK(s.available() == 1);
    });
}

TEST_CASE("many micro-threads acquiring with random timeouts and aborts never lose or make a permit") {
    in_engine([] {
        constexpr std::ptrdiff_t initial = 3;
        mt::semaphore s(initial, "pool");
        std::mt19937 rng(12345);
        std::ptrdiff_t held = 0;  // counted by those whose acquire returned
        int served = 0, timed_out = 0, aborted = 0;
        std::vector<mt::micro_thread<void>> ws;
        for (int i = 0; i < 24; ++i) {
            ws.push_back(mt::spawn([&, i] {
                std::mt19937 r(static_cast<unsigned>(i));
                for (int round = 0; round < 40; ++round) {
                    const std::ptrdiff_t n = 1 + static_cast<std::ptrdiff_t>(r() % 2);
                    permits p{s, &held};
                    try {
                        switch (r() % 4) {
                            case 0: s.acquire(n, 0ms); break;
                            case 1: s.acquire(n, std::chrono::microseconds(50 + r() % 500)); break;
                            default: s.acquire(n); break;
                        }
                    } catch (const mt::timeout_error&) {
                        ++timed_out;
                        continue;
                    }
                    p.took(n);
                    CHECK(held <= initial);
                    ++served;
                    for (unsigned k = r() % 3; k > 0; --k) mt::yield();  // an abort lands here: `p` gives back
                }
            }));
        }
        // The controller aborts some of them at random moments, checking the
        // invariants after every step.
        for (int step = 0; step < 400; ++step) {
            s.check_invariants();
            mt::engine::current()->check_invariants();
            CHECK(held + s.available() <= initial);
            if (rng() % 10 == 0) {
                auto& w = ws[rng() % ws.size()];
                if (!w.done()) {
                    w.abort();
                    ++aborted;
                }
            }
            mt::yield();
        }
        for (auto& w : ws) {
            try {
                w.wait();
            } catch (const mt::micro_thread_aborted&) {
            }
        }
        s.check_invariants();
        CHECK(s.available() == initial);
        CHECK(s.waiting() == 0);
        CHECK(served > 0);
        CHECK(timed_out > 0);
        CHECK(aborted > 0);
        MESSAGE("served " << served << ", timed out " << timed_out << ", aborted " << aborted);
    });
}

TEST_CASE("a bounded_semaphore refuses a release past its start value, naming the micro-thread and the semaphore") {
    in_engine([] {
        mt::bounded_semaphore s(2, "slots");
        s.acquire();
        s.release();
        CHECK_THROWS_WITH_AS(s.release(),
                             "semaphore::release in micro-thread #1 'main' on bounded_semaphore 'slots': releasing 1 "
                             "would make 3 permits free, past its start value 2",
                             mt::usage_error);
        CHECK(s.available() == 2);  // the refused release did not happen
        CHECK_THROWS_WITH_AS(s.acquire(3), doctest::Contains("more than it can ever hold (2)"), mt::usage_error);
    });
}

TEST_CASE("a negative count or timeout is a usage error naming the micro-thread and the semaphore") {
    in_engine([] {
        CHECK_THROWS_WITH_AS(mt::semaphore(-1, "bad"),
                             "semaphore in micro-thread #1 'main' on semaphore 'bad': made with a negative count (-1)",
                             mt::usage_error);
        mt::semaphore s(1, "s");
        CHECK_THROWS_WITH_AS(s.acquire(-2), doctest::Contains("in micro-thread #1 'main' on semaphore 's': a negative count (-2)"),
                             mt::usage_error);
        CHECK_THROWS_WITH_AS(s.release(-1), doctest::Contains("on semaphore 's': a negative count (-1)"), mt::usage_error);
        CHECK_THROWS_WITH_AS(s.try_acquire(-1), doctest::Contains("a negative count"), mt::usage_error);
        CHECK_THROWS_WITH_AS(s.acquire(-5ms), doctest::Contains("semaphore::acquire in micro-thread #1 'main': a negative timeout"),
                             mt::usage_error);
        CHECK(s.available() == 1);
    });
}

TEST_CASE("acquire outside a micro-thread is a usage error") {
    mt::semaphore s(0, "s");
    CHECK_THROWS_AS(s.acquire(), mt::usage_error);  // no engine at all
}

TEST_CASE("destroying a semaphore while micro-threads wait on it raises a named error in each waiter") {
    in_engine([] {
        std::vector<std::string> errors;
        std::vector<mt::micro_thread<void>> ws;
        {
            mt::semaphore s(0, "doomed");
            for (const char* name : {"a", "b"})
                ws.push_back(mt::spawn(mt::spawn_options{name}, [&] {
                    try {
                        s.acquire();
                    } catch (const mt::usage_error& e) {
                        errors.push_back(e.what());
                    }
                }));
            mt::yield();
            CHECK(s.waiting() == 2);
        }  // destroyed here: the destructor does not throw
        for (auto& w : ws) w.wait();
        REQUIRE(errors.size() == 2);
        CHECK(errors[0] == "semaphore 'doomed' was destroyed while micro-thread #2 'a' waited on it (by #1 'main')");
        CHECK(errors[1] == "semaphore 'doomed' was destroyed while micro-thread #3 'b' waited on it (by #1 'main')");
    });
}

TEST_CASE("a semaphore destroyed after a waiter timed out but before it ran does not break its timeout message") {
    in_engine([] {
        std::string what;
        auto s = std::make_unique<mt::semaphore>(0, "short-lived");
        const auto x = std::chrono::steady_clock::now() + 2ms;
        auto w = mt::spawn([&] {
            try {
                s->acquire(mt::deadline::at(x + 1us));
            } catch (const mt::timeout_error& e) {
                what = e.what();
            }
        });
        mt::yield();
        // Both deadlines pass by the time the engine looks; main's, earlier,
        // is expired first, so main runs before w does.
        mt::sleep_until(mt::deadline::at(x));
        CHECK(w.state() == mt::state::runnable);
        s.reset();  // the semaphore is gone before w runs
        w.wait();
        CHECK(what.find("waiting for semaphore 'short-lived' (0 free)") != std::string::npos);
    });
}

TEST_CASE("a semaphore used after its engine ended, or from another engine, is a named usage error") {
    mt::semaphore s(1, "old");
    mt::run([&] {
        s.acquire();
        s.release();
    });
    in_engine([&] {
        CHECK_THROWS_WITH_AS(s.acquire(),
                             "semaphore::acquire in micro-thread #1 'main' on semaphore 'old', which belongs to an "
                             "engine that has ended",
                             mt::usage_error);
        mt::semaphore here(1, "here");
        here.acquire();
        std::string what;
        std::thread other([&] {
            mt::run([&] {
                try {
                    here.release();
                } catch (const mt::usage_error& e) {
                    what = e.what();
                }
            });
        });
        other.join();
        CHECK(what == "semaphore::release in micro-thread #1 'main' on semaphore 'here', which belongs to the engine "
                      "of another OS thread");
        here.release();
    });
}

TEST_CASE("a semaphore round trip allocates nothing once warm, with or without a deadline") {
    in_engine([] {
        mt::semaphore ping(0, "ping"), pong(0, "pong");
        constexpr int rounds = 1000;
        auto echo = mt::spawn([&] {
            for (int i = 0; i < 2 * rounds + 21; ++i) {  // ends after the count (its stack goes back)
                ping.acquire(10s);
                pong.release();
            }
        });
        for (int i = 0; i < 20; ++i) {  // warm-up: the timer heap grows once
            ping.release();
            pong.acquire(10s);
        }
        const std::size_t before = mt_test::allocations();
        for (int i = 0; i < rounds; ++i) {
            ping.release();
            pong.acquire();
        }
        const std::size_t mid = mt_test::allocations();
        for (int i = 0; i < rounds; ++i) {
            ping.release();
            pong.acquire(10s);
        }
        const std::size_t after = mt_test::allocations();
        CHECK(mid - before == 0);
        CHECK(after - mid == 0);
        ping.release();
        pong.acquire();
        echo.wait();
    });
}

TEST_CASE("the dump names the semaphore a micro-thread waits for and its free permits") {
    in_engine([] {
        mt::semaphore s(3, "downloads");
        s.acquire(3);
        auto w = mt::spawn(mt::spawn_options{"fetcher"}, [&] { s.acquire(); });
        auto w2 = mt::spawn(mt::spawn_options{"bulk"}, [&] { s.acquire(2, 10s); });
        mt::yield();
        const std::string d = mt::dump();
        CHECK(d.find("#2 'fetcher' waiting: waits for semaphore 'downloads' (0 of 3 free)") != std::string::npos);
        CHECK(d.find("#3 'bulk' waiting: waits for 2 permits of semaphore 'downloads' (0 of 3 free) (timeout in ") !=
              std::string::npos);
        s.release(3);
        w.wait();
        w2.wait();
    });
}

TEST_CASE("a deadlock on a semaphore names it in the chain") {
    std::string report;
    try {
        mt::run([] {
            mt::semaphore s(0, "never");
            auto w = mt::spawn(mt::spawn_options{"w"}, [&] { s.acquire(); });
            w.wait();
        });
    } catch (const mt::deadlock_error& e) {
        report = e.what();
    }
    CHECK(report.find("#1 'main' waits to join #2 'w', which waits for semaphore 'never' (0 free)") !=
          std::string::npos);
}

TEST_CASE("release and try_acquire work on the engine's root, as a host's loop calls them") {
    mt::semaphore s(0, "from-host");
    {
        mt::engine e;
        bool got = false;
        auto h = mt::spawn([&] {
            s.acquire(10s);  // a deadline pending: the engine is not deadlocked while the host runs
            got = true;
        });
        e.run_once();  // h now waits
        CHECK(h.state() == mt::state::waiting);
        CHECK_FALSE(s.try_acquire());
        s.release();  // on the root: hands the permit to h
        e.loop();
        CHECK(got);
        h.result();
    }
    mt::engine later;
    CHECK_THROWS_WITH_AS(s.release(),
                         "semaphore::release on the engine's root on semaphore 'from-host', which belongs to an engine "
                         "that has ended",
                         mt::usage_error);
}
