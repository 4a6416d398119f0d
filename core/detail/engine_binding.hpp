// core/detail/engine_binding.hpp — what a pipe or a synchronization
// primitive remembers of the engine that first used it, so that a use from
// another engine's OS thread, or after that engine ended, is a named usage
// error instead of a data race or a use of freed memory.
#pragma once

#include <cstdint>
#include <string_view>

namespace mt {
class engine;
}

namespace mt::detail {

struct control_block;

struct engine_binding {
    const engine* eng = nullptr;      // nullptr until first use
    std::uint64_t serial = 0;         // engine::serial() of that engine
    const void* os_thread = nullptr;  // identifies the OS thread it ran on (while that thread lives)

    // check — binds to me's engine on first use; afterwards throws
    // usage_error "<op> in micro-thread #3 'x' on <kind> '<name>', which
    // belongs to the engine of another OS thread" (or "... to an engine that
    // has ended", when the caller's OS thread is the one it was bound on:
    // one engine per OS thread, so that engine is gone). Costs two compares
    // when it passes; builds text only when it throws.
    void check(const control_block& me, const char* op, const char* kind, std::string_view name) {
        if (eng == nullptr) [[unlikely]] {
            bind(me);
            return;
        }
        if (!matches(me)) [[unlikely]]
            fail(&me, op, kind, name);
    }

    // check_root — check() for a call that needs no micro-thread (a
    // condition's notify, a semaphore's release from the engine's root
    // context): `e` is the calling OS thread's engine. The error says "on
    // the engine's root".
    void check_root(const engine& e, const char* op, const char* kind, std::string_view name) {
        if (eng == nullptr) [[unlikely]] {
            bind(e);
            return;
        }
        if (!matches(e)) [[unlikely]]
            fail(nullptr, op, kind, name);
    }

    // check_here — check for an operation that never suspends and may also
    // run on the engine's root context (a host's callback): binds to, or
    // compares with, the calling OS thread's engine. Throws usage_error as
    // check does, or when this OS thread has no engine.
    void check_here(const char* op, const char* kind, std::string_view name);

private:
    void bind(const control_block& me) noexcept;
    void bind(const engine& e) noexcept;
    bool matches(const control_block& me) const noexcept;
    bool matches(const engine& e) const noexcept;
    [[noreturn]] void fail(const control_block* me, const char* op, const char* kind, std::string_view name) const;
};

}  // namespace mt::detail
