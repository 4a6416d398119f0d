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
struct fmt::formatter<mt::micro_pipe<T>> : mt::detail::long_form_spec<mt::detail::micro_pipe_spec_error> {

    template <class Ctx>
    auto format(const mt::micro_pipe<T>& p, Ctx& ctx) const {
        if (!p) return fmt::format_to(ctx.out(), "pipe (null)");
        if (with_state) return fmt::format_to(ctx.out(), "pipe '{}' ({})", p.name(), p.closed() ? "closed" : "open");
        return fmt::format_to(ctx.out(), "pipe '{}'", p.name());
    }
};
