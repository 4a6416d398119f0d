// Fault injection at the one system-call seam (core/detail/sys.hpp): the
// kernel's awkward answers — EINTR, EAGAIN storms, short reads and writes,
// ECONNRESET, EMFILE, ENOMEM — reach only the micro-thread whose call got
// them, with the right error; the others keep running and nothing leaks
// (in_engine checks micro-threads, stacks, watchers and fds).
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <string>
#include <system_error>
#include <vector>

#include "core/detail/sys.hpp"
#include "core/microthreading.hpp"
#include "nonblocking_io/io.hpp"
#include "nonblocking_io/socket.hpp"
#include "notifier/notifier.hpp"
#include "tests/child_process.hpp"
#include "tests/engine_fixture.hpp"

using namespace std::chrono_literals;
using mt_test::in_engine;

namespace {

// The plan of one test: which calls fail how. Plain globals, since the seam's
// entries are function pointers (tests run one engine at a time).
struct fault_plan {
    std::atomic<int> calls{0};       // calls seen by the injector
    int every = 0;                   // inject on every n-th call (0: never)
    int err = 0;                     // errno to inject
    std::size_t max_bytes = 0;       // short transfers: at most this many bytes (0: no limit)
    int victim_fd = -1;              // inject only on this fd (-1: any)
    std::atomic<int> injected{0};
};
fault_plan plan;

void reset_plan() {
    plan.calls = 0;
    plan.every = 0;
    plan.err = 0;
    plan.max_bytes = 0;
    plan.victim_fd = -1;
    plan.injected = 0;
}

bool inject_now(int fd) {
    if (plan.victim_fd >= 0 && fd != plan.victim_fd) return false;
    const int n = ++plan.calls;
    if (plan.every > 0 && n % plan.every == 0) {
        ++plan.injected;
        return true;
    }
    return false;
}

std::size_t limit(std::size_t n) { return plan.max_bytes && n > plan.max_bytes ? plan.max_bytes : n; }

ssize_t faulty_read(int fd, void* buf, std::size_t n) {
    if (inject_now(fd)) {
        errno = plan.err;
        return -1;
    }
    return ::read(fd, buf, limit(n));
}
ssize_t faulty_write(int fd, const void* buf, std::size_t n) {
    if (inject_now(fd)) {
        errno = plan.err;
        return -1;
    }
    return ::write(fd, buf, limit(n));
}
ssize_t faulty_recv(int fd, void* buf, std::size_t n, int flags) {
    if (inject_now(fd)) {
        errno = plan.err;
        return -1;
    }
    return ::recv(fd, buf, limit(n), flags);
}
ssize_t faulty_send(int fd, const void* buf, std::size_t n, int flags) {
    if (inject_now(fd)) {
        errno = plan.err;
        return -1;
    }
    return ::send(fd, buf, limit(n), flags);
}

// install — every I/O entry of the seam goes through the plan until the
// returned override is destroyed.
struct faulty_io {
    mt::detail::sys_override restore;
    faulty_io() {
        mt::detail::sys().read = faulty_read;
        mt::detail::sys().write = faulty_write;
        mt::detail::sys().recv = faulty_recv;
        mt::detail::sys().send = faulty_send;
    }
    ~faulty_io() { reset_plan(); }
};

struct connection_pair {
    mt::fd a, b;
};

connection_pair connected() {
    int sp[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sp) == 0);
    return {mt::fd(sp[0]), mt::fd(sp[1])};
}

std::string pattern(std::size_t n) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + i % 26);
    return s;
}

// exchange — sends `msg` from a to b through write_all / read_exact in two
// micro-threads, and returns what arrived.
std::string exchange(connection_pair& c, const std::string& msg) {
    auto writer = mt::spawn([&] { mt::write_all(c.a.get(), msg, 10s); });
    std::string got(msg.size(), '\0');
    mt::read_exact(c.b.get(), std::as_writable_bytes(std::span(got.data(), got.size())), 10s);
    writer.wait();
    return got;
}

}  // namespace

TEST_CASE("an EINTR storm on every I/O call is retried: the bytes arrive whole and in order") {
    in_engine([] {
        faulty_io seam;
        plan.every = 2;
        plan.err = EINTR;
        plan.max_bytes = 4096;  // many calls, so many interruptions
        auto c = connected();
        const std::string msg = pattern(200'000);
        CHECK(exchange(c, msg) == msg);
        CHECK(plan.injected.load() > 10);
    });
}

TEST_CASE("an EAGAIN storm (spurious would-block answers) waits for readiness and loses nothing") {
    in_engine([] {
        faulty_io seam;
        plan.every = 3;
        plan.err = EAGAIN;
        plan.max_bytes = 4096;
        auto c = connected();
        const std::string msg = pattern(100'000);
        CHECK(exchange(c, msg) == msg);
        CHECK(plan.injected.load() > 5);
    });
}

TEST_CASE("short reads and writes of one byte still move every byte, in order") {
    in_engine([] {
        faulty_io seam;
        plan.max_bytes = 1;
        auto c = connected();
        const std::string msg = pattern(20'000);
        CHECK(exchange(c, msg) == msg);
    });
}

TEST_CASE("ECONNRESET on one connection fails only its micro-thread; the other connections go on") {
    in_engine([] {
        faulty_io seam;
        auto bad = connected();
        auto good = connected();
        plan.victim_fd = bad.b.get();
        plan.every = 1;
        plan.err = ECONNRESET;
        auto victim = mt::spawn(mt::spawn_options{"victim"}, [&] {
            char c;
            mt::recv_d(bad.b.get(), std::as_writable_bytes(std::span(&c, 1)));
        });
        const std::string msg = pattern(50'000);
        CHECK(exchange(good, msg) == msg);
        CHECK(::write(bad.a.get(), "x", 1) == 1);
        try {
            victim.wait();
            FAIL("no error");
        } catch (const std::system_error& e) {
            CHECK(e.code().value() == ECONNRESET);
            CHECK(std::string(e.what()).find("recv_d(fd " + std::to_string(bad.b.get()) + ") in micro-thread #2 'victim'") !=
                  std::string::npos);
        }
    });
}

TEST_CASE("EMFILE from socket() is a named std::system_error; the engine runs on") {
    in_engine([] {
        mt::fd l = mt::tcp_listen("127.0.0.1", 0);
        const auto port = mt::local_port(l.get());
        {
            mt::detail::sys_override limit;
            mt::detail::sys().socket = [](int, int, int) -> int {
                errno = EMFILE;
                return -1;
            };
            try {
                mt::tcp_connect("127.0.0.1", port);
                FAIL("no error");
            } catch (const std::system_error& e) {
                CHECK(e.code().value() == EMFILE);
            }
        }
        auto client = mt::spawn([&] { return mt::tcp_connect("127.0.0.1", port); });
        mt::fd c = mt::accept_d(l.get(), 5s);
        CHECK(c);
        client.wait();
    });
}

TEST_CASE("ENOMEM at stack allocation fails that spawn with stack_allocation_error; running micro-threads go on") {
    in_engine([] {
        int progress = 0;
        auto worker = mt::spawn([&] {
            for (int i = 0; i < 100; ++i) {
                ++progress;
                mt::yield();
            }
        });
        std::vector<mt::micro_thread<void>> many;
        {
            mt::detail::sys_override no_memory;
            mt::detail::sys().mmap = [](void*, std::size_t, int, int, int, off_t) -> void* {
                errno = ENOMEM;
                return MAP_FAILED;
            };
            // Free stacks in the pool are handed out first; keep spawning
            // until one needs a new mapping.
            bool refused = false;
            for (int i = 0; i < 100'000 && !refused; ++i) {
                try {
                    many.push_back(mt::spawn([] { mt::yield(); }));
                } catch (const mt::stack_allocation_error& e) {
                    refused = true;
                    CHECK(e.code().value() == ENOMEM);
                    CHECK(std::string(e.what()).find("micro-thread #") != std::string::npos);
                }
            }
            CHECK(refused);
        }
        for (auto& h : many) h.wait();
        worker.wait();
        CHECK(progress == 100);
    });
}

TEST_CASE("the fd limit reached before the notifier starts is a named std::system_error, not libev's abort") {
    // libev aborts the process when it cannot make its wake-up eventfd;
    // with every fd taken, starting the notifier must fail as an error.
    auto take_every_fd = [] {
        const rlimit few{64, 64};
        ::setrlimit(RLIMIT_NOFILE, &few);
        while (::open("/dev/null", O_RDONLY | O_CLOEXEC) >= 0) {
        }
    };
    auto at_run = mt_test::run_in_child([&] {
        take_every_fd();
        try {
            mt::run([] {});
            std::fputs("no error\n", stderr);
        } catch (const std::system_error& e) {
            std::fprintf(stderr, "system_error %d: %s\n", e.code().value(), e.what());
        }
    });
    CHECK(at_run.exit_code == 0);
    CHECK(at_run.err.find("system_error 24: starting the notifier (libev) on the engine's root") != std::string::npos);
    CHECK(at_run.err.find("Too many open files") != std::string::npos);

    // An engine without a default notifier starts it at the first wait that
    // needs it: the error names that micro-thread, which may go on.
    auto at_wait = mt_test::run_in_child([&] {
        mt::engine_options o;
        o.default_notifier = false;
        mt::run(
            [&] {
                take_every_fd();
                try {
                    mt::wait_readable(0, 10ms);
                    std::fputs("no error\n", stderr);
                } catch (const std::system_error& e) {
                    std::fprintf(stderr, "system_error %d: %s\n", e.code().value(), e.what());
                }
                mt::sleep_d(1ms);
                std::fputs("main goes on\n", stderr);
            },
            o);
    });
    CHECK(at_wait.exit_code == 0);
    CHECK(at_wait.err.find("system_error 24: starting the notifier (libev) in micro-thread #1 'main'") !=
          std::string::npos);
    CHECK(at_wait.err.find("main goes on") != std::string::npos);
}
