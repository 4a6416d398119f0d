// core/detail/spin.hpp — the two pieces of busy-waiting the cross-engine
// path allows itself: a pause between looks, and a lock taken after a few
// tries before blocking in the kernel.
//
// Why: a cross-engine handoff is a chain of short critical sections on two
// OS threads (the object's mutex, the mailbox's). When the woken engine
// reaches a mutex its waker still holds for a few hundred nanoseconds, a
// plain lock sleeps in the kernel (a futex wait, and a futex wake in the
// waker's unlock): two system calls and a thread wake-up to save nothing.
// A bounded try first costs at most ~lock_tries pauses (a few µs).
#pragma once

#include <mutex>

namespace mt::detail {

// cpu_relax — tells the core this is a spin-wait (x86 pause: the sibling
// hyper-thread gets the pipeline, and leaving the loop costs no memory-order
// mis-speculation).
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield" ::: "memory");
#endif
}

// lock_tries — how many times lock_spinning tries before it blocks.
inline constexpr int lock_tries = 100;

// lock_spinning — takes `m` (not held by the caller): tries lock_tries
// times with a pause between, then blocks. Any thread; may block.
inline void lock_spinning(std::mutex& m) {
    for (int i = 0; i < lock_tries; ++i) {
        if (m.try_lock()) return;
        cpu_relax();
    }
    m.lock();
}

}  // namespace mt::detail
