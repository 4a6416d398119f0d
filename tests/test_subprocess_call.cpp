// Functions run in subprocesses: call_in_subprocess and process_pool — the
// value or the exception coming back, abort, deadlines, dropped handles,
// the pool's bound and line, crashes and garbage, engines on two OS threads.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/microthreading.hpp"
#include "core/detail/sys.hpp"
#include "nonblocking_io/detail/subprocess_answer.hpp"
#include "nonblocking_io/detail/subprocess_child.hpp"
#include "nonblocking_io/process_pool.hpp"
#include "nonblocking_io/subprocess_call.hpp"
#include "tests/engine_fixture.hpp"

using mt_test::in_engine;
using namespace std::chrono_literals;
using reason = mt::subprocess_error::reason;

namespace {

// gone — the process no longer exists, not even as a zombie: it was reaped.
bool gone(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

// wait_until_gone — polls (the collector reaps in the background) for at most 10 s.
bool wait_until_gone(pid_t pid) {
    for (int i = 0; i < 10'000 && !gone(pid); ++i) mt::sleep_d(1ms);
    return gone(pid);
}

// shared_counters — memory the children of this process share with it
// (mapped before the fork), for what they observe about each other.
struct shared_counters {
    std::atomic<int> alive{0};
    std::atomic<int> most_alive{0};
    std::atomic<int> started{0};
    int order[16] = {};
};

struct shared_mapping {
    shared_counters* c;
    shared_mapping() {
        void* p = ::mmap(nullptr, sizeof(shared_counters), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        REQUIRE(p != MAP_FAILED);
        c = new (p) shared_counters;
    }
    ~shared_mapping() { ::munmap(c, sizeof(shared_counters)); }
};

// a child's body for the pool tests: counts itself alive for `ms`.
int counted(shared_counters* c, int id, int ms) {
    c->order[c->started.fetch_add(1)] = id;
    const int now = c->alive.fetch_add(1) + 1;
    for (int m = c->most_alive.load(); now > m && !c->most_alive.compare_exchange_weak(m, now);) {
    }
    ::usleep(static_cast<useconds_t>(ms) * 1000);
    c->alive.fetch_sub(1);
    return id;
}

struct point {
    int x, y;
    double w;
};

}  // namespace

TEST_CASE("a function run in a subprocess returns its value through the notifier") {
    in_engine([] {
        const pid_t me = ::getpid();
        auto call = mt::call_in_subprocess([](int a, int b) { return a * b + static_cast<int>(::getpid() != 0); }, 6, 7);
        CHECK(call.running());
        CHECK(call.pid() > 0);
        CHECK(call.pid() != me);
        CHECK(call.result() == 43);
        CHECK(call.done());
        CHECK(call.result() == 43);  // asked again: the same answer
        CHECK(gone(call.pid()));
    });
}

TEST_CASE("strings, byte vectors, void and trivially copyable structs come back with their codecs") {
    in_engine([] {
        auto s = mt::call_in_subprocess([] { return std::string("from the child\0with a zero", 26); });
        auto v = mt::call_in_subprocess([] { return std::vector<std::byte>{std::byte{1}, std::byte{0}, std::byte{255}}; });
        auto p = mt::call_in_subprocess([] { return point{3, -4, 2.5}; });
        auto n = mt::call_in_subprocess([] {});
        CHECK(s.result() == std::string("from the child\0with a zero", 26));
        CHECK(v.result() == std::vector<std::byte>{std::byte{1}, std::byte{0}, std::byte{255}});
        const point got = p.result();
        CHECK(got.x == 3);
        CHECK(got.y == -4);
        CHECK(got.w == 2.5);
        n.result();
        CHECK(n.done());
    });
}

TEST_CASE("what the parent changes after the fork is not seen by the child; what it set before is") {
    in_engine([] {
        int value = 1;
        auto call = mt::call_in_subprocess([&value] {
            ::usleep(20'000);
            return value;  // the child's copy
        });
        value = 2;
        CHECK(call.result() == 1);
    });
}

TEST_CASE("an exception thrown in the child comes back as its type name and its text") {
    in_engine([] {
        auto call = mt::call_in_subprocess(mt::subprocess_options{"parse"},
                                           []() -> int { throw std::invalid_argument("bad digit"); });
        try {
            call.result();
            FAIL("result() returned");
        } catch (const mt::subprocess_error& e) {
            CHECK(e.why() == reason::raised);
            CHECK(e.exception_type() == "std::invalid_argument");
            CHECK(e.exception_what() == "bad digit");
            CHECK(std::string(e.what()) ==
                  "subprocess call 'parse' (pid " + std::to_string(call.pid()) + ") raised std::invalid_argument: bad digit");
            CHECK(e.exit_status() == 0);
        }
        CHECK_THROWS_AS(call.result(), mt::subprocess_error);  // each time
    });
}

TEST_CASE("an mt:: call that needs an engine raises usage_error in the child: it has no engine") {
    in_engine([] {
        auto call = mt::call_in_subprocess([] { mt::yield(); });
        try {
            call.result();
            FAIL("result() returned");
        } catch (const mt::subprocess_error& e) {
            CHECK(e.why() == reason::raised);
            CHECK(e.exception_type() == "mt::usage_error");
        }
    });
}

TEST_CASE("the child runs on a stack of its own, larger than a micro-thread's") {
    in_engine([] {
        auto call = mt::call_in_subprocess([] {
            volatile char big[1024 * 1024];  // 16x a micro-thread's default stack
            for (std::size_t i = 0; i < sizeof big; i += 4096) big[i] = static_cast<char>(i);
            return static_cast<int>(big[4096]);
        });
        CHECK(call.result() == 0);  // 4096 % 256
    });
}

TEST_CASE("abort() ends a running child and reaps it before it returns; result() then says aborted") {
    in_engine([] {
        auto call = mt::call_in_subprocess(mt::subprocess_options{"slow"}, [] { ::pause(); });
        const pid_t pid = call.pid();
        call.abort();
        CHECK(call.done());
        CHECK(gone(pid));
        CHECK_THROWS_WITH_AS(call.result(), ("subprocess call 'slow' (pid " + std::to_string(pid) + ") was aborted").c_str(),
                             mt::subprocess_error);
        call.abort();  // done: nothing to do
    });
}

TEST_CASE("abort() of a child that ignores SIGTERM kills it after the grace period") {
    shared_mapping shm;
    in_engine([&] {
        auto call = mt::call_in_subprocess([c = shm.c] {
            ::signal(SIGTERM, SIG_IGN);
            c->started = 1;
            for (;;) ::pause();
        });
        while (shm.c->started.load() == 0) mt::sleep_d(1ms);  // it ignores SIGTERM from now on
        const auto t0 = std::chrono::steady_clock::now();
        call.abort(50ms);
        CHECK(std::chrono::steady_clock::now() - t0 >= 50ms);
        CHECK(gone(call.pid()));
        try {
            call.result();
            FAIL("result() returned");
        } catch (const mt::subprocess_error& e) {
            CHECK(e.why() == reason::aborted);
            CHECK(e.signal() == SIGKILL);
        }
    });
}

TEST_CASE("result() with a deadline that passes throws timeout_error and the call goes on") {
    in_engine([] {
        auto call = mt::call_in_subprocess(mt::subprocess_options{"hang"}, [] {
            ::usleep(300'000);
            return 5;
        });
        CHECK_THROWS_WITH_AS(call.result(20ms), doctest::Contains("subprocess call 'hang'"), mt::timeout_error);
        CHECK(call.running());
        CHECK(call.result(30s) == 5);
    });
}

TEST_CASE("a call that hangs past its deadline is ended by dropping its handle: nothing is left behind") {
    in_engine([] {
        pid_t pid = -1;
        {
            auto call = mt::call_in_subprocess([] { ::pause(); });
            pid = call.pid();
            CHECK_THROWS_AS(call.result(10ms), mt::timeout_error);
        }  // SIGKILL here; the collector reaps it
        CHECK(wait_until_gone(pid));
    });
}

TEST_CASE("other micro-threads run while a call computes") {
    in_engine([] {
        auto call = mt::call_in_subprocess([] {
            ::usleep(100'000);
            return 1;
        });
        int ticks = 0;
        auto ticker = mt::spawn([&] {
            while (!call.done()) {
                ++ticks;
                mt::sleep_d(5ms);
            }
        });
        CHECK(call.result() == 1);
        ticker.wait();
        CHECK(ticks >= 2);
    });
}

TEST_CASE("a child killed by a signal gives a subprocess_error naming the signal") {
    in_engine([] {
        auto call = mt::call_in_subprocess(mt::subprocess_options{"crash"}, []() -> int {
            ::raise(SIGSEGV);
            return 0;
        });
        try {
            call.result();
            FAIL("result() returned");
        } catch (const mt::subprocess_error& e) {
            CHECK(e.why() == reason::signaled);
            CHECK(e.signal() == SIGSEGV);
            CHECK_MESSAGE(std::string(e.what()).find("(pid " + std::to_string(call.pid()) +
                                                     ") was killed by signal 11 (SIGSEGV") != std::string::npos,
                          e.what());
        }
    });
}

TEST_CASE("a child that exits without answering gives its exit status") {
    in_engine([] {
        auto call = mt::call_in_subprocess(mt::subprocess_options{"quit"}, []() -> int { ::_exit(3); });
        try {
            call.result();
            FAIL("result() returned");
        } catch (const mt::subprocess_error& e) {
            CHECK(e.why() == reason::exited);
            CHECK(e.exit_status() == 3);
            CHECK(std::string(e.what()).find("exited with status 3 without answering") != std::string::npos);
        }
    });
}

TEST_CASE("garbage on the answer channel is a bad answer: a streaming child is killed, a short one judged") {
    in_engine([] {
        auto streaming = mt::call_in_subprocess(mt::subprocess_options{"garble"}, [] {
            const int f = mt::detail::subprocess_answer_fd();
            const char junk[64] = "this is not an answer, and it goes on and on and on and on";
            for (;;)
                if (::write(f, junk, sizeof junk) < 0) ::_exit(9);
        });
        auto short_one = mt::call_in_subprocess([] {
            const int f = mt::detail::subprocess_answer_fd();
            if (::write(f, "MTSA", 4) != 4) ::_exit(9);
            ::_exit(0);
        });
        try {
            streaming.result();
            FAIL("result() returned");
        } catch (const mt::subprocess_error& e) {
            CHECK(e.why() == reason::bad_answer);
            CHECK_MESSAGE(std::string(e.what()).find("sent a bad answer (its first bytes are not an answer's mark) and was killed") !=
                              std::string::npos,
                          e.what());
        }
        try {
            short_one.result();
            FAIL("result() returned");
        } catch (const mt::subprocess_error& e) {
            CHECK(e.why() == reason::bad_answer);
            CHECK_MESSAGE(std::string(e.what()).find("cut short: 4 of at least 24 bytes") != std::string::npos, e.what());
        }
    });
}

namespace {
struct picky {
    int v;
};
}  // namespace

template <>
struct mt::subprocess_codec<picky> {
    static std::string encode(const picky& p) { return std::to_string(p.v); }
    static picky decode(std::string_view bytes) {
        if (bytes != "7") throw std::domain_error("only 7 is accepted, got " + std::string(bytes));
        return {7};
    }
};

TEST_CASE("a codec of the caller's own; a value it refuses is a bad answer carrying its message") {
    in_engine([] {
        CHECK(mt::call_in_subprocess([] { return picky{7}; }).result().v == 7);
        auto refused = mt::call_in_subprocess([] { return picky{8}; });
        CHECK_THROWS_WITH_AS(refused.result(), doctest::Contains("could not be decoded: only 7 is accepted, got 8"),
                             mt::subprocess_error);
    });
}

TEST_CASE("a result larger than the pipe's buffer arrives whole") {
    in_engine([] {
        constexpr std::size_t size = 8 * 1024 * 1024 + 13;
        auto call = mt::call_in_subprocess([] {
            std::string s(size, '\0');
            for (std::size_t i = 0; i < size; ++i) s[i] = static_cast<char>(i * 31 + 7);
            return s;
        });
        const std::string got = call.result();
        REQUIRE(got.size() == size);
        bool same = true;
        for (std::size_t i = 0; i < size; ++i) same = same && got[i] == static_cast<char>(i * 31 + 7);
        CHECK(same);
    });
}

TEST_CASE("a process pool never has more than max_processes children alive; the rest wait in line") {
    shared_mapping shm;
    in_engine([&] {
        mt::process_pool pool(2, "bounded");
        std::vector<mt::subprocess_call<int>> calls;
        for (int i = 0; i < 6; ++i) calls.push_back(pool.submit(counted, shm.c, i, 30));
        CHECK(pool.running() == 2);
        CHECK(pool.pending() == 4);
        CHECK(calls[0].running());
        CHECK(calls[5].pending());
        CHECK(calls[5].pid() == -1);
        for (int i = 0; i < 6; ++i) CHECK(calls[static_cast<std::size_t>(i)].result() == i);
        CHECK(pool.running() == 0);
        CHECK(pool.pending() == 0);
        CHECK(calls[3].name() == "bounded#4");
    });
    CHECK(shm.c->most_alive.load() <= 2);
    CHECK(shm.c->started.load() == 6);
}

TEST_CASE("a pool of one runs its calls in the order they were submitted") {
    shared_mapping shm;
    in_engine([&] {
        mt::process_pool pool(1);
        std::vector<mt::subprocess_call<int>> calls;
        for (int i = 0; i < 5; ++i) calls.push_back(pool.submit(counted, shm.c, i, 1));
        for (auto& c : calls) c.result();
    });
    CHECK(shm.c->most_alive.load() == 1);
    for (int i = 0; i < 5; ++i) CHECK(shm.c->order[i] == i);
}

TEST_CASE("a call dropped while it waits in line never starts; an aborted one gives its place to the next") {
    shared_mapping shm;
    in_engine([&] {
        mt::process_pool pool(1);
        auto first = pool.submit([] { ::pause(); });
        auto second = pool.submit(counted, shm.c, 2, 1);
        auto third = pool.submit(counted, shm.c, 3, 1);
        second = {};  // out of the line
        CHECK(pool.pending() == 1);
        first.abort();
        CHECK(third.result() == 3);
    });
    CHECK(shm.c->started.load() == 1);
    CHECK(shm.c->order[0] == 3);
}

TEST_CASE("a pool destroyed with calls running and waiting: all are aborted, every child reaped") {
    in_engine([] {
        mt::subprocess_call<void> running, waiting;
        {
            mt::process_pool pool(1, "short-lived");
            running = pool.submit([] { ::pause(); });
            waiting = pool.submit([] {});
        }
        CHECK(waiting.done());
        CHECK_THROWS_WITH_AS(waiting.result(), doctest::Contains("was aborted before it started"), mt::subprocess_error);
        CHECK_THROWS_WITH_AS(running.result(), doctest::Contains("'short-lived#1'"), mt::subprocess_error);
        CHECK(gone(running.pid()));
    });
}

TEST_CASE("bad input: no places, an empty handle, a negative timeout, a call outside a micro-thread") {
    CHECK_THROWS_AS(mt::process_pool(0), mt::usage_error);
    CHECK_THROWS_AS(mt::call_in_subprocess([] { return 1; }), mt::usage_error);
    in_engine([] {
        mt::subprocess_call<int> empty;
        CHECK_THROWS_WITH_AS(empty.result(), doctest::Contains("on an empty subprocess_call"), mt::usage_error);
        CHECK_THROWS_AS(empty.abort(), mt::usage_error);
        auto call = mt::call_in_subprocess([] { return 1; });
        CHECK_THROWS_AS(call.result(-1ms), mt::usage_error);
        CHECK_THROWS_AS(call.abort(-1ms), mt::usage_error);
        CHECK(call.result() == 1);
    });
}

TEST_CASE("a handle used from another engine's OS thread is a named usage error") {
    in_engine([] {
        auto call = mt::call_in_subprocess([] { return 1; });
        std::string message;
        std::thread([&] {
            mt::run([&] {
                try {
                    call.result();
                } catch (const mt::usage_error& e) {
                    message = e.what();
                }
            });
        }).join();
        CHECK_MESSAGE(message.find("another OS thread") != std::string::npos, message);
        CHECK(call.result() == 1);
    });
}

TEST_CASE("engines on two OS threads run calls at once; each child's exit reaches the engine that started it") {
    // (mt::run, not in_engine: its count of the process's fds would see the other thread's.)
    const int fds_before = mt_test::open_fds();
    std::atomic<int> total{0};
    auto work = [&](int base) {
        mt::run([&] {
            std::vector<mt::subprocess_call<int>> calls;
            for (int i = 0; i < 4; ++i) calls.push_back(mt::call_in_subprocess([base, i] {
                ::usleep(10'000);
                return base + i;
            }));
            for (auto& c : calls) total += c.result();
        });
    };
    std::thread other(work, 100);
    work(0);
    other.join();
    CHECK(total.load() == 0 + 1 + 2 + 3 + 100 + 101 + 102 + 103);
    CHECK(mt_test::open_fds() == fds_before);
}

TEST_CASE("the dump says which call a micro-thread waits for, and its collector by the call's name") {
    in_engine([] {
        auto call = mt::call_in_subprocess(mt::subprocess_options{"sleeper"}, [] { ::pause(); });
        auto waiter = mt::spawn(mt::spawn_options{"asker"}, [&] { CHECK_THROWS_AS(call.result(), mt::subprocess_error); });
        mt::yield();
        const std::string dump = mt::dump();
        CHECK_MESSAGE(dump.find("waits for subprocess call 'sleeper' (pid " + std::to_string(call.pid()) + ") to answer") !=
                          std::string::npos,
                      dump);
        CHECK_MESSAGE(dump.find("'collector of sleeper'") != std::string::npos, dump);
        call.abort();
        waiter.wait();
    });
}

TEST_CASE("the answer reader accepts exactly one whole answer and names what is wrong with anything else") {
    using mt::detail::answer_reader;
    auto feed = [](answer_reader& r, std::string_view bytes) {
        while (!bytes.empty() && r.state() != answer_reader::verdict::bad) {
            auto space = r.space();
            const std::size_t n = std::min(space.size(), bytes.size());
            std::memcpy(space.data(), bytes.data(), n);
            r.took(n);
            bytes.remove_prefix(n);
        }
    };
    int p[2];
    REQUIRE(::pipe(p) == 0);
    REQUIRE(mt::detail::write_exception_answer(p[1], "std::logic_error", "no"));
    REQUIRE(mt::detail::write_value_answer(p[1], "42"));
    ::close(p[1]);
    char buf[256];
    const ssize_t got = ::read(p[0], buf, sizeof buf);
    ::close(p[0]);
    REQUIRE(got == 24 + 16 + 2 + 24 + 2);
    const std::string_view both(buf, static_cast<std::size_t>(got));

    answer_reader e;
    feed(e, both.substr(0, 42));
    REQUIRE(e.state() == answer_reader::verdict::complete);
    CHECK(e.is_exception());
    CHECK(e.type_name() == "std::logic_error");
    CHECK(e.what() == "no");

    answer_reader v;
    feed(v, both.substr(42));
    REQUIRE(v.state() == answer_reader::verdict::complete);
    CHECK(v.take_value() == "42");

    answer_reader two;
    feed(two, both);  // a second answer after the first: bytes after it
    CHECK(two.state() == answer_reader::verdict::bad);
    CHECK(two.problem() == "more bytes followed the answer");

    answer_reader cut;
    feed(cut, both.substr(0, 30));
    cut.end();
    CHECK(cut.problem() == "it was cut short: 30 of 42 bytes arrived");

    std::string huge(both.substr(42, 24));
    huge[8] = '\x7f';  // size_a, past the limit
    huge[15] = '\x7f';
    answer_reader big;
    feed(big, huge);
    CHECK(big.state() == answer_reader::verdict::bad);
    CHECK(big.problem().find("more than the limit") != std::string::npos);

    answer_reader none;
    none.end();
    CHECK(none.problem() == "nothing arrived");
}

TEST_CASE("a handle moved away while a micro-thread waits on it: the waiter gets a usage error, the new owner the value") {
    in_engine([] {
        auto call = mt::call_in_subprocess([] {
            ::usleep(30'000);
            return 1;
        });
        auto waiter = mt::spawn([&] {
            CHECK_THROWS_WITH_AS(call.result(), doctest::Contains("was moved away while it waited"), mt::usage_error);
        });
        mt::yield();
        mt::subprocess_call<int> moved = std::move(call);
        CHECK(moved.result() == 1);
        waiter.wait();
    });
}

TEST_CASE("a fork that fails (EAGAIN): call_in_subprocess throws it at once; a pool's call fails with it and the line moves on") {
    in_engine([] {
        static int forks_to_fail = 0;
        mt::detail::sys_override restore;
        static pid_t (*const real_fork)() = mt::detail::sys().fork;
        mt::detail::sys().fork = [] {
            if (forks_to_fail > 0) {
                --forks_to_fail;
                errno = EAGAIN;
                return pid_t{-1};
            }
            return real_fork();
        };
        forks_to_fail = 1;
        CHECK_THROWS_WITH_AS(mt::call_in_subprocess(mt::subprocess_options{"unlucky"}, [] { return 1; }),
                             doctest::Contains("starting subprocess call 'unlucky': fork"), std::system_error);

        mt::process_pool pool(1, "retry");
        auto first = pool.submit([] {
            ::usleep(20'000);
            return 1;
        });
        auto second = pool.submit([] { return 2; });
        auto third = pool.submit([] { return 3; });
        forks_to_fail = 1;  // second's fork, when first's place frees up
        CHECK(first.result() == 1);
        try {
            second.result();
            FAIL("result() returned");
        } catch (const std::system_error& e) {
            CHECK(e.code().value() == EAGAIN);
        }
        CHECK(third.result() == 3);
        CHECK(pool.running() == 0);
    });
}
