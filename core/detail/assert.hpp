// core/detail/assert.hpp — the engine's assertion macro.
//
// MT_ASSERT(cond, what) checks an invariant or a transition's precondition.
// It is live in debug builds and in every sanitizer build (where NDEBUG is
// not defined, or MT_CHECKED is), and compiles to nothing in a release build.
// A failed assertion is an impossible state: the process stops with
// "microthreading: fatal: <file>:<line>: <what> (<cond>)", the one mechanism
// for impossible states (core/errors.hpp).
//
// MT_CHECKED is 1 when assertions are live; check_invariants() functions use
// it to decide whether to do their (sometimes O(n)) work.
#pragma once

#if !defined(MT_CHECKED)
#if !defined(NDEBUG) || defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define MT_CHECKED 1
#elif defined(__has_feature)  // clang names its sanitizers this way
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define MT_CHECKED 1
#endif
#endif
#if !defined(MT_CHECKED)
#define MT_CHECKED 0
#endif
#endif

namespace mt::detail {

// assertion_failed — prints the fixed message and aborts. Never returns.
[[noreturn]] void assertion_failed(const char* file, int line, const char* cond, const char* what) noexcept;

}  // namespace mt::detail

#if MT_CHECKED
#define MT_ASSERT(cond, what)                                                        \
    do {                                                                             \
        if (!(cond)) [[unlikely]]                                                    \
            ::mt::detail::assertion_failed(__FILE__, __LINE__, #cond, what);         \
    } while (0)
#else
#define MT_ASSERT(cond, what) \
    do {                      \
    } while (0)
#endif
