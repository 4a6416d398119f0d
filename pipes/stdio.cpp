// pipes/stdio.cpp — the errors of this_stdin / this_stdout and of null handles.
#include <fmt/format.h>

#include <string>
#include <typeinfo>

#include "core/engine.hpp"
#include "core/errors.hpp"
#include "pipes/micro_pipe.hpp"
#include "core/detail/naming.hpp"

namespace mt::detail {

void throw_null_pipe(const char* op) {
    const control_block* me = engine::current() ? engine::current()->running() : nullptr;
    throw usage_error(fmt::format("micro_pipe::{}() on a null pipe handle{}", op,
                                  me ? " in micro-thread " + describe(*me) : std::string()));
}

void throw_stdio_misuse(const char* which, const char* why, const std::type_info* want,
                        const std::type_info* have) {
    const control_block* me = engine::current() ? engine::current()->running() : nullptr;
    std::string what = op_in(fmt::format("this_{}()", which), me) + ": ";
    what += why;
    if (want) {
        what += std::string(": its ") + which + " carries " + have->name() + ", not " + want->name();
    } else {
        what += ": ";
        what += std::string("no ") + which + " pipe is attached (spawn_options::" +
                (std::string(which) == "stdin" ? "in" : "out") + ")";
    }
    throw usage_error(what);
}

}  // namespace mt::detail
