// nonblocking_io/socket.cpp — listeners, accept, connect, resolution.
#include "nonblocking_io/socket.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>
#include <vector>

#include "core/detail/sys.hpp"
#include "core/engine.hpp"
#include "nonblocking_io/detail/op.hpp"
#include "nonblocking_io/worker_pool.hpp"

namespace mt {
namespace {

[[noreturn]] void fail(int err, const std::string& what) {
    throw std::system_error(err, std::generic_category(), what);
}

// context_of — what `e` says before its errno's text (a std::system_error's
// what() is "<context>: <strerror>"), so that wrapping it in one more layer
// of context does not say the errno twice.
std::string context_of(const std::system_error& e) {
    std::string w = e.what();
    const std::string tail = ": " + e.code().message();
    if (w.size() >= tail.size() && w.compare(w.size() - tail.size(), tail.size(), tail) == 0)
        w.resize(w.size() - tail.size());
    return w;
}

fd new_socket(int domain, const std::string& what) {
    const int s = detail::sys().socket(domain, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0) fail(errno, what);
    return fd(s);
}

std::string endpoint(const std::string& address, std::uint16_t port) {
    return (address.find(':') != std::string::npos ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

// numeric_address — parses a numeric IPv4/IPv6 address, or returns false.
bool numeric_address(const std::string& address, std::uint16_t port, sockaddr_storage& out, socklen_t& len) {
    std::memset(&out, 0, sizeof out);
    auto* v4 = reinterpret_cast<sockaddr_in*>(&out);
    if (address.empty() || ::inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        if (address.empty()) v4->sin_addr.s_addr = htonl(INADDR_ANY);
        len = sizeof(sockaddr_in);
        return true;
    }
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&out);
    if (::inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        len = sizeof(sockaddr_in6);
        return true;
    }
    return false;
}

void listen_on(fd& s, const sockaddr* addr, socklen_t len, const listen_options& opts, const std::string& what) {
    const int one = 1;
    if (opts.reuse_address) ::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (opts.reuse_port) ::setsockopt(s.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (::bind(s.get(), addr, len) != 0) fail(errno, what + ": bind");
    if (::listen(s.get(), opts.backlog) != 0) fail(errno, what + ": listen");
}

}  // namespace

fd tcp_listen(const std::string& address, std::uint16_t port, listen_options opts) {
    const std::string what = "tcp_listen(" + endpoint(address, port) + ")";
    sockaddr_storage ss;
    socklen_t len = 0;
    if (!numeric_address(address, port, ss, len)) fail(EINVAL, what + ": not a numeric address");
    fd s = new_socket(ss.ss_family, what);
    listen_on(s, reinterpret_cast<sockaddr*>(&ss), len, opts, what);
    return s;
}

// unix_address — the sockaddr of a Unix-domain socket at `path`.
static sockaddr_un unix_address(const std::string& path, const std::string& what) {
    sockaddr_un sa{};
    if (path.size() >= sizeof sa.sun_path) fail(ENAMETOOLONG, what);
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
    return sa;
}

fd unix_listen(const std::string& path, listen_options opts) {
    const std::string what = "unix_listen(" + path + ")";
    sockaddr_un sa = unix_address(path, what);
    ::unlink(path.c_str());
    fd s = new_socket(AF_UNIX, what);
    opts.reuse_address = false;
    listen_on(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa, opts, what);
    return s;
}

fd accept_d(int listener, deadline d) {
    detail::op_context ctx("accept_d", listener, d);
    for (;;) {
        const int c = detail::sys().accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c >= 0) return fd(c);
        const int err = errno;
        if (err == EINTR || err == ECONNABORTED) continue;
        if (err == EAGAIN || err == EWOULDBLOCK) {
            ctx.wait(false);
            continue;
        }
        if (err == EMFILE || err == ENFILE) {
            throw std::system_error(err, std::generic_category(),
                                    ctx.what() + ": the fd limit is reached; the connection stays queued");
        }
        ctx.fail(err);
    }
}

void connect_d(int sock, const sockaddr* addr, socklen_t len, deadline d) {
    detail::op_context ctx("connect_d", sock, d);
    for (;;) {
        if (detail::sys().connect(sock, addr, len) == 0) return;
        const int err = errno;
        if (err == EINTR) continue;
        if (err == EINPROGRESS || err == EALREADY) break;
        ctx.fail(err);
    }
    ctx.wait(true);  // writable: the connection attempt finished
    int so_error = 0;
    socklen_t sl = sizeof so_error;
    if (::getsockopt(sock, SOL_SOCKET, SO_ERROR, &so_error, &sl) != 0) ctx.fail(errno);
    if (so_error != 0) ctx.fail(so_error);
}

fd tcp_connect(const std::string& host, std::uint16_t port, deadline d) {
    const std::string what = "tcp_connect(" + endpoint(host, port) + ")";
    std::vector<sockaddr_storage> addrs;
    std::vector<socklen_t> lens;
    sockaddr_storage ss;
    socklen_t len = 0;
    if (numeric_address(host, port, ss, len)) {
        addrs.push_back(ss);
        lens.push_back(len);
    } else {
        // Name resolution blocks: it runs on the worker pool.
        struct resolved {
            std::vector<sockaddr_storage> addrs;
            std::vector<socklen_t> lens;
        };
        resolved r = submit_work([host, port, what] {
            addrinfo hints{};
            hints.ai_socktype = SOCK_STREAM;
            addrinfo* res = nullptr;
            const int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
            if (rc != 0) {
                throw std::system_error(rc == EAI_SYSTEM ? errno : EHOSTUNREACH, std::generic_category(),
                                        what + ": cannot resolve '" + host + "': " + ::gai_strerror(rc));
            }
            resolved out;
            for (addrinfo* a = res; a; a = a->ai_next) {
                sockaddr_storage s{};
                std::memcpy(&s, a->ai_addr, a->ai_addrlen);
                out.addrs.push_back(s);
                out.lens.push_back(static_cast<socklen_t>(a->ai_addrlen));
            }
            ::freeaddrinfo(res);
            return out;
        });
        addrs = std::move(r.addrs);
        lens = std::move(r.lens);
    }
    std::exception_ptr last;
    for (std::size_t i = 0; i < addrs.size(); ++i) {
        try {
            fd s = new_socket(addrs[i].ss_family, what);
            connect_d(s.get(), reinterpret_cast<sockaddr*>(&addrs[i]), lens[i], d);
            return s;
        } catch (const std::system_error&) {
            last = std::current_exception();
        }
    }
    try {
        if (last) std::rethrow_exception(last);
    } catch (const std::system_error& e) {
        fail(e.code().value(), what + ": " + context_of(e));
    }
    fail(EHOSTUNREACH, what + ": no address");
}

fd unix_connect(const std::string& path, deadline d) {
    const std::string what = "unix_connect(" + path + ")";
    sockaddr_un sa = unix_address(path, what);
    fd s = new_socket(AF_UNIX, what);
    try {
        connect_d(s.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa, d);
    } catch (const std::system_error& e) {
        fail(e.code().value(), what + ": " + context_of(e));
    }
    return s;
}

void set_nodelay(int sock, bool on) {
    const int v = on ? 1 : 0;
    if (::setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v) != 0)
        fail(errno, "set_nodelay(fd " + std::to_string(sock) + ")");
}

std::uint16_t local_port(int sock) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getsockname(sock, reinterpret_cast<sockaddr*>(&ss), &len) != 0)
        fail(errno, "local_port(fd " + std::to_string(sock) + ")");
    if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
    if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
    return 0;
}

}  // namespace mt
