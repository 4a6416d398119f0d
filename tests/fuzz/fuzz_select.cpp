// tests/fuzz/fuzz_select.cpp — libFuzzer target weighted towards pipes and
// select: disabled and null cases, puts and gets on the same pipes, closes
// and reader closes under waiting selects, deadlines.
#include "tests/fuzz/fuzz_target.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    return mt_fuzz::run_input("select", data, size);
}
