"""micro_pipe: the table of docs/reference/pipes.md with Python objects; stdin/stdout
attachment and pipeline; generators by composition; references counted."""
import sys
import unittest

import micro_threading as mt
from mt_testing import in_run


def produce(p, values, close=True):
    for v in values:
        p.put(v)
    if close:
        p.close()


class PipeTests(unittest.TestCase):
    @in_run
    def test_values_flow_in_order_and_iteration_ends_at_close(self):
        p = mt.micro_pipe("numbers")
        mt.micro_thread(produce, p, range(5))
        self.assertEqual(list(p), [0, 1, 2, 3, 4])
        self.assertTrue(p.closed)
        self.assertEqual(p.name, "numbers")
        with self.assertRaises(StopIteration):
            p.get()
        self.assertEqual(p.get(default="end"), "end")

    @in_run
    def test_get_waits_and_put_waits_for_the_slot(self):
        p = mt.micro_pipe()
        log = []

        def putter():
            for i in range(3):
                p.put(i)
                log.append("put %d" % i)

        mt.micro_thread(putter)
        mt.yield_()
        self.assertEqual(log, ["put 0"])  # the second put waits for the slot
        self.assertEqual(p.get(), 0)
        self.assertEqual(p.get(), 1)
        self.assertEqual(p.get(), 2)

    @in_run
    def test_close_with_an_exception_raises_it_on_every_get(self):
        p = mt.micro_pipe()
        err = KeyError("upstream")
        p.put("last")
        p.close(err)
        self.assertEqual(p.get(), "last")
        for _ in range(2):
            with self.assertRaises(KeyError) as cm:
                p.get()
            self.assertIs(cm.exception, err)
        q = mt.micro_pipe()
        q.close(ValueError)  # a class is instantiated
        with self.assertRaises(ValueError):
            next(iter(q))
        with self.assertRaises(TypeError):
            mt.micro_pipe().close(42)

    @in_run
    def test_put_after_close_ends_the_putter_silently(self):
        p = mt.micro_pipe()
        log = []

        def putter():
            try:
                p.put(1)
                p.put(2)  # refills the slot when 1 is got, and returns
                p.put(3)  # waits: the reader closes
            finally:
                log.append("putter unwound")
            log.append("never")

        t = mt.micro_thread(putter)
        self.assertEqual(p.get(), 1)
        p.close_reader()
        with self.assertRaises(mt.MicroThreadAborted):
            t.wait()
        self.assertEqual(log, ["putter unwound"])
        with self.assertRaises(mt.MicroThreadExit):
            p.put(3)  # in main: caught here

    @in_run
    def test_timeouts_and_try_forms(self):
        p = mt.micro_pipe("slow")
        with self.assertRaisesRegex(mt.Timeout, "slow"):
            p.get(timeout=0.01)
        self.assertEqual(p.try_get(), (False, None))
        self.assertTrue(p.try_put("x"))
        self.assertFalse(p.try_put("y"))
        with self.assertRaises(mt.Timeout):
            p.put("z", timeout=0)
        self.assertEqual(p.try_get("d"), (True, "x"))
        p.close()
        with self.assertRaises(StopIteration):
            p.try_get()
        with self.assertRaises(mt.MicroThreadExit):
            p.try_put(1)
        with self.assertRaises(ValueError):
            p.get(timeout=-1)

    @in_run
    def test_fan_in_and_fan_out_first_come_first_served(self):
        p = mt.micro_pipe()
        results = mt.micro_pipe()

        def worker(tag):
            for v in p:
                results.put((tag, v))

        collected = mt.micro_thread(lambda: sorted(v for _, v in results))
        workers = [mt.micro_thread(worker, i) for i in range(3)]
        producers = [mt.micro_thread(produce, p, range(k * 10, k * 10 + 5), False) for k in range(2)]
        for t in producers:
            t.wait()
        p.close()
        for w in workers:
            w.wait()
        results.close()
        got = collected.wait()
        self.assertEqual(got, [0, 1, 2, 3, 4, 10, 11, 12, 13, 14])

    @in_run
    def test_references_are_counted_when_the_reader_is_gone(self):
        obj = object()
        base = sys.getrefcount(obj)
        p = mt.micro_pipe()
        p.put(obj)
        self.assertEqual(sys.getrefcount(obj), base + 1)
        p.close_reader()  # the value in the slot is dropped
        self.assertEqual(sys.getrefcount(obj), base)
        with self.assertRaises(mt.MicroThreadExit):
            p.put(obj)
        self.assertEqual(sys.getrefcount(obj), base)
        q = mt.micro_pipe()
        q.put(obj)
        del q  # the last reference to a pipe with a value in its slot
        self.assertEqual(sys.getrefcount(obj), base)
        r = mt.micro_pipe()
        with self.assertRaises(mt.Timeout):
            r.put(obj)
            r.put(obj, timeout=0.001)
        self.assertEqual(r.get(), obj)
        self.assertEqual(sys.getrefcount(obj), base)

    def test_pipe_lifetime_across_runs(self):
        p = mt.micro_pipe("outlives")
        mt.run(lambda: p.put("v"))
        with self.assertRaisesRegex(mt.UsageError, "ended"):
            mt.run(p.get)
        with self.assertRaisesRegex(mt.UsageError, "ended"):
            mt.run(p.put, 1)
        p.close()  # closing needs no engine: nothing can wait on it any more
        q = mt.micro_pipe("made outside")
        self.assertEqual(mt.run(lambda: (q.put(1), q.get())[1]), 1)
        repr(p)


class StdioTests(unittest.TestCase):
    @in_run
    def test_stdin_stdout_attachment(self):
        src, dst = mt.micro_pipe("src"), mt.micro_pipe("dst")

        def doubler():
            self.assertIs(mt.stdin(), src)
            self.assertIs(mt.stdout(), dst)
            for v in mt.stdin():
                mt.stdout().put(v * 2)

        t = mt.micro_thread(doubler, stdin=src, stdout=dst)
        mt.micro_thread(produce, src, [1, 2, 3], False)  # not closing: the attachment does
        self.assertIsNone(mt.stdin())
        got = []
        for _ in range(3):
            got.append(dst.get())
        src.close()
        self.assertEqual(list(dst), [])  # the stage ended: its stdout closed
        self.assertEqual(got, [2, 4, 6])
        t.wait()

    @in_run
    def test_a_writer_failure_travels_down_and_a_reader_exit_travels_up(self):
        def stage_fails():
            mt.stdout().put(1)
            raise KeyError("stage 1")

        def stage_passes():
            for v in mt.stdin():
                mt.stdout().put(v)

        a, b = mt.micro_pipe(), mt.micro_pipe()
        s1 = mt.micro_thread(stage_fails, stdout=a)
        s2 = mt.micro_thread(stage_passes, stdin=a, stdout=b)
        self.assertEqual(b.get(), 1)
        with self.assertRaisesRegex(KeyError, "stage 1"):
            b.get()
        for t in (s1, s2):  # the original exception, all the way down
            with self.assertRaisesRegex(KeyError, "stage 1"):
                t.wait()

        log = []

        def endless():
            try:
                i = 0
                while True:
                    mt.stdout().put(i)
                    i += 1
            finally:
                log.append("producer ended")

        c = mt.micro_pipe()
        prod = mt.micro_thread(endless, stdout=c)

        def takes_two():
            return [mt.stdin().get(), mt.stdin().get()]

        self.assertEqual(mt.micro_thread(takes_two, stdin=c).wait(), [0, 1])
        with self.assertRaises(mt.MicroThreadAborted):
            prod.wait()
        self.assertEqual(log, ["producer ended"])

    @in_run
    def test_generators_by_composition(self):
        def walk(tree):
            if isinstance(tree, list):
                for sub in tree:
                    walk(sub)  # its output lands in the same stdout, in order
            else:
                mt.stdout().put(tree)

        out = mt.micro_pipe()
        mt.micro_thread(walk, [1, [2, [3, 4]], [[5]], 6], stdout=out)
        self.assertEqual(list(out), [1, 2, 3, 4, 5, 6])

    @in_run
    def test_pipeline_returns_the_last_stage_and_raises_the_original_failure(self):
        def numbers():
            for i in range(5):
                mt.stdout().put(i)

        def squares():
            for v in mt.stdin():
                mt.stdout().put(v * v)

        def total():
            return sum(mt.stdin())

        self.assertEqual(mt.pipeline(numbers, squares, total), 30)

        def bad():
            for v in mt.stdin():
                if v == 3:
                    raise ValueError("bad value 3")
                mt.stdout().put(v)

        with self.assertRaisesRegex(ValueError, "bad value 3"):
            mt.pipeline(numbers, bad, total)
        with self.assertRaises(TypeError):
            mt.pipeline()
        src = mt.micro_pipe()
        mt.micro_thread(produce, src, [1, 2])
        self.assertEqual(mt.pipeline(total, stdin=src), 3)


if __name__ == "__main__":
    unittest.main()
