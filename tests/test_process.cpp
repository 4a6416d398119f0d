// Subprocesses: pipes, exit status through the notifier, pipeline stages,
// the max_processes bound.
#include <doctest/doctest.h>

#include <sys/wait.h>

#include <string>
#include <vector>

#include "core/microthreading.hpp"
#include "nonblocking_io/io.hpp"
#include "nonblocking_io/process.hpp"
#include "pipes/pipeline.hpp"
#include "tests/engine_fixture.hpp"

using mt_test::in_engine;

TEST_CASE("a process's stdin and stdout are pipes the engine waits on; its exit status comes through the notifier") {
    in_engine([] {
        mt::process p = mt::process::start({"tr", "a-z", "A-Z"});
        mt::write_all(p.stdin_fd(), "shout\n");
        p.close_stdin();
        CHECK(p.read_all_stdout() == "SHOUT\n");
        const int status = p.wait();
        CHECK(WIFEXITED(status));
        CHECK(WEXITSTATUS(status) == 0);
    });
}

TEST_CASE("an OS process is a stage of a pipeline: micro-thread producer | sort -n | micro-thread consumer") {
    in_engine([] {
        const auto sorted = mt::pipeline<std::string, std::string>(
            [](mt::micro_pipe<std::string> out) {
                for (int v : {42, 7, 19, 3, 100}) out.put(std::to_string(v));
            },
            mt::process_stage{{"sort", "-n"}},
            [](mt::micro_pipe<std::string> in) {
                std::vector<std::string> got;
                for (auto& line : in) got.push_back(line);
                return got;
            });
        CHECK(sorted == std::vector<std::string>{"3", "7", "19", "42", "100"});
    });
}

TEST_CASE("a process stage that fails closes its stdout with an error naming the command and the status") {
    in_engine([] {
        CHECK_THROWS_WITH_AS(
            (mt::pipeline<std::string, std::string>(
                [](mt::micro_pipe<std::string> out) { out.put("x"); },
                mt::process_stage{{"sh", "-c", "cat >/dev/null; exit 3"}},
                [](mt::micro_pipe<std::string> in) { for (auto& l : in) (void)l; })),
            "process 'sh -c cat >/dev/null; exit 3' exited with status 3", mt::process_error);
    });
}

TEST_CASE("max_processes bounds how many processes run at once") {
    in_engine([] {
        mt::set_max_processes(2);
        int running = 0, most = 0;
        {
            mt::scope s;
            for (int i = 0; i < 5; ++i)
                s.spawn([&] {
                    mt::process p = mt::process::start({"sleep", "0.05"});
                    most = std::max(most, ++running);
                    p.wait();
                    --running;
                });
        }
        CHECK(most == 2);
        mt::set_max_processes(64);
    });
}

TEST_CASE("max_processes lowered while processes run takes effect as they end; raised, at once") {
    in_engine([] {
        mt::set_max_processes(3);
        int running = 0, most_after_lowering = 0;
        bool lowered = false;
        {
            mt::scope s;
            for (int i = 0; i < 7; ++i)
                s.spawn([&] {
                    mt::process p = mt::process::start({"sleep", "0.02"});
                    ++running;
                    if (lowered) most_after_lowering = std::max(most_after_lowering, running);
                    p.wait();
                    --running;
                });
            mt::yield();  // three start, four wait
            CHECK(running == 3);
            mt::set_max_processes(1);
            lowered = true;
        }
        CHECK(most_after_lowering == 1);
        int most = 0;
        {
            mt::scope s;
            for (int i = 0; i < 4; ++i)
                s.spawn([&] {
                    mt::process p = mt::process::start({"sleep", "0.05"});
                    most = std::max(most, ++running);
                    p.wait();
                    --running;
                });
            mt::yield();  // one starts, three wait
            CHECK(running == 1);
            CHECK(mt::dump().find("waits for semaphore 'max_processes' (0 of 1 free)") != std::string::npos);
            mt::set_max_processes(3);  // two of the waiters start now
            mt::yield();
            CHECK(running == 3);
        }
        CHECK(most == 3);
        mt::set_max_processes(64);
    });
}

TEST_CASE("a command that does not exist is a std::system_error naming it") {
    in_engine([] {
        CHECK_THROWS_WITH_AS(mt::process::start({"no-such-command-here"}), doctest::Contains("no-such-command-here"),
                             std::system_error);
    });
}
