// 10 — patterns from the classic Python concurrency workshops, with micro-threads.
//
// What to notice:
//   1. a worker pool with bounded concurrency: 3 workers share one job pipe
//      (fan-out) and one result pipe (fan-in); never more than 3 jobs run;
//   2. map-reduce: start_in_parallel maps over chunks, the caller reduces;
//   3. a pipeline mixing micro-threads with an OS process: the numbers go
//      through `sort -n` and back, each stage in its own micro-thread or process.
#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/microthreading.hpp"
#include "nonblocking_io/process.hpp"
#include "notifier/notifier.hpp"
#include "pipes/micro_pipe.hpp"
#include "pipes/pipeline.hpp"

using namespace std::chrono_literals;

int main() {
    mt::run([] {
        // 1. A bounded worker pool: jobs in, results out; the job pipe's close ends the workers.
        mt::micro_pipe<int> jobs("jobs");
        mt::micro_pipe<std::pair<int, int>> results("results");
        int busy = 0, most_busy = 0;
        mt::scope workers;
        for (int w = 0; w < 3; ++w)
            workers.spawn(mt::spawn_options{.name = "worker", .in = jobs, .out = results}, [&] {
                for (int job : mt::this_stdin<int>()) {
                    most_busy = std::max(most_busy, ++busy);
                    mt::sleep_d(std::chrono::milliseconds(job % 4));  // "I/O"
                    --busy;
                    mt::this_stdout<std::pair<int, int>>().put({job, job * job});
                }
            });
        mt::start_and_forget([jobs]() mutable {
            for (int j = 1; j <= 10; ++j) jobs.put(j);
            jobs.close();
        });
        std::map<int, int> squares;  // results arrive in any order; collect them
        for (auto [job, square] : results) squares[job] = square;
        workers.wait();
        std::printf("worker pool: %zu results, at most %d jobs at once; 7^2 = %d\n", squares.size(), most_busy,
                    squares[7]);

        // 2. Map-reduce: count words per chunk in parallel, then add up.
        const std::vector<std::string> chunks{"the quick brown fox", "jumps over the", "lazy dog the end"};
        std::vector<std::function<std::map<std::string, int>()>> mappers;
        for (const auto& chunk : chunks)
            mappers.push_back([chunk] {
                std::map<std::string, int> counts;
                std::size_t from = 0;
                for (std::size_t sp; from < chunk.size(); from = sp + 1) {
                    sp = std::min(chunk.find(' ', from), chunk.size());
                    ++counts[chunk.substr(from, sp - from)];
                    mt::yield();  // let the other mappers interleave
                }
                return counts;
            });
        std::map<std::string, int> total;
        for (const auto& part : mt::start_in_parallel(mappers))
            for (const auto& [word, n] : part) total[word] += n;
        std::printf("map-reduce: %zu distinct words; 'the' appears %d times\n", total.size(), total["the"]);

        // 3. micro-thread | sort -n | micro-thread
        const std::string sorted = mt::pipeline<std::string, std::string>(
            [](mt::micro_pipe<std::string> out) {
                for (int v : {31, 4, 159, 26, 5}) out.put(std::to_string(v));
            },
            mt::process_stage{{"sort", "-n"}},
            [](mt::micro_pipe<std::string> in) {
                std::string s;
                for (auto& line : in) s += line + " ";
                return s;
            });
        std::printf("through sort -n: %s\n", sorted.c_str());
    });
}
