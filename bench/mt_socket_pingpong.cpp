// mt_socket_pingpong: a 1-byte round trip over a UNIX socketpair between two
// micro-threads of one engine, each waiting for readiness in the notifier
// (wait_readable) — no busy polling. socket_roundtrip_ns = elapsed / round trips,
// socket_roundtrip_allocs = heap allocations per round trip. The sockets are
// owned by mt::fd, as nonblocking_io's sockets are (closed only through
// close_fd): the reactor keeps their read watchers between waits. With
// --raw they are plain numbers, as the C API's and Python's are.
// The same program on raw libev callbacks, Go and gevent is in peers/.
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "core/microthreading.hpp"
#include "nonblocking_io/fd.hpp"
#include "notifier/notifier.hpp"
#include "peers/common.hpp"

namespace {

// read_byte — wait until readable, then read the one byte (fails loudly).
void read_byte(int fd) {
    char c;
    for (;;) {
        mt::wait_readable(fd);
        const ssize_t n = ::read(fd, &c, 1);
        if (n == 1) return;
        if (n < 0 && errno == EAGAIN) continue;
        std::abort();
    }
}

void write_byte(int fd) {
    if (::write(fd, "x", 1) != 1) std::abort();
}

}  // namespace

int main(int argc, char** argv) {
    const bool raw = argc > 1 && std::strcmp(argv[argc - 1], "--raw") == 0;
    if (raw) --argc;
    const long n = peers::arg_count(argc, argv, 100'000);
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) != 0) return 1;
    mt::fd owned[2];
    if (!raw) {  // closed by their destructors, through close_fd
        owned[0] = mt::fd(sv[0]);
        owned[1] = mt::fd(sv[1]);
    }
    mt::run([&] {
        auto echo = mt::spawn([&] {
            for (long i = 0; i < n + n / 10; ++i) {
                read_byte(sv[1]);
                write_byte(sv[1]);
            }
        });
        for (long i = 0; i < n / 10; ++i) {  // warm-up
            write_byte(sv[0]);
            read_byte(sv[0]);
        }
        const peers::measured m;
        for (long i = 0; i < n; ++i) {
            write_byte(sv[0]);
            read_byte(sv[0]);
        }
        m.report("socket_roundtrip", n);
        echo.wait();
    });
    if (raw) {
        ::close(sv[0]);
        ::close(sv[1]);
    }
}
