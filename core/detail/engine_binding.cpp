// core/detail/engine_binding.cpp — see engine_binding.hpp.
#include "core/detail/engine_binding.hpp"

#include <fmt/format.h>

#include <string>

#include "core/detail/control_block.hpp"
#include "core/engine.hpp"
#include "core/errors.hpp"
#include "core/detail/naming.hpp"

namespace mt::detail {

// The address of this OS thread's engine pointer: distinct for every live
// OS thread, so it tells "this thread" from "another one".
static const void* this_os_thread() noexcept { return &tls_engine; }

void engine_binding::bind(const engine& e) noexcept {
    eng = &e;
    serial = e.serial();
    os_thread = this_os_thread();
}

void engine_binding::bind(const control_block& me) noexcept { bind(*me.eng); }

bool engine_binding::matches(const engine& e) const noexcept { return eng == &e && serial == e.serial(); }

bool engine_binding::matches(const control_block& me) const noexcept { return matches(*me.eng); }

void engine_binding::check_here(const char* op, const char* kind, std::string_view name) {
    const engine& e = engine::get(op);
    if (const control_block* me = e.running()) check(*me, op, kind, name);
    else check_root(e, op, kind, name);
}

void engine_binding::fail(const control_block* me, const char* op, const char* kind, std::string_view name) const {
    // One engine per OS thread: bound on this very thread means its engine ended.
    const bool ended = os_thread == this_os_thread();
    throw usage_error(fmt::format("{} on {} '{}', which belongs to {}", op_in(op, me), kind, name,
                                  ended ? "an engine that has ended" : "the engine of another OS thread"));
}

}  // namespace mt::detail
