// Behaviours found in review, each with the scenario that showed it.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <system_error>
#include <vector>

#include "core/microthreading.hpp"
#include "nonblocking_io/io.hpp"
#include "nonblocking_io/process.hpp"
#include "notifier/notifier.hpp"
#include "pipes/pipeline.hpp"
#include "pipes/select.hpp"
#include "tests/child_process.hpp"
#include "tests/engine_fixture.hpp"

using namespace std::chrono_literals;
using mt_test::in_engine;

TEST_CASE("Ctrl-C while main itself polls the notifier reaches main as interrupted_error") {
    auto out = mt_test::run_in_child([] {
        int code = 1;
        try {
            mt::run([] {
                mt::handle_interrupts();
                ::kill(::getpid(), SIGINT);
                const auto t0 = std::chrono::steady_clock::now();
                while (std::chrono::steady_clock::now() - t0 < 5s) mt::yield();  // main polls, every 64 yields
            });
        } catch (const mt::interrupted_error&) {
            code = 42;
        }
        ::_exit(code);
    });
    CHECK(out.exit_code == 42);
}

TEST_CASE("Ctrl-C after main has ended aborts the micro-threads left, so run() returns") {
    auto out = mt_test::run_in_child([] {
        const int r = mt::run([] {
            mt::start_and_forget([] {
                mt::sleep_d(10ms);
                ::kill(::getpid(), SIGINT);
                mt::sleep_d(60s);
            });
            return 7;
        });
        ::_exit(r);
    });
    CHECK(out.exit_code == 7);
}

namespace {
struct host_notifier : mt::notifier_interface {
    bool can_fire() const noexcept override { return false; }
    void poll(bool) override {}
};
}  // namespace

TEST_CASE("a select whose timeout cannot be set up throws and leaves nothing armed or linked") {
    host_notifier host;
    mt::engine e;
    e.set_notifier(&host);
    mt::micro_pipe<int> p("p");
    auto h = mt::spawn([&] {
        std::optional<int> v;
        CHECK_THROWS_AS(mt::select(100ms, mt::on_get(p, v)), mt::usage_error);
        CHECK_FALSE(mt::this_deferred().armed());
        p.put(42);  // goes into the slot: no stale case takes it
        CHECK(p.get() == 42);
    });
    e.loop();
    h.result();
}

TEST_CASE("an aborted micro-thread waiting for a max_processes place is withdrawn; the place goes to the next") {
    in_engine([] {
        mt::set_max_processes(1);
        {
            mt::process holder = mt::process::start({"sleep", "0.05"});
            auto b = mt::spawn([] { mt::process::start({"true"}).wait(); });
            auto c = mt::spawn([] { mt::process::start({"true"}).wait(); });
            mt::yield();
            b.abort();
            CHECK_THROWS_AS(b.wait(), mt::micro_thread_aborted);
            holder.wait();  // frees the place: it goes to c, not to the aborted b
            c.wait();
        }
        mt::set_max_processes(64);
    });
}

TEST_CASE("writing to a process that stopped reading fails with EPIPE instead of killing the program") {
    in_engine([] {
        mt::process p = mt::process::start({"true"});
        p.wait();
        try {
            mt::write_all(p.stdin_fd(), "hello\n");
            FAIL("no error");
        } catch (const std::system_error& e) {
            CHECK(e.code().value() == EPIPE);
        }
    });
}

TEST_CASE("a process stage that stops reading early (head -n1) ends the feeding, not the pipeline") {
    in_engine([] {
        const auto first = mt::pipeline<std::string, std::string>(
            [](mt::micro_pipe<std::string> out) {
                for (int i = 0; i < 200000; ++i) out.put("line " + std::to_string(i));
            },
            mt::process_stage{{"head", "-n1"}},
            [](mt::micro_pipe<std::string> in) {
                std::vector<std::string> got;
                for (auto& l : in) got.push_back(l);
                return got;
            });
        CHECK(first == std::vector<std::string>{"line 0"});
    });
}

TEST_CASE("destroying an engine wakes its waiting micro-threads with MicroThreadExit") {
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
    bool raised = false, continued = false;
    {
        mt::engine e;
        auto h = mt::spawn([&] {
            try {
                mt::wait_readable(sv[0]);  // nobody will ever write
                continued = true;
            } catch (const mt::MicroThreadExit&) {
                raised = true;
                throw;
            }
        });
        e.run_once();  // it waits now; the host stops driving and drops the engine
    }
    CHECK(raised);
    CHECK_FALSE(continued);
    ::close(sv[0]);
    ::close(sv[1]);
}

TEST_CASE("spawning into a scope owned by another micro-thread is a usage error, and nothing runs") {
    in_engine([] {
        bool ran = false;
        mt::scope s;
        auto other = mt::spawn(mt::spawn_options{"intruder"}, [&] {
            CHECK_THROWS_WITH_AS(s.spawn([&] { ran = true; }), doctest::Contains("'intruder' spawned into a scope owned by"),
                                 mt::usage_error);
        });
        other.wait();
        s.wait();
        CHECK_FALSE(ran);
    });
}
