#!/usr/bin/python3
"""gevent twin of mt_socket_pingpong (run with Debian's /usr/bin/python3).

A non-blocking AF_UNIX SOCK_STREAM pair from gevent.socket.socketpair(), both
parties in one OS thread on gevent's hub (libev/libuv loop): one round trip =
the main greenlet sends a 1-byte message, an echo greenlet receives it and
sends it back, the main greenlet receives it. N round trips (argv[1], default
30,000) after N/10 warm-up ones. Prints socket_roundtrip_ns = elapsed / N.
"""
import sys
import time

import gevent
import gevent.socket

MSG = b'x'  # 1-byte message, the same size in every twin


def echo(s):
    while True:
        m = s.recv(len(MSG))
        if not m:  # peer closed
            return
        s.sendall(m)


def roundtrip(s, n):
    t0 = time.perf_counter_ns()
    for _ in range(n):
        s.sendall(MSG)
        if len(s.recv(len(MSG))) != len(MSG):
            sys.exit('short read')
    return (time.perf_counter_ns() - t0) / n


def main():
    n = 30000
    if len(sys.argv) > 1 and sys.argv[1].isdigit() and int(sys.argv[1]) > 0:
        n = int(sys.argv[1])
    a, b = gevent.socket.socketpair()  # AF_UNIX, SOCK_STREAM, cooperative
    g = gevent.spawn(echo, b)
    roundtrip(a, n // 10 + 1)  # warm-up
    print('socket_roundtrip_ns %.1f' % roundtrip(a, n), flush=True)
    a.close()
    g.join()
    b.close()


if __name__ == '__main__':
    main()
