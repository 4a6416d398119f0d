"""select over pipes, and the synchronization toolbox: Semaphore, Event,
Barrier, Queue."""
import sys
import unittest

import micro_threading as mt
from mt_testing import in_run


class SelectTests(unittest.TestCase):
    @in_run
    def test_select_gets_from_the_pipe_that_has_a_value(self):
        a, b = mt.micro_pipe("a"), mt.micro_pipe("b")
        mt.micro_thread(b.put, "from b")
        self.assertEqual(mt.select(a, b), (1, "from b"))

    @in_run
    def test_select_waits_for_the_first_and_times_out(self):
        a, b = mt.micro_pipe("a"), mt.micro_pipe("b")

        def later():
            mt.sleep_d(0.01)
            a.put("late")

        mt.micro_thread(later)
        self.assertEqual(mt.select(a, b), (0, "late"))
        with self.assertRaises(mt.Timeout):
            mt.select(a, b, timeout=0.01)
        with self.assertRaises(mt.Timeout):
            mt.select(timeout=0.001)  # no case: waits for the timeout

    @in_run
    def test_put_cases_disabled_cases_and_end_of_stream(self):
        a, b = mt.micro_pipe("a"), mt.micro_pipe("b")
        obj = object()
        base = sys.getrefcount(obj)
        self.assertEqual(mt.select(None, (b, obj)), (1, None))  # the slot is free: the put happens
        self.assertIs(b.get(), obj)
        self.assertEqual(sys.getrefcount(obj), base)
        b.put(1)  # full now: a put case cannot happen
        with self.assertRaises(mt.Timeout):
            mt.select((b, obj), timeout=0.001)
        self.assertEqual(sys.getrefcount(obj), base)  # the unchosen value stays ours
        a.close()
        self.assertEqual(mt.select(a, None), (0, mt.END_OF_STREAM))
        a2 = mt.micro_pipe()
        a2.close(KeyError("closed with"))
        with self.assertRaises(KeyError):
            mt.select(a2)
        with self.assertRaises(mt.MicroThreadExit):
            mt.select((a, obj))
        self.assertEqual(sys.getrefcount(obj), base)
        with self.assertRaises(TypeError):
            mt.select(42)
        with self.assertRaises(TypeError):
            mt.select(a, color=1)

    @in_run
    def test_select_chooses_at_random_among_ready_cases(self):
        pipes = [mt.micro_pipe() for _ in range(3)]
        seen = set()
        for _ in range(60):
            for p in pipes:
                p.try_put(1)
            i, _ = mt.select(*pipes)
            seen.add(i)
        self.assertEqual(seen, {0, 1, 2})

    @in_run
    def test_an_aborted_select_leaves_nothing(self):
        p = mt.micro_pipe()
        t = mt.micro_thread(mt.select, p)
        mt.yield_()
        t.abort()
        with self.assertRaises(mt.MicroThreadAborted):
            t.wait()
        p.put("still there")
        self.assertEqual(p.get(), "still there")


class SemaphoreTests(unittest.TestCase):
    @in_run
    def test_permits_fifo_and_context_manager(self):
        s = mt.Semaphore(2, name="slots")
        order = []

        def user(i):
            with s:
                order.append(("in", i))
                mt.sleep_d(0.01)
                order.append(("out", i))

        ts = [mt.micro_thread(user, i) for i in range(4)]
        for t in ts:
            t.wait()
        self.assertEqual(order[:2], [("in", 0), ("in", 1)])
        self.assertEqual(s.available, 2)
        self.assertTrue(s.try_acquire())
        self.assertTrue(s.try_acquire())
        self.assertFalse(s.try_acquire())
        with self.assertRaises(mt.Timeout):
            s.acquire(timeout=0.01)
        s.release(2)
        b = mt.Semaphore(1, bounded=True)
        with self.assertRaises(mt.UsageError):
            b.release()
        with self.assertRaises(ValueError):
            mt.Semaphore(-1)


class EventBarrierTests(unittest.TestCase):
    @in_run
    def test_event_wakes_every_waiter(self):
        e = mt.Event("go")
        woke = []
        ts = [mt.micro_thread(lambda i=i: (e.wait(), woke.append(i))) for i in range(3)]
        mt.yield_()
        self.assertFalse(e.is_set())
        e.set()
        for t in ts:
            t.wait()
        self.assertEqual(sorted(woke), [0, 1, 2])
        e.wait()  # set: at once
        e.clear()
        with self.assertRaises(mt.Timeout):
            e.wait(timeout=0.01)

    @in_run
    def test_barrier_releases_when_all_parties_wait(self):
        b = mt.Barrier(3)
        ts = [mt.micro_thread(b.wait) for _ in range(3)]
        self.assertEqual(sorted(t.wait() for t in ts), [0, 1, 2])
        with self.assertRaises(mt.Timeout):
            b.wait(timeout=0.01)
        with self.assertRaises(ValueError):
            mt.Barrier(0)


class MutexConditionTests(unittest.TestCase):
    @in_run
    def test_mutex_is_fifo_and_a_context_manager(self):
        m = mt.Mutex(name="accounts")
        order = []

        def user(i):
            with m:
                order.append(i)
                mt.sleep_d(0.001)

        ts = [mt.micro_thread(user, i) for i in range(4)]
        for t in ts:
            t.wait()
        self.assertEqual(order, [0, 1, 2, 3])
        self.assertFalse(m.locked())
        self.assertTrue(m.try_acquire())
        self.assertTrue(m.locked())
        with self.assertRaises(mt.DeadlockError):
            m.acquire()  # a plain mutex locked twice
        m.release()
        with self.assertRaises(mt.UsageError):
            m.release()
        r = mt.Mutex(recursive=True)
        with r:
            with r:
                self.assertTrue(r.locked())
        self.assertFalse(r.locked())

    @in_run
    def test_a_lock_cycle_is_caught_when_it_would_close(self):
        a, b = mt.Mutex(name="a"), mt.Mutex(name="b")

        def first():
            with a:
                mt.sleep_d(0.01)
                with b:
                    pass

        t = mt.micro_thread(first)
        with b:
            mt.sleep_d(0.03)  # first now holds a and waits for b
            with self.assertRaisesRegex(mt.DeadlockError, "'a'"):
                a.acquire()
        t.wait()

    @in_run
    def test_a_holder_that_ends_releases_and_timeouts(self):
        m = mt.Mutex()
        mt.micro_thread(m.acquire).wait()  # ends holding it
        self.assertTrue(m.try_acquire())
        t = mt.micro_thread(m.acquire, 0.01)
        with self.assertRaises(mt.Timeout):
            t.wait()
        m.release()
        s = mt.Semaphore(1)
        mt.micro_thread(s.acquire).wait()

    @in_run
    def test_condition_wait_and_notify(self):
        c = mt.Condition()
        items = []

        def consumer():
            with c:
                while not items:
                    c.wait()
                return items.pop()

        ts = [mt.micro_thread(consumer) for _ in range(2)]
        mt.yield_()
        with c:
            items.extend(["x", "y"])
            c.notify_all()
        self.assertEqual(sorted(t.wait() for t in ts), ["x", "y"])
        with c:
            with self.assertRaises(mt.Timeout):
                c.wait(timeout=0.01)
            self.assertTrue(c.mutex.locked())  # held again after the timeout
        with self.assertRaises(TypeError):
            mt.Condition(mt.Mutex(recursive=True))


class QueueTests(unittest.TestCase):
    @in_run
    def test_fifo_lifo_close_and_counts(self):
        q = mt.Queue(3, name="work")
        for i in range(3):
            q.put(i)
        self.assertEqual(len(q), 3)
        self.assertFalse(q.try_put(9))
        with self.assertRaises(mt.Timeout):
            q.put(9, timeout=0.001)
        q.close()
        self.assertEqual(list(q), [0, 1, 2])
        self.assertEqual(q.get(default="end"), "end")
        with self.assertRaises(mt.MicroThreadExit):
            q.put(1)
        lq = mt.Queue(3, lifo=True)
        for i in range(3):
            lq.put(i)
        self.assertEqual([lq.get() for _ in range(3)], [2, 1, 0])
        eq = mt.Queue(1)
        eq.close(ValueError("broken"))
        with self.assertRaises(ValueError):
            eq.get()

    @in_run
    def test_producers_and_consumers_and_references(self):
        q = mt.Queue(2)
        out = []

        def consumer():
            for v in q:
                out.append(v)

        cs = [mt.micro_thread(consumer) for _ in range(2)]
        for i in range(20):
            q.put(i)
        q.close()
        for c in cs:
            c.wait()
        self.assertEqual(sorted(out), list(range(20)))
        obj = object()
        base = sys.getrefcount(obj)
        r = mt.Queue(2)
        r.put(obj)
        r.put(obj)
        del r  # releases what it held
        self.assertEqual(sys.getrefcount(obj), base)

    def test_a_primitive_used_from_another_run(self):
        q = mt.Queue(1)
        mt.run(q.put, 1)
        with self.assertRaises(mt.UsageError):
            mt.run(q.get)


if __name__ == "__main__":
    unittest.main()
