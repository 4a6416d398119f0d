// Stacks: pooled, a guard page below every one (in-slab guard markers when
// the kernel has MADV_GUARD_INSTALL, a mapping each otherwise), canary
// stacks only when asked for; mapping failures are named errors. What
// happens when a stack overflows: test_stack_overflow.cpp.
#include <doctest/doctest.h>

#include <sys/mman.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/detail/sanitizers.hpp"
#include "core/detail/stack_mapping.hpp"
#include "core/detail/sys.hpp"
#include "core/microthreading.hpp"
#include "tests/child_process.hpp"
#include "tests/engine_fixture.hpp"
#include "tests/stack_test_util.hpp"

using mt::detail::guard_route;
using mt::detail::stack_kind;
using mt_test::in_engine;
using mt_test::my_stack;
using mt_test::park;

namespace {

std::size_t rss_bytes() {
    std::ifstream f("/proc/self/statm");
    std::size_t pages = 0, resident = 0;
    f >> pages >> resident;
    return resident * mt::detail::page_size();
}

// status_kib — a "Vm...:" line of /proc/self/status, in KiB.
std::size_t status_kib(const std::string& key) {
    std::ifstream f("/proc/self/status");
    for (std::string line; std::getline(f, line);)
        if (line.rfind(key + ":", 0) == 0) return std::stoul(line.substr(key.size() + 1));
    return 0;
}

// protection_at — the permissions /proc/self/maps gives the page holding
// `p` ("rw-p", "---p"), or "" when nothing is mapped there.
std::string protection_at(const void* p) {
    const auto a = reinterpret_cast<std::uintptr_t>(p);
    std::ifstream f("/proc/self/maps");
    for (std::string line; std::getline(f, line);) {
        std::istringstream in(line);
        std::uintptr_t lo = 0, hi = 0;
        char dash = 0;
        std::string perms;
        in >> std::hex >> lo >> dash >> hi >> perms;
        if (a >= lo && a < hi) return perms;
    }
    return "";
}

// expected_route — what the pool should choose on this kernel.
guard_route expected_route() {
    return mt_test::kernel_has_guard_install() ? guard_route::in_slab : guard_route::own_mapping;
}

const char* expected_kind_name() {
    return expected_route() == guard_route::in_slab ? "slab-guarded" : "mapping-guarded";
}

// spawn_parked — n micro-threads that park; wake_all wakes and joins them.
std::vector<mt::micro_thread<void>> spawn_parked(int n) {
    std::vector<mt::micro_thread<void>> hs;
    for (int i = 0; i < n; ++i) hs.push_back(mt::spawn(park));
    mt::yield();  // every one runs and parks
    return hs;
}

// write_below — a frame whose locals reach `bytes` below the caller's.
__attribute__((noinline)) void write_below(std::size_t bytes) {
    volatile char buf[24 * 1024];
    for (std::size_t i = sizeof buf - bytes; i < sizeof buf; i += 512) buf[i] = 1;
}

void wake_all(std::vector<mt::micro_thread<void>>& hs) {
    for (auto& h : hs) h.get_deferred().callback(nullptr);
    for (auto& h : hs) h.wait();
}

}  // namespace

TEST_CASE("stacks are pooled: a finished micro-thread's stack is reused by the next") {
    in_engine([] {
        const std::byte* first = nullptr;
        mt::spawn([&] { first = my_stack().lo; }).wait();
        const std::byte* second = nullptr;
        mt::spawn([&] { second = my_stack().lo; }).wait();
        CHECK(first != nullptr);
        CHECK(first == second);
        mt::engine::current()->stacks().check_invariants();
    });
}

TEST_CASE("with MADV_GUARD_INSTALL every stack is carved from a slab with its own guard page, one mapping per slab") {
    if (expected_route() != guard_route::in_slab) {
        MESSAGE("this kernel has no MADV_GUARD_INSTALL (Linux < 6.13): the own_mapping route is tested below");
        return;
    }
    in_engine([] {
        auto parked = spawn_parked(6);
        auto& pool = mt::engine::current()->stacks();
        CHECK(pool.route() == guard_route::in_slab);
        CHECK(my_stack().kind == stack_kind::slab_guarded);
        const auto& counts = pool.counts();
        CHECK(counts.live == 7);  // main + 6
        CHECK(counts.live_guarded == 7);
        CHECK(counts.slabs == 1);
        CHECK(counts.mappings == 1);
        // The guard is a marker inside the slab's one read-write mapping: the
        // page below the stack is not split off as a PROT_NONE mapping.
        const std::size_t guard = mt::detail::guard_size();
        CHECK(protection_at(my_stack().lo - guard) == "rw-p");
        CHECK(protection_at(my_stack().lo - guard) == protection_at(my_stack().lo));
        CHECK(mt::dump().find("#1 'main' running; stack 64.0 KiB slab-guarded, high-water") != std::string::npos);
        pool.check_invariants();
        wake_all(parked);
    });
}

TEST_CASE("without MADV_GUARD_INSTALL (EINVAL, as before Linux 6.13) every stack gets its own mapping and a PROT_NONE guard") {
    mt::detail::sys_override old_kernel;
    mt::detail::sys().madvise = mt_test::madvise_as_before_6_13;
    in_engine([] {
        auto parked = spawn_parked(3);
        auto& pool = mt::engine::current()->stacks();
        CHECK(pool.route() == guard_route::own_mapping);
        CHECK(my_stack().kind == stack_kind::mapping_guarded);
        const auto& counts = pool.counts();
        CHECK(counts.live == 4);
        CHECK(counts.live_guarded == 4);
        CHECK(counts.slabs == 0);
        CHECK(counts.mappings == 8);  // two per stack
        CHECK(protection_at(my_stack().lo - mt::detail::guard_size()) == "---p");
        CHECK(mt::dump().find("#1 'main' running; stack 64.0 KiB mapping-guarded, high-water") != std::string::npos);
        pool.check_invariants();
        wake_all(parked);
    });
}

TEST_CASE("the own_mapping route can be forced through the options on any kernel") {
    mt::engine_options opts;
    opts.stacks.force_own_mapping = true;
    in_engine([] {
        CHECK(mt::engine::current()->stacks().route() == guard_route::own_mapping);
        CHECK(my_stack().kind == stack_kind::mapping_guarded);
    }, opts);
}

TEST_CASE("the dump shows each stack's size, kind and high-water mark") {
    const std::string expected = std::string("#1 'main' running; stack 64.0 KiB ") + expected_kind_name() + ", high-water";
    in_engine([&] {
        const std::string d = mt::dump();
        CHECK(d.find(expected) != std::string::npos);
    });
}

TEST_CASE("the high-water mark of a stack counts the bytes its micro-thread wrote") {
    in_engine([] {
        mt::spawn(mt::spawn_options{"writer", 64 * 1024}, [] {
            const std::size_t before = mt::detail::stack_pool::high_water(my_stack());
            write_below(20 * 1024);
            const std::size_t after = mt::detail::stack_pool::high_water(my_stack());
            CHECK(before < 20 * 1024);
            CHECK(after >= 20 * 1024);
            CHECK(after <= my_stack().size);
        }).wait();
    });
}

TEST_CASE("a stack size that is too large is a usage error naming the micro-thread") {
    in_engine([] {
        CHECK_THROWS_WITH_AS(mt::spawn(mt::spawn_options{"huge", std::size_t{1} << 40}, [] {}),
                             doctest::Contains("'huge'"), mt::usage_error);
    });
}

TEST_CASE("a stack that cannot be mapped (ENOMEM) gives stack_allocation_error naming the micro-thread and vm.max_map_count") {
    in_engine([] {
        mt::detail::sys_override fail;
        mt::detail::sys().mmap = [](void*, std::size_t, int, int, int, off_t) -> void* {
            errno = ENOMEM;
            return MAP_FAILED;
        };
        try {
            mt::spawn(mt::spawn_options{"starved", 200 * 1024}, [] {});
            FAIL("no error");
        } catch (const mt::stack_allocation_error& e) {
            const std::string what = e.what();
            CHECK(e.code().value() == ENOMEM);
            CHECK(what.find("micro-thread #2 'starved'") != std::string::npos);
            CHECK(what.find("204800-byte stack") != std::string::npos);
            CHECK(what.find("vm.max_map_count") != std::string::npos);
        }
    });
}

TEST_CASE("a refused MADV_GUARD_INSTALL on a slab stack is a named error, never an unguarded stack") {
    if (expected_route() != guard_route::in_slab) return;
    in_engine([] {
        mt::detail::sys_override fail;
        mt::detail::sys().madvise = [](void* a, std::size_t n, int advice) -> int {
            if (advice == mt::detail::madv_guard_install) {
                errno = ENOMEM;
                return -1;
            }
            return ::madvise(a, n, advice);
        };
        auto& pool = mt::engine::current()->stacks();
        const auto live_before = pool.counts().live;
        CHECK_THROWS_WITH_AS(mt::spawn(mt::spawn_options{"unguardable", 96 * 1024}, [] {}),
                             doctest::Contains("micro-thread #2 'unguardable': madvise(MADV_GUARD_INSTALL)"),
                             mt::stack_allocation_error);
        CHECK(pool.counts().live == live_before);
        pool.check_invariants();
    });
}

TEST_CASE("a refused mprotect for an own-mapping guard page is a named error, never an unguarded stack") {
    mt::engine_options opts;
    opts.stacks.force_own_mapping = true;
    in_engine([] {
        mt::detail::sys_override fail;
        mt::detail::sys().mprotect = [](void*, std::size_t, int) -> int {
            errno = ENOMEM;
            return -1;
        };
        CHECK_THROWS_WITH_AS(mt::spawn(mt::spawn_options{"fenceless", 96 * 1024}, [] {}),
                             doctest::Contains("micro-thread #2 'fenceless': mprotect of its guard page"),
                             mt::stack_allocation_error);
        mt::engine::current()->stacks().check_invariants();
    }, opts);
}

TEST_CASE("map-count exhaustion gives stack_allocation_error at spawn naming the micro-thread and vm.max_map_count") {
#if defined(MT_TEST_SANITIZED)
    // ASan's own allocator maps memory as the error is built and dies when
    // the kernel refuses; the sys() and max_mappings tests cover this path.
    return;
#endif
    auto out = mt_test::run_in_child([] {
        mt::run([] {
            // Use up the kernel's map budget with 1-page mappings that cannot merge.
            std::vector<void*> maps;
            for (int i = 0;; ++i) {
                void* p = ::mmap(nullptr, 4096, (i & 1) ? PROT_READ : PROT_NONE,
                                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (p == MAP_FAILED) break;
                maps.push_back(p);
            }
            int code = 1;
            try {
                mt::spawn(mt::spawn_options{"too-many", 72 * 1024}, [] {});
            } catch (const mt::stack_allocation_error& e) {
                std::fprintf(stderr, "%s\n", e.what());
                code = e.code().value() == ENOMEM ? 0 : 2;
            }
            for (void* p : maps) ::munmap(p, 4096);
            std::fflush(stderr);
            ::_exit(code);
        });
    });
    CHECK(out.exit_code == 0);
    CHECK(out.err.find("micro-thread #2 'too-many'") != std::string::npos);
    CHECK(out.err.find("73728-byte stack") != std::string::npos);
    CHECK(out.err.find("vm.max_map_count") != std::string::npos);
}

TEST_CASE("a spent mapping budget (stack_pool_options::max_mappings) is a named error at spawn on either route") {
    SUBCASE("in_slab: one slab allowed, a second size needs another") {
        if (expected_route() != guard_route::in_slab) return;
        mt::engine_options opts;
        opts.stacks.max_mappings = 1;
        in_engine([] {
            auto parked = spawn_parked(3);  // carved from main's slab: no new mapping
            try {
                mt::spawn(mt::spawn_options{"over", 72 * 1024}, [] {});
                FAIL("no error");
            } catch (const mt::stack_allocation_error& e) {
                const std::string what = e.what();
                CHECK(e.code().value() == ENOMEM);
                CHECK(what.find("73728-byte stack for micro-thread #5 'over'") != std::string::npos);
                CHECK(what.find("budget of 1 kernel mappings") != std::string::npos);
                CHECK(what.find("vm.max_map_count") != std::string::npos);
            }
            wake_all(parked);
        }, opts);
    }
    SUBCASE("own_mapping: three stacks allowed, two mappings each") {
        mt::engine_options opts;
        opts.stacks.force_own_mapping = true;
        opts.stacks.max_mappings = 6;
        in_engine([] {
            auto parked = spawn_parked(2);
            try {
                mt::spawn(mt::spawn_options{"fourth"}, [] {});
                FAIL("no error");
            } catch (const mt::stack_allocation_error& e) {
                const std::string what = e.what();
                CHECK(e.code().value() == ENOMEM);
                CHECK(what.find("65536-byte stack for micro-thread #4 'fourth'") != std::string::npos);
                CHECK(what.find("budget of 6 kernel mappings") != std::string::npos);
                CHECK(what.find("vm.max_map_count") != std::string::npos);
            }
            CHECK(mt::engine::current()->stacks().counts().live == 3);
            wake_all(parked);
        }, opts);
    }
}

TEST_CASE("canary stacks only when asked for: beyond the own_mapping budget with unguarded_canaries") {
    mt::engine_options opts;
    opts.stacks.force_own_mapping = true;
    opts.stacks.max_mappings = 6;
    opts.stacks.unguarded_canaries = true;
    in_engine([] {
        auto parked = spawn_parked(5);
        const auto& counts = mt::engine::current()->stacks().counts();
        CHECK(counts.live == 6);
        CHECK(counts.live_guarded == 3);
        CHECK(counts.slabs == 1);
        CHECK(mt::dump().find("stack 64.0 KiB canary") != std::string::npos);
        mt::engine::current()->stacks().check_invariants();
        wake_all(parked);
    }, opts);
}

TEST_CASE("a million parked micro-threads are alive at once, every one with a guard page") {
#if defined(MT_TEST_SANITIZED)
    const std::size_t n = 20'000;  // sanitizer shadow memory makes a million too slow here
#else
    const std::size_t n = RUNNING_ON_VALGRIND ? 2'000 : 1'000'000;
#endif
    mt::engine_options opts;
    const bool in_slab = expected_route() == guard_route::in_slab;
    // Before Linux 6.13 a guard page costs two kernel mappings per stack:
    // a million need vm.max_map_count raised, or canary stacks asked for.
    if (!in_slab) opts.stacks.unguarded_canaries = true;
    in_engine([n, in_slab] {
        std::vector<mt::micro_thread<void>> parked;
        parked.reserve(n);
        const std::size_t rss0 = rss_bytes();
        const std::size_t pte0 = status_kib("VmPTE");
        for (std::size_t i = 0; i < n; ++i) parked.push_back(mt::spawn(park));
        mt::yield();  // every one runs and parks
        const std::size_t rss1 = rss_bytes();
        const std::size_t pte1 = status_kib("VmPTE");
        auto& eng = *mt::engine::current();
        CHECK(eng.live() == n + 1);
        const auto& counts = eng.stacks().counts();
        CHECK(counts.live == n + 1);
        MESSAGE(n << " parked: " << (rss1 - rss0) / n << " bytes RSS each (+" << (pte1 - pte0) * 1024 / n
                  << " bytes of page tables), " << counts.live_guarded << " guarded stacks, " << counts.slabs
                  << " slabs, " << counts.mappings << " kernel mappings");
        if (in_slab) {
            CHECK(counts.live_guarded == n + 1);
            CHECK(counts.mappings == counts.slabs);
            CHECK(mt::detail::own_map_count() < mt::detail::map_count_limit());
        } else {
            CHECK(counts.live_guarded > 0);
        }
        for (auto& h : parked) CHECK(h.state() == mt::state::waiting);
        for (auto& h : parked) h.get_deferred().callback(nullptr);
        for (auto& h : parked) h.wait();
    }, opts);
}

TEST_CASE("trim gives the memory of free stacks beyond the hot cache back to the kernel") {
    mt::engine_options opts;
    opts.stacks.hot_cache = 2;
    in_engine([] {
        auto hs = spawn_parked(10);
        wake_all(hs);
        auto& pool = mt::engine::current()->stacks();
        const std::size_t free_before = pool.counts().free;
        CHECK(pool.trim() >= 8 * 64 * 1024);
        if (pool.route() == guard_route::in_slab)
            CHECK(pool.counts().free == free_before);  // slab stacks stay, their pages dropped
        else
            CHECK(pool.counts().free == free_before - 8);  // own mappings are unmapped
        pool.check_invariants();
        mt::spawn([] {}).wait();  // the pool still works
    }, opts);
}
