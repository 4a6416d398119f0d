// 09 — "tasks cheap enough that I can make thousands of them": 100,000
// micro-threads, one per cell of a bucket brigade.
//
// Cell k reads values from the cell before it (its stdin, a micro_pipe), adds
// k and passes the sum to the cell after it (its stdout). Main feeds the first
// pipe and reads the last. What to notice:
//   * one micro-thread per modelled unit, 100,000 of them alive at once, each
//     a plain loop; each has its own stack (from the engine's pool), but only
//     the pages a stack touches become resident: a page or so per cell;
//   * a value that goes through the whole chain comes out increased by
//     1 + 2 + ... + 100000 = 100000 * 100001 / 2 = 5000050000: main feeds
//     0, 1000 and 2000000, so 5000050000, 5000051000 and 5002050000 come out;
//   * the values flow through the chain one behind the other; main's close()
//     of the first pipe travels down too: each cell's loop ends, and its end
//     closes its stdout, which ends the next cell's loop, down to main's.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "core/microthreading.hpp"
#include "pipes/micro_pipe.hpp"

constexpr long cells = 100'000;

void cell(long k) {
    auto out = mt::this_stdout<long>();
    for (long v : mt::this_stdin<long>()) out.put(v + k);
}

std::string peak_memory() {  // VmHWM: the most resident memory the process has had
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);)
        if (line.rfind("VmHWM:", 0) == 0) return line.substr(line.find_first_not_of(" \t", 6));
    return "unknown";
}

int main() {
    mt::run([] {
        mt::micro_pipe<long> first("into cell 1"), in = first;
        for (long k = 1; k <= cells; ++k) {
            mt::micro_pipe<long> out("out of a cell");
            mt::start_and_forget(mt::spawn_options{.name = "cell", .in = in, .out = out}, cell, k);
            in = out;
        }
        std::printf("micro-threads alive: %zu (the cells and main)\n", mt::engine::current()->live());

        auto feeder = mt::spawn([first]() mutable {
            for (long v : {0L, 1000L, 2'000'000L}) first.put(v);
            first.close();
        });
        for (long v : in) std::printf("out of cell %ld came %ld\n", cells, v);
        std::printf("the last pipe ended: every cell's loop ended in turn\n");
        feeder.wait();
    });
    std::printf("run() returned: every micro-thread has ended; peak memory (VmHWM): %s\n", peak_memory().c_str());
}
