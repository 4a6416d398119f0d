// peer_libev_http: the libev floor for pep_examples/http_server. An HTTP/1.1
// keep-alive hello-world server written directly on libev callbacks, in one
// thread on one loop (EVBACKEND_EPOLL): a non-blocking listening socket with
// an ev_io that accepts until EAGAIN, one ev_io per connection that reads,
// finds each request's end ("\r\n\r\n", plus a Content-Length body, which is
// skipped), and answers every complete request with the very bytes
// http_server answers for "/":
//   HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 14\r\n\r\nHello, world!\n
// ("Connection: close" added, and the connection closed, when the client
// asks for it or speaks HTTP/1.0, like ours). Replies to all the requests of
// one read go out in one write; what the socket does not take waits for
// EV_WRITE. Accepted sockets get TCP_NODELAY, like ours.
// Usage: peer_libev_http [PORT] (0 or none: any port). Prints
// "listening on PORT", serves 127.0.0.1 until SIGINT (or SIGTERM).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ev.h>

#include "libev_server.hpp"
#include <string>
#include <string_view>

namespace {

constexpr std::string_view kReply =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 14\r\n\r\nHello, world!\n";
constexpr std::string_view kReplyClose =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 14\r\n"
    "Connection: close\r\n\r\nHello, world!\n";
constexpr size_t kMaxHead = 65536;

struct Conn {
    ev_io io;          // first member: the callback casts ev_io* back to Conn*
    int fd;
    std::string in;    // bytes received, not yet consumed
    std::string out;   // reply bytes not yet written
    size_t body_left = 0;  // request body bytes still to skip
    bool closing = false;  // close once `out` is flushed
};


char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

// Value of header `name` (lower-case, with the colon) in `head`, lower-cased.
std::string header(std::string_view head, std::string_view name) {
    size_t pos = 0;
    while ((pos = head.find("\r\n", pos)) != std::string_view::npos) {
        pos += 2;
        if (head.size() - pos < name.size()) break;
        bool eq = true;
        for (size_t i = 0; i < name.size() && eq; ++i) eq = lower(head[pos + i]) == name[i];
        if (!eq) continue;
        size_t from = pos + name.size();
        while (from < head.size() && head[from] == ' ') ++from;
        size_t end = head.find("\r\n", from);
        if (end == std::string_view::npos) end = head.size();
        std::string v(head.substr(from, end - from));
        for (char& c : v) c = lower(c);
        return v;
    }
    return {};
}

void close_conn(struct ev_loop* loop, Conn* c) {
    ev_io_stop(loop, &c->io);
    close(c->fd);
    delete c;
}

// Write as much of c->out as the socket takes; watch EV_WRITE for the rest.
// Returns false when the connection was closed.
bool flush(struct ev_loop* loop, Conn* c) {
    size_t done = 0;
    while (done < c->out.size()) {
        ssize_t n = write(c->fd, c->out.data() + done, c->out.size() - done);
        if (n > 0) {
            done += static_cast<size_t>(n);
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && errno == EAGAIN) {
            break;
        } else {
            close_conn(loop, c);
            return false;
        }
    }
    c->out.erase(0, done);
    int want = c->out.empty() ? EV_READ : EV_WRITE;
    if (c->out.empty() && c->closing) {
        close_conn(loop, c);
        return false;
    }
    if ((c->io.events & (EV_READ | EV_WRITE)) != want) {
        ev_io_stop(loop, &c->io);
        ev_io_set(&c->io, c->fd, want);
        ev_io_start(loop, &c->io);
    }
    return true;
}

// Consume every complete request in c->in, appending replies to c->out.
// Returns false on a protocol error (headers too large).
bool parse(Conn* c) {
    size_t pos = 0;
    for (;;) {
        if (c->body_left) {
            size_t take = std::min(c->body_left, c->in.size() - pos);
            pos += take;
            c->body_left -= take;
            if (c->body_left) break;
        }
        size_t end = c->in.find("\r\n\r\n", pos);
        if (end == std::string::npos) {
            if (c->in.size() - pos > kMaxHead) return false;
            break;
        }
        std::string_view head(c->in.data() + pos, end + 2 - pos);
        pos = end + 4;
        std::string cl = header(head, "content-length:");
        if (!cl.empty()) c->body_left = std::strtoul(cl.c_str(), nullptr, 10);
        bool close = header(head, "connection:") == "close" ||
                     head.find("HTTP/1.0") != std::string_view::npos;
        if (close) {
            c->out.append(kReplyClose);
            c->closing = true;
            pos = c->in.size();  // ignore anything after
            break;
        }
        c->out.append(kReply);
    }
    c->in.erase(0, pos);
    return true;
}

void on_conn(struct ev_loop* loop, ev_io* w, int revents) {
    auto* c = reinterpret_cast<Conn*>(w);
    if (revents & EV_WRITE) {
        flush(loop, c);
        return;
    }
    char buf[8192];
    for (;;) {
        ssize_t n = read(c->fd, buf, sizeof buf);
        if (n > 0) {
            c->in.append(buf, static_cast<size_t>(n));
            if (static_cast<size_t>(n) < sizeof buf) break;  // drained, most likely
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) break;
        close_conn(loop, c);  // EOF or error
        return;
    }
    if (!parse(c)) {
        close_conn(loop, c);
        return;
    }
    if (!c->out.empty()) flush(loop, c);
}

void on_accept(struct ev_loop* loop, ev_io* w, int) { peers::accept_all<Conn>(loop, w, "peer_libev_http", on_conn); }

}  // namespace

int main(int argc, char** argv) { return peers::libev_server_main(argc, argv, on_accept); }
