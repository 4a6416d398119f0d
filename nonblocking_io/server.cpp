// nonblocking_io/server.cpp — see server.hpp.
#include "nonblocking_io/server.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <exception>
#include <string>
#include <system_error>
#include <utility>

#include "core/micro_thread.hpp"
#include "nonblocking_io/socket.hpp"
#include "notifier/notifier.hpp"

namespace mt {

void serve(int listener, std::function<void(fd)> handler, std::string_view name) {
    const std::string thread_name(name);
    bool refusing = false;
    for (;;) {
        fd conn;
        try {
            conn = accept_d(listener);
        } catch (const std::system_error& e) {
            const int err = e.code().value();
            if (err != EMFILE && err != ENFILE) throw;
            if (!refusing) std::fprintf(stderr, "serve: refusing connections for now: %s\n", e.what());
            refusing = true;
            sleep_d(std::chrono::milliseconds(10));
            continue;
        }
        refusing = false;
        const int one = 1;  // fails harmlessly on Unix-domain sockets
        ::setsockopt(conn.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        start_and_forget(spawn_options{thread_name}, [handler, c = std::move(conn)]() mutable {
            try {
                handler(std::move(c));
            } catch (const std::exception&) {
                // this connection only
            }
        });
    }
}

std::size_t raise_fd_limit() {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &rl);
    }
    return static_cast<std::size_t>(rl.rlim_cur);
}

}  // namespace mt
