// Non-blocking I/O: read_d/write_d/send_d/recv_d, read_exact/write_all,
// sockets, the worker pool; bad input fails one micro-thread only.
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <system_error>
#include <vector>

#include "core/detail/sys.hpp"
#include "core/microthreading.hpp"
#include "nonblocking_io/fd.hpp"
#include "nonblocking_io/io.hpp"
#include "nonblocking_io/socket.hpp"
#include "nonblocking_io/worker_pool.hpp"
#include "notifier/notifier.hpp"
#include "tests/engine_fixture.hpp"
#include "tests/stream_pair.hpp"

using namespace std::chrono_literals;
using mt_test::in_engine;

namespace {

using mt_test::stream_pair;

std::string read_all(int fd) {
    std::string out;
    char buf[4096];
    while (std::size_t n = mt::read_d(fd, buf, sizeof buf)) out.append(buf, n);
    return out;
}

}  // namespace

TEST_CASE("read_d suspends only its micro-thread until data arrives, and returns 0 at end-of-stream") {
    in_engine([] {
        stream_pair p;
        auto reader = mt::spawn([&] { return read_all(p.a.get()); });
        mt::yield();
        mt::write_all(p.b.get(), "hello ");
        mt::sleep_d(1ms);
        mt::write_all(p.b.get(), "world");
        p.b.close();
        CHECK(reader.wait() == "hello world");
    });
}

TEST_CASE("write_all writes a buffer larger than the socket buffer while the reader drains it") {
    in_engine([] {
        stream_pair p;
        const std::string big(4 << 20, 'x');
        auto reader = mt::spawn([&] { return read_all(p.a.get()).size(); });
        mt::write_all(p.b.get(), big);
        p.b.close();
        CHECK(reader.wait() == big.size());
    });
}

TEST_CASE("send_d and recv_d move bytes on sockets") {
    in_engine([] {
        stream_pair p;
        const char msg[] = "ping";
        CHECK(mt::send_d(p.a.get(), std::as_bytes(std::span(msg, 4))) == 4);
        std::byte buf[8];
        CHECK(mt::recv_d(p.b.get(), buf) == 4);
        CHECK(std::memcmp(buf, "ping", 4) == 0);
    });
}

TEST_CASE("read_exact fills the buffer or names how much was missing at end-of-stream") {
    in_engine([] {
        stream_pair p;
        mt::write_all(p.b.get(), "abcdef");
        std::byte four[4];
        mt::read_exact(p.a.get(), four);
        CHECK(std::memcmp(four, "abcd", 4) == 0);
        p.b.close();
        CHECK_THROWS_WITH_AS(mt::read_exact(p.a.get(), four), doctest::Contains("end of stream after 2 of 4 bytes"),
                             mt::end_of_stream_error);
    });
}

TEST_CASE("a read_d with a timeout raises timeout_error naming the call; a peer that never sends fails that micro-thread only") {
    in_engine([] {
        stream_pair p;
        char c;
        auto silent = mt::spawn(mt::spawn_options{"patient"}, [&] { mt::read_d(p.a.get(), &c, 1, 20ms); });
        auto other = mt::spawn([] { mt::sleep_d(1ms); return 7; });
        CHECK_THROWS_WITH_AS(silent.wait(),
                             doctest::Contains("read_d in micro-thread #2 'patient' timed out after 0.020 s waiting for fd"),
                             mt::timeout_error);
        CHECK(other.wait() == 7);
    });
}

TEST_CASE("I/O on a closed fd is a std::system_error(EBADF) naming the operation and the micro-thread") {
    in_engine([] {
        int sv[2];
        REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
        ::close(sv[0]);
        ::close(sv[1]);
        char c;
        try {
            mt::read_d(sv[0], &c, 1);
            FAIL("no error");
        } catch (const std::system_error& e) {
            CHECK(e.code().value() == EBADF);
            CHECK(std::string(e.what()).find("read_d(fd " + std::to_string(sv[0]) + ") in micro-thread #1 'main'") !=
                  std::string::npos);
        }
        CHECK_THROWS_AS(mt::write_all(-1, "x"), std::system_error);
    });
}

TEST_CASE("an abort interrupts a read_d and its fd is closed by the owning fd on the way out") {
    const int fds_before = mt_test::open_fds();
    in_engine([] {
        auto reader = mt::spawn([] {
            stream_pair p;  // owned by this micro-thread's frame
            char c;
            mt::read_d(p.a.get(), &c, 1);
        });
        mt::yield();
        reader.abort();
        CHECK_THROWS_AS(reader.wait(), mt::micro_thread_aborted);
    });
    CHECK(mt_test::open_fds() == fds_before);
}

TEST_CASE("TCP over IPv4 and IPv6 and Unix-domain streams: listen, accept_d, connect_d, echo") {
    in_engine([] {
        auto echo_once = [](mt::fd& listener) {
            mt::fd c = mt::accept_d(listener.get());
            char buf[64];
            const std::size_t n = mt::read_d(c.get(), buf, sizeof buf);
            mt::write_all(c.get(), std::string_view(buf, n));
        };
        for (const char* addr : {"127.0.0.1", "::1"}) {
            CAPTURE(addr);
            mt::fd l = mt::tcp_listen(addr, 0);
            const auto port = mt::local_port(l.get());
            CHECK(port != 0);
            auto server = mt::spawn([&] { echo_once(l); });
            mt::fd c = mt::tcp_connect(addr, port, 5s);
            mt::set_nodelay(c.get());
            mt::write_all(c.get(), "over tcp");
            CHECK(read_all(c.get()) == "over tcp");
            server.wait();
        }
        const std::string path = "/tmp/mt_test_" + std::to_string(::getpid()) + ".sock";
        mt::fd l = mt::unix_listen(path);
        auto server = mt::spawn([&] { echo_once(l); });
        mt::fd c = mt::unix_connect(path);
        mt::write_all(c.get(), "over unix");
        CHECK(read_all(c.get()) == "over unix");
        server.wait();
        ::unlink(path.c_str());
    });
}

TEST_CASE("tcp_connect resolves a name on the worker pool") {
    in_engine([] {
        mt::fd l = mt::tcp_listen("127.0.0.1", 0);
        auto server = mt::spawn([&] { mt::fd c = mt::accept_d(l.get()); });
        mt::fd c = mt::tcp_connect("localhost", mt::local_port(l.get()), 5s);
        CHECK(c);
        server.wait();
    });
}

TEST_CASE("a peer that resets the connection mid-transfer fails that micro-thread only, with ECONNRESET") {
    in_engine([] {
        mt::fd l = mt::tcp_listen("127.0.0.1", 0);
        auto rude = mt::spawn([&] {
            mt::fd c = mt::accept_d(l.get());
            char buf[4];
            mt::read_d(c.get(), buf, sizeof buf);
            linger lg{1, 0};  // close with RST
            ::setsockopt(c.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        });
        auto victim = mt::spawn(mt::spawn_options{"victim"}, [&] {
            mt::fd c = mt::tcp_connect("127.0.0.1", mt::local_port(l.get()));
            mt::write_all(c.get(), "hi");
            mt::sleep_d(20ms);
            read_all(c.get());
        });
        auto bystander = mt::spawn([] { mt::sleep_d(30ms); return 1; });
        rude.wait();
        try {
            victim.wait();
            FAIL("no reset seen");
        } catch (const std::system_error& e) {
            CHECK(e.code().value() == ECONNRESET);
            CHECK(std::string(e.what()).find("'victim'") != std::string::npos);
        }
        CHECK(bystander.wait() == 1);
    });
}

TEST_CASE("connecting to an unreachable address or a name that does not resolve is a std::system_error saying what") {
    in_engine([] {
        mt::fd l = mt::tcp_listen("127.0.0.1", 0);
        const auto port = mt::local_port(l.get());
        l.close();  // nobody listens there now
        CHECK_THROWS_WITH_AS(mt::tcp_connect("127.0.0.1", port), doctest::Contains("tcp_connect(127.0.0.1:"),
                             std::system_error);
        try {
            mt::tcp_connect("127.0.0.1", port);
        } catch (const std::system_error& e) {
            // the errno's text once, at the end: "tcp_connect(...): connect_d(fd N) in ...: Connection refused"
            const std::string what = e.what(), text = e.code().message();
            CHECK(what.find(text) == what.size() - text.size());
        }
        try {
            mt::unix_connect("/nonexistent/mt-socket");
        } catch (const std::system_error& e) {
            const std::string what = e.what(), text = e.code().message();
            CHECK(what.find("unix_connect(/nonexistent/mt-socket)") == 0);
            CHECK(what.find(text) == what.size() - text.size());
        }
        CHECK_THROWS_WITH_AS(mt::tcp_connect("no-such-host.invalid", 80), doctest::Contains("cannot resolve"),
                             std::system_error);
        CHECK_THROWS_AS(mt::tcp_listen("not an address", 0), std::system_error);
    });
}

TEST_CASE("EMFILE from accept is a std::system_error saying the fd limit is reached; the listener stays usable") {
    in_engine([] {
        mt::fd l = mt::tcp_listen("127.0.0.1", 0);
        {
            mt::detail::sys_override limit;
            mt::detail::sys().accept4 = [](int, sockaddr*, socklen_t*, int) -> int {
                errno = EMFILE;
                return -1;
            };
            CHECK_THROWS_WITH_AS(mt::accept_d(l.get()), doctest::Contains("fd limit"), std::system_error);
        }
        auto client = mt::spawn([&] { return mt::tcp_connect("127.0.0.1", mt::local_port(l.get())); });
        mt::fd c = mt::accept_d(l.get(), 5s);
        CHECK(c);
        client.wait();
    });
}

// ---- the worker pool ---------------------------------------------------------------

TEST_CASE("submit_work runs a function on a worker thread and returns its result or rethrows") {
    in_engine([] {
        const auto self = std::this_thread::get_id();
        CHECK(mt::submit_work([self](int x) {
                  CHECK(std::this_thread::get_id() != self);
                  return x * 2;
              }, 21) == 42);
        CHECK_THROWS_WITH_AS(mt::submit_work([] { throw std::range_error("on the pool"); }), "on the pool",
                             std::range_error);
        mt::submit_work([] {});
    });
}

TEST_CASE("100 micro-threads each wait on a slow pool job while a timer keeps firing on time") {
    in_engine([] {
        mt::worker_pool pool(8);
        int ticks = 0;
        bool done = false;
        double worst_late_ms = 0;
        auto ticker = mt::spawn([&] {
            while (!done) {
                const auto t0 = std::chrono::steady_clock::now();
                mt::sleep_d(5ms);
                const double late = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() - 5;
                if (late > worst_late_ms) worst_late_ms = late;
                ++ticks;
            }
        });
        {
            mt::scope s;
            for (int i = 0; i < 100; ++i)
                s.spawn([&pool, i] {
                    CHECK(mt::submit_work_on(pool, [i] {
                              std::this_thread::sleep_for(20ms);
                              return i;
                          }) == i);
                });
        }
        done = true;
        ticker.wait();
        // 100 jobs of 20 ms on 8 threads take ~250 ms: the ticker kept ticking meanwhile.
        CHECK(ticks >= 10);
        CHECK(worst_late_ms < 500);  // generous: "on time" means never starved by the pool
    });
}

TEST_CASE("an aborted micro-thread waiting on a pool job ends at once; the job's late result is dropped") {
    in_engine([] {
        auto h = mt::spawn([] { mt::submit_work([] { std::this_thread::sleep_for(50ms); return 1; }); });
        mt::yield();
        h.abort();
        CHECK_THROWS_AS(h.wait(), mt::micro_thread_aborted);
        mt::sleep_d(80ms);  // the job finishes and its wake-up is dropped
    });
}

TEST_CASE("submit_work_then delivers the result to the callback or the exception to the errback") {
    int result = 0;
    std::string error;
    in_engine([&] {
        mt::submit_work_then([] { return 5; }, [&](int r) { result = r; }, [&](std::exception_ptr) { error = "?"; });
        mt::submit_work_then([]() -> int { throw std::runtime_error("errback!"); }, [&](int) {},
                             [&](std::exception_ptr e) {
                                 try {
                                     std::rethrow_exception(e);
                                 } catch (const std::exception& ex) {
                                     error = ex.what();
                                 }
                             });
    });
    CHECK(result == 5);
    CHECK(error == "errback!");
}

TEST_CASE("read_file and write_file go through the pool; a missing file is a std::system_error naming it") {
    in_engine([] {
        const std::string path = "/tmp/mt_test_file_" + std::to_string(::getpid());
        mt::write_file(path, "contents\n");
        CHECK(mt::read_file(path) == "contents\n");
        ::unlink(path.c_str());
        CHECK_THROWS_WITH_AS(mt::read_file(path), doctest::Contains(path.c_str()), std::system_error);
    });
}

namespace {
int eagain_reads = 0;
ssize_t counting_read(int fd, void* buf, std::size_t n) {
    const ssize_t r = ::read(fd, buf, n);
    if (r < 0 && errno == EAGAIN) ++eagain_reads;
    return r;
}
}  // namespace

TEST_CASE("after a read that emptied the socket, the next read_d waits for readiness first (no EAGAIN read)") {
    in_engine([] {
        stream_pair p;
        mt::detail::sys_override count;
        mt::detail::sys().read = counting_read;
        mt::wait_writable(p.b.get());  // the reactor exists from here on
        mt::write_all(p.b.get(), "x");
        char buf[16];
        CHECK(mt::read_d(p.a.get(), buf, sizeof buf) == 1);  // short: the socket is drained
        eagain_reads = 0;
        auto writer = mt::spawn([&] { mt::sleep_d(2ms); mt::write_all(p.b.get(), "y"); });
        CHECK(mt::read_d(p.a.get(), buf, sizeof buf) == 1);
        CHECK(buf[0] == 'y');
        CHECK(eagain_reads == 0);
        writer.wait();
    });
}
