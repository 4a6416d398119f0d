// The notifier: fds, timers, signals, child processes, wake-ups from other
// OS threads, fairness, host-driven loops, Ctrl-C.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "core/detail/ticks.hpp"
#include "core/microthreading.hpp"
#include "notifier/detail/ev_reactor.hpp"
#include "notifier/detail/reactor.hpp"
#include "notifier/notifier.hpp"
#include "tests/alloc_counter.hpp"
#include "tests/child_process.hpp"
#include "tests/engine_fixture.hpp"
#include "tests/stream_pair.hpp"

using namespace std::chrono_literals;
using mt_test::in_engine;

namespace {

struct socket_pair {
    int fd[2];
    socket_pair() { REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fd) == 0); }
    ~socket_pair() {
        ::close(fd[0]);
        ::close(fd[1]);
    }
};

mt::detail::reactor_counts reactor_counts() {
    return mt::detail::reactor::of(*mt::engine::current()).counts();
}

double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

TEST_CASE("wait_readable suspends only its micro-thread until the fd is readable") {
    in_engine([] {
        socket_pair sp;
        int others_ran = 0;
        auto reader = mt::spawn([&] {
            mt::wait_readable(sp.fd[0]);
            char c = 0;
            CHECK(::read(sp.fd[0], &c, 1) == 1);
            return c;
        });
        auto other = mt::spawn([&] {
            for (int i = 0; i < 5; ++i) {
                ++others_ran;
                mt::yield();
            }
            CHECK(::write(sp.fd[1], "x", 1) == 1);
        });
        CHECK(reader.wait() == 'x');
        other.wait();
        CHECK(others_ran == 5);
    });
}

TEST_CASE("wait_writable returns for a writable fd") {
    in_engine([] {
        socket_pair sp;
        mt::wait_writable(sp.fd[1]);
    });
}

TEST_CASE("wait_readable with a timeout raises timeout_error naming the fd and the micro-thread") {
    in_engine([] {
        socket_pair sp;
        const std::string expected = "wait_readable in micro-thread #1 'main' timed out after 0.020 s waiting for fd " +
                                     std::to_string(sp.fd[0]) + " to become readable";
        CHECK_THROWS_WITH_AS(mt::wait_readable(sp.fd[0], 20ms), doctest::Contains(expected.c_str()),
                             mt::timeout_error);
        CHECK(reactor_counts().active() == 0);
    });
}

TEST_CASE("timeouts in one batch each name their own fd, though the first to resume reuses a node at once") {
    // Both waits time out at the same expiry; their nodes go back to the pool
    // then, and the first to resume waits again before the second resumes to
    // raise, taking a node that may be the second's: the second's message
    // must still name its own fd.
    in_engine([] {
        socket_pair a, b;  // nothing is ever written: every wait times out
        const auto due = mt::deadline::clock::now() + 20ms;
        std::string said[2];
        auto waiter = [&](int i, int fd) {
            return mt::spawn([&, i, fd] {
                try {
                    mt::wait_readable(fd, mt::deadline::at(due));
                } catch (const mt::timeout_error& e) {
                    said[i] = e.what();
                }
                CHECK_THROWS_AS(mt::wait_readable(fd, 10ms), mt::timeout_error);  // suspends: takes a node
            });
        };
        auto x = waiter(0, a.fd[0]);
        auto y = waiter(1, b.fd[0]);
        x.wait();
        y.wait();
        CHECK(said[0].find("waiting for fd " + std::to_string(a.fd[0]) + " to become readable") != std::string::npos);
        CHECK(said[1].find("waiting for fd " + std::to_string(b.fd[0]) + " to become readable") != std::string::npos);
        CHECK(reactor_counts().active() == 0);
    });
}

TEST_CASE("an fd wait whose watcher cannot get memory throws bad_alloc and leaves nothing armed") {
    in_engine([] {
        socket_pair sp;
        char c;
        CHECK(::write(sp.fd[0], "x", 1) == 1);  // a first wait, on the other end: the node pool is warm
        mt::wait_readable(sp.fd[1], 1s);
        CHECK(::read(sp.fd[1], &c, 1) == 1);
        auto& r = mt::detail::reactor::of(*mt::engine::current());
        r.set_drained(sp.fd[0]);  // fd[0]'s entry exists; its first watchers do not
        mt_test::fail_allocation_after(0);  // the next allocation: those watchers
        bool threw = false;
        try {
            mt::wait_readable(sp.fd[0], 1s);
        } catch (const std::bad_alloc&) {
            threw = true;
        }
        mt_test::fail_allocation_after(-1);
        CHECK(threw);
        CHECK(reactor_counts().active() == 0);
        CHECK(::write(sp.fd[1], "x", 1) == 1);
        mt::wait_readable(sp.fd[0], 1s);  // the next wait on it works
        CHECK(::read(sp.fd[0], &c, 1) == 1);
    });
}

TEST_CASE("waiting on an invalid or closed fd throws system_error(EBADF) naming the fd") {
    in_engine([] {
        CHECK_THROWS_WITH_AS(mt::wait_readable(12345), doctest::Contains("wait_readable(fd 12345)"),
                             std::system_error);
        int p[2];
        REQUIRE(::pipe(p) == 0);
        ::close(p[0]);
        ::close(p[1]);
        try {
            mt::wait_writable(p[1]);
            FAIL("no error");
        } catch (const std::system_error& e) {
            CHECK(e.code().value() == EBADF);
            CHECK(std::string(e.what()).find("fd " + std::to_string(p[1])) != std::string::npos);
        }
        CHECK_THROWS_AS(mt::wait_readable(-1), std::system_error);
    });
}

TEST_CASE("close_fd ends every wait on the fd with EBADF before closing it") {
    in_engine([] {
        int p[2];
        REQUIRE(::pipe(p) == 0);
        auto waiter = mt::spawn(mt::spawn_options{"waiter"}, [&] { mt::wait_readable(p[0]); });
        mt::yield();
        CHECK(mt::close_fd(p[0]) == 0);
        try {
            waiter.wait();
            FAIL("no error");
        } catch (const std::system_error& e) {
            CHECK(e.code().value() == EBADF);
            CHECK(std::string(e.what()).find("'waiter': the fd was closed while it waited") != std::string::npos);
        }
        ::close(p[1]);
    });
}

TEST_CASE("two micro-threads waiting for the same fd and direction are both woken") {
    in_engine([] {
        socket_pair sp;
        int woken = 0;
        auto waiter = [&] {
            mt::wait_readable(sp.fd[0]);
            ++woken;
        };
        auto a = mt::spawn(waiter);
        auto b = mt::spawn(waiter);
        mt::yield();
        CHECK(reactor_counts().fd_waits == 2);
        CHECK(::write(sp.fd[1], "x", 1) == 1);
        a.wait();
        b.wait();
        CHECK(woken == 2);
    });
}

TEST_CASE("sleep_d: sleepers with different durations wake in order of their deadlines") {
    in_engine([] {
        std::vector<int> order;
        mt::scope s;
        for (int ms : {40, 10, 30, 0, 20})
            s.spawn([&order, ms] {
                mt::sleep_d(std::chrono::milliseconds(ms));
                order.push_back(ms);
            });
        s.wait();
        CHECK(order == std::vector<int>{0, 10, 20, 30, 40});
    });
}

TEST_CASE("sleep_d sleeps at least the duration") {
    in_engine([] {
        const auto t0 = std::chrono::steady_clock::now();
        mt::sleep_d(30ms);
        CHECK(ms_since(t0) >= 29.0);
    });
}

TEST_CASE("the dump shows what each micro-thread waits on: fd and direction, timer, signal") {
    in_engine([] {
        socket_pair sp;
        auto a = mt::spawn(mt::spawn_options{"reader"}, [&] { mt::wait_readable(sp.fd[0]); });
        auto b = mt::spawn(mt::spawn_options{"sleeper"}, [] { mt::sleep_d(10s); });
        auto c = mt::spawn(mt::spawn_options{"sig"}, [] { mt::wait_signal(SIGUSR2); });
        auto d = mt::spawn(mt::spawn_options{"joiner"}, [&] { a.wait(); });
        mt::yield();
        const std::string dump = mt::dump();
        CHECK(dump.find("'reader' waiting: waits for fd " + std::to_string(sp.fd[0]) + " to become readable") !=
              std::string::npos);
        CHECK(dump.find("'sleeper' waiting: waits in sleep_d, ") != std::string::npos);
        CHECK(dump.find(" s left") != std::string::npos);
        CHECK(dump.find("'sig' waiting: waits for signal " + std::to_string(SIGUSR2)) != std::string::npos);
        CHECK(dump.find("'joiner' waiting: waits to join #2 'reader'") != std::string::npos);
        b.abort();
        c.abort();
        CHECK(::write(sp.fd[1], "x", 1) == 1);
        d.wait();
        CHECK_THROWS_AS(b.wait(), mt::micro_thread_aborted);
        CHECK_THROWS_AS(c.wait(), mt::micro_thread_aborted);
    });
}

TEST_CASE("aborting a micro-thread that waits on an fd, a timer or a signal removes its watcher and its deadline") {
    in_engine([] {
        socket_pair sp;
        int cleaned = 0;
        struct guard {
            int& n;
            ~guard() { ++n; }
        };
        auto a = mt::spawn([&] { guard g{cleaned}; mt::wait_readable(sp.fd[0], 10s); });
        auto b = mt::spawn([&] { guard g{cleaned}; mt::sleep_d(10s); });
        auto c = mt::spawn([&] { guard g{cleaned}; mt::wait_signal(SIGUSR1); });
        mt::yield();
        CHECK(reactor_counts().active() == 2);  // the fd wait and the signal
        CHECK(mt::engine::current()->timers().size() == 2);  // the fd wait's timeout and the sleep
        a.abort();
        b.abort();
        c.abort();
        CHECK(reactor_counts().active() == 0);
        CHECK(mt::engine::current()->timers().empty());
        // No late wake-up: the events come now, and nobody is woken.
        CHECK(::write(sp.fd[1], "x", 1) == 1);
        ::raise(SIGUSR1);
        mt::sleep_d(5ms);
        CHECK_THROWS_AS(a.wait(), mt::micro_thread_aborted);
        CHECK_THROWS_AS(b.wait(), mt::micro_thread_aborted);
        CHECK_THROWS_AS(c.wait(), mt::micro_thread_aborted);
        CHECK(cleaned == 3);
    });
}

TEST_CASE("a POSIX signal is delivered to the micro-thread that waits for it") {
    in_engine([] {
        auto waiter = mt::spawn([] { return mt::wait_signal(SIGUSR1); });
        mt::yield();
        ::raise(SIGUSR1);
        CHECK(waiter.wait() == SIGUSR1);
        CHECK_THROWS_AS(mt::wait_signal(SIGUSR1, 10ms), mt::timeout_error);
        CHECK_THROWS_AS(mt::wait_signal(SIGKILL), mt::usage_error);
    });
}

TEST_CASE("waiting for a fault signal (SIGSEGV, SIGBUS, SIGFPE, SIGILL) is a usage error; a later fault still stops the process") {
    // Caught by the reactor, a fault would be raised again by the faulting
    // instruction for ever (a hang instead of a crash), and a stack
    // overflow's SIGSEGV would never reach the engine's report.
    in_engine([] {
        for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL}) {
            CAPTURE(sig);
            try {
                mt::wait_signal(sig, 10ms);
                FAIL("no usage_error");
            } catch (const mt::usage_error& e) {
                const std::string what = e.what();
                CHECK(what.find("wait_signal(" + std::to_string(sig) + ") in micro-thread #1") != std::string::npos);
                CHECK(what.find("fault signal") != std::string::npos);
            }
        }
    });
    auto out = mt_test::run_in_child([] {
        ::alarm(10);  // a fault caught and raised again for ever ends as SIGALRM, not a hung suite
        mt::run([] {
            try {
                mt::wait_signal(SIGSEGV, 10ms);
            } catch (const mt::usage_error&) {
            }
            volatile int* volatile nowhere = nullptr;
            *nowhere = 1;
        });
    });
    INFO("signal ", out.signal, ", exit code ", out.exit_code, ", stderr: ", out.err);
#if defined(MT_TEST_SANITIZED)
    // The engine's handler passes a fault that is no overflow on to the
    // one before it: here ASan's, which reports it and ends the process its
    // own way. What counts is that it ends, neither hung nor as a success.
    CHECK(out.signal != SIGALRM);
    CHECK((out.signal != 0 || out.exit_code != 0));
#else
    CHECK(out.signal == SIGSEGV);
#endif
}

TEST_CASE("wait_child returns the exit status of that child and reaps no other") {
    in_engine([] {
        const pid_t quick = ::fork();
        if (quick == 0) ::_exit(7);
        const pid_t other = ::fork();
        if (other == 0) {
            ::usleep(50'000);
            ::_exit(3);
        }
        const int status = mt::wait_child(quick);
        CHECK(WIFEXITED(status));
        CHECK(WEXITSTATUS(status) == 7);
        // `other` was left for its owner to reap
        int st = 0;
        CHECK(::waitpid(other, &st, 0) == other);
        CHECK(WEXITSTATUS(st) == 3);
        CHECK_THROWS_AS(mt::wait_child(other), std::system_error);  // not ours any more
    });
}

namespace {
// entries_in_kernel_set — how many entries the notifier's epoll set holds for
// fd number `fd` (/proc/self/fdinfo of the epoll fd: one "tfd:" line each;
// the kernel keys them by file and number, so two files may share a number).
int entries_in_kernel_set(int fd) {
    const std::string path = "/proc/self/fdinfo/" + std::to_string(mt::notifier_fd());
    FILE* f = std::fopen(path.c_str(), "r");
    REQUIRE(f != nullptr);
    char line[256];
    int n = 0;
    int tfd = -1;
    while (std::fgets(line, sizeof line, f))
        if (std::sscanf(line, "tfd: %d", &tfd) == 1 && tfd == fd) ++n;
    std::fclose(f);
    return n;
}
}  // namespace

TEST_CASE("close_fd takes the fd out of the kernel's epoll set even while another fd keeps its file open") {
    // libev leaves a stopped fd in the set until the close drops it, which a
    // dup, or a forked child holding the file, prevents: the kernel then
    // reported the old file's events under the closed number, which libev
    // answered by removing that number (perhaps another engine's file by
    // then) or by making its whole epoll set again.
    in_engine([] {
        int p[2];
        REQUIRE(::pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
        CHECK_THROWS_AS(mt::wait_readable(p[0], 5ms), mt::timeout_error);  // libev added it at the poll
        CHECK(entries_in_kernel_set(p[0]) == 1);
        const int keep = ::dup(p[0]);  // as a forked child's copy would
        mt::close_fd(p[0]);
        CHECK(entries_in_kernel_set(p[0]) == 0);
        ::close(keep);
        ::close(p[1]);
    });
}

TEST_CASE("a new file on the number of a closed fd is the only one the kernel's set holds for it") {
    in_engine([] {
        int p[2];
        REQUIRE(::pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
        const int number = p[0];
        CHECK_THROWS_AS(mt::wait_readable(number, 5ms), mt::timeout_error);
        const int keep = ::dup(number);
        mt::close_fd(number);
        int q[2];
        REQUIRE(::pipe2(q, O_CLOEXEC | O_NONBLOCK) == 0);
        if (q[0] != number) {  // the lowest free number is normally the one just closed
            REQUIRE(::dup3(q[0], number, O_CLOEXEC) == number);
            ::close(q[0]);
            q[0] = number;
        }
        auto reader = mt::spawn([&] { mt::wait_readable(q[0], 5s); });
        mt::sleep_d(5ms);  // the reader waits: its fd is in the set
        CHECK(entries_in_kernel_set(number) == 1);
        REQUIRE(::write(q[1], "x", 1) == 1);
        reader.wait();
        ::close(keep);
        ::close(p[1]);
        mt::close_fd(q[0]);
        ::close(q[1]);
    });
}

TEST_CASE("close_fd in a forked child leaves the parent's epoll set as it was") {
    // The child shares the epoll set with its parent: taking the number out
    // of it there took it out of the parent's, whose wait never ended.
    in_engine([] {
        int p[2];
        REQUIRE(::pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
        auto reader = mt::spawn([&] { mt::wait_readable(p[0], 5s); });
        mt::sleep_d(5ms);  // the reader waits: its fd is in the set
        REQUIRE(entries_in_kernel_set(p[0]) == 1);
        const pid_t child = ::fork();
        if (child == 0) {
            mt::close_fd(p[0]);  // as a cooperative os.close() in a forked child
            ::_exit(0);
        }
        REQUIRE(child > 0);
        int status = 0;
        REQUIRE(::waitpid(child, &status, 0) == child);
        CHECK(entries_in_kernel_set(p[0]) == 1);
        REQUIRE(::write(p[1], "x", 1) == 1);
        CHECK_NOTHROW(reader.wait());
        mt::close_fd(p[0]);
        ::close(p[1]);
    });
}

TEST_CASE("another OS thread fires a micro-thread's deferred through remote_wakeup") {
    in_engine([] {
        auto w = mt::remote_wakeup::arm();
        std::thread t([w] {
            std::this_thread::sleep_for(20ms);
            w.callback(reinterpret_cast<void*>(42));
        });
        CHECK(reinterpret_cast<long>(mt::this_deferred().wait()) == 42);
        t.join();

        auto w2 = mt::remote_wakeup::arm();
        std::thread t2([w2] {
            // Thrown rather than made with make_exception_ptr, whose copy of the
            // runtime_error would share its message with a temporary destroyed
            // here, through a reference count inside libstdc++ that TSan cannot see.
            std::exception_ptr e;
            try {
                throw std::runtime_error("from afar");
            } catch (...) {
                e = std::current_exception();
            }
            // Moved: this thread keeps no reference after the post, so the
            // exception is freed on the engine's thread, after its last read
            // (the count's decrement inside libstdc++ is invisible to TSan).
            w2.errback(std::move(e));
        });
        CHECK_THROWS_WITH(mt::this_deferred().wait(), "from afar");
        t2.join();
    });
}

TEST_CASE("a remote wake-up for a wait that was aborted is dropped") {
    in_engine([] {
        std::atomic<bool> armed{false};
        mt::remote_wakeup* token = nullptr;
        std::optional<mt::remote_wakeup> w;
        auto h = mt::spawn([&] {
            w = mt::remote_wakeup::arm();
            token = &*w;
            mt::this_deferred().wait();
        });
        mt::yield();
        REQUIRE(token);
        h.abort();
        CHECK_THROWS_AS(h.wait(), mt::micro_thread_aborted);
        std::thread t([&] { token->callback(nullptr); });
        t.join();
        mt::sleep_d(5ms);  // the async wake-up is processed and dropped
        CHECK(reactor_counts().active() == 0);
        (void)armed;
    });
}

TEST_CASE("fairness: a timer fires on time while another micro-thread spins on yield()") {
    in_engine([] {
        bool woke = false;
        double woke_after_ms = 0;
        auto sleeper = mt::spawn([&] {
            const auto t0 = std::chrono::steady_clock::now();
            mt::sleep_d(30ms);
            woke_after_ms = ms_since(t0);
            woke = true;
        });
        auto spinner = mt::spawn([&] {
            const auto t0 = std::chrono::steady_clock::now();
            long spins = 0;
            while (!woke && ms_since(t0) < 5000) {
                mt::yield();
                ++spins;
            }
            return spins;
        });
        CHECK(spinner.wait() > 0);
        sleeper.wait();
        CHECK(woke);
        CHECK(woke_after_ms >= 29.0);
        CHECK(woke_after_ms < 1000.0);  // generous: on time means "not starved"
    });
}

namespace {
// A notifier that only counts how often a busy engine asks it, without
// blocking (the fairness poll), and how often the root does.
struct counting_notifier : mt::notifier_interface {
    long nonblocking = 0, blocking = 0;
    bool can_fire() const noexcept override { return false; }
    void poll(double max_wait) override { ++(max_wait == 0 ? nonblocking : blocking); }
};
}  // namespace

TEST_CASE("fairness: a busy engine asks its notifier about once per poll period, not every 64 switches") {
    counting_notifier host;
    long switches = 0;
    std::uint64_t spun_ticks = 0;
    {
        mt::engine e;
        e.set_notifier(&host);
        const auto t0 = std::chrono::steady_clock::now();
        const std::uint64_t k0 = mt::detail::ticks();
        auto spin = [&] {
            // At least 200,000 switches and 20 ms between the two spinners.
            while (switches < 200'000 || ms_since(t0) < 20.0) {
                mt::yield();
                ++switches;
            }
        };
        auto a = mt::spawn(spin);
        auto b = mt::spawn(spin);
        e.loop();
        spun_ticks = mt::detail::ticks() - k0;
        a.result();
        b.result();
    }
    // Still polled while busy (an fd that became ready is seen), but by the
    // time passed: at most once per 2^17 ticks of core/detail/ticks.hpp
    // (~60 us at 2 GHz), the engine's period. Every 64 switches would be
    // >= 3,125 polls, many times that bound in every build.
    CHECK(host.nonblocking >= 1);
    CHECK(host.nonblocking <= static_cast<long>(spun_ticks >> 17) + 2);
    CHECK(switches >= 200'000);
}

TEST_CASE("fairness: an fd becomes ready for its waiter while others spin") {
    in_engine([] {
        socket_pair sp;
        CHECK(::write(sp.fd[1], "x", 1) == 1);
        bool got = false;
        auto reader = mt::spawn([&] {
            mt::wait_readable(sp.fd[0]);
            got = true;
        });
        auto spinner = mt::spawn([&] {
            for (long i = 0; i < 10'000'000 && !got; ++i) mt::yield();
        });
        spinner.wait();
        reader.wait();
        CHECK(got);
    });
}

TEST_CASE("a micro-thread waiting on an fd is not a deadlock; its timeout ends the wait") {
    in_engine([] {
        socket_pair sp;
        auto waiter = mt::spawn([&] {
            CHECK_THROWS_AS(mt::wait_readable(sp.fd[0], 20ms), mt::timeout_error);
        });
        waiter.wait();
    });
}

TEST_CASE("a host drives the engine from a plain poll() loop with run_once, notifier_fd and notifier_timeout_ms") {
    const int fds_before = mt_test::open_fds();
    {
        socket_pair sp;  // outlives the engine: its fds are watched until the end
        mt::engine e;
        std::vector<std::string> log;
        auto reader = mt::spawn([&] {
            mt::wait_readable(sp.fd[0]);
            log.push_back("read");
        });
        auto sleeper = mt::spawn([&] {
            mt::sleep_d(20ms);
            log.push_back("slept");
            CHECK(::write(sp.fd[1], "x", 1) == 1);
        });
        int host_polls = 0;
        while (e.run_once()) {
            pollfd p{mt::notifier_fd(), POLLIN, 0};
            const int timeout = mt::notifier_timeout_ms();
            CHECK(timeout <= 20);
            ::poll(&p, 1, timeout);
            ++host_polls;
            REQUIRE(host_polls < 10'000);
        }
        CHECK(log == std::vector<std::string>{"slept", "read"});
        CHECK(host_polls >= 1);
    }
    CHECK(mt_test::open_fds() == fds_before);
}

TEST_CASE("block hooks run around the reactor's blocking wait") {
    static int before = 0, after = 0;
    in_engine([] {
        mt::set_block_hooks([](void*) { ++before; }, [](void*) { ++after; }, nullptr);
        mt::sleep_d(5ms);
    });
    CHECK(before >= 1);
    CHECK(after == before);
}

TEST_CASE("block hooks set to none stop running, and set again run again") {
    static int before = 0, after = 0;
    in_engine([] {
        mt::set_block_hooks([](void*) { ++before; }, [](void*) { ++after; }, nullptr);
        mt::sleep_d(2ms);
        const int seen = before;
        CHECK(seen >= 1);
        mt::set_block_hooks(nullptr, nullptr, nullptr);
        mt::sleep_d(2ms);
        CHECK(before == seen);
        mt::set_block_hooks(nullptr, [](void*) { ++after; }, nullptr);  // one of the two is enough
        mt::sleep_d(2ms);
        CHECK(before == seen);
        CHECK(after > seen);
        mt::set_block_hooks(nullptr, nullptr, nullptr);
    });
}

TEST_CASE("a block hook that changes errno does not turn a poll a signal interrupted into a failure") {
    // libev tells EINTR from a failed epoll_wait by errno, read after the
    // after-hook ran: a hook that clobbers it (an interpreter running signal
    // handlers there) must not make it abort.
    const mt_test::child_outcome out = mt_test::run_in_child([] {
        struct sigaction sa {};
        sa.sa_handler = [](int) {};  // no SA_RESTART; epoll_wait is never restarted anyway
        ::sigaction(SIGALRM, &sa, nullptr);
        static int after = 0;
        mt::run([] {
            mt::set_block_hooks(nullptr, [](void*) { ++after; errno = EBADF; }, nullptr);
            itimerval t{};
            t.it_value.tv_usec = 10'000;
            ::setitimer(ITIMER_REAL, &t, nullptr);
            mt::sleep_d(200ms);  // the alarm interrupts this wait's epoll_wait
            mt::set_block_hooks(nullptr, nullptr, nullptr);
        });
        ::_exit(after >= 2 ? 0 : 3);  // interrupted, then polled again
    });
    INFO(out.err);
    CHECK(out.signal == 0);
    CHECK(out.exit_code == 0);
}

TEST_CASE("waiting on fds and timers allocates nothing once warm") {
    in_engine([] {
        socket_pair sp;
        auto once = [&] {
            CHECK(::write(sp.fd[1], "x", 1) == 1);
            mt::wait_readable(sp.fd[0], 1s);
            char c;
            CHECK(::read(sp.fd[0], &c, 1) == 1);
            mt::sleep_d(0ms);
        };
        once();
        const std::size_t before = mt_test::allocations();
        for (int i = 0; i < 200; ++i) once();
        CHECK(mt_test::allocations() - before == 0);
    });
}

TEST_CASE("Ctrl-C while the engine waits reaches main as interrupted_error and the program ends cleanly") {
    int ready[2];
    REQUIRE(::pipe(ready) == 0);
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::close(ready[0]);
        for (int sig : {SIGABRT, SIGSEGV, SIGINT}) ::signal(sig, SIG_DFL);
        int code = 1;
        try {
            mt::run([&] {
                mt::start_and_forget([] { mt::sleep_d(60s); });  // another waiter, ended too
                mt::sleep_d(1ms);
                CHECK(::write(ready[1], "r", 1) == 1);
                mt::sleep_d(60s);
            });
        } catch (const mt::interrupted_error&) {
            code = 42;
        }
        ::_exit(code);
    }
    ::close(ready[1]);
    char c;
    REQUIRE(::read(ready[0], &c, 1) == 1);
    ::close(ready[0]);
    ::usleep(20'000);
    ::kill(pid, SIGINT);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 42);
}

TEST_CASE("Ctrl-C nobody catches ends the program with one line and exit status 130") {
    int ready[2];
    REQUIRE(::pipe(ready) == 0);
    int err[2];
    REQUIRE(::pipe(err) == 0);
    std::fflush(nullptr);  // the child must not flush the parent's buffered output
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::close(ready[0]);
        ::close(err[0]);
        ::dup2(err[1], 1);
        ::dup2(err[1], 2);
        for (int sig : {SIGABRT, SIGSEGV, SIGINT}) ::signal(sig, SIG_DFL);
        std::printf("printed before Ctrl-C\n");  // buffered (stdout is a pipe): must still come out
        // On an OS thread of its own, no frame above run() catches: the
        // interrupted_error reaches std::terminate as one escaping main()
        // does (here doctest's frames would catch it; and a noexcept frame
        // may call std::terminate without the exception active).
        std::thread t([&] {
            mt::run([&] {
                mt::sleep_d(1ms);
                if (::write(ready[1], "r", 1) != 1) ::_exit(3);
                mt::sleep_d(60s);
            });
        });
        t.join();
        ::_exit(0);  // not reached
    }
    ::close(ready[1]);
    ::close(err[1]);
    char c;
    REQUIRE(::read(ready[0], &c, 1) == 1);
    ::close(ready[0]);
    ::kill(pid, SIGINT);
    std::string text;
    char buf[512];
    for (ssize_t n; (n = ::read(err[0], buf, sizeof buf)) > 0;) text.append(buf, static_cast<std::size_t>(n));
    ::close(err[0]);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 130);
    CHECK(text.find("printed before Ctrl-C\n") == 0);
    CHECK(text.find(": interrupted by SIGINT (Ctrl-C)\n") != std::string::npos);
    CHECK(std::count(text.begin(), text.end(), '\n') == 2);  // nothing else: no "terminate called"
    CHECK(text.find("terminate called") == std::string::npos);
}

TEST_CASE("an fd number reused after close_fd is watched again") {
    in_engine([] {
        for (int round = 0; round < 3; ++round) {
            int sv[2];
            REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
            auto reader = mt::spawn([&] { mt::wait_readable(sv[0], 2s); });
            mt::yield();
            CHECK(::write(sv[1], "x", 1) == 1);
            reader.wait();  // the watcher stays started after the wait ...
            mt::close_fd(sv[0]);  // ... until close_fd; the next round gets the same numbers
            mt::close_fd(sv[1]);
        }
    });
}

// ---- which watchers stay started between waits (notifier/ev_reactor.cpp) ----------------

namespace {

mt::detail::ev_reactor& the_reactor() {
    return static_cast<mt::detail::ev_reactor&>(mt::detail::reactor::of(*mt::engine::current()));
}

// one_round_trip — b writes a byte, a waits until readable and reads it.
void one_round_trip(int a, int b) {
    REQUIRE(::write(b, "x", 1) == 1);
    mt::wait_readable(a, 2s);
    char c;
    REQUIRE(::read(a, &c, 1) == 1);
}

// a_new_pair_numbered — a new socketpair whose first fd has number `want`
// (the lowest free number: the one just closed).
mt_test::stream_pair a_new_pair_numbered(int want) {
    mt_test::stream_pair p;
    REQUIRE(p.a.get() == want);
    return p;
}

// waits_correctly — no stale event (a wait on the empty fd times out), no
// lost one (a byte written while it waits wakes it).
void waits_correctly(int a, int b) {
    CHECK_THROWS_AS(mt::wait_readable(a, 50ms), mt::timeout_error);
    auto writer = mt::spawn([b] {
        mt::sleep_d(10ms);
        CHECK(::write(b, "y", 1) == 1);
    });
    mt::wait_readable(a, 2s);
    char c;
    CHECK(::read(a, &c, 1) == 1);
    writer.wait();
    the_reactor().check_invariants();
}

}  // namespace

TEST_CASE("a managed fd's read watcher stays started between waits, which make no fd check and no re-registration") {
    in_engine([] {
        mt_test::stream_pair p;  // owned by mt::fd: managed
        auto& r = the_reactor();
        one_round_trip(p.a.get(), p.b.get());
        const auto fresh = r.backend_stats().fresh_watches;
        const auto checks = r.fd_checks();
        for (int i = 0; i < 10; ++i) {
            one_round_trip(p.a.get(), p.b.get());
            CHECK(r.watching(p.a.get(), false));
            r.check_invariants();
        }
        CHECK(r.backend_stats().fresh_watches == fresh);
        CHECK(r.fd_checks() == checks);
        mt::wait_writable(p.a.get(), 2s);  // the write watcher is not kept: a socket is nearly always writable
        CHECK_FALSE(r.watching(p.a.get(), true));
        const int number = p.a.get();
        p.a.close();  // close_fd stops the kept watcher before closing
        CHECK_FALSE(r.watching(number, false));
        r.check_invariants();
    });
}

TEST_CASE("an unmanaged fd's watcher stops with its last wait and the next wait checks the fd again") {
    in_engine([] {
        socket_pair p;  // raw numbers: may be closed with ::close
        auto& r = the_reactor();
        one_round_trip(p.fd[0], p.fd[1]);
        CHECK_FALSE(r.watching(p.fd[0], false));
        const auto checks = r.fd_checks();
        one_round_trip(p.fd[0], p.fd[1]);
        CHECK(r.fd_checks() == checks + 1);
        r.check_invariants();
    });
}

TEST_CASE("a kept watcher that fires with nobody waiting is stopped, and the next wait still sees the data") {
    in_engine([] {
        mt_test::stream_pair p;
        auto& r = the_reactor();
        one_round_trip(p.a.get(), p.b.get());
        REQUIRE(r.watching(p.a.get(), false));
        REQUIRE(::write(p.b.get(), "z", 1) == 1);  // readable while nobody waits
        mt::sleep_d(5ms);                          // the engine polls: the kept watcher fires
        CHECK_FALSE(r.watching(p.a.get(), false));
        r.check_invariants();
        mt::wait_readable(p.a.get(), 2s);  // level-triggered: the byte is still there
        char c;
        CHECK(::read(p.a.get(), &c, 1) == 1);
    });
}

TEST_CASE("close_fd of a managed fd with a kept watcher, then a new fd with its number: no stale event, no lost one") {
    in_engine([] {
        auto old_pair = std::make_unique<mt_test::stream_pair>();
        const int number = old_pair->a.get();
        one_round_trip(number, old_pair->b.get());
        REQUIRE(::write(old_pair->b.get(), "left unread", 11) == 11);  // the old file is readable when it goes
        REQUIRE(the_reactor().watching(number, false));
        old_pair->a.close();
        auto fresh = a_new_pair_numbered(number);
        waits_correctly(fresh.a.get(), fresh.b.get());
        old_pair.reset();
    });
}

TEST_CASE("a managed fd released and closed with ::close, then its number reused, waits correctly") {
    in_engine([] {
        for (bool new_one_managed : {false, true}) {
            auto old_pair = std::make_unique<mt_test::stream_pair>();
            const int number = old_pair->a.get();
            one_round_trip(number, old_pair->b.get());
            REQUIRE(the_reactor().watching(number, false));
            ::close(old_pair->a.release());  // no longer managed: ::close is allowed
            if (new_one_managed) {
                auto fresh = a_new_pair_numbered(number);
                waits_correctly(fresh.a.get(), fresh.b.get());
            } else {
                socket_pair raw;
                REQUIRE(raw.fd[0] == number);
                waits_correctly(raw.fd[0], raw.fd[1]);
            }
        }
    });
}

TEST_CASE("a managed fd closed through close_fd on another OS thread is watched afresh when its number comes back") {
    in_engine([] {
        auto old_pair = std::make_unique<mt_test::stream_pair>();
        const int number = old_pair->a.get();
        one_round_trip(number, old_pair->b.get());
        REQUIRE(the_reactor().watching(number, false));
        std::thread([&] { old_pair->a.close(); }).join();  // outside this engine: its reactor is not told
        auto fresh = a_new_pair_numbered(number);
        waits_correctly(fresh.a.get(), fresh.b.get());
        old_pair.reset();
    });
}

TEST_CASE("an unmanaged fd closed with ::close behind the reactor's back after its wait ended does not break the next waits") {
    in_engine([] {
        int number = -1;
        {
            socket_pair old_pair;
            number = old_pair.fd[0];
            one_round_trip(number, old_pair.fd[1]);
        }  // ::close, behind the reactor's back
        CHECK_THROWS_AS(mt::wait_readable(number, 50ms), std::system_error);  // closed: EBADF, libev never meets it
        socket_pair raw;
        REQUIRE(raw.fd[0] == number);
        waits_correctly(raw.fd[0], raw.fd[1]);
    });
}
