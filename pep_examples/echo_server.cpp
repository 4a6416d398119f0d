// echo_server — a TCP echo server: one micro-thread per connection, code that
// reads like blocking code. Usage: echo_server [PORT] [--threads N] (PORT 0
// or none: any port; N engines on N OS threads, serve_on_cores.hpp).
// Prints "listening on PORT", serves until Ctrl-C.
//
// What to notice: mt::serve (accept_d in a loop), read_d and write_all suspend only their own
// micro-thread; a connection that fails (reset, closed) ends its micro-thread
// only; at the fd limit (EMFILE) the server logs the refusal, waits a moment
// and keeps serving the connections it has.
#include <cstdio>
#include <cstdlib>
#include <system_error>

#include "core/microthreading.hpp"
#include "nonblocking_io/io.hpp"
#include "nonblocking_io/server.hpp"
#include "nonblocking_io/socket.hpp"
#include "notifier/notifier.hpp"
#include "serve_on_cores.hpp"

using namespace std::chrono_literals;

void serve_connection(mt::fd conn) {
    char buf[16384];
    for (;;) {
        const std::size_t n = mt::read_d(conn.get(), buf, sizeof buf);
        if (n == 0) return;  // the client closed
        mt::write_all(conn.get(), std::string_view(buf, n));
    }
}

int main(int argc, char** argv) {
    const auto threads = example::take_threads_flag(argc, argv);
    if (!threads) {
        std::fprintf(stderr, "usage: echo_server [PORT] [--threads N]   (N: 1 to 1024)\n");
        return 2;
    }
    mt::raise_fd_limit();  // thousands of connections need thousands of fds
    const auto port = static_cast<std::uint16_t>(argc > 1 ? std::atoi(argv[1]) : 0);
    try {
        example::serve_on_cores(*threads, port, serve_connection);
    } catch (const mt::interrupted_error&) {
        std::printf("interrupted; bye\n");
    }
}
