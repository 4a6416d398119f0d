"""The deferred: arm, callback, errback, wait with a timeout, cancel, and the
PEP's callback queue (D', C', B', A' and [E', C'', B', A'])."""
import sys
import unittest

import micro_threading as mt
from mt_testing import in_run


class DeferredTests(unittest.TestCase):
    @in_run
    def test_callback_from_another_micro_thread(self):
        d = mt.this_deferred()
        d.arm()
        mt.micro_thread(d.callback, "value")
        self.assertEqual(d.wait(), "value")
        self.assertIn("'main'", repr(d))

    @in_run
    def test_fired_before_wait_is_not_lost(self):
        d = mt.this_deferred()
        d.arm()
        d.callback(41)
        self.assertEqual(d.wait(), 41)

    @in_run
    def test_errback_raises_the_exception_object(self):
        d = mt.this_deferred()
        d.arm()
        err = KeyError("failed work")
        mt.micro_thread(d.errback, err)
        with self.assertRaises(KeyError) as cm:
            d.wait()
        self.assertIs(cm.exception, err)
        d.arm()
        d.errback(ValueError)
        with self.assertRaises(ValueError):
            d.wait()
        with self.assertRaises(TypeError):
            d.errback(42)

    @in_run
    def test_misuse(self):
        d = mt.this_deferred()
        with self.assertRaisesRegex(mt.UsageError, "nothing armed it"):
            d.wait()
        with self.assertRaises(mt.UsageError):
            d.callback(1)  # nobody armed it
        d.arm()
        with self.assertRaises(mt.UsageError):
            d.arm()
        d.callback(1)
        with self.assertRaises(mt.UsageError):
            d.callback(2)  # fired twice before a wait
        self.assertEqual(d.wait(), 1)

        def other():
            with self.assertRaisesRegex(mt.UsageError, "only its owner"):
                d.wait()
            with self.assertRaises(mt.UsageError):
                d.arm()

        mt.micro_thread(other).wait()

    @in_run
    def test_timeout_leaves_it_armed_and_cancel_disarms(self):
        d = mt.this_deferred()
        d.arm()
        with self.assertRaises(mt.Timeout):
            d.wait(timeout=0.01)
        d.callback("later")
        self.assertEqual(d.wait(), "later")
        obj = object()
        base = sys.getrefcount(obj)
        d.arm()
        d.callback(obj)
        self.assertEqual(sys.getrefcount(obj), base + 1)
        d.cancel()  # it fired: nothing to cancel
        self.assertIs(d.wait(), obj)
        self.assertEqual(sys.getrefcount(obj), base)
        d.arm()
        d.cancel()
        with self.assertRaises(mt.UsageError):
            d.wait()  # disarmed: nothing could fire it

    @in_run
    def test_a_value_nobody_waits_for_is_released(self):
        obj = object()
        base = sys.getrefcount(obj)

        def owner(box):
            d = mt.this_deferred()
            d.arm()
            box.append(d)
            mt.sleep_d(60)

        box = []
        t = mt.micro_thread(owner, box)
        mt.yield_()
        box[0].callback(obj)  # kept for its next own wait, which never comes
        t.abort()
        with self.assertRaises(mt.MicroThreadAborted):
            t.wait()
        del box
        self.assertEqual(sys.getrefcount(obj), base)

    @in_run
    def test_abort_while_waiting(self):
        def waiter():
            d = mt.this_deferred()
            d.arm()
            d.wait()

        t = mt.micro_thread(waiter)
        mt.yield_()
        t.abort()
        with self.assertRaises(mt.MicroThreadAborted):
            t.wait()


class CallbackQueueTests(unittest.TestCase):
    @in_run
    def test_continuations_run_in_push_order_each_fed_the_previous(self):
        d = mt.this_deferred()
        trail = []

        def cont(name):
            def run(v):
                trail.append(name)
                return v + 1
            return run

        def D():
            d.arm()
            d.push(cont("D'"))

        def C():
            D()
            d.push(cont("C'"))

        def B():
            C()
            d.push(cont("B'"))

        def A():
            B()
            d.push(cont("A'"), "A'")

        A()
        mt.micro_thread(d.callback, 100)
        self.assertEqual(d.wait(), 104)
        self.assertEqual(trail, ["D'", "C'", "B'", "A'"])

    @in_run
    def test_a_continuation_that_defers_again_goes_first(self):
        d = mt.this_deferred()
        trail = []

        def cont(name):
            def run(v):
                trail.append((name, v))
                return v + 1
            return run

        def c_prime(v):
            trail.append(("C'", v))
            d.arm()  # E defers...
            d.push(cont("E'"))
            d.push(cont("C''"))
            return None

        d.arm()
        d.push(cont("D'"))
        d.push(c_prime)
        d.push(cont("B'"))
        d.push(cont("A'"))

        def firer():
            d.callback(100)
            mt.yield_()
            mt.yield_()
            d.callback(200)

        mt.micro_thread(firer)
        self.assertEqual(d.wait(), 204)
        self.assertEqual([n for n, _ in trail], ["D'", "C'", "E'", "C''", "B'", "A'"])
        self.assertEqual(trail[2], ("E'", 200))

    @in_run
    def test_a_callback_that_raises_discards_the_rest(self):
        d = mt.this_deferred()
        ran = []
        d.arm()
        d.push(lambda v: 1 / 0)
        d.push(lambda v: ran.append(v))
        d.callback(1)
        with self.assertRaises(ZeroDivisionError):
            d.wait()
        self.assertEqual(ran, [])
        with self.assertRaises(TypeError):
            d.push(42)
        # usable again afterwards
        d.arm()
        d.push(lambda v: v * 2)
        d.callback(21)
        self.assertEqual(d.wait(), 42)

    @in_run
    def test_a_callback_may_suspend(self):
        d = mt.this_deferred()
        d.arm()
        d.push(lambda v: (mt.sleep_d(0.01), v + 1)[1])
        d.callback(1)
        self.assertEqual(d.wait(), 2)

    @in_run
    def test_pushed_callables_are_released_when_discarded(self):
        d = mt.this_deferred()

        def cb(v):
            return v

        base = sys.getrefcount(cb)
        d.arm()
        d.push(lambda v: 1 / 0)
        d.push(cb)
        self.assertEqual(sys.getrefcount(cb), base + 1)
        d.callback(0)
        with self.assertRaises(ZeroDivisionError):
            d.wait()
        self.assertEqual(sys.getrefcount(cb), base)


if __name__ == "__main__":
    unittest.main()
