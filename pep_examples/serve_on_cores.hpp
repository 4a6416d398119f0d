// serve_on_cores.hpp — the example servers' "--threads N": one engine per
// OS thread, each with its own listening socket on the same port
// (SO_REUSEPORT), so the kernel spreads the connections over the engines
// and a connection lives on one engine from accept to close.
//
// Prints "listening on PORT" once every engine listens; Ctrl-C reaches
// engine 0's main, whose interrupted_error fails the group, which aborts
// every engine's micro-threads: run() then rethrows it.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <string>

#include "core/microthreading.hpp"
#include "nonblocking_io/server.hpp"
#include "nonblocking_io/socket.hpp"
#include "notifier/notifier.hpp"
#include "pipes/xpipe.hpp"

namespace example {

// take_threads_flag — removes "--threads N" from argv; N (1 by default),
// or std::nullopt when N is not a number from 1 to 1024.
inline std::optional<std::size_t> take_threads_flag(int& argc, char** argv) {
    std::size_t n = 1;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--threads") != 0) continue;
        if (i + 1 >= argc) return std::nullopt;
        char* end = nullptr;
        const long v = std::strtol(argv[i + 1], &end, 10);
        if (*argv[i + 1] == '\0' || *end != '\0' || v < 1 || v > 1024) return std::nullopt;
        n = static_cast<std::size_t>(v);
        for (int j = i; j + 2 <= argc; ++j) argv[j] = argv[j + 2];
        argc -= 2;
        break;
    }
    return n;
}

inline mt::fd listen_shared(std::uint16_t port) {
    mt::listen_options o;
    o.reuse_port = true;
    return mt::tcp_listen("127.0.0.1", port, o);
}

// serve_on_cores — serves handler(conn) on `threads` engines (1: a plain
// mt::run, as before). Returns when interrupted (rethrows interrupted_error).
inline void serve_on_cores(std::size_t threads, std::uint16_t port, std::function<void(mt::fd)> handler) {
    if (threads == 1) {
        mt::run([&] {
            mt::handle_interrupts();  // Ctrl-C ends the server cleanly from here on
            mt::fd listener = mt::tcp_listen("127.0.0.1", port);
            std::printf("listening on %u\n", mt::local_port(listener.get()));
            std::fflush(stdout);
            mt::serve(listener.get(), handler);  // one micro-thread per connection
        });
        return;
    }
    mt::engine_group group({.threads = threads});
    group.run([&] {
        mt::handle_interrupts();
        mt::fd listener = listen_shared(port);
        const std::uint16_t actual = mt::local_port(listener.get());
        mt::xpipe<int> ready("listening", threads);
        for (std::size_t i = 1; i < threads; ++i) {
            (void)mt::spawn_on(i, "acceptor", [actual, handler, ready]() mutable {
                mt::fd l = listen_shared(actual);
                ready.put(1);
                mt::serve(l.get(), handler);
            });
        }
        for (std::size_t i = 1; i < threads; ++i) (void)ready.get();
        std::printf("listening on %u\n", actual);
        std::fflush(stdout);
        mt::serve(listener.get(), handler);
    });
}

}  // namespace example
