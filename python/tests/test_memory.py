"""20,000 spawn/exit cycles leave no growth: resident memory, kernel
mappings and Python objects stay flat (each micro-thread's data stack, state
block, context and spawn record are given back)."""
import gc
import os
import sys
import unittest

import micro_threading as mt
from mt_testing import in_run


# Under AddressSanitizer (preloaded into an uninstrumented interpreter) freed
# memory sits in its quarantine, so resident memory grows by design there:
# only mappings, objects and allocated blocks are checked.
UNDER_ASAN = "libasan" in os.environ.get("LD_PRELOAD", "")
RSS_SLACK_PAGES = 1 << 30 if UNDER_ASAN else 256


def statm_resident_pages():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1])


def mappings():
    with open("/proc/self/maps") as f:
        return sum(1 for _ in f)


def body(i):
    x = [i] * 10  # frames on the data stack, objects, a context
    try:
        raise KeyError(i)
    except KeyError:
        mt.yield_()
    return len(x)


def cycles(n):
    for _ in range(n // 100):
        ts = [mt.micro_thread(body, i) for i in range(100)]
        for t in ts:
            t.wait()
        for i in range(20):
            mt.start_and_forget(body, i)
        p = mt.micro_pipe()
        mt.micro_thread(lambda: [p.put(i) for i in range(10)] and p.close())
        for _ in p:
            pass


def aborted_cycles(n):
    # Micro-threads aborted before they started: each is scheduled once, to
    # dispose of its spawn record, and must give back what its Python state
    # was handed there (a data-stack chunk from the cache the finished ones
    # of `cycles` fill).
    for _ in range(n // 100):
        ts = [mt.micro_thread(body, i) for i in range(100)]
        for t in ts:
            t.abort()
        for t in ts:
            try:
                t.wait()
            except mt.MicroThreadAborted:
                pass
        cycles(100)


class MemoryTests(unittest.TestCase):
    def assert_flat(self, fn, n):
        """fn(n) after fn(n // 10) to warm up pools, free lists and caches:
        resident memory, mappings, gc objects and allocated blocks stay flat."""
        fn(n // 10)
        gc.collect()
        rss0, maps0, objs0 = statm_resident_pages(), mappings(), len(gc.get_objects())
        blocks0 = sys.getallocatedblocks()
        fn(n)
        gc.collect()
        rss1, maps1, objs1 = statm_resident_pages(), mappings(), len(gc.get_objects())
        blocks1 = sys.getallocatedblocks()
        self.assertLessEqual(rss1 - rss0, RSS_SLACK_PAGES, "resident pages grew from %d to %d" % (rss0, rss1))
        self.assertLessEqual(maps1 - maps0, 2, "mappings grew from %d to %d" % (maps0, maps1))
        self.assertLessEqual(objs1 - objs0, 50, "gc objects grew from %d to %d" % (objs0, objs1))
        self.assertLessEqual(blocks1 - blocks0, 200, "allocated blocks grew from %d to %d" % (blocks0, blocks1))

    @in_run
    def test_twenty_thousand_spawn_exit_cycles_do_not_grow(self):
        self.assert_flat(cycles, 20000)

    @in_run
    def test_twenty_thousand_micro_threads_aborted_before_they_started_do_not_grow(self):
        self.assert_flat(aborted_cycles, 20000)

    def test_repeated_runs_do_not_grow(self):
        def one_run():
            mt.run(cycles, 500)

        one_run()
        gc.collect()
        rss0, maps0, blocks0 = statm_resident_pages(), mappings(), sys.getallocatedblocks()
        for _ in range(10):
            one_run()
        gc.collect()
        rss1, maps1, blocks1 = statm_resident_pages(), mappings(), sys.getallocatedblocks()
        self.assertLessEqual(rss1 - rss0, 2 * RSS_SLACK_PAGES, "resident pages grew from %d to %d" % (rss0, rss1))
        self.assertLessEqual(maps1 - maps0, 2, "mappings grew from %d to %d" % (maps0, maps1))
        self.assertLessEqual(blocks1 - blocks0, 200, "allocated blocks grew from %d to %d" % (blocks0, blocks1))


if __name__ == "__main__":
    unittest.main()
