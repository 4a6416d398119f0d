// nonblocking_io/server.hpp — the accept loop every server needs.
//
//   mt::fd l = mt::tcp_listen("127.0.0.1", 8080);
//   mt::serve(l.get(), [](mt::fd conn) { ... straight-line handler ... });
#pragma once

#include <cstddef>
#include <functional>
#include <string_view>

#include "fd.hpp"

namespace mt {

// serve — accepts connections on `listener` until the calling micro-thread is
// aborted or interrupted, each served by handler(conn) in its own detached
// micro-thread named `name` (TCP_NODELAY set on TCP connections). An exception
// from a handler (a reset, a timeout, a broken request) ends that connection
// only. At the fd limit (EMFILE/ENFILE) it logs the refusal to stderr once per
// episode, waits 10 ms and accepts again; the connections it has keep being
// served. Other accept errors are thrown.
void serve(int listener, std::function<void(fd)> handler, std::string_view name = "connection");

// raise_fd_limit — raises this process's soft RLIMIT_NOFILE to its hard
// limit (a server holding thousands of connections needs it); returns it.
std::size_t raise_fd_limit();

}  // namespace mt
