// Behaviours found in review, each with the scenario that showed it.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "core/microthreading.hpp"
#include "nonblocking_io/io.hpp"
#include "nonblocking_io/process.hpp"
#include "nonblocking_io/worker_pool.hpp"
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
                while (std::chrono::steady_clock::now() - t0 < 5s) mt::yield();  // main polls the notifier while it spins (about every 60 us)
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
// A host's own notifier that knows nothing of timers: it sleeps as long as
// the engine tells it to.
struct host_notifier : mt::notifier_interface {
    int polls = 0;
    bool can_fire() const noexcept override { return false; }
    void poll(double max_wait) override {
        ++polls;
        if (max_wait > 0) std::this_thread::sleep_for(std::chrono::duration<double>(max_wait));
    }
};
}  // namespace

TEST_CASE("a select's timeout works under a host's own notifier: deadlines are the engine's, not the notifier's") {
    host_notifier host;
    mt::engine e;
    e.set_notifier(&host);
    mt::micro_pipe<int> p("p");
    auto h = mt::spawn([&] {
        std::optional<int> v;
        const auto t0 = std::chrono::steady_clock::now();
        CHECK_FALSE(mt::select(50ms, mt::on_get(p, v)).has_value());
        CHECK(std::chrono::steady_clock::now() - t0 >= 50ms);
        CHECK_FALSE(mt::this_deferred().armed());
        p.put(42);  // goes into the slot: no stale case takes it
        CHECK(p.get() == 42);
    });
    e.loop();
    h.result();
    CHECK(host.polls > 0);
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

TEST_CASE("abort() on a micro-thread of another OS thread's engine is a usage error naming it") {
    std::mutex m;
    std::condition_variable cv;
    mt::micro_thread<void>* foreign = nullptr;  // guarded by m
    std::atomic<bool> done{false};
    std::thread other([&] {
        mt::run([&] {
            auto h = mt::spawn(mt::spawn_options{"elsewhere"}, [&] {
                while (!done) mt::sleep_d(1ms);
            });
            {
                std::lock_guard<std::mutex> l(m);
                foreign = &h;
            }
            cv.notify_all();
            h.wait();
        });
    });
    {
        std::unique_lock<std::mutex> lock(m);
        cv.wait(lock, [&] { return foreign != nullptr; });
    }
    in_engine([&] {
        CHECK_THROWS_WITH_AS(foreign->abort(),
                             doctest::Contains("abort() on micro-thread #2 'elsewhere', which belongs to the engine of another OS thread"),
                             mt::usage_error);
        CHECK_THROWS_WITH_AS(foreign->wait(), doctest::Contains("belongs to the engine of another OS thread"),
                             mt::usage_error);
    });
    done = true;
    other.join();
}

TEST_CASE("subprocesses work in two engines on two OS threads at once: each child's exit reaches its own engine") {
    std::atomic<int> ok{0};
    auto body = [&ok] {
        mt::run([&ok] {
            for (int i = 0; i < 5; ++i) {
                mt::process p = mt::process::start({"sh", "-c", "exit 3"});
                const int status = p.wait(10s);
                if (WIFEXITED(status) && WEXITSTATUS(status) == 3) ++ok;
            }
        });
    };
    std::thread a(body), b(body);
    a.join();
    b.join();
    CHECK(ok == 10);
}

TEST_CASE("a worker pool drops the queued jobs of callers that were aborted: they never run") {
    std::atomic<int> ran{0};
    {
        mt::worker_pool pool(1);
        in_engine([&] {
            std::vector<mt::micro_thread<void>> callers;
            for (int i = 0; i < 40; ++i) {
                callers.push_back(mt::spawn([&] {
                    mt::submit_work_on(pool, [&] {
                        ++ran;
                        std::this_thread::sleep_for(50ms);
                    });
                }));
            }
            mt::sleep_d(10ms);  // the first job runs; 39 wait in the queue
            for (auto& c : callers) c.abort();
            for (auto& c : callers) CHECK_THROWS_AS(c.wait(), mt::micro_thread_aborted);
        });
    }  // the pool's destructor runs what is queued: the abandoned jobs return at once
    CHECK(ran <= 2);
}

TEST_CASE("submit_work with a deadline times out and its job, not yet started, is dropped") {
    std::atomic<int> ran{0};
    {
        mt::worker_pool pool(1);
        in_engine([&] {
            auto blocker = mt::spawn([&] { mt::submit_work_on(pool, [] { std::this_thread::sleep_for(100ms); }); });
            mt::sleep_d(10ms);
            CHECK_THROWS_WITH_AS(mt::submit_work_until(pool, 10ms, [&] { ++ran; }),
                                 doctest::Contains("submit_work in micro-thread #1 'main' timed out after 0.010 s"),
                                 mt::timeout_error);
            blocker.wait();
        });
    }
    CHECK(ran == 0);
}
