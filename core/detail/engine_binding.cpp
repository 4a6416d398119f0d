// core/detail/engine_binding.cpp — see engine_binding.hpp.
#include "core/detail/engine_binding.hpp"

#include <string>

#include "core/detail/control_block.hpp"
#include "core/engine.hpp"
#include "core/errors.hpp"

namespace mt::detail {

void engine_binding::bind(const control_block& me) noexcept {
    eng = me.eng;
    serial = me.eng->serial();
}

bool engine_binding::matches(const control_block& me) const noexcept {
    return eng == me.eng && serial == me.eng->serial();
}

void engine_binding::fail(const control_block& me, const char* op, const char* kind, std::string_view name) const {
    const bool same_address = eng == me.eng;  // a new engine where the old one was: the old one ended
    throw usage_error(std::string(op) + " in micro-thread " + describe(me) + " on " + kind + " '" + std::string(name) + "'" +
                      (same_address ? ", which belongs to an engine that has ended"
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
