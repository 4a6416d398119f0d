// libev_socketpair.hpp — what the libev socketpair ping-pong twins share
// (peer_libev_pingpong, peer_libev_stackful_pingpong), so that both make the
// same system calls: one non-blocking AF_UNIX SOCK_STREAM socketpair, one
// libev loop on epoll, and one read watcher per end, started for the whole
// run. Each program supplies the watchers' callback and what a party does.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <ev.h>
#include <sys/socket.h>
#include <unistd.h>

namespace peers {

inline void die(const char* what) {
    std::perror(what);
    std::exit(1);
}

struct libev_socketpair {
    int fd[2] = {-1, -1};
    struct ev_loop* loop = nullptr;
    ev_io* io[2] = {nullptr, nullptr};

    // The pair and the loop; io[i] watches fd[i] for reads with `on_readable`.
    libev_socketpair(ev_io* io0, ev_io* io1, void (*on_readable)(struct ev_loop*, ev_io*, int)) : io{io0, io1} {
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fd) != 0) die("socketpair");
        loop = ev_loop_new(EVBACKEND_EPOLL);
        if (!loop) die("ev_loop_new(EVBACKEND_EPOLL)");
        for (int i = 0; i < 2; ++i) {
            ev_io_init(io[i], on_readable, fd[i], EV_READ);
            ev_io_start(loop, io[i]);
        }
    }
    ~libev_socketpair() {
        for (ev_io* w : io) ev_io_stop(loop, w);
        ev_loop_destroy(loop);
        close(fd[0]);
        close(fd[1]);
    }
    libev_socketpair(const libev_socketpair&) = delete;
    libev_socketpair& operator=(const libev_socketpair&) = delete;
};

}  // namespace peers
