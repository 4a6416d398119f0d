// peer_libev_echo: the libev floor for pep_examples/echo_server. A TCP echo
// server written directly on libev callbacks, in one thread on one loop
// (EVBACKEND_EPOLL): a non-blocking listening socket with an ev_io that
// accepts until EAGAIN, one ev_io per connection. On EV_READ it reads up to
// 16 KiB (the same buffer as ours) and writes it straight back; what the
// socket does not take is kept, the watcher switches to EV_WRITE until it is
// flushed, and only then reads again (so a slow reader is not outrun).
// Accepted sockets get TCP_NODELAY, like ours.
// Usage: peer_libev_echo [PORT] (0 or none: any port). Prints
// "listening on PORT", serves 127.0.0.1 until SIGINT (or SIGTERM).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ev.h>

#include "libev_server.hpp"

namespace {

constexpr size_t kBuf = 16384;

struct Conn {
    ev_io io;     // first member: the callback casts ev_io* back to Conn*
    int fd;
    size_t off = 0, len = 0;  // pending bytes buf[off, len) still to write
    char buf[kBuf];
};


void close_conn(struct ev_loop* loop, Conn* c) {
    ev_io_stop(loop, &c->io);
    close(c->fd);
    delete c;
}

void watch(struct ev_loop* loop, Conn* c, int events) {
    if ((c->io.events & (EV_READ | EV_WRITE)) == events) return;
    ev_io_stop(loop, &c->io);
    ev_io_set(&c->io, c->fd, events);
    ev_io_start(loop, &c->io);
}

// Write buf[off, len); returns false when the connection was closed.
bool flush(struct ev_loop* loop, Conn* c) {
    while (c->off < c->len) {
        ssize_t n = write(c->fd, c->buf + c->off, c->len - c->off);
        if (n > 0) {
            c->off += static_cast<size_t>(n);
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && errno == EAGAIN) {
            watch(loop, c, EV_WRITE);
            return true;
        } else {
            close_conn(loop, c);
            return false;
        }
    }
    c->off = c->len = 0;
    watch(loop, c, EV_READ);
    return true;
}

void on_conn(struct ev_loop* loop, ev_io* w, int revents) {
    auto* c = reinterpret_cast<Conn*>(w);
    if (revents & EV_WRITE) {
        flush(loop, c);
        return;
    }
    ssize_t n;
    do n = read(c->fd, c->buf, kBuf);
    while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN) return;  // spurious
    if (n <= 0) {
        close_conn(loop, c);  // EOF or error
        return;
    }
    c->off = 0;
    c->len = static_cast<size_t>(n);
    flush(loop, c);
}

void on_accept(struct ev_loop* loop, ev_io* w, int) { peers::accept_all<Conn>(loop, w, "peer_libev_echo", on_conn); }

}  // namespace

int main(int argc, char** argv) { return peers::libev_server_main(argc, argv, on_accept); }
