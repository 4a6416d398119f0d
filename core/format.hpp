// core/format.hpp — fmt formatters for the engine's types (opt-in: include
// it, and link fmt, to format them):
//
//   fmt::print("{}\n", h);            // a micro_thread handle: "#3 'sink'"
//   fmt::print("{:l}\n", h);          // with its state: "#3 'sink' (waiting)"
//   fmt::print("{}\n", mt::state::waiting);      // "waiting"
//   fmt::print("{}", *mt::engine::current());   // the engine's dump
//
// Formatting reads the handle's block and never suspends; it may be called
// from the micro-thread's own engine only (as any use of the handle).
// pipes/format.hpp adds micro_pipe.
#pragma once

#include <fmt/format.h>

#include "engine.hpp"
#include "micro_thread.hpp"
#include "state.hpp"

template <>
struct fmt::formatter<mt::state> : fmt::formatter<fmt::string_view> {
    template <class Ctx>
    auto format(mt::state s, Ctx& ctx) const {
        return fmt::formatter<fmt::string_view>::format(mt::to_string(s), ctx);
    }
};

namespace mt::detail {
// long_form_spec — the format spec of the engine's formatters: {} or {:l}
// (with its state); `Name` says whose formatter refused another spec.
template <const char* Name>
struct long_form_spec {
    bool with_state = false;

    constexpr auto parse(fmt::format_parse_context& ctx) {
        auto it = ctx.begin();
        if (it != ctx.end() && *it == 'l') {
            with_state = true;
            ++it;
        }
        if (it != ctx.end() && *it != '}') throw fmt::format_error(Name);
        return it;
    }
};
inline constexpr char micro_thread_spec_error[] = "micro_thread: the only format is {:l}";
inline constexpr char micro_pipe_spec_error[] = "micro_pipe: the only format is {:l}";
}  // namespace mt::detail

template <class T>
struct fmt::formatter<mt::micro_thread<T>> : mt::detail::long_form_spec<mt::detail::micro_thread_spec_error> {

    template <class Ctx>
    auto format(const mt::micro_thread<T>& h, Ctx& ctx) const {
        if (with_state) return fmt::format_to(ctx.out(), "#{} '{}' ({})", h.id(), h.name(), mt::to_string(h.state()));
        return fmt::format_to(ctx.out(), "#{} '{}'", h.id(), h.name());
    }
};

template <>
struct fmt::formatter<mt::engine> : fmt::formatter<fmt::string_view> {
    template <class Ctx>
    auto format(const mt::engine& e, Ctx& ctx) const {
        const std::string dump = e.dump();
        return fmt::formatter<fmt::string_view>::format(dump, ctx);
    }
};
