// notifier/dump_on_signal.cpp — dumps on a signal: the API, and the
// reactor's side of dump_board (watching the dump signals, printing its
// engine's dump when asked). See notifier/dump_on_signal.hpp and
// notifier/detail/dump_board.hpp.
#include "notifier/dump_on_signal.hpp"

#include <unistd.h>

#include <cerrno>
#include <string>

#include "core/detail/sys.hpp"
#include "core/engine.hpp"
#include "core/errors.hpp"
#include "notifier/detail/dump_board.hpp"
#include "notifier/detail/ev_reactor.hpp"

namespace mt {

void dump_on_signal(int signo) {
    engine& e = engine::get("dump_on_signal()");
    if (signo <= 0 || signo >= NSIG || signo == SIGKILL || signo == SIGSTOP || signo == SIGINT) {
        throw usage_error("dump_on_signal(" + std::to_string(signo) + "): " +
                          (signo == SIGINT ? std::string("SIGINT is Ctrl-C, which goes to the main micro-thread")
                                           : std::string("not a signal that can be caught")));
    }
    detail::dump_board::enable(signo);
    // reactor::of makes the libev reactor, the only kind there is.
    static_cast<detail::ev_reactor&>(detail::reactor::of(e)).watch_dump_signals();
}

namespace detail {

void ev_reactor::watch_dump_signals() {
    for (int s = 1; s < NSIG; ++s)
        if (dump_board::dumps_on(s) && signals_.take(s)) backend_.watch_signal(s);
}

void ev_reactor::request_dump() noexcept {
    dump_requested_.store(true, std::memory_order_relaxed);
    backend_.wake();
}

void ev_reactor::request_dump_signals() noexcept {
    dump_signals_requested_.store(true, std::memory_order_relaxed);
    backend_.wake();
}

void ev_reactor::serve_dump_requests() noexcept {
    if (dump_signals_requested_.exchange(false, std::memory_order_relaxed)) {
        try {
            watch_dump_signals();
        } catch (...) {  // libev could not watch it: the signal keeps its default action
        }
    }
    if (dump_requested_.exchange(false, std::memory_order_relaxed)) print_dump();
}

// print_dump — "microthreading: engine 2 (OS thread 1234): <the dump>" to
// stderr in one write where the kernel allows, so the dumps of several
// engines do not interleave line by line.
void ev_reactor::print_dump() noexcept {
    std::string s;
    try {
        s = "microthreading: engine " + std::to_string(eng_.serial()) + " (OS thread " + std::to_string(::gettid()) +
            "): " + eng_.dump();
    } catch (...) {
        return;  // out of memory: no dump
    }
    for (std::size_t off = 0; off < s.size();) {
        const ssize_t n = sys().write(2, s.data() + off, s.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        off += static_cast<std::size_t>(n);
    }
}

}  // namespace detail
}  // namespace mt
