// http_server — an HTTP/1.1 server with keep-alive: one micro-thread per
// connection. Usage: http_server [PORT] [--threads N] (N engines on N OS
// threads, serve_on_cores.hpp). Prints "listening on PORT", serves
// until Ctrl-C. Routes: any path answers "Hello, world!\n"; /sleep?ms=N first
// sleeps N ms with sleep_d (other connections go on meanwhile), N at most
// 60000.
//
// What to notice: the handler is straight-line code; a half-written request,
// a client that never sends, or a reset fails that connection only. And it
// is bounded: each connection holds one fixed 8 KiB buffer and never more,
// whatever the client sends (limits and answers in http_request.hpp):
//   a head over 8 KiB                          -> 431, close
//   a request line or header out of the grammar -> 400, close
//   an HTTP major version other than 1          -> 505, close
//   Content-Length over 1 MiB                   -> 413, close, the body unread
//   Transfer-Encoding (chunked bodies)          -> 501, close
//   /sleep?ms=N with N not digits or over 60000 -> 400, the connection kept
// A body within the limit is read in buffer-sized pieces and dropped.
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "core/microthreading.hpp"
#include "nonblocking_io/io.hpp"
#include "nonblocking_io/server.hpp"
#include "nonblocking_io/socket.hpp"
#include "serve_on_cores.hpp"
#include "notifier/notifier.hpp"
#include "pep_examples/http_reply.hpp"
#include "pep_examples/http_request.hpp"

using namespace std::chrono_literals;

constexpr auto idle_timeout = 30s;  // each read of a head or a body waits at most this
// After an error answer, what the client still sends (the rest of a refused
// body) is dropped for at most this long and this much before the close, so
// the client reads the answer rather than a reset (a "lingering close").
constexpr auto linger_time = 1s;
constexpr std::size_t linger_bytes = 256 * 1024;

// input — a connection's unread bytes in a fixed buffer on its micro-thread's
// stack: they are bytes[begin, end), begin <= end <= max_head_bytes. A head
// must fit whole; a body only passes through.
struct input {
    char bytes[http::max_head_bytes];
    std::size_t begin = 0, end = 0;

    std::string_view unread() const { return {bytes + begin, end - begin}; }
    bool full() const { return end - begin == sizeof bytes; }

    // fill — moves the unread bytes to the front, then reads once into the
    // rest (waiting at most idle_timeout, timeout_error after). Returns false
    // at end-of-stream. Not when full().
    bool fill(int fd) {
        if (begin != 0) {
            std::memmove(bytes, bytes + begin, end - begin);
            end -= begin;
            begin = 0;
        }
        const std::size_t n = mt::read_d(fd, bytes + end, sizeof bytes - end, idle_timeout);
        end += n;
        return n != 0;
    }

    // discard — drops the next `n` bytes of the stream (a body), reading them
    // a buffer at a time; what follows them stays unread. Returns false if
    // the stream ends first.
    bool discard(int fd, std::uint64_t n) {
        const std::size_t here = static_cast<std::size_t>(std::min<std::uint64_t>(n, end - begin));
        begin += here;
        n -= here;
        while (n != 0) {
            begin = end = 0;
            end = mt::read_d(fd, bytes, sizeof bytes, idle_timeout);
            if (end == 0) return false;
            begin = static_cast<std::size_t>(std::min<std::uint64_t>(n, end));
            n -= begin;
        }
        return true;
    }
};

// read_head — reads until `in` starts with a whole head (empty lines before
// it are skipped, RFC 9112 2.2) and returns its size, up to and including the
// empty line that ends it. Returns 0 when the client closes first, or when
// the head does not fit in the buffer (then in.full()).
std::size_t read_head(int fd, input& in) {
    std::size_t scanned = 0;  // unread() holds no "\r\n\r\n" starting before this
    for (;;) {
        while (in.unread().starts_with("\r\n")) {
            in.begin += 2;
            scanned = 0;
        }
        const std::size_t at = in.unread().find("\r\n\r\n", scanned);
        if (at != std::string_view::npos) return at + 4;
        if (in.full()) return 0;
        scanned = std::max<std::size_t>(in.unread().size(), 3) - 3;
        if (!in.fill(fd)) return 0;
    }
}

// answer_and_close — answers `error` with "Connection: close", then closes
// gracefully: shuts down the sending side (the answer and a FIN go out) and
// drops what the client still sends, at most linger_bytes for at most
// linger_time, into `in`'s buffer. Nothing more is kept.
void answer_and_close(int fd, http::status error, input& in) {
    mt::write_all(fd, http::reply(error, true));
    ::shutdown(fd, SHUT_WR);
    const auto until = std::chrono::steady_clock::now() + linger_time;
    std::size_t dropped = 0;
    try {
        while (dropped < linger_bytes) {
            const auto left = until - std::chrono::steady_clock::now();
            if (left <= 0s) return;
            const std::size_t n = mt::read_d(fd, in.bytes, sizeof in.bytes, left);
            if (n == 0) return;
            dropped += n;
        }
    } catch (const mt::timeout_error&) {
        // the client neither sent more nor closed: close now
    }
}

// serve_connection — the handler of one connection, in its own micro-thread
// (mt::serve): answers requests in order until the client closes, asks to
// close (Connection: close, HTTP/1.0), or sends a request that is refused
// (then answer_and_close). Throws timeout_error after idle_timeout without a
// byte, std::system_error on a reset; serve() ends the connection for either.
void serve_connection(mt::fd conn) {
    const int fd = conn.get();
    input in;
    for (;;) {
        const std::size_t head_size = read_head(fd, in);
        if (head_size == 0) {
            if (in.full()) answer_and_close(fd, http::status::header_fields_too_large, in);
            return;  // else the client closed, perhaps mid-request
        }
        http::request_head req;  // views into in.bytes: used before the body is read
        http::status answer = http::parse_head(in.unread().substr(0, head_size - 2), req);
        if (answer == http::status::ok && req.content_length > http::max_body_bytes)
            answer = http::status::content_too_large;
        if (answer != http::status::ok) return answer_and_close(fd, answer, in);

        std::uint64_t sleep_ms = 0;
        if (req.target.starts_with("/sleep?ms=")) {
            const auto ms = http::parse_decimal(req.target.substr(10), http::max_sleep_ms);
            if (ms) sleep_ms = *ms;
            else answer = http::status::bad_request;  // the request is well framed: keep the connection
        }
        const bool close = !req.keep_alive;
        const bool head_only = req.method == "HEAD";
        in.begin += head_size;
        if (!in.discard(fd, req.content_length)) return;  // closed mid-body

        if (sleep_ms != 0) mt::sleep_d(std::chrono::milliseconds(sleep_ms));
        mt::write_all(fd, head_only ? http::reply_without_body(answer, close) : http::reply(answer, close));
        if (close) return;
    }
}

int main(int argc, char** argv) {
    const auto threads = example::take_threads_flag(argc, argv);
    const auto port = argc > 1 ? http::parse_decimal(argv[1], 65535) : std::optional<std::uint64_t>(0);
    if (!port || !threads) {
        std::fprintf(stderr, "usage: http_server [PORT] [--threads N]   (PORT: 0 to 65535, 0 or none: any; N: 1 to 1024)\n");
        return 2;
    }
    mt::raise_fd_limit();  // thousands of connections need thousands of fds
    try {
        example::serve_on_cores(*threads, static_cast<std::uint16_t>(*port), serve_connection);
    } catch (const mt::interrupted_error&) {
        std::printf("interrupted; bye\n");
    }
}
