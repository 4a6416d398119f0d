"""micro_threading: a round trip through two micro_pipes — main puts a value
to A, an echo micro-thread gets it and puts it to B, main gets it. Prints
pipe_roundtrip_ns."""
import time

from _common import report, setup

N = setup(300_000)
import micro_threading as mt  # noqa: E402


def echo(a, b):
    for v in a:
        b.put(v)


def loop(a, b, n):
    put, get = a.put, b.get
    for i in range(n):
        put(i)
        get()


def main():
    a, b = mt.micro_pipe("a"), mt.micro_pipe("b")
    t = mt.micro_thread(echo, a, b)
    loop(a, b, N // 10)
    t0 = time.perf_counter_ns()
    loop(a, b, N)
    report("pipe_roundtrip_ns", t0, N)
    a.close()
    t.wait()


mt.run(main)
