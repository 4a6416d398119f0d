"""Shared by the Python benchmarks: argv[1] is the directory holding the
built micro_threading package (<build>/python), put first on sys.path;
argv[2], if given, the number of operations. Each program prints
"<metric> <value>" lines (run_bench.py reads them)."""
import sys
import time


def setup(default_n):
    if len(sys.argv) > 1 and sys.argv[1] not in ("", "-"):
        sys.path.insert(0, sys.argv[1])
    n = default_n
    if len(sys.argv) > 2 and sys.argv[2].isdigit() and int(sys.argv[2]) > 0:
        n = int(sys.argv[2])
    return n


def report(metric, t0, n):
    print("%s %.1f" % (metric, (time.perf_counter_ns() - t0) / n))
