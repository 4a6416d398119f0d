// The model-checked stress test: seeded random operations on thousands of
// puppet micro-threads, checked after every step against the reference model
// of the engine's contract (tests/stress/, docs/reliability.md).
//
//   MT_STRESS_SEEDS=1000        seeds per profile (default: the fixed set below)
//   MT_STRESS_FIRST_SEED=5000   where the seeds start (default 1)
//   MT_STRESS_SEED=12345        this seed only (with MT_STRESS_PROFILE=pipes: that profile only)
//   MT_STRESS_STEPS=5000        operations per seed (default: the profile's)
//   MT_STRESS_TRACE=file        replay (and shrink) a trace file of a failure report, instead of seeds
#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "tests/stress/harness.hpp"

namespace {

long env_long(const char* name, long fallback) {
    const char* v = std::getenv(name);
    return v && *v ? std::strtol(v, nullptr, 10) : fallback;
}

// run_profile — the seeds of one profile, each in a child process; the first
// failure is reported with its minimal trace.
void run_profile(const char* profile, long fixed_seeds) {
    if (const char* path = std::getenv("MT_STRESS_TRACE"); path && *path) {
        if (std::string(profile) != "mixed") return;  // a trace file is replayed once, here
        const auto r = mt_stress::check_trace_file(path);
        if (r.failed) FAIL_CHECK(r.report);
        else MESSAGE("the trace " << std::string(path) << " (" << r.steps << " operations) agrees with the model");
        return;
    }
    const char* only = std::getenv("MT_STRESS_PROFILE");
    if (only && *only && std::string(only) != profile) return;
    const long steps = env_long("MT_STRESS_STEPS", 0);
    std::uint64_t first = static_cast<std::uint64_t>(env_long("MT_STRESS_FIRST_SEED", 1));
    long count = env_long("MT_STRESS_SEEDS", fixed_seeds);
    if (std::getenv("MT_STRESS_SEED")) {
        first = static_cast<std::uint64_t>(env_long("MT_STRESS_SEED", 1));
        count = 1;
    }
    const auto t0 = std::chrono::steady_clock::now();
    long ops = 0;
    for (long i = 0; i < count; ++i) {
        const auto r = mt_stress::check_seed(first + static_cast<std::uint64_t>(i), profile, static_cast<int>(steps));
        ops += r.steps;
        if (r.failed) {
            FAIL_CHECK(r.report);
            return;
        }
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    MESSAGE("stress profile " << std::string(profile) << ": " << count << " seeds from " << first << ", " << ops
                              << " operations, all agreeing with the model (" << s << " s)");
}

}  // namespace

TEST_CASE("stress: every operation agrees with the model, step by step (mixed operations)") { run_profile("mixed", 32); }

TEST_CASE("stress: pipes, stdin/stdout chains and select agree with the model, step by step") { run_profile("pipes", 16); }

TEST_CASE("stress: spawns, joins, aborts, scopes and start_in_parallel agree with the model, step by step") {
    run_profile("scopes", 16);
}

TEST_CASE("stress: deferreds and the PEP callback queue agree with the model, step by step") { run_profile("deferred", 16); }

TEST_CASE("stress: select over many pipes agrees with the model, step by step") { run_profile("select", 12); }
