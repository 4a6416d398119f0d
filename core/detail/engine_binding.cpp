// core/detail/engine_binding.cpp — see engine_binding.hpp.
#include "core/detail/engine_binding.hpp"

#include <string>

#include "core/detail/control_block.hpp"
#include "core/engine.hpp"
#include "core/errors.hpp"

namespace mt::detail {

// The address of this OS thread's engine pointer: distinct for every live
// OS thread, so it tells "this thread" from "another one".
static const void* this_os_thread() noexcept { return &tls_engine; }

void engine_binding::bind_to(const engine& e) noexcept {
    eng = &e;
    serial = e.serial();
    os_thread = this_os_thread();
}

void engine_binding::bind(const control_block& me) noexcept { bind_to(*me.eng); }

bool engine_binding::matches(const control_block& me) const noexcept {
    return eng == me.eng && serial == me.eng->serial();
}

void engine_binding::check_root(const engine& e, const char* op, const char* kind, std::string_view name) {
    if (eng == nullptr) {
        bind_to(e);
        return;
    }
    if (eng != &e || serial != e.serial()) fail(nullptr, op, kind, name);
}

void engine_binding::fail(const control_block* me, const char* op, const char* kind, std::string_view name) const {
    // One engine per OS thread: bound on this very thread means its engine ended.
    const bool ended = os_thread == this_os_thread();
    std::string who = me ? " in micro-thread " + describe(*me) : std::string(" on the engine's root");
    throw usage_error(std::string(op) + who + " on " + kind + " '" + std::string(name) + "'" +
                      (ended ? ", which belongs to an engine that has ended"
                             : ", which belongs to the engine of another OS thread"));
}

void engine_binding::check_here(const char* op, const char* kind, std::string_view name) {
    const engine& e = engine::get(op);
    if (const control_block* me = e.running()) {
        check(*me, op, kind, name);
        return;
    }
    if (eng == nullptr) {
        eng = &e;
        serial = e.serial();
        return;
    }
    if (eng == &e && serial == e.serial()) return;
    throw usage_error(std::string(op) + " on the engine's root context on " + kind + " '" + std::string(name) + "'" +
                      (eng == &e ? ", which belongs to an engine that has ended"
                                 : ", which belongs to the engine of another OS thread"));
}

}  // namespace mt::detail
