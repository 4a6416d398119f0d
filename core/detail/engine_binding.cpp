// core/detail/engine_binding.cpp — see engine_binding.hpp.
#include "core/detail/engine_binding.hpp"

#include <string>

#include "core/detail/control_block.hpp"
#include "core/engine.hpp"
#include "core/errors.hpp"

namespace mt::detail {

void engine_binding::bind(const control_block& me) noexcept { bind(*me.eng); }

void engine_binding::bind(const engine& e) noexcept {
    eng = &e;
    serial = e.serial();
}

bool engine_binding::matches(const control_block& me) const noexcept { return matches(*me.eng); }

bool engine_binding::matches(const engine& e) const noexcept { return eng == &e && serial == e.serial(); }

void engine_binding::fail(const control_block& me, const char* op, const char* kind, std::string_view name) const {
    fail(*me.eng, &me, op, kind, name);
}

void engine_binding::fail(const engine& e, const control_block* me, const char* op, const char* kind,
                          std::string_view name) const {
    const bool same_address = eng == &e;  // a new engine where the old one was: the old one ended
    throw usage_error(std::string(op) + (me ? " in micro-thread " + describe(*me) : std::string(" on the engine's root")) +
                      " on " + kind + " '" + std::string(name) + "'" +
                      (same_address ? ", which belongs to an engine that has ended"
                                    : ", which belongs to the engine of another OS thread"));
}

}  // namespace mt::detail
