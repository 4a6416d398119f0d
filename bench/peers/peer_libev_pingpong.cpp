// peer_libev_pingpong: the libev floor for mt_socket_pingpong. Two parties, A
// and B, on the two ends of a non-blocking AF_UNIX SOCK_STREAM socketpair, in
// one thread driven by one libev loop (EVBACKEND_EPOLL), written directly as
// ev_io read callbacks. One round trip: A writes a 1-byte message, B's
// watcher fires, B reads it and writes it back, A's watcher fires, A reads it.
// Reads happen only when the loop reports readiness; writes go straight to
// the socket (its buffer never fills with one byte in flight).
// N round trips (argv[1], default 100,000) after N/10 warm-up ones.
// Prints socket_roundtrip_ns = elapsed / N.
#include "common.hpp"
#include "libev_socketpair.hpp"

#include <cerrno>

namespace {

constexpr size_t kMsg = 1;  // message size, the same in every twin

struct Party {
    ev_io io;      // first member: the callback casts ev_io* back to Party*
    int fd;
    bool echo;     // B: write back what it read; A: count, then ping again
    long left = 0;  // A only: round trips still to do
};

void on_readable(struct ev_loop* loop, ev_io* w, int) {
    auto* p = reinterpret_cast<Party*>(w);
    char buf[kMsg];
    ssize_t r = read(p->fd, buf, kMsg);
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) return;  // spurious
    if (r != static_cast<ssize_t>(kMsg)) peers::die("read");
    if (!p->echo && --p->left == 0) {
        ev_break(loop, EVBREAK_ALL);
        return;
    }
    if (write(p->fd, buf, kMsg) != static_cast<ssize_t>(kMsg)) peers::die("write");
}

double run(struct ev_loop* loop, Party& a, long n) {
    char msg[kMsg] = {'x'};
    a.left = n;
    auto t0 = peers::clock::now();
    if (write(a.fd, msg, kMsg) != static_cast<ssize_t>(kMsg)) peers::die("write");
    ev_run(loop, 0);
    return peers::ns_since(t0) / static_cast<double>(n);
}

}  // namespace

int main(int argc, char** argv) {
    long n = peers::arg_count(argc, argv, 100000);
    Party a{}, b{};
    peers::libev_socketpair sp(&a.io, &b.io, on_readable);
    a.fd = sp.fd[0], a.echo = false;
    b.fd = sp.fd[1], b.echo = true;

    run(sp.loop, a, n / 10 + 1);  // warm-up
    peers::report("socket_roundtrip_ns", run(sp.loop, a, n));
    return 0;
}
