// echo_server — a TCP echo server: one micro-thread per connection, code that
// reads like blocking code. Usage: echo_server [PORT] (0 or none: any port).
// Prints "listening on PORT", serves until Ctrl-C.
//
// What to notice: accept_d, read_d and write_all suspend only their own
// micro-thread; a connection that fails (reset, closed) ends its micro-thread
// only; at the fd limit (EMFILE) the server logs the refusal, waits a moment
// and keeps serving the connections it has.
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <system_error>

#include "core/microthreading.hpp"
#include "nonblocking_io/io.hpp"
#include "nonblocking_io/socket.hpp"
#include "notifier/notifier.hpp"

using namespace std::chrono_literals;

void serve(mt::fd conn) {
    char buf[16384];
    for (;;) {
        const std::size_t n = mt::read_d(conn.get(), buf, sizeof buf);
        if (n == 0) return;  // the client closed
        mt::write_all(conn.get(), std::string_view(buf, n));
    }
}

int main(int argc, char** argv) {
    rlimit rl{};  // use all the fds we may: the hard limit
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &rl);
    }
    const auto port = static_cast<std::uint16_t>(argc > 1 ? std::atoi(argv[1]) : 0);
    try {
        mt::run([port] {
            mt::handle_interrupts();  // Ctrl-C ends the server cleanly from here on
            mt::fd listener = mt::tcp_listen("127.0.0.1", port);
            std::printf("listening on %u\n", mt::local_port(listener.get()));
            std::fflush(stdout);
            for (;;) {
                try {
                    mt::fd conn = mt::accept_d(listener.get());
                    mt::set_nodelay(conn.get());
                    mt::start_and_forget(mt::spawn_options{"connection"}, [c = std::move(conn)]() mutable {
                        try {
                            serve(std::move(c));
                        } catch (const std::system_error&) {
                            // a reset or broken connection ends this micro-thread only
                        }
                    });
                } catch (const std::system_error& e) {
                    if (e.code().value() != EMFILE && e.code().value() != ENFILE) throw;
                    std::fprintf(stderr, "echo_server: refusing connections for now: %s\n", e.what());
                    mt::sleep_d(10ms);
                }
            }
        });
    } catch (const mt::interrupted_error&) {
        std::printf("interrupted; bye\n");
    }
}
