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
    const engine* eng = nullptr;  // nullptr until first use
    std::uint64_t serial = 0;     // engine::serial() of that engine

    // check — binds to me's engine on first use; afterwards throws
    // usage_error "<op> in micro-thread #3 'x' on <kind> '<name>', which
    // belongs to the engine of another OS thread" (or "... to an engine that
    // has ended"). Costs two compares when it passes; builds text only when
    // it throws.
    void check(const control_block& me, const char* op, const char* kind, std::string_view name) {
        if (eng == nullptr) [[unlikely]] {
            bind(me);
            return;
        }
        if (!matches(me)) [[unlikely]]
            fail(me, op, kind, name);
    }

    // check_root — check() for a call that needs no micro-thread (a
    // condition's notify from the engine's root context, say): `e` is the
    // calling OS thread's engine. The error says "on the engine's root".
    void check_root(const engine& e, const char* op, const char* kind, std::string_view name) {
        if (eng == nullptr) [[unlikely]] {
            bind(e);
            return;
        }
        if (!matches(e)) [[unlikely]]
            fail(e, nullptr, op, kind, name);
    }

private:
    void bind(const control_block& me) noexcept;
    void bind(const engine& e) noexcept;
    bool matches(const engine& e) const noexcept;
    [[noreturn]] void fail(const engine& e, const control_block* me, const char* op, const char* kind,
                           std::string_view name) const;
    bool matches(const control_block& me) const noexcept;
    [[noreturn]] void fail(const control_block& me, const char* op, const char* kind, std::string_view name) const;
};

}  // namespace mt::detail
