"""gevent: spawn a greenlet running an empty function and join it. Prints
spawn_join_ns."""
import time

import gevent

from _common import report, setup

N = setup(100_000)


def nothing():
    pass


def loop(n):
    spawn = gevent.spawn
    for _ in range(n):
        spawn(nothing).join()


loop(N // 10)
t0 = time.perf_counter_ns()
loop(N)
report("spawn_join_ns", t0, N)
