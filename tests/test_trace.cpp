// The trace (core/trace.hpp): switches, waits and wake-ups recorded into a
// ring and written as Chrome trace_event JSON; and each micro-thread's
// switch count and CPU time in the dump.
#include <doctest/doctest.h>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>

#include "core/microthreading.hpp"
#include "core/trace.hpp"
#include "notifier/notifier.hpp"
#include "pipes/micro_pipe.hpp"
#include "tests/alloc_counter.hpp"
#include "tests/child_process.hpp"
#include "tests/engine_fixture.hpp"

using namespace std::chrono_literals;

namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::string temp_path(const char* what) {
    return "/tmp/mt_test_" + std::to_string(::getpid()) + "_" + what + ".json";
}

std::string read_file(const std::string& path) {
    std::ifstream f(path);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

// balance — for each (pid, tid): B minus E, which must never go below 0
// and end at 0. The writer puts one event per line.
struct balance_report {
    bool ok = true;
    std::size_t events = 0;
    std::string why;
};

// number_after — the digits after `key` in `line`, or "" (no std::regex:
// libstdc++'s recursive matcher needs more stack than a micro-thread has
// for a long line).
std::string number_after(const std::string& line, const std::string& key, std::size_t from = 0) {
    const std::size_t k = line.find(key, from);
    if (k == std::string::npos) return {};
    std::size_t i = k + key.size(), j = i;
    while (j < line.size() && line[j] >= '0' && line[j] <= '9') ++j;
    return line.substr(i, j - i);
}

balance_report check_balance(const std::string& json) {
    balance_report rep;
    std::map<std::string, int> depth;
    std::istringstream in(json);
    for (std::string line; std::getline(in, line);) {
        const std::size_t ph = line.find("\"ph\":\"");
        if (ph == std::string::npos || ph + 6 >= line.size()) continue;
        const char kind = line[ph + 6];
        if (std::string("BEXiM").find(kind) == std::string::npos) continue;
        const std::string pid = number_after(line, "\"pid\":", ph);
        const std::string tid = number_after(line, "\"tid\":", ph);
        if (pid.empty() || tid.empty()) continue;
        ++rep.events;
        const std::string track = pid + "/" + tid;
        if (kind == 'B') ++depth[track];
        if (kind == 'E' && --depth[track] < 0) {
            rep.ok = false;
            rep.why = "an E without its B on track " + track + ": " + line;
            return rep;
        }
    }
    for (auto& [track, d] : depth)
        if (d != 0) {
            rep.ok = false;
            rep.why = "track " + track + " ends with " + std::to_string(d) + " slices open";
        }
    return rep;
}

}  // namespace

TEST_CASE("the dump counts how often each micro-thread was switched to, and its CPU time only when measured") {
    mt_test::in_engine([] {
        auto a = mt::spawn(mt::spawn_options{"yielder"}, [] {
            for (int i = 0; i < 3; ++i) mt::yield();
        });
        mt::yield();  // a runs to its first yield
        const std::string d = mt::dump();
        CHECK(contains(d, "'yielder' runnable; stack"));
        CHECK(contains(d, "; 1 switch\n"));
        CHECK_FALSE(contains(d, "cpu "));
        a.wait();
    });

    mt::engine_options opts;
    opts.cpu_time = true;
    mt_test::in_engine(
        [] {
            auto busy = mt::spawn(mt::spawn_options{"busy"}, [] {
                const auto until = std::chrono::steady_clock::now() + 30ms;
                while (std::chrono::steady_clock::now() < until) {
                }
                mt::sleep_d(1h);
            });
            auto idle = mt::spawn(mt::spawn_options{"idle"}, [] { mt::sleep_d(1h); });
            mt::sleep_d(5ms);
            mt::engine& e = mt::engine::get("test");
            const std::string d = mt::dump();
            CHECK(contains(d, "'busy' waiting: waits in sleep_d"));
            {  // the line of 'busy' ends "; cpu <n>.<3 digits> ms, 1 switch"
                const std::size_t at = d.find("'busy' waiting");
                const std::size_t eol = d.find('\n', at);
                const std::string line = d.substr(at, eol - at);
                const std::size_t cpu = line.rfind("; cpu ");
                REQUIRE(cpu != std::string::npos);
                const std::string rest = line.substr(cpu + 6);
                const std::size_t dot = rest.find('.');
                CHECK(dot != std::string::npos);
                CHECK(!number_after(rest, "").empty());
                CHECK(number_after(rest, ".").size() == 3);
                CHECK(rest.substr(rest.find(' ')) == " ms, 1 switch");
            }
            CHECK(e.cpu_time(nullptr) >= 0ns);  // the root's
            busy.abort();
            idle.abort();
            CHECK_THROWS_AS(busy.wait(), mt::micro_thread_aborted);
            CHECK_THROWS_AS(idle.wait(), mt::micro_thread_aborted);
        },
        opts);
}

TEST_CASE("CPU time is charged to the micro-thread that ran, not to the one that waited") {
    mt::engine_options opts;
    opts.cpu_time = true;
    mt::engine e(opts);
    const mt::detail::control_block* busy_cb = nullptr;
    const mt::detail::control_block* idle_cb = nullptr;
    std::chrono::nanoseconds busy_cpu{}, idle_cpu{};
    auto main = mt::spawn(mt::spawn_options{"main"}, [&] {
        auto busy = mt::spawn(mt::spawn_options{"busy"}, [&] {
            busy_cb = e.running();
            const auto until = std::chrono::steady_clock::now() + 40ms;
            while (std::chrono::steady_clock::now() < until) {
            }
            mt::sleep_d(10ms);
        });
        auto idle = mt::spawn(mt::spawn_options{"idle"}, [&] {
            idle_cb = e.running();
            mt::sleep_d(50ms);
        });
        mt::sleep_d(20ms);  // both have run and wait now
        busy_cpu = e.cpu_time(busy_cb);
        idle_cpu = e.cpu_time(idle_cb);
        busy.wait();
        idle.wait();
    });
    e.loop();
    main.result();
    CHECK(busy_cpu >= 20ms);  // it spun 40 ms
    CHECK(idle_cpu < 10ms);   // it only slept
}

TEST_CASE("a trace shows each micro-thread's runs, its waits with what they wait on, and how each ended") {
    const std::string path = temp_path("waits");
    std::size_t written = 0;
    mt_test::in_engine([&] {
        mt::trace_start(path);
        CHECK(mt::tracing());
        mt::micro_pipe<int> ping("ping"), pong("pong");
        auto echo = mt::spawn(mt::spawn_options{"echo"}, [&] {
            for (int v : ping) pong.put(v);
        });
        for (int i = 0; i < 5; ++i) {
            ping.put(i);
            CHECK(*pong.get() == i);
        }
        ping.close();
        echo.wait();
        auto sleeper = mt::spawn(mt::spawn_options{"sleeper"}, [] {
            mt::micro_pipe<int> quiet("quiet");
            CHECK_THROWS_AS(quiet.get(2ms), mt::timeout_error);
        });
        sleeper.wait();
        auto victim = mt::spawn(mt::spawn_options{"victim"}, [] { mt::sleep_d(1h); });
        mt::yield();
        victim.abort();
        CHECK_THROWS_AS(victim.wait(), mt::micro_thread_aborted);
        written = mt::trace_stop();
        CHECK_FALSE(mt::tracing());
    });
    const std::string json = read_file(path);
    std::remove(path.c_str());
    REQUIRE(!json.empty());
    CHECK(json.rfind("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[", 0) == 0);
    CHECK(contains(json, "\"name\":\"wait: pipe get\""));
    CHECK(contains(json, "\"args\":{\"on\":\"to get from pipe 'ping'\"}"));
    CHECK(contains(json, "\"args\":{\"on\":\"to get from pipe 'pong'\"}"));
    CHECK(contains(json, "\"args\":{\"ended\":\"fired\"}"));
    CHECK(contains(json, "\"args\":{\"ended\":\"timed out\"}"));
    CHECK(contains(json, "\"args\":{\"ended\":\"aborted\"}"));
    CHECK(contains(json, "\"name\":\"timeout\""));
    CHECK(contains(json, "\"name\":\"abort\""));
    CHECK(contains(json, "\"name\":\"wait: join\""));
    CHECK(contains(json, "\"name\":\"end: finished\""));
    CHECK(contains(json, "\"name\":\"end: aborted\""));
    CHECK(contains(json, "\"name\":\"thread_name\""));
    CHECK(contains(json, "\"args\":{\"name\":\"#2 'echo'\"}"));
    CHECK(contains(json, "\"args\":{\"name\":\"#1 'main'\"}"));
    CHECK(contains(json, "\"args\":{\"name\":\"root (the engine's loop)\"}"));
    CHECK(contains(json, "\"name\":\"blocked in the notifier\""));
    const balance_report b = check_balance(json);
    CHECK_MESSAGE(b.ok, b.why);
    CHECK(b.events == written);
}

TEST_CASE("recording a trace allocates nothing per switch, wait or wake-up") {
    mt_test::in_engine([] {
        const std::string path = temp_path("allocs");
        mt::trace_start(path);
        mt::micro_pipe<int> ping("ping"), pong("pong");
        auto echo = mt::spawn(mt::spawn_options{"echo"}, [&] {
            for (int v : ping) pong.put(v);
        });
        mt::mutex m("m");
        auto locker = mt::spawn(mt::spawn_options{"locker"}, [&] {
            for (int i = 0; i < 200; ++i) {
                std::lock_guard<mt::mutex> g(m);
                mt::yield();
            }
        });
        auto round = [&](int n) {
            for (int i = 0; i < n; ++i) {
                ping.put(i);
                pong.get();
                std::lock_guard<mt::mutex> g(m);
                mt::yield();
            }
        };
        round(10);  // warm: pipes' and locks' first waits
        const std::size_t before = mt_test::allocations();
        round(100);
        CHECK(mt_test::allocations() == before);
        ping.close();
        echo.wait();
        locker.wait();
        mt::trace_stop();
        std::remove(path.c_str());
    });
}

TEST_CASE("a full ring keeps the last switches, and the trace stays balanced") {
    const std::string path = temp_path("ring");
    mt_test::in_engine([&] {
        mt::trace_start(path, mt::trace_options{16});
        auto a = mt::spawn(mt::spawn_options{"a"}, [] {
            for (int i = 0; i < 1000; ++i) mt::yield();
        });
        for (int i = 0; i < 1000; ++i) mt::yield();
        a.wait();
        mt::trace_stop();
    });
    const std::string json = read_file(path);
    std::remove(path.c_str());
    const balance_report b = check_balance(json);
    CHECK_MESSAGE(b.ok, b.why);
    CHECK(b.events < 100);  // 16 records, a few events each, and the names
    CHECK(contains(json, "\"args\":{\"name\":\"#2 'a'\"}"));
}

TEST_CASE("a trace runs alongside the embedder's switch hook") {
    mt::engine e;
    int calls = 0;
    e.set_switch_hook([](void* user, const mt::detail::control_block*, const mt::detail::control_block*) {
        ++*static_cast<int*>(user);
    }, &calls);
    const std::string path = temp_path("hook");
    auto main = mt::spawn([&] {
        mt::trace_start(path);
        const int before = calls;
        mt::yield();  // nothing else runs: no switch
        auto a = mt::spawn([] { mt::yield(); });
        a.wait();
        CHECK(calls > before);
        mt::trace_stop();
        const int after = calls;
        auto b = mt::spawn([] {});
        b.wait();
        CHECK(calls > after);
    });
    e.loop();
    main.result();
    std::remove(path.c_str());
}

TEST_CASE("trace misuse is a named usage error; a file that cannot be written is a system_error naming it") {
    CHECK_THROWS_WITH_AS(mt::trace_start("/tmp/x.json"),
                         "trace_start() called with no engine on this OS thread (start one with mt::run)",
                         mt::usage_error);
    CHECK_FALSE(mt::tracing());
    mt_test::in_engine([] {
        CHECK_THROWS_WITH_AS(mt::trace_stop(), "trace_stop() called while no trace runs", mt::usage_error);
        mt::trace_start("/nonexistent-dir/trace.json");
        CHECK_THROWS_WITH_AS(mt::trace_start("/tmp/other.json"),
                             "a trace was started while one runs already (to '/nonexistent-dir/trace.json')",
                             mt::usage_error);
        CHECK_THROWS_AS(mt::trace_stop(), std::system_error);
        CHECK_FALSE(mt::tracing());  // dropped
        try {
            mt::trace_start("/nonexistent-dir/trace.json");
            mt::trace_stop();
        } catch (const std::system_error& e) {
            CHECK(contains(e.what(), "cannot write the trace file '/nonexistent-dir/trace.json'"));
        }
    });
}

TEST_CASE("MT_TRACE traces every engine of the process from its start to its end, into one file") {
    const std::string path = temp_path("env");
    auto out = mt_test::run_in_child([&] {
        ::setenv("MT_TRACE", path.c_str(), 1);
        auto work = [](const char* name) {
            mt::run([name] {
                auto w = mt::spawn(mt::spawn_options{name}, [] {
                    mt::sleep_d(1ms);
                    mt::yield();
                });
                w.wait();
            });
        };
        std::thread t1(work, "on thread 1");
        t1.join();
        std::thread t2(work, "on thread 2");
        t2.join();
    });
    CHECK(out.exit_code == 0);
    CHECK(out.err.empty());
    const std::string json = read_file(path);
    std::remove(path.c_str());
    CHECK(contains(json, "'on thread 1'"));
    CHECK(contains(json, "'on thread 2'"));
    std::size_t processes = 0;
    for (std::size_t at = 0; (at = json.find("\"process_name\"", at)) != std::string::npos; ++at) ++processes;
    CHECK(processes == 2);
    const balance_report b = check_balance(json);
    CHECK_MESSAGE(b.ok, b.why);
}
