// Stack overflows: every guarded stack stops an overflow at its guard page
// and the process ends with a message naming the micro-thread; the stacks
// around it are never written. Each test crashes a forked child; the
// neighbour tests read the child's stacks afterwards (tests/stack_arena.hpp).
#include <doctest/doctest.h>

#include <sys/mman.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/detail/stack_mapping.hpp"
#include "core/detail/sys.hpp"
#include "core/microthreading.hpp"
#include "tests/child_process.hpp"
#include "tests/stack_arena.hpp"
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
// (Not instrumented by ASan: its redzones between the frames' buffers are
// never written, and could leave the canary below them untouched.)
__attribute__((noinline, no_sanitize_address)) void dig_below(const std::byte* lo) {
    volatile char buf[256];
    for (std::size_t i = 0; i < sizeof buf; ++i) buf[i] = 0x5a;
    if (reinterpret_cast<const std::byte*>(const_cast<char*>(buf)) + sizeof buf > lo) dig_below(lo);
    buf[0] = buf[1];
}

int plunge(int depth, volatile std::uintptr_t* deepest);

// plunge_frame — one frame with N bytes of locals, written in full from the
// lowest byte up, so that a frame that had skipped the guard would write
// into the stack below at once. Stack-clash probing touches its pages from
// the top down before any of that.
template <std::size_t N>
__attribute__((noinline)) int plunge_frame(int depth, volatile std::uintptr_t* deepest) {
    volatile unsigned char buf[N];
    for (std::size_t i = 0; i < N; i += 64) buf[i] = 0x5a;
    const auto at = reinterpret_cast<std::uintptr_t>(&buf[0]);
    if (at < *deepest) *deepest = at;
    return plunge(depth + 1, deepest) + buf[static_cast<std::size_t>(depth) % N];
}

// plunge — recurses with frames of 4 KiB to 64 KiB of locals until the stack
// runs out, recording the lowest frame it reached in *deepest.
__attribute__((noinline)) int plunge(int depth, volatile std::uintptr_t* deepest) {
    switch (depth % 5) {
        case 0: return plunge_frame<4 * 1024>(depth, deepest);
        case 1: return plunge_frame<16 * 1024>(depth, deepest);
        case 2: return plunge_frame<8 * 1024>(depth, deepest);
        case 3: return plunge_frame<32 * 1024>(depth, deepest);
        default: return plunge_frame<64 * 1024>(depth, deepest);
    }
}

// The fault address in "...; hit its guard page at 0x...)", or 0.
std::uintptr_t fault_address(const std::string& err) {
    const std::string key = "hit its guard page at ";
    const auto at = err.find(key);
    if (at == std::string::npos) return 0;
    return std::strtoull(err.c_str() + at + key.size(), nullptr, 16);
}

// copy_stack — a copy of a parked micro-thread's stack. Its frames hold
// ASan's poisoned redzones, so the copy is made word by word, uninstrumented.
__attribute__((no_sanitize("address"))) void copy_stack(std::byte* to, std::uintptr_t lo, std::size_t n) {
    const auto* from = reinterpret_cast<const volatile std::uint64_t*>(lo);
    auto* dst = reinterpret_cast<volatile std::uint64_t*>(to);
    for (std::size_t i = 0; i < n / 8; ++i) dst[i] = from[i];
}

enum class guards { in_slab, own_mapping, canaries_asked_for };

// What the child's micro-threads write to: the shared record and the copies.
mt_test::arena_record* rec = nullptr;
std::byte* copies[mt_test::arena_record::max_parked];

// overflow_among_neighbours — in the child: micro-threads carved from the
// same memory fill their stacks with a pattern and park, four below and four
// above 'deep'; then 'deep' copies every other stack (main's too) into the
// record and recurses with large frames until it overflows. Stacks are
// carved in address order, so the one directly below deep's guard is a
// parked neighbour's.
void overflow_among_neighbours(mt_test::stack_arena& arena, guards g) {
    mt::detail::sys_override seam;
    arena.serve_stacks();
    mt::engine_options opts;
    if (g == guards::own_mapping) mt::detail::sys().madvise = mt_test::madvise_as_before_6_13;
    if (g == guards::canaries_asked_for) {
        opts.stacks.force_own_mapping = true;
        opts.stacks.max_mappings = 0;
        opts.stacks.unguarded_canaries = true;
    }
    rec = &arena.record();
    for (std::size_t i = 0; i < mt_test::arena_record::max_parked; ++i) copies[i] = arena.copy_of(i);
    mt::run([] {
        auto note = [] { rec->parked_lo[rec->parked++] = reinterpret_cast<std::uintptr_t>(my_stack().lo); };
        note();  // main
        auto neighbour = [note] {
            note();
            // A known pattern over the lower half (above the canary bytes,
            // which a canary stack checks at every switch).
            std::byte* lo = my_stack().lo + 64;
            std::memset(lo, 0xa5, my_stack().size / 2 - 64);
            park();
        };
        std::vector<mt::micro_thread<void>> parked;
        for (int i = 0; i < 4; ++i) parked.push_back(mt::spawn(neighbour));
        auto deep = mt::spawn(mt::spawn_options{"deep"}, [] {
            park();  // until every neighbour has parked
            rec->overflow_lo = reinterpret_cast<std::uintptr_t>(my_stack().lo);
            rec->size = my_stack().size;
            rec->overflow_kind = static_cast<int>(my_stack().kind);
            for (std::size_t i = 0; i < rec->parked; ++i) copy_stack(copies[i], rec->parked_lo[i], rec->size);
            rec->copied = true;
            plunge(0, &rec->deepest);
        });
        for (int i = 0; i < 4; ++i) parked.push_back(mt::spawn(neighbour));
        mt::yield();  // every neighbour fills its stack and parks; deep parks
        deep.get_deferred().callback(nullptr);
        deep.wait();
    }, opts);
}

struct neighbour_report {
    bool adjacent = false;        // a checked stack lies directly below deep's guard
    std::size_t changed = 0;      // checked stacks whose bytes differ from their copy
    bool guard_untouched = true;  // the guard bytes below deep still read zero
};

// inspect — what the overflow did to the stacks around it, read in the
// parent after the child died.
neighbour_report inspect(mt_test::stack_arena& arena, std::size_t guard) {
    const auto& rec = arena.record();
    neighbour_report r;
    for (std::size_t i = 0; i < rec.parked; ++i) {
        if (rec.parked_lo[i] + rec.size + guard == rec.overflow_lo) r.adjacent = true;
        if (std::memcmp(reinterpret_cast<const void*>(rec.parked_lo[i]), arena.copy_of(i), rec.size) != 0)
            ++r.changed;
    }
    const auto* g = reinterpret_cast<const unsigned char*>(rec.overflow_lo - guard);
    for (std::size_t i = 0; i < guard; ++i)
        if (g[i] != 0) r.guard_untouched = false;
    return r;
}

// check_caught_at_guard — the child died naming 'deep', the fault was in
// the guard below its stack, the overflow had reached the bottom, and no
// other micro-thread's stack changed.
void check_caught_at_guard(mt_test::stack_arena& arena, const mt_test::child_outcome& out, stack_kind kind) {
    const auto& rec = arena.record();
    const std::size_t guard = mt::detail::guard_size();
    CHECK(out.signal == SIGABRT);
    CHECK(out.err.find("stack overflow in micro-thread #6 'deep' (stack size 65536 bytes; hit its guard page at") !=
          std::string::npos);
    REQUIRE(rec.copied);
    CHECK(rec.overflow_kind == static_cast<int>(kind));
    CHECK(rec.parked == 9);
    const std::uintptr_t fault = fault_address(out.err);
    CHECK(fault >= rec.overflow_lo - guard);
    CHECK(fault < rec.overflow_lo);
    CHECK(rec.deepest != UINTPTR_MAX);        // the plunge ran
    CHECK(rec.deepest >= rec.overflow_lo);    // and no frame of it began below its stack
    const neighbour_report r = inspect(arena, guard);
    CHECK(r.adjacent);
    CHECK(r.changed == 0);
    CHECK(r.guard_untouched);
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

namespace {
// leap — a frame larger than the guard page, built without stack-clash
// probing (as code compiled without -fstack-clash-protection is): the stack
// pointer moves past the guard in one step and the first write lands below.
__attribute__((noinline, optimize("no-stack-clash-protection"))) int leap(int n) {
    volatile char frame[1 << 20];
    frame[0] = static_cast<char>(n);
    return frame[0];
}

// unmapped_below — are the pages from `from - bytes` up to `from` all
// unmapped (mincore: ENOMEM)? Where leap's write lands depends on what the
// kernel placed below the stack (with ASan, often its own mappings).
bool unmapped_below(const char* from, std::size_t bytes) {
    const std::uintptr_t page = 4096;
    const std::uintptr_t hi = reinterpret_cast<std::uintptr_t>(from) & ~(page - 1);
    for (std::uintptr_t p = hi - bytes; p <= hi; p += page) {
        unsigned char v;
        if (::mincore(reinterpret_cast<void*>(p), page, &v) == 0 || errno != ENOMEM) return false;
    }
    return true;
}
}  // namespace

TEST_CASE("a frame that leaps over the guard page (no stack-clash probing) is still reported as the micro-thread's overflow") {
    // Its fault lies far below the guard; it used to pass for an ordinary
    // SIGSEGV, with no word of the micro-thread. (Its own mapping, made
    // last: what lies below is unmapped.)
    auto out = mt_test::run_in_child([] {
        mt::engine_options opts;
        opts.stacks.force_own_mapping = true;
        mt::run([] {
            mt::spawn(mt::spawn_options{"leaper", 64 * 1024}, [] {
                const char* fp = static_cast<const char*>(__builtin_frame_address(0));
                if (!unmapped_below(fp - (1 << 20), 64 * 1024)) {
                    std::fputs("lands in mapped memory\n", stderr);
                    std::_Exit(77);
                }
                return leap(1);
            }).wait();
            std::fputs("no fault\n", stderr);
        }, opts);
    });
    if (out.exit_code == 77) {
        MESSAGE("what lies 1 MiB below this stack is mapped here: the leap would not fault (untested)");
        return;
    }
    CHECK(out.signal == SIGABRT);
    CHECK(out.err.find("stack overflow in micro-thread #2 'leaper' (stack size 65536 bytes; ran below its stack at ") !=
          std::string::npos);
    CHECK(out.err.find("past its guard page in one frame") != std::string::npos);
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

TEST_CASE("an overflow with large frames stops at the guard of its slab stack: the stacks around it are untouched") {
    if (!mt_test::kernel_has_guard_install()) {
        MESSAGE("no MADV_GUARD_INSTALL on this kernel: slab stacks are not made here");
        return;
    }
    mt_test::stack_arena arena;
    if (!arena.guards_work()) {
        MESSAGE("this kernel has no guard markers in shared memory: the arena cannot hold slab stacks");
        return;
    }
    auto out = mt_test::run_in_child([&] { overflow_among_neighbours(arena, guards::in_slab); });
    check_caught_at_guard(arena, out, stack_kind::slab_guarded);
}

TEST_CASE("an overflow with large frames stops at the guard of its own-mapping stack: the stacks around it are untouched") {
    mt_test::stack_arena arena;
    auto out = mt_test::run_in_child([&] { overflow_among_neighbours(arena, guards::own_mapping); });
    check_caught_at_guard(arena, out, stack_kind::mapping_guarded);
}

TEST_CASE("the neighbour check sees an overflow that has no guard page: asked-for canary stacks let it write below") {
    mt_test::stack_arena arena;
    auto out = mt_test::run_in_child([&] { overflow_among_neighbours(arena, guards::canaries_asked_for); });
    const auto& rec = arena.record();
    REQUIRE(rec.copied);
    CHECK(rec.overflow_kind == static_cast<int>(stack_kind::canary));
    CHECK((out.signal != 0 || out.exit_code != 0));  // ASan reports the write into a live frame's redzone
    const neighbour_report r = inspect(arena, 0);
    CHECK(r.adjacent);
    CHECK(r.changed > 0);  // this is what the guarded tests above show does not happen
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
