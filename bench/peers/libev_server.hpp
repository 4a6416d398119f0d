// libev_server.hpp — what the libev floor servers share: the listening
// socket on 127.0.0.1, the loop, Ctrl-C, and the "listening on PORT" contract
// of pep_examples' servers. Each server supplies its accept callback.
#pragma once

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ev.h>

namespace peers {

inline void die(const char* what) {
    std::perror(what);
    std::exit(1);
}

// accept_all — the listener is readable: accepts until EAGAIN, giving each
// connection TCP_NODELAY (like ours) and a new Conn whose first member is an
// ev_io watching it for reads with on_conn. `who` names the server in errors.
template <class Conn>
void accept_all(struct ev_loop* loop, ev_io* w, const char* who, void (*on_conn)(struct ev_loop*, ev_io*, int)) {
    for (;;) {
        const int fd = accept4(w->fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno != EAGAIN) std::fprintf(stderr, "%s: accept: %s\n", who, std::strerror(errno));
            return;  // EAGAIN; EMFILE etc.: try again on the next readiness
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        auto* c = new Conn{};
        c->fd = fd;
        ev_io_init(&c->io, on_conn, fd, EV_READ);
        ev_io_start(loop, &c->io);
    }
}

// libev_server_main — listens on argv[1] (0 or none: any port), prints
// "listening on PORT", runs the loop with on_accept watching the listener
// until SIGINT/SIGTERM, then prints "interrupted; bye".
inline int libev_server_main(int argc, char** argv, void (*on_accept)(struct ev_loop*, ev_io*, int)) {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);
    const int port = argc > 1 ? std::atoi(argv[1]) : 0;
    const int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (lfd < 0) die("socket");
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) die("bind");
    if (listen(lfd, SOMAXCONN) != 0) die("listen");
    socklen_t len = sizeof addr;
    if (getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) die("getsockname");

    struct ev_loop* loop = ev_default_loop(EVBACKEND_EPOLL);
    if (!loop) die("ev_default_loop(EVBACKEND_EPOLL)");
    ev_io accept_w;
    ev_io_init(&accept_w, on_accept, lfd, EV_READ);
    ev_io_start(loop, &accept_w);
    auto stop = [](struct ev_loop* l, ev_signal*, int) { ev_break(l, EVBREAK_ALL); };
    ev_signal sigint_w, sigterm_w;
    ev_signal_init(&sigint_w, stop, SIGINT);
    ev_signal_start(loop, &sigint_w);
    ev_signal_init(&sigterm_w, stop, SIGTERM);
    ev_signal_start(loop, &sigterm_w);

    std::printf("listening on %u\n", ntohs(addr.sin_port));
    std::fflush(stdout);
    ev_run(loop, 0);
    close(lfd);
    std::printf("interrupted; bye\n");
    return 0;
}

}  // namespace peers
