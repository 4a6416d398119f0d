// tests/compile_fail/pipeline_bad_last_stage.cpp — must NOT compile: the
// last stage wants two pipes. check.py expects one static_assert.
#include "pipes/pipeline.hpp"

int main() {
    mt::pipeline<int>(
        [](mt::micro_pipe<int> out) { out.put(1); },
        [](mt::micro_pipe<int> in, mt::micro_pipe<int> out) { for (int v : in) out.put(v); });
}
