// core/detail/overflow.hpp — stopping the process when a stack overflows,
// and for states that cannot happen.
//
// A guard-page overflow arrives as SIGSEGV on the overflowing micro-thread's
// stack, which is unusable; the handler runs on an alternate signal stack,
// names the running micro-thread and its stack size, and aborts. A canary
// overflow is found by the engine at the next switch (overflow_die).
// Faults that are not overflows go to whatever handler was there before.
#pragma once

#include <string>

namespace mt::detail {

struct control_block;

// overflow_guard — installs the process-wide SIGSEGV/SIGBUS handler (once),
// a std::terminate handler that names the running micro-thread before the
// one that was there (once), and an alternate signal stack for the calling
// OS thread if it has none.
// One per engine; restores the thread's signal stack when destroyed.
class overflow_guard {
public:
    overflow_guard();
    ~overflow_guard();
    overflow_guard(const overflow_guard&) = delete;
    overflow_guard& operator=(const overflow_guard&) = delete;

private:
    void* altstack_ = nullptr;  // mapped by us, or nullptr if the thread had one
};

// overflow_die — the canary of `cb`'s stack was overwritten: stop the process.
[[noreturn]] void overflow_die(const control_block& cb) noexcept;

// fatal — an impossible state: print "microthreading: fatal: <what>" and abort.
[[noreturn]] void fatal(const std::string& what) noexcept;

}  // namespace mt::detail
