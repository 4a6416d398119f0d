"""micro_thread, run, current, yield_, start_and_forget, start_in_parallel,
scope, dump: every function of the module about micro-threads, and misuse."""
import signal
import sys
import unittest

import micro_threading as mt
from mt_testing import in_run, run_child


def square(n):
    mt.yield_()
    return n * n


def fail(msg="boom"):
    raise ValueError(msg)


def sleeper(seconds=60):
    mt.sleep_d(seconds)


class RunTests(unittest.TestCase):
    def test_run_returns_mains_result(self):
        self.assertEqual(mt.run(lambda a, b: a + b, 2, 3), 5)

    def test_run_raises_mains_exception_with_its_traceback(self):
        try:
            mt.run(fail, "from main")
        except ValueError as e:  # (assertRaises would drop the traceback)
            exc = e
        self.assertEqual(str(exc), "from main")
        tb = exc.__traceback__
        names = []
        while tb:
            names.append(tb.tb_frame.f_code.co_name)
            tb = tb.tb_next
        self.assertIn("fail", names)

    def test_run_waits_for_every_micro_thread(self):
        done = []

        def late():
            mt.sleep_d(0.02)
            done.append(1)

        def main():
            mt.micro_thread(late)  # not joined

        mt.run(main)
        self.assertEqual(done, [1])

    def test_run_can_run_again_and_handles_outlive_it(self):
        t = mt.run(lambda: mt.micro_thread(square, 3))
        self.assertEqual(mt.run(lambda: 7), 7)
        with self.assertRaises(mt.UsageError):
            t.wait()
        with self.assertRaisesRegex(mt.UsageError, "engine has ended"):
            t.abort()
        self.assertIn("ended", repr(t))

    def test_run_inside_run_is_a_usage_error(self):
        def main():
            with self.assertRaisesRegex(mt.UsageError, "inside run"):
                mt.run(lambda: None)

        mt.run(main)

    def test_run_needs_a_callable(self):
        with self.assertRaises(TypeError):
            mt.run(42)
        with self.assertRaises(TypeError):
            mt.run()

    def test_blocking_outside_run_is_a_clear_error(self):
        for call in (lambda: mt.yield_(), lambda: mt.sleep_d(0), lambda: mt.micro_thread(square, 1),
                     lambda: mt.start_and_forget(square, 1), lambda: mt.this_deferred(),
                     lambda: mt.submit_work(square, 1), lambda: mt.dump(), lambda: mt.stdin(),
                     lambda: mt.micro_pipe().put(1), lambda: mt.micro_pipe().get(), lambda: next(mt.micro_pipe()),
                     lambda: mt.wait_readable(0), lambda: mt.read_d(0, 1)):
            with self.assertRaisesRegex(mt.UsageError, r"outside micro_threading.run\(\)"):
                call()
        self.assertIsNone(mt.current())


class MicroThreadTests(unittest.TestCase):
    @in_run
    def test_wait_returns_the_result(self):
        ts = [mt.micro_thread(square, i) for i in range(5)]
        self.assertEqual([t.wait() for t in ts], [0, 1, 4, 9, 16])
        self.assertEqual(ts[2].wait(), 4)  # again: the same result

    @in_run
    def test_wait_raises_the_same_exception_object_with_its_traceback(self):
        t = mt.micro_thread(fail, "child")
        caught = []
        for _ in range(2):
            try:
                t.wait()
            except ValueError as e:  # (assertRaises would drop the traceback)
                caught.append(e)
        self.assertIs(caught[0], caught[1])
        frames = []
        tb = caught[0].__traceback__
        while tb:
            frames.append(tb.tb_frame.f_code.co_name)
            tb = tb.tb_next
        self.assertEqual(frames[-1], "fail")

    @in_run
    def test_name_id_state_done(self):
        t = mt.micro_thread(square, 2, name="sq")
        self.assertEqual(t.name, "sq")
        self.assertGreater(t.id, 1)
        self.assertEqual(t.state, "created")
        self.assertFalse(t.done)
        t.wait()
        self.assertEqual(t.state, "finished")
        self.assertTrue(t.done)
        u = mt.micro_thread(square, 2)
        self.assertEqual(u.name, "micro-thread-%d" % u.id)
        self.assertEqual(mt.current().name, "main")
        self.assertEqual(mt.current().id, 1)
        self.assertEqual(mt.current().state, "running")
        self.assertEqual(mt.current(), mt.current())
        self.assertIn("'main' running", repr(mt.current()))
        with self.assertRaises(mt.MicroThreadAborted):
            f = mt.micro_thread(sleeper)
            mt.yield_()
            f.abort()
            f.wait()
        self.assertEqual(f.state, "aborted")

    @in_run
    def test_abort_raises_micro_thread_exit_at_the_suspension_point(self):
        log = []

        def victim():
            try:
                mt.sleep_d(60)
            except mt.MicroThreadExit:
                log.append("exit")
                raise
            finally:
                log.append("finally")

        t = mt.micro_thread(victim)
        mt.yield_()
        t.abort()
        with self.assertRaisesRegex(mt.MicroThreadAborted, "aborted"):
            t.wait()
        self.assertEqual(log, ["exit", "finally"])
        t.abort()  # ended: nothing

    @in_run
    def test_abort_is_sticky_and_not_an_exception(self):
        self.assertFalse(issubclass(mt.MicroThreadExit, Exception))
        self.assertTrue(issubclass(mt.MicroThreadExit, BaseException))
        seen = []

        def stubborn():
            try:
                mt.sleep_d(60)
            except BaseException:
                seen.append(1)
            try:
                mt.yield_()  # raises again
            except mt.MicroThreadExit:
                seen.append(2)
                raise

        t = mt.micro_thread(stubborn)
        mt.yield_()
        t.abort()
        with self.assertRaises(mt.MicroThreadAborted):
            t.wait()
        self.assertEqual(seen, [1, 2])

    @in_run
    def test_aborted_before_it_started_never_runs(self):
        ran = []
        t = mt.micro_thread(ran.append, 1)
        t.abort()
        with self.assertRaises(mt.MicroThreadAborted):
            t.wait()
        self.assertEqual(ran, [])

    @in_run
    def test_aborted_before_it_started_its_arguments_are_released_in_it(self):
        # ... as that micro-thread: its name, and the copy of its spawner's
        # context its body would have run in
        import contextvars
        var = contextvars.ContextVar("var")
        var.set("spawner's")
        seen = []

        class Probe:
            def __del__(self):
                seen.append((mt.current().name, var.get(None)))

        t = mt.micro_thread(lambda p: None, Probe(), name="never")
        t.abort()
        with self.assertRaises(mt.MicroThreadAborted):
            t.wait()
        self.assertEqual(seen, [("never", "spawner's")])

    @in_run
    def test_abort_yourself(self):
        def me():
            mt.current().abort()

        with self.assertRaises(mt.MicroThreadAborted):
            mt.micro_thread(me).wait()

    @in_run
    def test_join_yourself_and_timeouts(self):
        with self.assertRaisesRegex(mt.UsageError, "yourself"):
            mt.current().wait()
        t = mt.micro_thread(sleeper)
        with self.assertRaises(mt.Timeout) as cm:
            t.wait(timeout=0.01)
        self.assertIsInstance(cm.exception, TimeoutError)
        self.assertIn("timed out", str(cm.exception))
        with self.assertRaises(ValueError):
            t.wait(timeout=-1)
        t.abort()

    @in_run
    def test_bad_arguments(self):
        with self.assertRaises(TypeError):
            mt.micro_thread(42)
        with self.assertRaises(TypeError):
            mt.micro_thread()
        with self.assertRaises(TypeError):
            mt.micro_thread(square, 1, color="red")
        with self.assertRaises(TypeError):
            mt.micro_thread(square, 1, stdin=42)
        with self.assertRaises(ValueError):
            mt.micro_thread(square, 1, stack_size=-1)
        self.assertEqual(mt.micro_thread(square, 3, stack_size=256 * 1024).wait(), 9)

    @in_run
    def test_yield_alternates(self):
        order = []

        def rec(tag):
            for _ in range(3):
                order.append(tag)
                mt.yield_()

        a, b = mt.micro_thread(rec, "a"), mt.micro_thread(rec, "b")
        a.wait()
        b.wait()
        self.assertEqual(order, ["a", "b"] * 3)

    @in_run
    def test_dump_names_every_micro_thread(self):
        t = mt.micro_thread(sleeper, name="napper")
        mt.yield_()
        d = mt.dump()
        self.assertIn("'main' running", d)
        self.assertIn("'napper'", d)
        self.assertIn("high-water", d)
        t.abort()


class DetachedAndStructuredTests(unittest.TestCase):
    def test_start_and_forget_reports_with_the_python_traceback(self):
        r = run_child("""
            import micro_threading as mt
            def doomed():
                mt.yield_()
                raise KeyError("lost")
            def main():
                mt.start_and_forget(doomed, name="doomed")
                mt.sleep_d(0.01)
                print("main carries on")
            mt.run(main)
        """)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "main carries on\n")
        self.assertRegex(r.stderr, r"microthreading: unhandled exception in micro-thread #2 'doomed': KeyError: 'lost'")
        self.assertIn("Traceback (most recent call last)", r.stderr)
        self.assertIn('line 5, in doomed', r.stderr)

    def test_a_dropped_handle_of_a_failure_is_reported(self):
        r = run_child("""
            import micro_threading as mt
            def main():
                t = mt.micro_thread(lambda: 1 / 0, name="divider")
                mt.yield_()
                del t
            mt.run(main)
        """)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("'divider': ZeroDivisionError", r.stderr)

    @in_run
    def test_start_and_forget_runs_and_returns_none(self):
        out = []
        self.assertIsNone(mt.start_and_forget(out.append, 1))
        self.assertIsNone(mt.start_and_forget(out.append, 2, name="n"))
        mt.yield_()
        self.assertEqual(out, [1, 2])
        with self.assertRaises(TypeError):
            mt.start_and_forget(out.append, 1, stack_size=1)

    @in_run
    def test_start_in_parallel_results_in_order(self):
        def slow(v, d):
            mt.sleep_d(d)
            return v

        self.assertEqual(mt.start_in_parallel(lambda: slow("a", 0.03), lambda: slow("b", 0.01), lambda: "c"),
                         ["a", "b", "c"])
        self.assertEqual(mt.start_in_parallel(), [])

    @in_run
    def test_start_in_parallel_first_failure_aborts_the_rest(self):
        log = []

        def long():
            try:
                mt.sleep_d(60)
            finally:
                log.append("aborted")

        def early():
            mt.sleep_d(0.01)
            raise KeyError("early")

        def later():
            mt.sleep_d(0.05)
            raise KeyError("later")

        with self.assertRaises(KeyError) as cm:
            mt.start_in_parallel(long, later, early)
        self.assertEqual(cm.exception.args, ("early",))
        self.assertEqual(log, ["aborted"])

    @in_run
    def test_scope_waits_and_raises_the_first_failure(self):
        done = []
        with mt.scope() as s:
            a = s.spawn(square, 4)
            s.spawn(lambda: (mt.sleep_d(0.01), done.append(1)))
        self.assertEqual(a.wait(), 16)
        self.assertEqual(done, [1])
        with self.assertRaises(ZeroDivisionError):
            with mt.scope() as s:
                s.spawn(sleeper)
                s.spawn(lambda: 1 / 0)
        with self.assertRaises(mt.UsageError):
            s.spawn(square, 1)

    @in_run
    def test_scope_body_failure_aborts_children(self):
        log = []

        def child():
            try:
                mt.sleep_d(60)
            finally:
                log.append("child ended")

        with self.assertRaises(RuntimeError):
            with mt.scope() as s:
                s.spawn(child)
                mt.yield_()
                raise RuntimeError("body")
        self.assertEqual(log, ["child ended"])


class SignalTests(unittest.TestCase):
    """Python's signal handlers are main's, as they are the main thread's in
    CPython: other micro-threads are other threads to it."""

    @in_run
    def test_signal_handlers_can_be_set_in_main(self):
        old = signal.signal(signal.SIGUSR1, signal.SIG_IGN)
        self.assertIs(signal.signal(signal.SIGUSR1, old), signal.SIG_IGN)

    @in_run
    def test_signal_handlers_cannot_be_set_in_another_micro_thread(self):
        def elsewhere():
            with self.assertRaisesRegex(ValueError, "main thread"):
                signal.signal(signal.SIGUSR1, signal.SIG_IGN)
            return "refused"

        self.assertEqual(mt.micro_thread(elsewhere).wait(), "refused")

    @in_run
    def test_a_handler_runs_in_main_never_in_the_micro_thread_that_raised_the_signal(self):
        where = []
        old = signal.signal(signal.SIGUSR1, lambda signo, frame: where.append(mt.current().name))
        try:
            def raiser():
                signal.raise_signal(signal.SIGUSR1)
                for _ in range(1000):
                    pass  # bytecodes: CPython would run a handler here if this were its main thread
                where.append("raiser went on")

            mt.micro_thread(raiser, name="raiser").wait()
            for _ in range(1000):
                pass
            self.assertEqual(where, ["raiser went on", "main"])
        finally:
            signal.signal(signal.SIGUSR1, old)

    def test_after_run_the_caller_handles_signals_again(self):
        where = []
        old = signal.signal(signal.SIGUSR1, lambda signo, frame: where.append("handled"))
        try:
            def main():
                mt.micro_thread(lambda: None).wait()
                return "done"

            self.assertEqual(mt.run(main), "done")
            signal.raise_signal(signal.SIGUSR1)
            for _ in range(1000):
                pass
            self.assertEqual(where, ["handled"])
            signal.signal(signal.SIGUSR2, signal.signal(signal.SIGUSR2, signal.SIG_IGN))  # allowed here again
        finally:
            signal.signal(signal.SIGUSR1, old)


class FatalExceptionTests(unittest.TestCase):
    def test_system_exit_in_a_micro_thread_ends_the_run(self):
        log = []

        def other():
            try:
                mt.sleep_d(60)
            finally:
                log.append("other cleaned up")

        def quitter():
            mt.sleep_d(0.01)
            sys.exit(4)

        def main():
            mt.micro_thread(other)
            mt.micro_thread(quitter)
            mt.sleep_d(60)

        with self.assertRaises(SystemExit) as cm:
            mt.run(main)
        self.assertEqual(cm.exception.code, 4)
        self.assertEqual(log, ["other cleaned up"])

    def test_keyboard_interrupt_in_a_micro_thread_ends_the_run(self):
        def main():
            mt.micro_thread(lambda: (_ for _ in ()).throw(KeyboardInterrupt))
            mt.sleep_d(60)

        with self.assertRaises(KeyboardInterrupt):
            mt.run(main)

    def test_system_exit_in_a_forgotten_micro_thread_is_not_reported(self):
        r = run_child("""
            import sys, micro_threading as mt
            def main():
                mt.start_and_forget(sys.exit, 5)
                mt.sleep_d(60)
            mt.run(main)
        """)
        self.assertEqual(r.returncode, 5)
        self.assertNotIn("unhandled", r.stderr)


if __name__ == "__main__":
    unittest.main()
