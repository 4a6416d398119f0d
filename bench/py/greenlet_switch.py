"""greenlet: one raw switch between two greenlets (the floor a switch of
Python micro-threads can reach). Prints switch_ns."""
import time

import greenlet

from _common import report, setup

N = setup(1_000_000)


def bounce(n):
    main = greenlet.getcurrent().parent
    for _ in range(n):
        main.switch()


def measure(n):
    g = greenlet.greenlet(bounce)
    g.switch(n)
    t0 = time.perf_counter_ns()
    for _ in range(n):
        g.switch()
    return t0


measure(N // 10)
t0 = measure(N)
report("switch_ns", t0, 2 * N)
