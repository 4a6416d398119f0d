// 07 — non-blocking I/O: an echo server and an HTTP/1.1 server in one program.
//
// Each server is a micro-thread looping on accept_d and starting one
// micro-thread per connection; the clients are micro-threads too. What to notice:
//   * accept_d, read_d, read_exact and write_all read like blocking calls but
//     suspend only their own micro-thread: two servers, their connections and
//     four clients all run at once on one OS thread;
//   * three echo clients talk at once, each gets back exactly its own words;
//     the HTTP client sends three requests on one keep-alive connection;
//   * stopping a server is an abort: MicroThreadExit is raised in accept_d,
//     its scope aborts the connections still open (main's idle connection
//     then reads end-of-stream), every fd is closed by its owner, and joining
//     the server throws micro_thread_aborted.
#include <cstdio>
#include <functional>
#include <span>
#include <stdexcept>
#include <string>
#include <system_error>

#include "core/microthreading.hpp"
#include "nonblocking_io/io.hpp"
#include "nonblocking_io/socket.hpp"

void echo(int c) {
    char buf[4096];
    while (std::size_t n = mt::read_d(c, buf, sizeof buf)) mt::write_all(c, std::string_view(buf, n));
}

void http(int c) {  // GET only; keep-alive until the client closes
    std::string in;
    int requests = 0;
    char buf[4096];
    for (;;) {
        std::size_t end;
        while ((end = in.find("\r\n\r\n")) == std::string::npos) {
            const std::size_t n = mt::read_d(c, buf, sizeof buf);
            if (n == 0) return;
            in.append(buf, n);
        }
        const std::string path = in.substr(4, in.find(' ', 4) - 4);
        in.erase(0, end + 4);
        const std::string body = "request " + std::to_string(++requests) + " on this connection: " + path + "\n";
        mt::write_all(c, "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
    }
}

// server — serves `listener` with handler `h` until aborted; counts the connections.
void server(mt::fd listener, void (*h)(int), int& accepted) {
    mt::scope connections;  // left by an abort: it aborts and joins the connections
    for (;;) {
        mt::fd c = mt::accept_d(listener.get());
        ++accepted;
        connections.spawn(mt::spawn_options{"connection"}, [h, c = std::move(c)]() mutable {
            mt::fd mine = std::move(c);  // closed however this micro-thread ends
            try { h(mine.get()); } catch (const std::system_error&) {}  // a reset ends this connection only
        });
    }
}

std::string read_reply(int s, std::string& in) {  // one HTTP reply, checked: status line | body
    char buf[4096];
    std::size_t end;
    while ((end = in.find("\r\n\r\n")) == std::string::npos) {
        const std::size_t n = mt::read_d(s, buf, sizeof buf);
        if (n == 0) throw std::runtime_error("the server closed mid-reply");
        in.append(buf, n);
    }
    const std::size_t length = std::stoul(in.substr(in.find("Content-Length: ") + 16));
    while (in.size() < end + 4 + length) in.append(buf, mt::read_d(s, buf, sizeof buf));
    const std::string status = in.substr(0, in.find("\r\n"));
    if (status != "HTTP/1.1 200 OK") throw std::runtime_error("unexpected reply: " + status);
    std::string reply = status + " | " + in.substr(end + 4, length - 1);
    in.erase(0, end + 4 + length);
    return reply;
}

int main() {
    mt::run([] {
        mt::fd el = mt::tcp_listen("127.0.0.1", 0), hl = mt::tcp_listen("127.0.0.1", 0);
        const std::uint16_t echo_port = mt::local_port(el.get()), http_port = mt::local_port(hl.get());
        int echo_accepted = 0, http_accepted = 0;
        auto echo_server = mt::spawn(mt::spawn_options{"echo server"}, server, std::move(el), echo, std::ref(echo_accepted));
        auto http_server = mt::spawn(mt::spawn_options{"http server"}, server, std::move(hl), http, std::ref(http_accepted));

        mt::fd idle = mt::tcp_connect("127.0.0.1", echo_port);  // main's own connection, idle from now on
        mt::write_all(idle.get(), "ping");
        char pong[4];
        mt::read_exact(idle.get(), std::as_writable_bytes(std::span(pong)));

        auto echo_client = [echo_port](std::string who) {
            mt::fd s = mt::tcp_connect("127.0.0.1", echo_port);
            std::string got = "echo client " + who + " got back:";
            for (const char* word : {"-alpha", "-beta", "-gamma"}) {
                const std::string msg = who + word;
                mt::write_all(s.get(), msg);
                std::string back(msg.size(), '\0');
                mt::read_exact(s.get(), std::as_writable_bytes(std::span(back)));
                got += " " + back;
            }
            return got;
        };
        auto http_client = [http_port] {
            mt::fd s = mt::tcp_connect("127.0.0.1", http_port);
            std::string in, got;
            for (const std::string path : {"/", "/hello", "/bye"}) {
                mt::write_all(s.get(), "GET " + path + " HTTP/1.1\r\nHost: localhost\r\n\r\n");
                got += "http client: GET " + path + " -> " + read_reply(s.get(), in) + "\n";
            }
            return got;
        };
        auto [a, b, c, h] = mt::start_in_parallel([&] { return echo_client("1"); }, [&] { return echo_client("2"); },
                                                  [&] { return echo_client("3"); }, http_client);
        std::printf("%s\n%s\n%s\n%s", a.c_str(), b.c_str(), c.c_str(), h.c_str());

        for (auto* s : {&echo_server, &http_server}) {
            s->abort();
            try {
                s->wait();
            } catch (const mt::micro_thread_aborted&) {
                std::printf("'%s' stopped: joining it threw micro_thread_aborted\n", s->name().c_str());
            }
        }
        std::printf("connections accepted: echo %d, http %d\n", echo_accepted, http_accepted);
        char buf[16];
        std::printf("main's idle echo connection reads %zu bytes: end-of-stream\n", mt::read_d(idle.get(), buf, sizeof buf));
    });
    std::printf("every micro-thread has ended\n");
}
