// The example servers against clients nobody here wrote (curl, wrk) and
// against a client written with the engine holding 10,000 connections.
// Each server runs as its own process.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "core/microthreading.hpp"
#include "nonblocking_io/io.hpp"
#include "nonblocking_io/socket.hpp"
#include "nonblocking_io/worker_pool.hpp"
#include "notifier/notifier.hpp"
#include "tests/server_process.hpp"

using namespace std::chrono_literals;

using mt_test::memory_kib;
using mt_test::seconds_since;
using mt_test::server;
using mt_test::shell;

namespace {

// The HTTP example's answers, written out here so that a wrong byte in
// http_reply.hpp fails the tests.
const std::string hello = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 14\r\n\r\nHello, world!\n";
const std::string hello_close =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 14\r\nConnection: close\r\n\r\nHello, world!\n";
const std::string bad_request = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\nBad Request\n";
const std::string bad_request_close =
    "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 12\r\nConnection: close\r\n\r\n"
    "Bad Request\n";
const std::string too_large_close =
    "HTTP/1.1 413 Content Too Large\r\nContent-Type: text/plain\r\nContent-Length: 18\r\nConnection: close\r\n\r\n"
    "Content Too Large\n";
const std::string head_too_large_close =
    "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain\r\nContent-Length: 32\r\n"
    "Connection: close\r\n\r\nRequest Header Fields Too Large\n";
const std::string not_implemented_close =
    "HTTP/1.1 501 Not Implemented\r\nContent-Type: text/plain\r\nContent-Length: 16\r\nConnection: close\r\n\r\n"
    "Not Implemented\n";
const std::string version_close =
    "HTTP/1.1 505 HTTP Version Not Supported\r\nContent-Type: text/plain\r\nContent-Length: 27\r\n"
    "Connection: close\r\n\r\nHTTP Version Not Supported\n";

// read_to_close — everything `fd` gives until the server closes it (a reset
// after an answer counts as the close); timeout_error when it sends nothing
// for 5 s. In a micro-thread.
std::string read_to_close(int fd) {
    std::string out;
    char buf[4096];
    try {
        while (const std::size_t n = mt::read_d(fd, buf, sizeof buf, 5s)) out.append(buf, n);
    } catch (const std::system_error& e) {
        if (e.code().value() != ECONNRESET || out.empty()) throw;
    }
    return out;
}

// http_exchange — sends `request` on a new connection to `port` and returns what
// the server answers until it closes the connection. In a micro-thread.
std::string http_exchange(int port, std::string_view request) {
    mt::fd c = mt::tcp_connect("127.0.0.1", static_cast<std::uint16_t>(port), 5s);
    mt::write_all(c.get(), request, 5s);
    return read_to_close(c.get());
}

}  // namespace

TEST_CASE("the HTTP server answers curl, keeps the connection alive, and ends cleanly on Ctrl-C") {
    server s("http_server");
    const std::string out = shell("curl -sv " + s.url() + " " + s.url("/again"));
    int hellos = 0;
    for (std::size_t at = 0; (at = out.find("Hello, world!", at)) != std::string::npos; ++at) ++hellos;
    CHECK(hellos == 2);
    CHECK(out.find("Re-using existing connection") != std::string::npos);
    CHECK(shell("curl -s -H 'Connection: close' " + s.url()) == "Hello, world!\n");
    CHECK(shell("curl -s --http1.0 " + s.url()) == "Hello, world!\n");
    CHECK(shell("curl -s -d 'a request body' " + s.url()) == "Hello, world!\n");
    CHECK(s.stop());
}

TEST_CASE("the HTTP server with --threads 2 answers on one port from both listeners and ends cleanly on Ctrl-C") {
    server s("http_server", 0, "2");
    for (int i = 0; i < 20; ++i) CHECK(shell("curl -s " + s.url()) == "Hello, world!\n");
    const std::string out = shell("curl -sv " + s.url() + " " + s.url("/again"));
    CHECK(out.find("Re-using existing connection") != std::string::npos);
    CHECK(s.stop());
}

TEST_CASE("the echo server with --threads 2 echoes on 200 connections") {
    server s("echo_server", 0, "2");
    int ok = 0;
    mt::run([&] {
        mt::scope sc;
        for (int i = 0; i < 200; ++i) {
            sc.spawn([&, i] {
                mt::fd c = mt::tcp_connect("127.0.0.1", static_cast<std::uint16_t>(s.port), 30s);
                const std::string msg = "connection " + std::to_string(i) + "\n";
                mt::write_all(c.get(), msg, 30s);
                std::string back(msg.size(), '\0');
                mt::read_exact(c.get(), std::as_writable_bytes(std::span(back.data(), back.size())), 30s);
                if (back == msg) ++ok;
            });
        }
    });
    CHECK(ok == 200);
    CHECK(s.stop());
}

TEST_CASE("the HTTP server serves slow /sleep requests concurrently") {
    server s("http_server");
    const auto t0 = std::chrono::steady_clock::now();
    const std::string out = shell("for i in 1 2 3 4 5 6 7 8 9 10; do curl -s '" + s.url("/sleep?ms=500") +
                                  "' & done; wait");
    const double took = seconds_since(t0);
    int hellos = 0;
    for (std::size_t at = 0; (at = out.find("Hello", at)) != std::string::npos; ++at) ++hellos;
    CHECK(hellos == 10);
    CHECK(took < 4.0);  // one after another would take 5 s; together about 0.5 s
}

TEST_CASE("a half-written request and a client that never sends fail their own connection only") {
    server s("http_server");
    mt::run([&] {
        mt::fd half = mt::tcp_connect("127.0.0.1", static_cast<std::uint16_t>(s.port));
        mt::write_all(half.get(), "GET / HTTP/1.1\r\nHost: x");  // and no more
        mt::fd silent = mt::tcp_connect("127.0.0.1", static_cast<std::uint16_t>(s.port));
        // the server still answers others meanwhile
        const std::string out = mt::submit_work([&] { return shell("curl -s " + s.url()); });
        CHECK(out == "Hello, world!\n");
        half.close();  // mid-request
        const std::string again = mt::submit_work([&] { return shell("curl -s " + s.url()); });
        CHECK(again == "Hello, world!\n");
    });
    CHECK(s.stop());
}

TEST_CASE("the HTTP example answers 400 and closes on a request line out of METHOD SP target SP HTTP/1.x") {
    server s("http_server");
    mt::run([&] {
        for (const char* line : {"garbage", "GET /", "GET / HTTP/1.1 extra", "GET  / HTTP/1.1", "GET / http/1.1",
                                 "GET / HTTP/1.1x", "G@T / HTTP/1.1"})
            CHECK_MESSAGE(http_exchange(s.port, std::string(line) + "\r\nHost: x\r\n\r\n") == bad_request_close, line);
        CHECK(http_exchange(s.port, "GET / HTTP/1.1\r\n\r\n") == bad_request_close);  // HTTP/1.1 without Host
        CHECK(http_exchange(s.port, "GET / HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n") == bad_request_close);
        CHECK(http_exchange(s.port, "GET / HTTP/2.0\r\nHost: x\r\n\r\n") == version_close);
        CHECK(http_exchange(s.port, "GET / HTTP/1.0\r\n\r\n") == hello_close);
    });
    CHECK(shell("curl -s " + s.url()) == "Hello, world!\n");  // it serves on
    CHECK(s.stop());
}

TEST_CASE("the HTTP example answers 400 to a Content-Length that is not one plain number, 501 to Transfer-Encoding") {
    server s("http_server");
    mt::run([&] {
        for (const char* length : {"-1", "+3", "0x3", "3 3", "3, 3", "99999999999999999999999"})
            CHECK_MESSAGE(http_exchange(s.port, std::string("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ") + length +
                                               "\r\n\r\nabc") == bad_request_close,
                          length);
        CHECK(http_exchange(s.port, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd") ==
              bad_request_close);
        CHECK(http_exchange(s.port, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\ncontent-length: 3\r\n"
                               "Connection: close\r\n\r\nabc") == hello_close);
        CHECK(http_exchange(s.port, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n") ==
              not_implemented_close);
    });
    CHECK(shell("curl -s -H 'Transfer-Encoding: chunked' -d abc -o /dev/null -w '%{http_code}' " + s.url()) == "501");
    CHECK(s.stop());
}

TEST_CASE("the HTTP example answers 413 to a body over its limit without buffering it") {
    server s("http_server");
    const long rss_before = memory_kib(s.pid, "VmRSS:");
    std::string answer;
    std::size_t sent = 0;
    long peak_during = -1;
    mt::run([&] {
        mt::fd c = mt::tcp_connect("127.0.0.1", static_cast<std::uint16_t>(s.port), 5s);
        mt::write_all(c.get(), "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 209715200\r\n\r\n");  // 200 MiB
        // A micro-thread streams the first 8 MiB of the body; the server may
        // close before it is all sent (EPIPE or a reset end the stream).
        auto writer = mt::spawn([&] {
            const std::string piece(64 * 1024, 'x');
            try {
                while (sent < 8u * 1024 * 1024) {
                    mt::write_all(c.get(), piece, 5s);
                    sent += piece.size();
                }
            } catch (const std::system_error&) {
            }
        });
        // Other clients are served meanwhile.
        CHECK(mt::submit_work([&] { return shell("curl -s " + s.url()); }) == "Hello, world!\n");
        try {
            answer = read_to_close(c.get());
        } catch (const mt::timeout_error&) {
            answer = "(no answer in 5 s)";
        }
        writer.wait();
        peak_during = memory_kib(s.pid, "VmHWM:");  // while the connection may still be open
    });
    CHECK(answer == too_large_close);
    MESSAGE("body bytes the client got out: " << sent << "; server RSS before " << rss_before << " KiB, peak "
                                              << peak_during << " KiB");
    REQUIRE(rss_before > 0);
    CHECK(peak_during - rss_before < 1024);  // the 8 MiB streamed would show; 1 MiB is the body limit itself
    CHECK(shell("curl -s " + s.url()) == "Hello, world!\n");
    CHECK(s.stop());
}

TEST_CASE("the HTTP example reads a body within its limit in pieces and keeps the connection") {
    server s("http_server");
    const std::string one_mib(1024 * 1024, 'b');
    mt::run([&] {
        CHECK(http_exchange(s.port, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n" + one_mib +
                                   "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n") == hello + hello_close);
        CHECK(http_exchange(s.port, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1048577\r\n\r\n") == too_large_close);
    });
    CHECK(s.stop());
}

TEST_CASE("the HTTP example answers 431 to a head over 8 KiB and serves one of 8 KiB") {
    server s("http_server");
    const std::string start = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Pad: ";
    const std::string fits = start + std::string(8192 - start.size() - 4, 'p') + "\r\n\r\n";
    REQUIRE(fits.size() == 8192);
    const std::string over = start + std::string(8193 - start.size() - 4, 'p') + "\r\n\r\n";
    mt::run([&] {
        CHECK(http_exchange(s.port, fits) == hello_close);
        CHECK(http_exchange(s.port, over) == head_too_large_close);
        CHECK(http_exchange(s.port, start + std::string(100'000, 'p') + "\r\n\r\n") == head_too_large_close);
    });
    CHECK(shell("curl -s " + s.url()) == "Hello, world!\n");
    CHECK(s.stop());
}

TEST_CASE("the HTTP example answers 400 to /sleep?ms=N with N not a number up to 60000, and keeps the connection") {
    server s("http_server");
    mt::run([&] {
        for (const char* ms : {"99999999999", "60001", "-1", "1x", "", "18446744073709551617"})
            CHECK_MESSAGE(http_exchange(s.port, std::string("GET /sleep?ms=") + ms +
                                               " HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n"
                                               "Connection: close\r\n\r\n") == bad_request + hello_close,
                          ms);
        CHECK(http_exchange(s.port, "GET /sleep?ms=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n") == hello_close);
    });
    CHECK(shell("curl -s -o /dev/null -w '%{http_code}' '" + s.url("/sleep?ms=99999999999") + "'") == "400");
    CHECK(s.stop());
}

TEST_CASE("the HTTP example keeps a connection alive across requests, pipelined or not, until Connection: close") {
    server s("http_server");
    mt::run([&] {
        mt::fd c = mt::tcp_connect("127.0.0.1", static_cast<std::uint16_t>(s.port), 5s);
        for (int i = 0; i < 3; ++i) {  // one at a time
            mt::write_all(c.get(), "GET /one HTTP/1.1\r\nHost: x\r\n\r\n", 5s);
            std::string got(hello.size(), '\0');
            mt::read_exact(c.get(), std::as_writable_bytes(std::span(got.data(), got.size())), 5s);
            CHECK(got == hello);
        }
        // pipelined in one write: a HEAD (no body in its answer), a body, and an
        // empty line before a request
        mt::write_all(c.get(),
                      "GET /a HTTP/1.1\r\nHost: x\r\n\r\nHEAD /h HTTP/1.1\r\nHost: x\r\n\r\n"
                      "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
                      "\r\nGET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /never HTTP/1.1\r\n\r\n",
                      5s);
        CHECK(read_to_close(c.get()) == hello + hello.substr(0, hello.find("\r\n\r\n") + 4) + hello + hello_close);
        CHECK(http_exchange(s.port, "GET / HTTP/1.0\r\nHost: x\r\n\r\n") == hello_close);
    });
    CHECK(s.stop());
}

#if !defined(MT_TEST_SANITIZED)
TEST_CASE("wrk against the HTTP server: every request of 100 keep-alive connections is answered") {
    server s("http_server");
    const std::string out = shell("wrk -t1 -c100 -d1s " + s.url());
    CHECK(out.find("Requests/sec:") != std::string::npos);
    CHECK(out.find("Socket errors") == std::string::npos);
    CHECK(out.find("Non-2xx") == std::string::npos);
    CHECK(s.stop());
}

TEST_CASE("the echo server echoes correctly on 10,000 simultaneous connections") {
    rlimit rl{};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &rl) == 0);
    const rlimit saved = rl;
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
    const int n = rl.rlim_max >= 10'200 ? 10'000 : static_cast<int>(rl.rlim_max) - 200;
    server s("echo_server");
    int ok = 0, connected = 0, max_open = 0;
    mt::run([&] {
        std::vector<mt::deferred*> waiting;
        bool all_open = false;
        mt::scope sc;
        for (int i = 0; i < n; ++i) {
            sc.spawn([&, i] {
                mt::fd c = mt::tcp_connect("127.0.0.1", static_cast<std::uint16_t>(s.port), 30s);
                if (++connected == n) {
                    all_open = true;
                    max_open = connected;
                    for (mt::deferred* d : waiting) d->callback(nullptr);
                } else if (!all_open) {
                    waiting.push_back(&mt::this_deferred());
                    mt::this_deferred().arm();
                    mt::this_deferred().wait();  // hold the connection until all are open
                }
                const std::string msg = "connection " + std::to_string(i) + "\n";
                mt::write_all(c.get(), msg, 30s);
                std::string back(msg.size(), '\0');
                mt::read_exact(c.get(), std::as_writable_bytes(std::span(back.data(), back.size())), 30s);
                if (back == msg) ++ok;
            });
            if (i % 256 == 255) mt::sleep_d(1ms);  // do not overflow the listen backlog
        }
    });
    ::setrlimit(RLIMIT_NOFILE, &saved);
    CHECK(max_open == n);
    CHECK(ok == n);
    MESSAGE(n << " simultaneous connections, " << ok << " echoed correctly");
    CHECK(s.stop());
}
#endif

TEST_CASE("at the fd limit (EMFILE) the echo server logs the refusal and keeps serving the connections it has") {
    server s("echo_server", 40);
    mt::run([&] {
        std::vector<mt::fd> conns;
        for (int i = 0; i < 60; ++i) conns.push_back(mt::tcp_connect("127.0.0.1", static_cast<std::uint16_t>(s.port), 5s));
        mt::sleep_d(100ms);  // the server accepts what it can
        // The first connections were accepted and still echo.
        for (int i = 0; i < 10; ++i) {
            mt::write_all(conns[static_cast<std::size_t>(i)].get(), "still here\n");
            char buf[32];
            const std::size_t got = mt::read_d(conns[static_cast<std::size_t>(i)].get(), buf, sizeof buf, 5s);
            CHECK(std::string(buf, got) == "still here\n");
        }
    });
    CHECK(s.errors().find("serve: refusing connections for now") != std::string::npos);
    CHECK(s.errors().find("fd limit") != std::string::npos);
    CHECK(s.stop());
}
