// echo_client: the common load generator for the TCP echo servers (ours,
// the Go twin, the libev floor). Written on plain epoll, not on our engine,
// so every server faces the very same client.
// Usage: echo_client PORT [CONNECTIONS=100] [SECONDS=2]
// Opens CONNECTIONS TCP connections to 127.0.0.1:PORT, sets TCP_NODELAY on
// each; every connection sends a 64-byte message, waits until all 64 bytes
// have come back (checked byte for byte), then sends the next. After a
// warm-up (a tenth of SECONDS, at most 0.5 s) it counts completed round trips
// for SECONDS and prints "echo_roundtrips_per_s <value>" (total round trips
// of all connections / elapsed seconds). Exits 1 on any error (refused,
// reset, closed early, wrong bytes).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

constexpr size_t kMsg = 64;

struct Conn {
    int fd = -1;
    size_t got = 0;   // bytes of the current echo received
    char msg[kMsg];   // what was sent
    char in[kMsg];
};

[[noreturn]] void die(const char* what) {
    std::fprintf(stderr, "echo_client: %s: %s\n", what, std::strerror(errno));
    std::exit(1);
}

void send_msg(Conn& c) {
    ssize_t n;
    do n = write(c.fd, c.msg, kMsg);
    while (n < 0 && errno == EINTR);
    // 64 bytes into an empty socket buffer: all or an error.
    if (n != static_cast<ssize_t>(kMsg)) die("write");
    c.got = 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: echo_client PORT [CONNECTIONS=100] [SECONDS=2]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    int port = std::atoi(argv[1]);
    long nconn = argc > 2 ? std::strtol(argv[2], nullptr, 10) : 100;
    double seconds = argc > 3 ? std::strtod(argv[3], nullptr) : 2.0;
    if (port <= 0 || nconn <= 0 || !(seconds > 0)) {
        std::fprintf(stderr, "echo_client: bad arguments\n");
        return 2;
    }
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) die("epoll_create1");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    std::vector<Conn> conns(static_cast<size_t>(nconn));
    for (size_t i = 0; i < conns.size(); ++i) {
        Conn& c = conns[i];
        // Blocking connect (loopback: immediate), then non-blocking I/O.
        c.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c.fd < 0) die("socket");
        if (connect(c.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) die("connect");
        int one = 1;
        if (setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) die("TCP_NODELAY");
        int fl = 1;
        if (ioctl(c.fd, FIONBIO, &fl) != 0) die("FIONBIO");
        for (size_t k = 0; k < kMsg; ++k) c.msg[k] = static_cast<char>('a' + (i + k) % 26);
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = i;
        if (epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev) != 0) die("epoll_ctl");
    }

    using clock = std::chrono::steady_clock;
    const double warm = std::min(0.5, seconds / 10);
    const auto t_start = clock::now();
    const auto t_measure = t_start + std::chrono::duration_cast<clock::duration>(
                                         std::chrono::duration<double>(warm));
    const auto t_end = t_measure + std::chrono::duration_cast<clock::duration>(
                                       std::chrono::duration<double>(seconds));
    for (Conn& c : conns) send_msg(c);

    long long trips = 0;
    bool measuring = false;
    clock::time_point t0{};
    std::vector<epoll_event> evs(256);
    for (;;) {
        int n = epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), 100);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait");
        }
        for (int e = 0; e < n; ++e) {
            Conn& c = conns[evs[e].data.u64];
            ssize_t r;
            do r = read(c.fd, c.in + c.got, kMsg - c.got);
            while (r < 0 && errno == EINTR);
            if (r < 0 && errno == EAGAIN) continue;
            if (r <= 0) {
                if (r == 0) errno = ECONNRESET;
                die("read (server closed or reset)");
            }
            c.got += static_cast<size_t>(r);
            if (c.got < kMsg) continue;
            if (std::memcmp(c.in, c.msg, kMsg) != 0) {
                std::fprintf(stderr, "echo_client: echo differs from what was sent\n");
                return 1;
            }
            ++trips;
            send_msg(c);
        }
        const auto now = clock::now();
        if (!measuring && now >= t_measure) {
            measuring = true;
            trips = 0;
            t0 = now;
        }
        if (measuring && now >= t_end) break;
    }
    const double elapsed = std::chrono::duration<double>(clock::now() - t0).count();
    std::printf("echo_roundtrips_per_s %.1f\n", static_cast<double>(trips) / elapsed);
    std::fflush(stdout);
    for (Conn& c : conns) close(c.fd);
    close(ep);
    std::fprintf(stderr, "echo_client: %ld connections, %lld round trips in %.3f s\n", nconn,
                 trips, elapsed);
    return 0;
}
