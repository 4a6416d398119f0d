// http_server — an HTTP/1.1 server with keep-alive: one micro-thread per
// connection. Usage: http_server [PORT]. Prints "listening on PORT", serves
// until Ctrl-C. Routes: any path answers "Hello, world!\n"; /sleep?ms=N first
// sleeps N ms with sleep_d (other connections go on meanwhile).
//
// What to notice: the handler is straight-line code; a half-written request,
// a client that never sends, or a reset fails that connection only.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <system_error>

#include "core/microthreading.hpp"
#include "nonblocking_io/io.hpp"
#include "nonblocking_io/server.hpp"
#include "nonblocking_io/socket.hpp"
#include "notifier/notifier.hpp"

using namespace std::chrono_literals;

// header — the value of header `name` (given lower-case, with its colon) in
// `lower`, the request head already lower-cased; "" when absent.
std::string_view header(std::string_view lower, std::string_view name) {
    const auto at = lower.find(name);
    if (at == std::string_view::npos || at < 2 || lower[at - 1] != '\n') return {};
    auto from = at + name.size();
    while (from < lower.size() && lower[from] == ' ') ++from;
    return lower.substr(from, lower.find('\r', from) - from);
}

constexpr std::string_view hello_keep_alive =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 14\r\n\r\nHello, world!\n";
constexpr std::string_view hello_close =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 14\r\nConnection: close\r\n\r\nHello, world!\n";

void serve_connection(mt::fd conn) {
    std::string buf;
    char chunk[8192];
    for (;;) {
        std::size_t end;
        while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
            if (buf.size() > 65536) return;  // headers too large
            const std::size_t n = mt::read_d(conn.get(), chunk, sizeof chunk, 30s);  // idle keep-alive: 30 s
            if (n == 0) return;  // closed, perhaps mid-request
            buf.append(chunk, n);
        }
        std::string head = buf.substr(0, end + 2);
        buf.erase(0, end + 4);
        const std::string target = head.substr(head.find(' ') + 1, head.find(' ', head.find(' ') + 1) - head.find(' ') - 1);
        const bool http10 = head.compare(head.find("\r\n") - 8, 8, "HTTP/1.0") == 0;
        for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        const std::size_t body = std::strtoul(std::string(header(head, "content-length:")).c_str(), nullptr, 10);
        while (buf.size() < body) {  // a request body: read and ignore it
            const std::size_t n = mt::read_d(conn.get(), chunk, sizeof chunk, 30s);
            if (n == 0) return;
            buf.append(chunk, n);
        }
        buf.erase(0, body);
        if (target.rfind("/sleep?ms=", 0) == 0) mt::sleep_d(std::chrono::milliseconds(std::atoi(target.c_str() + 10)));
        const bool close = http10 || header(head, "connection:") == "close";
        mt::write_all(conn.get(), close ? hello_close : hello_keep_alive);
        if (close) return;
    }
}

int main(int argc, char** argv) {
    mt::raise_fd_limit();  // thousands of connections need thousands of fds
    const auto port = static_cast<std::uint16_t>(argc > 1 ? std::atoi(argv[1]) : 0);
    try {
        mt::run([port] {
            mt::handle_interrupts();  // Ctrl-C ends the server cleanly from here on
            mt::fd listener = mt::tcp_listen("127.0.0.1", port);
            std::printf("listening on %u\n", mt::local_port(listener.get()));
            std::fflush(stdout);
            mt::serve(listener.get(), serve_connection);  // one micro-thread per connection
        });
    } catch (const mt::interrupted_error&) {
        std::printf("interrupted; bye\n");
    }
}
