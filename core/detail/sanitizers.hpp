// core/detail/sanitizers.hpp — what the engine tells AddressSanitizer and
// valgrind about its stacks. Everything here compiles to nothing in a plain
// release build (valgrind's client requests cost a few instructions and no
// call when not running under valgrind).
#pragma once

#include <cstddef>

// MT_ASAN — AddressSanitizer is on: gcc says so with __SANITIZE_ADDRESS__,
// clang (before 18) only through __has_feature.
#if defined(__SANITIZE_ADDRESS__)
#define MT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MT_ASAN 1
#endif
#endif
#if !defined(MT_ASAN)
#define MT_ASAN 0
#endif

#if MT_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define MT_HAVE_VALGRIND 1
#else
#define MT_HAVE_VALGRIND 0
#endif

namespace mt::detail {

inline unsigned valgrind_register_stack(void* lo, void* hi) noexcept {
#if MT_HAVE_VALGRIND
    return VALGRIND_STACK_REGISTER(lo, hi);
#else
    (void)lo, (void)hi;
    return 0;
#endif
}

inline void valgrind_deregister_stack(unsigned id) noexcept {
#if MT_HAVE_VALGRIND
    VALGRIND_STACK_DEREGISTER(id);
#else
    (void)id;
#endif
}

// asan_forget_stack — clears ASan's poisoning of a stack about to be reused:
// frames that never returned (the last frame of a finished fiber) leave
// poisoned redzones behind.
inline void asan_forget_stack(void* lo, std::size_t size) noexcept {
#if MT_ASAN
    ASAN_UNPOISON_MEMORY_REGION(lo, size);
#else
    (void)lo, (void)size;
#endif
}

// quiet_inspection — while alive, valgrind reports nothing: the engine reads
// raw stack memory below other contexts' stack pointers (high-water marks).
struct quiet_inspection {
#if MT_HAVE_VALGRIND
    quiet_inspection() noexcept { VALGRIND_DISABLE_ERROR_REPORTING; }
    ~quiet_inspection() { VALGRIND_ENABLE_ERROR_REPORTING; }
#endif
};

}  // namespace mt::detail

// Reads memory ASan may consider poisoned (another context's stack).
#if MT_ASAN
#define MT_NO_ASAN __attribute__((no_sanitize_address))
#else
#define MT_NO_ASAN
#endif
