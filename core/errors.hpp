// core/errors.hpp — every kind of error the engine raises, in one place.
//
// One mechanism per kind of error (see docs/design/errors.md):
//   * OS errors            -> std::system_error (errno + what was being done)
//   * misuse               -> mt::usage_error, naming the micro-thread and the operation
//   * a micro-thread ended by an abort, seen by its joiner -> mt::micro_thread_aborted
//   * a call to an actor that has stopped (or whose micro-thread was aborted) -> mt::actor_stopped
//   * nothing can ever run again -> mt::deadlock_error with the wait-for chain
//   * a barrier broken under its waiters -> mt::broken_barrier_error
//   * a stack (with its guard page) that cannot be mapped -> mt::stack_allocation_error (a std::system_error)
//   * impossible states and stack overflows -> the process stops with a fixed message
//   * user exceptions      -> stored as std::exception_ptr, rethrown at join or get
//
// MicroThreadExit deliberately does not derive from std::exception: a
// `catch (const std::exception&)` in user code must not swallow an abort (the
// same reason Python's GeneratorExit is not an Exception).
#pragma once

#include <cstddef>
#include <cstring>
#include <stdexcept>
#include <string_view>
#include <string>
#include <system_error>

namespace mt {

// MicroThreadExit — raised at a micro-thread's suspension point by abort(),
// and by a put to a closed pipe. Reaching the top of a micro-thread it ends
// that micro-thread silently. Sticky: after an abort every later suspension
// raises it again.
struct MicroThreadExit {
    MicroThreadExit() noexcept = default;
    // MicroThreadExit(why) — with the reason, for a put to a closed pipe or
    // queue: what() says "MicroThreadExit: put to pipe 'numbers', which is
    // closed" (kept to 127 characters; no allocation).
    explicit MicroThreadExit(std::string_view why) noexcept {
        std::size_t n = prefix_len;
        std::memcpy(text_, "MicroThreadExit: ", prefix_len);
        for (char c : why) {
            if (n + 1 >= sizeof text_) break;
            text_[n++] = c;
        }
        text_[n] = '\0';
    }
    const char* what() const noexcept { return text_[0] ? text_ : "MicroThreadExit"; }

private:
    static constexpr std::size_t prefix_len = 17;  // "MicroThreadExit: "
    char text_[128] = {};
};

// closed_put — the MicroThreadExit of a put to a closed `kind` ("pipe",
// "queue") named `name`.
inline MicroThreadExit closed_put(const char* kind, std::string_view name) noexcept {
    char buf[112];
    const std::size_t k = std::strlen(kind);
    std::size_t n = 0;
    auto add = [&](std::string_view s) {
        for (char c : s)
            if (n + 1 < sizeof buf) buf[n++] = c;
    };
    add("put to ");
    add(std::string_view(kind, k));
    add(" '");
    add(name);
    add("', which is closed");
    return MicroThreadExit(std::string_view(buf, n));
}

// error — base of the engine's named errors.
class error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// usage_error — the engine was used against its contract (joining yourself,
// blocking outside a micro-thread, firing a deferred twice, ...). The message
// names the micro-thread and the operation.
class usage_error : public error {
public:
    using error::error;
};

// micro_thread_aborted — thrown by wait() on a handle whose micro-thread was
// ended by MicroThreadExit. A killed child does not silently kill its parent.
class micro_thread_aborted : public error {
public:
    using error::error;
};

// actor_stopped — a call to an mt::actor that cannot be served: the actor
// was stopped, or its micro-thread was aborted (before or while serving the
// call). what() names the actor, the caller and why.
class actor_stopped : public error {
public:
    using error::error;
};

// deadlock_error — thrown by run() when micro-threads still wait but nothing
// is runnable and nothing outside the engine can ever wake them. what() names
// the wait-for chain.
class deadlock_error : public error {
public:
    using error::error;
};

// timeout_error — a wait with a timeout (an fd, a signal, a pipe) ran out of
// time. what() names the micro-thread and what it waited for.
class timeout_error : public error {
public:
    using error::error;
};

// interrupted_error — Ctrl-C (SIGINT) arrived while the engine ran; raised in
// the main micro-thread at its suspension point.
class interrupted_error : public error {
public:
    using error::error;
};

// broken_barrier_error — raised by barrier::arrive_and_wait in every
// micro-thread waiting at a barrier that broke (a waiter timed out or was
// aborted, or reset() was called), and at every arrival while it stays
// broken. what() names the micro-thread, the barrier and why it broke.
class broken_barrier_error : public error {
public:
    using error::error;
};

// stack_allocation_error — a stack with a guard page could not be had
// (ENOMEM, the kernel's vm.max_map_count or the pool's mapping budget
// reached, a refused mprotect or MADV_GUARD_INSTALL). what() names the
// micro-thread, the stack size and, where it may help, vm.max_map_count;
// code() holds the errno.
class stack_allocation_error : public std::system_error {
public:
    stack_allocation_error(int err, const std::string& what_arg)
        : std::system_error(err, std::generic_category(), what_arg) {}
};

}  // namespace mt
