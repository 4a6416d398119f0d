// Shared helpers for the C++ peer twins: argv parsing, timing, RSS, output.
// Results go to stdout as "<metric> <value>" lines only; notes go to stderr.
#pragma once
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <unistd.h>

namespace peers {

using clock = std::chrono::steady_clock;

inline long arg_count(int argc, char** argv, long dflt) {
    if (argc > 1) {
        long v = std::strtol(argv[1], nullptr, 10);
        if (v > 0) return v;
    }
    return dflt;
}

inline double ns_since(clock::time_point t0) {
    return std::chrono::duration<double, std::nano>(clock::now() - t0).count();
}

// Resident set size in bytes, from the second field of /proc/self/statm.
inline long rss_bytes() {
    long size = 0, resident = 0;
    if (FILE* f = std::fopen("/proc/self/statm", "r")) {
        if (std::fscanf(f, "%ld %ld", &size, &resident) != 2) resident = 0;
        std::fclose(f);
    }
    return resident * sysconf(_SC_PAGESIZE);
}

inline void report(const char* metric, double value) {
    std::printf("%s %.1f\n", metric, value);
    std::fflush(stdout);
}

// allocations — heap allocations so far in this process (bench/alloc_count.cpp,
// linked into every C++ benchmark and twin).
long allocations();

// measured — times a loop and counts its heap allocations:
//   peers::measured m;  for (...) op();  m.report("roundtrip", n);
// prints "roundtrip_ns <elapsed / n>" and "roundtrip_allocs <allocations / n>".
struct measured {
    long a0 = allocations();
    clock::time_point t0 = clock::now();

    void report(const char* name, long n) const {
        const double ns = ns_since(t0) / static_cast<double>(n);
        const double allocs = static_cast<double>(allocations() - a0) / static_cast<double>(n);
        std::printf("%s_ns %.1f\n%s_allocs %.3g\n", name, ns, name, allocs);
        std::fflush(stdout);
    }
};

}  // namespace peers
