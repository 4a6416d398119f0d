// tests/fuzz/fuzz_ops.cpp — libFuzzer target over every operation of the
// stress test: spawns, joins, aborts, scopes, start_in_parallel, pipes,
// stdin/stdout chains, select, deferreds, sleeps.
#include "tests/fuzz/fuzz_target.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    return mt_fuzz::run_input("mixed", data, size);
}
