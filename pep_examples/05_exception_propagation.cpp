// 05 — exceptions along a pipeline, in both directions.
//
// What to notice:
//   (a) downstream: the middle stage raises; its stdout is closed with that
//       exception, so the last stage's next get rethrows it (the original
//       exception: same type, same message) and so does pipeline(), to the
//       caller. Upstream, the producer's reader is gone: its put raises
//       MicroThreadExit and it ends silently.
//   (b) upstream: the consumer stops early and returns; its stdin closes, the
//       middle stage's put raises MicroThreadExit, it ends, its stdin closes,
//       and so on up the chain: every stage runs its cleanup (destructors).
#include <cstdio>
#include <stdexcept>
#include <string>

#include "core/microthreading.hpp"
#include "pipes/micro_pipe.hpp"
#include "pipes/pipeline.hpp"

struct parse_error : std::runtime_error { using std::runtime_error::runtime_error; };

struct cleanup {  // an RAII guard: says when its stage's frame is left
    const char* who;
    ~cleanup() { std::printf("    %s: cleanup\n", who); }
};

// put, telling when the put raises MicroThreadExit (and letting it go on up).
void put(const char* who, mt::micro_pipe<int>& out, int v) {
    try {
        out.put(v);
    } catch (const mt::MicroThreadExit& e) {
        std::printf("    %s: %s (its reader is gone)\n", who, e.what());
        throw;
    }
}

void numbers(mt::micro_pipe<int> out) {  // the first stage of both pipelines
    cleanup c{"producer"};
    for (int i = 1;; ++i) put("producer", out, i);
}

int main() {
    mt::run([] {
        std::printf("(a) the middle stage raises:\n");
        try {
            mt::pipeline<int, int>(
                numbers,
                [](mt::micro_pipe<int> in, mt::micro_pipe<int> out) {
                    cleanup c{"middle"};
                    for (int v : in) {
                        if (v == 3) throw parse_error("cannot parse record " + std::to_string(v));
                        out.put(v * 10);
                    }
                },
                [](mt::micro_pipe<int> in) {
                    cleanup c{"last"};
                    try {
                        for (int v : in) std::printf("    last: got %d\n", v);
                    } catch (const parse_error& e) {
                        std::printf("    last: its get rethrew parse_error: %s\n", e.what());
                        throw;
                    }
                });
        } catch (const parse_error& e) {
            std::printf("caller caught parse_error: %s\n", e.what());
        }

        std::printf("(b) the consumer stops early:\n");
        int sum = mt::pipeline<int, int>(
            numbers,
            [](mt::micro_pipe<int> in, mt::micro_pipe<int> out) {
                cleanup c{"middle"};
                for (int v : in) put("middle", out, v * v);
            },
            [](mt::micro_pipe<int> in) {
                cleanup c{"consumer"};
                int s = 0;
                for (int i = 0; i < 3; ++i) s += *in.get();
                std::printf("    consumer: took 3 squares, returns\n");
                return s;
            });
        std::printf("pipeline returned %d\n", sum);
    });
}
