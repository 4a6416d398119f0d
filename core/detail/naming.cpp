// core/detail/naming.cpp — see naming.hpp; also the names of micro-threads
// themselves (name_of, describe, append_ref of control_block.hpp).
#include "core/detail/naming.hpp"

#include <fmt/format.h>

#include "core/detail/control_block.hpp"
#include "core/engine.hpp"

namespace mt::detail {

std::string name_of(const control_block& cb) {
    if (cb.name[0]) return cb.name;
    return fmt::format("micro-thread-{}", cb.id);
}

void append_ref(std::string& out, const control_block& cb) {
    // fmt::format (fmt's compiled vformat), never format_to an iterator: that
    // instantiates fmt's whole writer here, which GCC then inlines and LTO
    // re-optimizes in every program linking the library.
    if (cb.name[0]) out += fmt::format("#{} '{}'", cb.id, cb.name);
    else out += fmt::format("#{} 'micro-thread-{}'", cb.id, cb.id);
}

std::string describe(const control_block& cb) {
    std::string s;
    append_ref(s, cb);
    return s;
}

namespace {
std::string where(const control_block* me) {
    if (me) return fmt::format(" in micro-thread {}", describe(*me));
    if (engine::current()) return " on the engine's root";
    return {};
}
}  // namespace

std::string op_in(std::string_view op, const control_block* me) { return fmt::format("{}{}", op, where(me)); }

std::string op_in(std::string_view op, std::string_view arg, const control_block* me) {
    return fmt::format("{}({}){}", op, arg, where(me));
}

}  // namespace mt::detail
