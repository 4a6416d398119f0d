// notifier/detail/uncaught_interrupt.cpp — see uncaught_interrupt.hpp.
#include "notifier/detail/uncaught_interrupt.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>

#include "core/errors.hpp"

namespace mt::detail {
namespace {

std::atomic<std::terminate_handler> previous{nullptr};
std::atomic<bool> installed{false};

// write_all — stderr, unbuffered; the program is ending and nothing may throw.
void write_all(const char* s) noexcept {
    std::size_t n = std::strlen(s);
    while (n > 0) {
        const ssize_t w = ::write(2, s, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        s += w;
        n -= static_cast<std::size_t>(w);
    }
}

[[noreturn]] void on_terminate() noexcept {
    if (std::exception_ptr e = std::current_exception()) {
        bool interrupted = false;
        try {
            std::rethrow_exception(e);
        } catch (const interrupted_error&) {
            interrupted = true;
        } catch (...) {
        }
        if (interrupted) {
            std::fflush(nullptr);  // what the program printed so far still reaches its files
            write_all(program_invocation_short_name);
            write_all(": interrupted by SIGINT (Ctrl-C)\n");
            std::_Exit(130);
        }
    }
    if (std::terminate_handler h = previous.load()) h();
    std::abort();
}

}  // namespace

void exit_130_on_uncaught_interrupt() noexcept {
    if (installed.exchange(true)) return;
    previous.store(std::set_terminate(on_terminate));
}

}  // namespace mt::detail
