"""micro_threading: one switch = one yield_() between two micro-threads that
do nothing else (each yield switches to the other). Prints switch_ns."""
import time

from _common import report, setup

N = setup(1_000_000)
import micro_threading as mt  # noqa: E402


def spin(n):
    y = mt.yield_
    for _ in range(n):
        y()


def main():
    a = mt.micro_thread(spin, N // 10)
    spin(N // 10)  # warm up
    a.wait()
    b = mt.micro_thread(spin, N)
    mt.yield_()
    t0 = time.perf_counter_ns()
    spin(N)
    b.wait()
    report("switch_ns", t0, 2 * N)


mt.run(main)
