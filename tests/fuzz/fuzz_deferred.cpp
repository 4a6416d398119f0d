// tests/fuzz/fuzz_deferred.cpp — libFuzzer target weighted towards the
// deferred: arm, callback/errback from other micro-threads, wait with and
// without deadlines, and the PEP's callback queue (callbacks that add,
// throw, yield and defer again).
#include "tests/fuzz/fuzz_target.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    return mt_fuzz::run_input("deferred", data, size);
}
