// A deadline is part of every wait: each kind of wait times out with
// timeout_error saying what was waited on, by whom and for how long, leaves
// nothing registered, and lets the micro-thread run on.
#include <doctest/doctest.h>

#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/microthreading.hpp"
#include "nonblocking_io/io.hpp"
#include "nonblocking_io/process.hpp"
#include "nonblocking_io/worker_pool.hpp"
#include "notifier/notifier.hpp"
#include "pipes/micro_pipe.hpp"
#include "pipes/select.hpp"
#include "tests/alloc_counter.hpp"
#include "tests/engine_fixture.hpp"

using namespace std::chrono_literals;
using mt_test::in_engine;

namespace {

struct sockets {
    int fd[2];
    sockets() { REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fd) == 0); }
    ~sockets() {
        mt::close_fd(fd[0]);
        mt::close_fd(fd[1]);
    }
};

// nothing_pending — no deadline and no reactor registration is left.
void check_nothing_pending() {
    mt::engine& e = *mt::engine::current();
    CHECK(e.timers().empty());
    if (auto* r = mt::detail::reactor::find(e)) CHECK(r->counts().active() == 0);
}

}  // namespace

TEST_CASE("join with a deadline times out, names the joined micro-thread, and the joined one runs on") {
    in_engine([] {
        auto slow = mt::spawn(mt::spawn_options{"slow"}, [] {
            mt::sleep_d(30ms);
            return 5;
        });
        CHECK_THROWS_WITH_AS(slow.wait(5ms),
                             "wait() (join) in micro-thread #1 'main' timed out after 0.005 s waiting to join #2 'slow'",
                             mt::timeout_error);
        CHECK(slow.state() == mt::state::waiting);
        CHECK(slow.wait(5s) == 5);
        check_nothing_pending();
    });
}

TEST_CASE("scope::wait with a deadline times out and the children run on") {
    in_engine([] {
        mt::scope s;
        s.spawn(mt::spawn_options{"child"}, [] { mt::sleep_d(20ms); });
        CHECK_THROWS_WITH_AS(s.wait(2ms), doctest::Contains("scope::wait() in micro-thread #1 'main' timed out after 0.002 s"),
                             mt::timeout_error);
        CHECK(s.running() == 1);
        s.wait();
        check_nothing_pending();
    });
}

TEST_CASE("a pipe get with a deadline times out and a later put is not lost") {
    in_engine([] {
        mt::micro_pipe<int> p("quiet");
        CHECK_THROWS_WITH_AS(p.get(3ms), "micro_pipe::get in micro-thread #1 'main' timed out after 0.003 s waiting to get from pipe 'quiet'",
                             mt::timeout_error);
        p.put(7);  // into the slot: no withdrawn getter takes it
        CHECK(p.get(0ms) == 7);
        check_nothing_pending();
    });
}

TEST_CASE("a pipe put with a deadline times out on a full pipe; its value is not put") {
    in_engine([] {
        mt::micro_pipe<int> p("full");
        p.put(1);
        CHECK_THROWS_WITH_AS(p.put(2, 3ms), doctest::Contains("waiting to put to pipe 'full'"), mt::timeout_error);
        CHECK(p.get() == 1);
        CHECK_FALSE(p.try_get().has_value());
        check_nothing_pending();
    });
}

TEST_CASE("try_put and try_get never suspend") {
    in_engine([] {
        mt::micro_pipe<int> p("p");
        int v = 1, w = 2;
        CHECK(p.try_put(v));
        CHECK_FALSE(p.try_put(w));
        CHECK(w == 2);  // untouched
        CHECK(p.try_get() == 1);
        CHECK_FALSE(p.try_get().has_value());
        CHECK_FALSE(p.closed());
        p.close();
        CHECK_FALSE(p.try_get().has_value());
        CHECK(p.closed());  // end-of-stream
        CHECK_THROWS_AS(p.try_put(v), mt::MicroThreadExit);
    });
}

TEST_CASE("select with a deadline returns nullopt and withdraws every case") {
    in_engine([] {
        mt::micro_pipe<int> a("a"), b("b");
        std::optional<int> va, vb;
        CHECK_FALSE(mt::select(3ms, mt::on_get(a, va), mt::on_get(b, vb)).has_value());
        b.put(4);
        CHECK(b.get() == 4);
        check_nothing_pending();
    });
}

TEST_CASE("a deferred wait with a deadline times out and the deferred stays armed") {
    in_engine([] {
        mt::deferred& d = mt::this_deferred();
        d.arm();
        CHECK_THROWS_AS(d.wait(2ms), mt::timeout_error);
        CHECK(d.armed());
        d.cancel();
        CHECK_FALSE(d.armed());
    });
}

TEST_CASE("fd, signal and child waits time out with the standard message and leave no watcher") {
    in_engine([] {
        sockets s;
        CHECK_THROWS_WITH_AS(mt::wait_readable(s.fd[0], 2ms), doctest::Contains("to become readable"), mt::timeout_error);
        CHECK_THROWS_WITH_AS(mt::wait_signal(SIGUSR2, 2ms),
                             doctest::Contains("wait_signal in micro-thread #1 'main' timed out after 0.002 s waiting for signal"),
                             mt::timeout_error);
        const pid_t pid = ::fork();
        if (pid == 0) {
            ::usleep(200'000);
            ::_exit(0);
        }
        const std::string child_text = "for child process " + std::to_string(pid);
        CHECK_THROWS_WITH_AS(mt::wait_child(pid, 2ms), doctest::Contains(child_text.c_str()), mt::timeout_error);
        CHECK(WIFEXITED(mt::wait_child(pid, 10s)));
        check_nothing_pending();
    });
}

TEST_CASE("read_d with a deadline times out naming the call and the fd") {
    in_engine([] {
        sockets s;
        char c;
        CHECK_THROWS_WITH_AS(mt::read_d(s.fd[0], &c, 1, 2ms),
                             doctest::Contains("read_d in micro-thread #1 'main' timed out after 0.002 s waiting for fd"),
                             mt::timeout_error);
        check_nothing_pending();
    });
}

TEST_CASE("a deadline given as a point in time says how long the wait lasted") {
    in_engine([] {
        mt::micro_pipe<int> p("p");
        const auto at = std::chrono::steady_clock::now() + 4ms;
        CHECK_THROWS_WITH_AS(p.get(mt::deadline::at(at)), doctest::Contains("timed out after 0.00"), mt::timeout_error);
    });
}

namespace {
// busy_for — runs on without suspending for `d` (no wait, no clock of the engine's).
void busy_for(std::chrono::milliseconds d) {
    const auto until = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < until) {
    }
}
}  // namespace

TEST_CASE("a duration's deadline counts from its first use: made early and used late, it still lasts its whole duration") {
    in_engine([] {
        mt::micro_pipe<int> p("p");
        const mt::deadline d = 30ms;  // made now, used only after 40 ms of work
        busy_for(40ms);
        const auto t1 = std::chrono::steady_clock::now();
        CHECK_THROWS_WITH_AS(p.get(d), doctest::Contains("timed out after 0.030 s"), mt::timeout_error);
        CHECK(std::chrono::steady_clock::now() - t1 >= 30ms);  // a timer never fires early
        CHECK(d.when() >= t1 + 30ms);
    });
}

TEST_CASE("a copy of a duration's deadline fixes its point in time: retries with copies never move it later") {
    in_engine([] {
        mt::micro_pipe<int> p("p");
        const auto t0 = std::chrono::steady_clock::now();
        const mt::deadline d = 50ms;
        const mt::deadline copy = d;  // fixes the point for both
        CHECK(copy.when() == d.when());
        CHECK(d.when() >= t0 + 50ms);
        busy_for(20ms);
        const auto t1 = std::chrono::steady_clock::now();
        CHECK(d.when() <= t1 + 30ms);  // counted from the copy, not from now
        CHECK_THROWS_AS(p.get(copy), mt::timeout_error);  // get takes its own copy: the same point
        CHECK(std::chrono::steady_clock::now() >= d.when());
        const auto t2 = std::chrono::steady_clock::now();
        CHECK_THROWS_AS(p.get(copy), mt::timeout_error);  // a retry: the point passed, so it times out at once
        CHECK(d.when() <= t2);
    });
}

TEST_CASE("a zero timeout polls: the wait happens only if it can complete at once") {
    in_engine([] {
        mt::micro_pipe<int> p("p");
        CHECK_THROWS_AS(p.get(0ms), mt::timeout_error);
        p.put(3);
        CHECK(p.get(0ms) == 3);
        auto done = mt::spawn([] {});
        mt::yield();
        done.wait(0ms);  // already ended: no wait at all
    });
}

TEST_CASE("the earliest point in time and NaN durations: a named timeout or usage error, no overflow") {
    in_engine([] {
        mt::micro_pipe<int> p("p");
        // A deadline long past times out at once; the message's interval
        // (deadline minus start) must not overflow into billions of seconds.
        CHECK_THROWS_WITH_AS(p.get(mt::deadline::at(mt::deadline::clock::time_point::min())),
                             "micro_pipe::get in micro-thread #1 'main' timed out after 0.000 s waiting to get from pipe 'p'",
                             mt::timeout_error);
        auto other = mt::spawn([] { mt::sleep_d(1ms); });
        CHECK_THROWS_WITH_AS(other.wait(mt::deadline::at(mt::deadline::clock::time_point::min())),
                             "wait() (join) in micro-thread #1 'main' timed out after 0.000 s waiting to join #2 'micro-thread-2'",
                             mt::timeout_error);
        other.wait();
        // A NaN duration is no timeout at all.
        CHECK_THROWS_AS(p.get(std::chrono::duration<double>(std::nan(""))), mt::usage_error);
        CHECK_THROWS_AS(mt::sleep_until(std::chrono::duration<double>(std::nan(""))), mt::usage_error);
    });
}

TEST_CASE("a negative timeout is a usage error naming the micro-thread and the operation") {
    in_engine([] {
        mt::micro_pipe<int> p("p");
        auto other = mt::spawn([] {});
        sockets s;
        CHECK_THROWS_WITH_AS(p.get(-1ms), "micro_pipe::get in micro-thread #1 'main': a negative timeout (use a zero timeout to poll)",
                             mt::usage_error);
        CHECK_THROWS_AS(p.put(1, -1ms), mt::usage_error);
        CHECK_THROWS_AS(other.wait(-5s), mt::usage_error);
        CHECK_THROWS_AS(mt::this_deferred().wait(-1ms), mt::usage_error);
        CHECK_THROWS_AS(mt::wait_readable(s.fd[0], -1ms), mt::usage_error);
        std::optional<int> v;
        CHECK_THROWS_AS(mt::select(-1ms, mt::on_get(p, v)), mt::usage_error);
        CHECK_THROWS_AS(mt::sleep_d(-1ms), mt::usage_error);
        other.wait();
    });
}

TEST_CASE("submit_work with a deadline times out and the caller runs on") {
    in_engine([] {
        mt::worker_pool pool(1);
        CHECK_THROWS_WITH_AS(mt::submit_work_until(pool, 5ms, [] { std::this_thread::sleep_for(50ms); }),
                             doctest::Contains("submit_work in micro-thread #1 'main' timed out"), mt::timeout_error);
        check_nothing_pending();
    });
}

TEST_CASE("many deadlines fire in order of their due times") {
    in_engine([] {
        std::vector<int> order;
        std::vector<mt::micro_thread<void>> hs;
        for (int i : {5, 1, 4, 2, 3}) {
            hs.push_back(mt::spawn([&order, i] {
                mt::micro_pipe<int> never("never");
                try {
                    never.get(std::chrono::milliseconds(25 * i));  // 25 ms apart: an OS preemption between two spawns must not reorder them
                } catch (const mt::timeout_error&) {
                    order.push_back(i);
                }
            }));
        }
        for (auto& h : hs) h.wait();
        CHECK(order == std::vector<int>{1, 2, 3, 4, 5});
    });
}

TEST_CASE("10,000 waits with deadlines pending at once: the timer heap grows by doubling, not one slot per wait") {
    in_engine([] {
        constexpr int n = 10'000;
        mt::event go("go");
        std::vector<mt::micro_thread<void>> hs;
        hs.reserve(n);
        // One round: n micro-threads wait for `go` (with a deadline that
        // does not pass, or none), then it is set and all are joined.
        auto round = [&](bool timed) {
            go.clear();
            for (int i = 0; i < n; ++i)
                hs.push_back(mt::spawn([&go, timed] { go.wait(timed ? mt::deadline(60s) : mt::deadline{}); }));
            mt::yield();  // every one runs once and waits
            const std::size_t made = mt_test::allocations();
            go.set();
            for (auto& h : hs) h.wait();
            hs.clear();
            return made;
        };
        round(false);  // warm-up: control blocks and stacks for n are pooled now
        std::size_t before = mt_test::allocations();
        const std::size_t untimed = round(false) - before;  // what the spawns themselves allocate (n under ASan, which pools nothing)
        before = mt_test::allocations();
        const std::size_t timed = round(true) - before;
        // The heap's array is reallocated ~log2(n / 16) times; one slot per
        // push would be ~n reallocations.
        CHECK(timed >= untimed);
        CHECK(timed - untimed < 64);
    });
}

TEST_CASE("an engine without a notifier sleeps until its next deadline") {
    mt::engine_options opts;
    opts.default_notifier = false;
    mt::engine e(opts);
    auto h = mt::spawn([] {
        const auto t0 = std::chrono::steady_clock::now();
        mt::sleep_d(10ms);
        return std::chrono::steady_clock::now() - t0;
    });
    e.loop();
    CHECK(h.result() >= 10ms);
    CHECK(e.notifier() == nullptr);
}

TEST_CASE("a host loop polling notifier_fd with notifier_timeout_ms wakes for an fd wait when no timer is pending") {
    sockets s;
    {
        mt::engine e;
        bool got = false;
        auto reader = mt::spawn([&] {
            mt::wait_readable(s.fd[0]);  // the only wait: no deadline anywhere
            got = true;
        });
        std::thread writer([&] {
            std::this_thread::sleep_for(30ms);
            CHECK(::write(s.fd[1], "x", 1) == 1);
        });
        int polls = 0;
        while (e.run_once()) {
            pollfd p{mt::notifier_fd(), POLLIN, 0};
            const int timeout = mt::notifier_timeout_ms();
            CHECK(timeout == -1);  // nothing but an fd can wake the engine
            const int r = ::poll(&p, 1, 5000);  // what the host would do with -1, capped so a failure cannot hang
            CHECK(r == 1);
            REQUIRE(++polls < 100);
        }
        writer.join();
        CHECK(got);
    }
}
