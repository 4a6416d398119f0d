"""micro_threading: start a micro-thread running an empty function and wait
for it. Prints spawn_join_ns."""
import time

from _common import report, setup

N = setup(200_000)
import micro_threading as mt  # noqa: E402


def nothing():
    pass


def loop(n):
    spawn = mt.micro_thread
    for _ in range(n):
        spawn(nothing).wait()


def main():
    loop(N // 10)
    t0 = time.perf_counter_ns()
    loop(N)
    report("spawn_join_ns", t0, N)


mt.run(main)
