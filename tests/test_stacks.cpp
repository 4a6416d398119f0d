// Stacks: pooled, guard pages while the map budget allows, canaries beyond;
// overflows stop the process with a message; mapping failures are named.
#include <doctest/doctest.h>

#include <sys/mman.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "core/detail/sanitizers.hpp"
#include "core/detail/sys.hpp"
#include "core/microthreading.hpp"
#include "tests/child_process.hpp"
#include "tests/engine_fixture.hpp"

using mt_test::in_engine;

namespace {

const mt::detail::stack& my_stack() { return mt::engine::current()->running()->stk; }

std::size_t rss_bytes() {
    std::ifstream f("/proc/self/statm");
    std::size_t pages = 0, resident = 0;
    f >> pages >> resident;
    return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

void park() {
    mt::this_deferred().arm();
    mt::this_deferred().wait();
}

__attribute__((noinline)) int recurse_forever(int n) {
    volatile char buf[512];
    buf[n % 512] = static_cast<char>(n);
    return recurse_forever(n + 1) + buf[(n * 7) % 512];
}

// Recurse until a frame's buffer lies entirely below `lo`: the frames above
// it have written over the canary at the bottom of the stack.
__attribute__((noinline)) void dig_below(const std::byte* lo) {
    volatile char buf[256];
    std::memset(const_cast<char*>(buf), 0x5a, sizeof buf);
    if (reinterpret_cast<const std::byte*>(const_cast<char*>(buf)) + sizeof buf > lo) dig_below(lo);
    buf[0] = buf[1];
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
    });
}

TEST_CASE("guard pages while the map budget allows, canary stacks beyond it") {
    mt::engine_options opts;
    opts.stacks.max_guarded = 3;
    in_engine([] {
        std::vector<mt::micro_thread<void>> parked;
        for (int i = 0; i < 6; ++i) parked.push_back(mt::spawn(park));
        mt::yield();
        const auto& counts = mt::engine::current()->stacks().counts();
        CHECK(counts.live == 7);  // main + 6
        CHECK(counts.live_guarded == 3);
        CHECK(counts.slabs == 1);
        CHECK(mt::dump().find("canary") != std::string::npos);
        for (auto& h : parked) h.get_deferred().callback(nullptr);
        for (auto& h : parked) h.wait();
    }, opts);
}

TEST_CASE("the dump shows each stack's size, kind and high-water mark") {
    in_engine([] {
        const std::string d = mt::dump();
        CHECK(d.find("#1 'main' running; stack 64.0 KiB guarded, high-water") != std::string::npos);
    });
}

TEST_CASE("a stack size that is too large is a usage error naming the micro-thread") {
    in_engine([] {
        CHECK_THROWS_WITH_AS(mt::spawn(mt::spawn_options{"huge", std::size_t{1} << 40}, [] {}),
                             doctest::Contains("'huge'"), mt::usage_error);
    });
}

TEST_CASE("a stack that cannot be mapped (ENOMEM) gives stack_allocation_error naming the micro-thread") {
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
            CHECK(e.code().value() == ENOMEM);
            CHECK(std::string(e.what()).find("micro-thread #2 'starved'") != std::string::npos);
            CHECK(std::string(e.what()).find("204800-byte stack") != std::string::npos);
        }
    });
}

TEST_CASE("a refused mprotect for the guard page falls back to a canary stack") {
    in_engine([] {
        mt::detail::sys_override fail;
        static int refusals = 0;
        mt::detail::sys().mprotect = [](void* a, std::size_t n, int prot) -> int {
            if (refusals++ == 0) {
                errno = ENOMEM;
                return -1;
            }
            return ::mprotect(a, n, prot);
        };
        mt::spawn(mt::spawn_options{"fallback", 96 * 1024}, [] {
            CHECK(my_stack().kind == mt::detail::stack_kind::canary);
        }).wait();
    });
}

TEST_CASE("map-count exhaustion gives stack_allocation_error naming the micro-thread") {
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
}

TEST_CASE("a stack overflow on a guarded stack stops the process naming the micro-thread and its stack size") {
    auto out = mt_test::run_in_child([] {
        mt::run([] {
            mt::spawn(mt::spawn_options{"deep", 64 * 1024}, [] { return recurse_forever(0); }).wait();
        });
    });
    CHECK(out.signal == SIGABRT);
    CHECK(out.err.find("stack overflow in micro-thread #2 'deep' (stack size 65536 bytes; hit its guard page")
          != std::string::npos);
}

TEST_CASE("a stack overflow on a canary stack stops the process at the next switch, naming it") {
    auto out = mt_test::run_in_child([] {
        mt::engine_options opts;
        opts.stacks.max_guarded = 0;
        mt::engine e(opts);
        auto other = mt::spawn([] { mt::yield(); });
        auto h = mt::spawn(mt::spawn_options{"digger", 64 * 1024}, [] {
            dig_below(my_stack().lo);
            mt::yield();  // the switch finds the canary overwritten
            std::fprintf(stderr, "survived the switch\n");
        });
        e.loop();
    });
    CHECK(out.signal == SIGABRT);
    CHECK(out.err.find("stack overflow in micro-thread #2 'digger' (stack size 65536 bytes; its canary was "
                       "overwritten)") != std::string::npos);
    CHECK(out.err.find("survived") == std::string::npos);
}

TEST_CASE("a million parked micro-threads are alive at once") {
#if defined(MT_TEST_SANITIZED)
    const std::size_t n = 20'000;  // sanitizer shadow memory makes a million too slow here
#else
    const std::size_t n = RUNNING_ON_VALGRIND ? 2'000 : 1'000'000;
#endif
    in_engine([n] {
        std::vector<mt::micro_thread<void>> parked;
        parked.reserve(n);
        const std::size_t rss0 = rss_bytes();
        for (std::size_t i = 0; i < n; ++i) parked.push_back(mt::spawn(park));
        mt::yield();  // every one runs and parks
        const std::size_t rss1 = rss_bytes();
        auto& eng = *mt::engine::current();
        CHECK(eng.live() == n + 1);
        const auto& counts = eng.stacks().counts();
        CHECK(counts.live == n + 1);
        MESSAGE(n << " parked: " << (rss1 - rss0) / n << " bytes RSS each, " << counts.live_guarded
                  << " guarded stacks, " << counts.slabs << " slabs");
        CHECK(counts.live_guarded > 0);
        for (auto& h : parked) CHECK(h.state() == mt::state::waiting);
        for (auto& h : parked) h.get_deferred().callback(nullptr);
        for (auto& h : parked) h.wait();
    });
}

TEST_CASE("trim gives the memory of free stacks beyond the hot cache back to the kernel") {
    mt::engine_options opts;
    opts.stacks.hot_cache = 2;
    in_engine([] {
        std::vector<mt::micro_thread<void>> hs;
        for (int i = 0; i < 10; ++i) hs.push_back(mt::spawn(park));
        mt::yield();
        for (auto& h : hs) h.get_deferred().callback(nullptr);
        for (auto& h : hs) h.wait();
        auto& pool = mt::engine::current()->stacks();
        const std::size_t free_before = pool.counts().free;
        CHECK(pool.trim() >= 8 * 64 * 1024);
        CHECK(pool.counts().free == free_before - 8);  // guarded ones are unmapped
        mt::spawn([] {}).wait();  // the pool still works
    }, opts);
}
