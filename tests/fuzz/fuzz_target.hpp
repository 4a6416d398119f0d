// tests/fuzz/fuzz_target.hpp — what every fuzz target does with its input:
// the bytes drive the stress generator's choices (instead of a seeded RNG),
// the operations run in a fresh engine, and after every step the engine's
// and the pipes' invariants are checked and everything observable is
// compared with the reference model (tests/stress/). A divergence prints the
// trace and aborts, which libFuzzer records as a crash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "tests/stress/harness.hpp"
#include "tests/stress/runner.hpp"

namespace mt_fuzz {

[[noreturn]] inline void on_fail(const mt_stress::failure& f, const mt_stress::trace& t) {
    mt_stress::print_failure(f, t);
    std::abort();
}

// print_op — with MT_FUZZ_TRACE set, each operation is printed before it
// runs (for a crash that stops the process before a trace can be).
inline void print_op(const mt_stress::op& o) { std::fprintf(stderr, "step: %s\n", mt_stress::describe(o).c_str()); }

// run_input — the first byte picks how the run ends; the rest are choices.
inline int run_input(const char* profile_name, const std::uint8_t* data, std::size_t size) {
    // MT_FUZZ_CURRENT=file: each input is written there before it runs, so
    // one that stops the process where libFuzzer cannot save it (the engine's
    // stack-overflow handler aborts directly) is still on disk.
    if (const char* path = std::getenv("MT_FUZZ_CURRENT")) {
        if (std::FILE* f = std::fopen(path, "wb")) {
            std::fwrite(data, 1, size, f);
            std::fclose(f);
        }
    }
    if (size < 2) return 0;
    mt_stress::profile p = *mt_stress::find_profile(profile_name);
    p.steps = 300;
    p.max_live = 24;
    p.max_short_us = 400;  // short deadlines and sleeps cost real time: keep them short here
    mt_stress::trace t;
    t.profile = profile_name;
    t.end_mode = data[0] % 4 == 0 ? 1 : 0;
    mt_stress::byte_choices c(data + 1, size - 1);
    mt_stress::run_options o;
    o.notifier = false;  // no libev: an engine per input stays cheap
    o.on_fail = &on_fail;
    if (std::getenv("MT_FUZZ_TRACE")) o.on_op = &print_op;
    mt_stress::run(t, &c, &p, o);
    return 0;
}

}  // namespace mt_fuzz
