// nonblocking_io/socket.hpp — TCP (IPv4 and IPv6) and Unix-domain listeners
// and streams, non-blocking and close-on-exec, owned by mt::fd.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "fd.hpp"
#include "../notifier/notifier.hpp"

namespace mt {

struct listen_options {
    int backlog = 4096;
    bool reuse_address = true;  // SO_REUSEADDR: restart on a port in TIME_WAIT
    bool reuse_port = false;    // SO_REUSEPORT
};

// tcp_listen — a listening TCP socket on a numeric address ("127.0.0.1",
// "::1", "0.0.0.0", "::"; "" means every IPv4 address) and port (0: any;
// see local_port). Does not suspend. std::system_error naming the address.
fd tcp_listen(const std::string& address, std::uint16_t port, listen_options opts = {});
// unix_listen — a listening Unix-domain stream socket at `path` (an old
// socket file there is replaced).
fd unix_listen(const std::string& path, listen_options opts = {});

// accept_d — the next connection (non-blocking, close-on-exec). Suspends
// while none is pending. EMFILE/ENFILE (the fd limit) is a std::system_error
// saying so; the listener stays usable.
fd accept_d(int listener, deadline d = {});

// connect_d — connects `sock` to `addr`, suspending while the connection is
// in progress. std::system_error (ECONNREFUSED, ENETUNREACH, ...) naming the
// address, or timeout_error.
void connect_d(int sock, const sockaddr* addr, socklen_t len, deadline d = {});

// tcp_connect — resolves `host` (a name: on the worker pool; a numeric
// address: at once) and connects to the first address that accepts.
fd tcp_connect(const std::string& host, std::uint16_t port, deadline d = {});
// unix_connect — connects to a Unix-domain stream socket.
fd unix_connect(const std::string& path, deadline d = {});

// Socket options servers need.
void set_nodelay(int sock, bool on = true);  // TCP_NODELAY
std::uint16_t local_port(int sock);          // the port a socket is bound to

}  // namespace mt
