// Soak runs (./test.sh --long): the servers held under load for a sustained
// time, a million micro-thread lives, ten million values through a
// pipeline. Each checks that nothing fails, nothing is lost, and nothing
// grows: no failed request, no fd growth, resident memory flat after a
// warm-up. MT_SOAK_SECONDS sets how long each server run lasts (default 20).
#include <doctest/doctest.h>

#include <sys/resource.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "core/microthreading.hpp"
#include "nonblocking_io/io.hpp"
#include "nonblocking_io/socket.hpp"
#include "pipes/pipeline.hpp"
#include "tests/server_process.hpp"

using namespace std::chrono_literals;

namespace {

int soak_seconds() {
    const char* s = std::getenv("MT_SOAK_SECONDS");
    const int n = s ? std::atoi(s) : 0;
    return n > 0 ? n : 20;
}

long own_rss_kib() { return mt_test::memory_kib(::getpid(), "VmRSS:"); }

// raise_fd_limit — to the hard limit, for this process and what it starts.
rlim_t raise_fd_limit() {
    rlimit rl{};
    ::getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
    return rl.rlim_cur;
}

// wrk_run — wrk against url; returns its report. Threads: 2 (both cores).
std::string wrk_run(const std::string& url, int connections, int seconds) {
    return mt_test::shell("wrk -t2 -c" + std::to_string(connections) + " -d" + std::to_string(seconds) + "s " + url);
}

void check_wrk_clean(const std::string& report) {
    CHECK_MESSAGE(report.find("Requests/sec:") != std::string::npos, report);
    CHECK_MESSAGE(report.find("Non-2xx") == std::string::npos, report);
    // wrk prints "Socket errors: connect A, read B, write C, timeout D" only when one is not zero.
    CHECK_MESSAGE(report.find("Socket errors") == std::string::npos, report);
}

void soak_http(int connections) {
    if (raise_fd_limit() < static_cast<rlim_t>(connections) + 200) {
        MESSAGE("fd limit too low for " << connections << " connections; skipped");
        return;
    }
    mt_test::server s("http_server");
    check_wrk_clean(wrk_run(s.url(), connections, 3));  // warm-up: pools, stacks, buffers reach their size
    ::usleep(500'000);                                     // and its connections close
    const long rss0 = mt_test::memory_kib(s.pid, "VmRSS:");
    const int fds0 = mt_test::open_fds_of(s.pid);
    const std::string report = wrk_run(s.url(), connections, soak_seconds());
    check_wrk_clean(report);
    ::usleep(200'000);  // the last connections close
    const long rss1 = mt_test::memory_kib(s.pid, "VmRSS:");
    const int fds1 = mt_test::open_fds_of(s.pid);
    MESSAGE(connections << " connections for " << soak_seconds() << " s: RSS " << rss0 << " -> " << rss1
                        << " KiB, fds " << fds0 << " -> " << fds1 << "\n"
                        << report);
    CHECK(fds1 <= fds0);
    CHECK(rss1 - rss0 < 16 * 1024);  // flat: what a warmed-up server holds, within noise
    CHECK(s.stop());
}

}  // namespace

TEST_CASE("soak: the HTTP server under wrk with 1,000 connections answers every request, holds its fds and its memory") {
    soak_http(1'000);
}

TEST_CASE("soak: the HTTP server under wrk with 10,000 connections answers every request, holds its fds and its memory") {
    soak_http(10'000);
}

TEST_CASE("soak: the echo server holds 10,000 connections, each echoing 50 messages, none wrong") {
    const int n = raise_fd_limit() >= 10'200 ? 10'000 : 1'000;
    mt_test::server s("echo_server");
    const long rss0 = mt_test::memory_kib(s.pid, "VmRSS:");
    long ok = 0;
    mt::run([&] {
        mt::scope sc;
        for (int i = 0; i < n; ++i) {
            sc.spawn([&, i] {
                mt::fd c = mt::tcp_connect("127.0.0.1", static_cast<std::uint16_t>(s.port), 60s);
                for (int k = 0; k < 50; ++k) {
                    const std::string msg = "connection " + std::to_string(i) + " message " + std::to_string(k) + "\n";
                    mt::write_all(c.get(), msg, 60s);
                    std::string back(msg.size(), '\0');
                    mt::read_exact(c.get(), std::as_writable_bytes(std::span(back.data(), back.size())), 60s);
                    if (back == msg) ++ok;
                }
            });
            if (i % 256 == 255) mt::sleep_d(1ms);  // within the listen backlog
        }
    });
    const long rss1 = mt_test::memory_kib(s.pid, "VmRSS:");
    MESSAGE(n << " connections x 50 messages: " << ok << " echoed correctly; server RSS " << rss0 << " -> " << rss1
              << " KiB");
    CHECK(ok == 50L * n);
    CHECK(s.stop());
}

TEST_CASE("soak: 1,000,000 spawn/exit cycles keep resident memory flat") {
    mt::run([] {
        auto cycle = [](int count) {
            for (int i = 0; i < count; ++i) {
                mt::spawn([] { mt::yield(); }).wait();
            }
        };
        cycle(100'000);  // warm-up
        const long rss0 = own_rss_kib();
        cycle(1'000'000);
        const long rss1 = own_rss_kib();
        MESSAGE("1,000,000 spawn/exit cycles: RSS " << rss0 << " -> " << rss1 << " KiB");
        CHECK(rss1 - rss0 < 1024);
    });
}

TEST_CASE("soak: 10,000,000 values through a five-stage pipeline, none lost or duplicated") {
    constexpr std::uint64_t n = 10'000'000;
    const auto [count, sum, xsum] = mt::run([] {
      return mt::pipeline<std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t>(
        [](mt::micro_pipe<std::uint64_t> out) {
            for (std::uint64_t i = 0; i < n; ++i) out.put(i);
        },
        [](mt::micro_pipe<std::uint64_t> in, mt::micro_pipe<std::uint64_t> out) {
            for (std::uint64_t v : in) out.put(v);
        },
        [](mt::micro_pipe<std::uint64_t> in, mt::micro_pipe<std::uint64_t> out) {
            for (std::uint64_t v : in) out.put(v);
        },
        [](mt::micro_pipe<std::uint64_t> in, mt::micro_pipe<std::uint64_t> out) {
            for (std::uint64_t v : in) out.put(v);
        },
        [](mt::micro_pipe<std::uint64_t> in) {
            std::uint64_t c = 0, s = 0, x = 0, expect = 0;
            bool in_order = true;
            for (std::uint64_t v : in) {
                in_order = in_order && v == expect++;
                ++c;
                s += v;
                x ^= v * 0x9E3779B97F4A7C15ull;
            }
            CHECK(in_order);
            return std::tuple{c, s, x};
        });
    });
    std::uint64_t want_x = 0;
    for (std::uint64_t i = 0; i < n; ++i) want_x ^= i * 0x9E3779B97F4A7C15ull;
    CHECK(count == n);
    CHECK(sum == n * (n - 1) / 2);
    CHECK(xsum == want_x);
}
