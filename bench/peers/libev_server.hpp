// libev_server.hpp — what the libev floor servers share: the listening
// socket on 127.0.0.1, the loop, Ctrl-C, and the "listening on PORT" contract
// of pep_examples' servers. Each server supplies its accept callback.
//
// With `--threads N` (N > 1) the floor runs as ours does with the same flag
// (pep_examples/serve_on_cores.hpp): N OS threads, each with its own loop
// and its own listening socket on the same port (SO_REUSEPORT, so the kernel
// spreads the connections), nothing shared between them. SIGINT/SIGTERM are
// blocked in every thread and taken by the main thread (sigwait), which
// stops each loop through an ev_async.
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
#include <pthread.h>
#include <string>
#include <thread>
#include <vector>

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

// listen_on — a non-blocking listening socket on 127.0.0.1:port (0: any);
// with `reuseport`, one of several on the same port. Returns the port bound.
inline int listen_on(int port, bool reuseport, int* lfd_out) {
    const int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (lfd < 0) die("socket");
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (reuseport && setsockopt(lfd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) die("SO_REUSEPORT");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) die("bind");
    if (listen(lfd, SOMAXCONN) != 0) die("listen");
    socklen_t len = sizeof addr;
    if (getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) die("getsockname");
    *lfd_out = lfd;
    return ntohs(addr.sin_port);
}

// serve_threads — the --threads N mode (see the top of this file).
inline int serve_threads(int threads, int port, void (*on_accept)(struct ev_loop*, ev_io*, int)) {
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);  // inherited by every thread below
    struct server_thread {
        int lfd = -1;
        struct ev_loop* loop = nullptr;
        ev_async stop;
        ev_io accept_w;
    };
    std::vector<server_thread> ts(static_cast<size_t>(threads));
    for (auto& t : ts) {
        port = listen_on(port, true, &t.lfd);
        t.loop = ev_loop_new(EVBACKEND_EPOLL);
        if (!t.loop) die("ev_loop_new(EVBACKEND_EPOLL)");
        ev_io_init(&t.accept_w, on_accept, t.lfd, EV_READ);
        ev_io_start(t.loop, &t.accept_w);
        ev_async_init(&t.stop, [](struct ev_loop* l, ev_async*, int) { ev_break(l, EVBREAK_ALL); });
        ev_async_start(t.loop, &t.stop);
    }
    std::printf("listening on %d\n", port);
    std::fflush(stdout);
    std::vector<std::thread> running;
    for (auto& t : ts) running.emplace_back([&t] { ev_run(t.loop, 0); });
    int sig = 0;
    sigwait(&stop_signals, &sig);
    for (auto& t : ts) ev_async_send(t.loop, &t.stop);
    for (auto& r : running) r.join();
    for (auto& t : ts) {
        close(t.lfd);
        ev_loop_destroy(t.loop);
    }
    std::printf("interrupted; bye\n");
    return 0;
}

// libev_server_main — listens on the last argument (0 or none: any port),
// prints "listening on PORT", runs the loop with on_accept watching the
// listener until SIGINT/SIGTERM, then prints "interrupted; bye". With
// `--threads N` (1 to 64) anywhere in the arguments, N loops on N threads.
inline int libev_server_main(int argc, char** argv, void (*on_accept)(struct ev_loop*, ev_io*, int)) {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);
    int port = 0, threads = 1;
    for (int i = 1; i < argc; ++i) {
        if (std::string(argv[i]) == "--threads" && i + 1 < argc) {
            threads = std::atoi(argv[++i]);
            if (threads < 1 || threads > 64) {
                std::fprintf(stderr, "%s: --threads takes 1 to 64\n", argv[0]);
                return 2;
            }
        } else {
            port = std::atoi(argv[i]);
        }
    }
    if (threads > 1) return serve_threads(threads, port, on_accept);
    int lfd = -1;
    sockaddr_in addr{};
    addr.sin_port = htons(static_cast<uint16_t>(listen_on(port, false, &lfd)));

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
