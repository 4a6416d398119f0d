// tests/compile_fail/pipeline_bad_stage.cpp — must NOT compile: stage 2
// takes its input pipe with the wrong element type. check.py expects one
// static_assert naming the signatures a middle stage may have.
#include "pipes/pipeline.hpp"

int main() {
    return mt::pipeline<int, int>(
        [](mt::micro_pipe<int>& out) { out.put(1); },
        [](mt::micro_pipe<double>& in, mt::micro_pipe<int>& out) {
            for (double v : in) out.put(static_cast<int>(v));
        },
        [](mt::micro_pipe<int>& in) {
            int s = 0;
            for (int v : in) s += v;
            return s;
        });
}
