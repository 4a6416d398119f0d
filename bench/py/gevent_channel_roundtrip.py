"""gevent: the same round trip through two gevent.queue.Channel objects
(unbuffered: a put waits for a getter). Prints pipe_roundtrip_ns."""
import time

import gevent
from gevent.queue import Channel

from _common import report, setup

N = setup(100_000)


def echo(a, b):
    while True:
        v = a.get()
        if v is None:
            return
        b.put(v)


def loop(a, b, n):
    put, get = a.put, b.get
    for i in range(n):
        put(i + 1)
        get()


a, b = Channel(), Channel()
g = gevent.spawn(echo, a, b)
loop(a, b, N // 10)
t0 = time.perf_counter_ns()
loop(a, b, N)
report("pipe_roundtrip_ns", t0, N)
a.put(None)
g.join()
