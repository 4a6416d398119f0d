// Stack overflows: every guarded stack stops an overflow at its guard page
// and the process ends with a message naming the micro-thread. Each test
// crashes a forked child.
#include <doctest/doctest.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>

#include "core/detail/stack_mapping.hpp"
#include "core/detail/sys.hpp"
#include "core/microthreading.hpp"
#include "tests/child_process.hpp"
#include "tests/stack_test_util.hpp"

using mt::detail::stack_kind;
using mt_test::my_stack;
using mt_test::park;

namespace {

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

TEST_CASE("an overflow on a slab stack hits its guard page and names the micro-thread") {
    if (!mt_test::kernel_has_guard_install()) {
        MESSAGE("no MADV_GUARD_INSTALL on this kernel: slab stacks are not made here");
        return;
    }
    auto out = mt_test::run_in_child([] {
        mt::run([] {
            mt::spawn(mt::spawn_options{"deep", 64 * 1024}, [] {
                std::fprintf(stderr, "kind %s\n", mt::detail::kind_name(my_stack().kind));
                return recurse_forever(0);
            }).wait();
        });
    });
    CHECK(out.signal == SIGABRT);
    CHECK(out.err.find("kind slab-guarded") != std::string::npos);
    CHECK(out.err.find("stack overflow in micro-thread #2 'deep' (stack size 65536 bytes; hit its guard page")
          != std::string::npos);
}

TEST_CASE("an overflow on a mapping-guarded stack (no MADV_GUARD_INSTALL) hits its guard page and names the micro-thread") {
    auto out = mt_test::run_in_child([] {
        mt::detail::sys_override old_kernel;
        mt::detail::sys().madvise = mt_test::madvise_as_before_6_13;
        mt::run([] {
            mt::spawn(mt::spawn_options{"deeper", 96 * 1024}, [] {
                std::fprintf(stderr, "kind %s\n", mt::detail::kind_name(my_stack().kind));
                return recurse_forever(0);
            }).wait();
        });
    });
    CHECK(out.signal == SIGABRT);
    CHECK(out.err.find("kind mapping-guarded") != std::string::npos);
    CHECK(out.err.find("stack overflow in micro-thread #2 'deeper' (stack size 98304 bytes; hit its guard page")
          != std::string::npos);
}

TEST_CASE("an overflow on a trimmed and reused slab stack still hits its guard page") {
    if (!mt_test::kernel_has_guard_install()) return;
    auto out = mt_test::run_in_child([] {
        mt::engine_options opts;
        opts.stacks.hot_cache = 0;
        mt::run([] {
            const std::byte* first = nullptr;
            mt::spawn([&] { first = my_stack().lo; }).wait();
            std::fprintf(stderr, "trimmed %zu\n", mt::engine::current()->stacks().trim());
            mt::spawn(mt::spawn_options{"again"}, [first] {
                if (my_stack().lo == first) std::fprintf(stderr, "reused\n");
                return recurse_forever(0);
            }).wait();
        }, opts);
    });
    CHECK(out.signal == SIGABRT);
    CHECK(out.err.find("trimmed 65536") != std::string::npos);
    CHECK(out.err.find("reused") != std::string::npos);
    CHECK(out.err.find("stack overflow in micro-thread #3 'again' (stack size 65536 bytes; hit its guard page")
          != std::string::npos);
}

TEST_CASE("a stack overflow on a canary stack stops the process at the next switch, naming it") {
    auto out = mt_test::run_in_child([] {
        mt::engine_options opts;
        opts.stacks.force_own_mapping = true;
        opts.stacks.max_mappings = 0;
        opts.stacks.unguarded_canaries = true;
        mt::engine e(opts);
        // Carved first, so it lies right below the digger's stack; it ends
        // before the digger digs, so what gets overwritten is a free stack
        // (ASan sees no live frame's redzones written).
        auto below = mt::spawn(park);
        auto h = mt::spawn(mt::spawn_options{"digger", 64 * 1024}, [&below] {
            below.get_deferred().callback(nullptr);
            below.wait();
            dig_below(my_stack().lo);
            mt::yield();  // the switch finds the canary overwritten
            std::fprintf(stderr, "survived the switch\n");
        });
        auto other = mt::spawn([] {
            for (int i = 0; i < 100; ++i) mt::yield();
        });
        e.loop();
    });
    CHECK(out.signal == SIGABRT);
    CHECK(out.err.find("stack overflow in micro-thread #2 'digger' (stack size 65536 bytes; its canary was "
                       "overwritten)") != std::string::npos);
    CHECK(out.err.find("survived") == std::string::npos);
}
