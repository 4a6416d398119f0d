// tests/compile_fail/pipeline_good_stages.cpp — must compile: every stage
// signature pipeline() accepts (pipes by reference, by value, or none).
// check.py compiles it first, so a failure of the bad programs below is
// known to come from their bad stage, not from the command line.
#include "pipes/pipeline.hpp"
int main() {
    return mt::pipeline<int, int>(
        [](mt::micro_pipe<int>& out) { out.put(1); },
        [](mt::micro_pipe<int> in, mt::micro_pipe<int>& out) { for (int v : in) out.put(v); },
        [] { int s = 0; for (int v : mt::this_stdin<int>()) s += v; return s; });
}
