// tests/stream_pair.hpp — two connected non-blocking stream sockets
// (socketpair), each owned by an mt::fd, for the I/O tests.
#pragma once

#include <sys/socket.h>

#include <doctest/doctest.h>

#include "nonblocking_io/fd.hpp"

namespace mt_test {

struct stream_pair {
    mt::fd a, b;
    stream_pair() {
        int sv[2];
        REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
        a = mt::fd(sv[0]);
        b = mt::fd(sv[1]);
    }
};

}  // namespace mt_test
