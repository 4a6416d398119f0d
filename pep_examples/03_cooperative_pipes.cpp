// 03 — cooperative micro-threads over micro_pipes: producer -> filter -> consumer.
//
// Three micro-threads, each attached to its pipes by spawn_options .in/.out,
// each reaching them with this_stdin<T>() / this_stdout<T>(). What to notice:
//   * a pipe has one slot, so nobody runs far ahead: a put waits while the
//     slot is full; a value handed to a waiting getter makes that getter run
//     next, while the putter goes on until it has to wait, and a get that
//     empties the slot of a waiting putter lets that putter run next — the
//     three interleave, each at most a value or two ahead of the next;
//   * the producer ends the stream with close(); that ends the filter's
//     range-for loop; the filter then ends, and its end (the last writer of
//     its stdout going away) closes its stdout, which ends the consumer's loop.
#include <cstdio>

#include "core/microthreading.hpp"
#include "pipes/micro_pipe.hpp"

void producer() {
    auto out = mt::this_stdout<int>();
    for (int i = 1; i <= 6; ++i) {
        std::printf("producer: produces %d\n", i);
        out.put(i);
    }
    std::printf("producer: closes its stdout\n");
    out.close();
}

void filter() {  // keeps the odd numbers
    for (int v : mt::this_stdin<int>()) {
        if (v % 2 == 0) continue;
        std::printf("  filter: passes %d\n", v);
        mt::this_stdout<int>().put(v);
    }
    std::printf("  filter: its stdin ended; it ends (closing its stdout)\n");
}

int consumer() {
    int sum = 0;
    for (int v : mt::this_stdin<int>()) {
        std::printf("    consumer: got %d\n", v);
        sum += v;
    }
    std::printf("    consumer: end of stream\n");
    return sum;
}

int main() {
    mt::run([] {
        mt::micro_pipe<int> numbers("numbers"), odd("odd numbers");
        auto p = mt::spawn(mt::spawn_options{.name = "producer", .out = numbers}, producer);
        auto f = mt::spawn(mt::spawn_options{.name = "filter", .in = numbers, .out = odd}, filter);
        auto c = mt::spawn(mt::spawn_options{.name = "consumer", .in = odd}, consumer);
        p.wait();
        f.wait();
        std::printf("the consumer's sum: %d\n", c.wait());
    });
}
