"""micro_threading twin of mt_socket_pingpong: 1-byte ping-pong over a
non-blocking AF_UNIX socketpair, main and an echo micro-thread on the
engine's reactor (recv_d/send_d). Prints socket_roundtrip_ns."""
import socket
import time

from _common import report, setup

N = setup(30_000)
import micro_threading as mt  # noqa: E402

MSG = b"x"


def echo(s):
    recv, send = mt.recv_d, mt.send_d
    while True:
        m = recv(s, 1)
        if not m:
            return
        send(s, m)


def loop(s, n):
    recv, send = mt.recv_d, mt.send_d
    for _ in range(n):
        send(s, MSG)
        if len(recv(s, 1)) != 1:
            raise SystemExit("short read")


def main():
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    t = mt.micro_thread(echo, b)
    loop(a, N // 10)
    t0 = time.perf_counter_ns()
    loop(a, N)
    report("socket_roundtrip_ns", t0, N)
    a.close()
    t.wait()
    b.close()


mt.run(main)
