// pipes/format.hpp — an fmt formatter for micro_pipe (opt-in: include it,
// and link fmt):
//
//   fmt::print("{}\n", p);     // "pipe 'numbers'"
//   fmt::print("{:l}\n", p);   // "pipe 'numbers' (closed)" or "(open)"
//
// A null handle formats as "pipe (null)". Never suspends; from the pipe's
// engine only (as any use of the pipe).
#pragma once

#include <fmt/format.h>

#include "../core/format.hpp"
#include "micro_pipe.hpp"

template <class T>
struct fmt::formatter<mt::micro_pipe<T>> {
    bool with_state = false;

    constexpr auto parse(fmt::format_parse_context& ctx) {
        auto it = ctx.begin();
        if (it != ctx.end() && *it == 'l') {
            with_state = true;
            ++it;
        }
        if (it != ctx.end() && *it != '}') throw fmt::format_error("micro_pipe: the only format is {:l}");
        return it;
    }

    template <class Ctx>
    auto format(const mt::micro_pipe<T>& p, Ctx& ctx) const {
        if (!p) return fmt::format_to(ctx.out(), "pipe (null)");
        if (with_state) return fmt::format_to(ctx.out(), "pipe '{}' ({})", p.name(), p.closed() ? "closed" : "open");
        return fmt::format_to(ctx.out(), "pipe '{}'", p.name());
    }
};
