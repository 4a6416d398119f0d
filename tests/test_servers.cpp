// The example servers against clients nobody here wrote (curl, wrk) and
// against a client written with the engine holding 10,000 connections.
// Each server runs as its own process.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/microthreading.hpp"
#include "nonblocking_io/io.hpp"
#include "nonblocking_io/socket.hpp"
#include "nonblocking_io/worker_pool.hpp"
#include "notifier/notifier.hpp"

using namespace std::chrono_literals;

namespace {

// server — a running example server: started with an optional fd limit,
// its port read from its "listening on PORT" line, stopped with Ctrl-C.
struct server {
    pid_t pid = -1;
    int port = 0;
    int out_fd = -1;  // its stdout, kept open: it says goodbye there on Ctrl-C
    std::string err_path;

    explicit server(const std::string& name, int fd_limit = 0) {
        const std::string exe = std::string(MT_EXAMPLES_DIR) + "/" + name;
        err_path = "/tmp/mt_server_err_" + std::to_string(::getpid()) + "_" + name;
        int out[2];
        REQUIRE(::pipe(out) == 0);
        pid = ::fork();
        if (pid == 0) {
            ::dup2(out[1], 1);
            ::close(out[0]);
            ::close(out[1]);
            FILE* e = std::fopen(err_path.c_str(), "w");
            if (e) ::dup2(fileno(e), 2);
            ::signal(SIGINT, SIG_DFL);
            if (fd_limit) {
                rlimit rl{static_cast<rlim_t>(fd_limit), static_cast<rlim_t>(fd_limit)};
                ::setrlimit(RLIMIT_NOFILE, &rl);
            }
            ::execl(exe.c_str(), exe.c_str(), "0", static_cast<char*>(nullptr));
            ::_exit(127);
        }
        ::close(out[1]);
        std::string line;
        char c;
        while (::read(out[0], &c, 1) == 1 && c != '\n') line += c;
        out_fd = out[0];
        REQUIRE(line.rfind("listening on ", 0) == 0);
        port = std::atoi(line.c_str() + 13);
    }
    ~server() { stop(); }

    // stop — Ctrl-C; returns true if it ended cleanly (exit status 0).
    bool stop() {
        if (pid < 0) return true;
        ::kill(pid, SIGINT);
        int status = 0;
        ::waitpid(pid, &status, 0);
        pid = -1;
        ::close(out_fd);
        if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0))
            MESSAGE("server status " << status << " stderr: " << errors());
        return WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    std::string errors() const {
        std::string s;
        if (FILE* f = std::fopen(err_path.c_str(), "r")) {
            char buf[4096];
            while (std::size_t n = std::fread(buf, 1, sizeof buf, f)) s.append(buf, n);
            std::fclose(f);
        }
        return s;
    }
    std::string url(const std::string& path = "/") const { return "http://127.0.0.1:" + std::to_string(port) + path; }
};

std::string shell(const std::string& cmd) {
    std::string out;
    if (FILE* p = ::popen((cmd + " 2>&1").c_str(), "r")) {
        char buf[4096];
        while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
        ::pclose(p);
    }
    return out;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
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
