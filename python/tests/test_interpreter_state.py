"""The interpreter's per-thread state belongs to each micro-thread: frames and
exceptions crossing switches, sys.exc_info() and bare raise, contextvars,
generators moving between micro-threads, tracing and profiling, the garbage
collector while micro-threads are suspended, recursion limits."""
import contextvars
import gc
import sys
import traceback
import unittest
import weakref

import micro_threading as mt
from mt_testing import in_run

var = contextvars.ContextVar("var", default="unset")


class ExceptionStateTests(unittest.TestCase):
    @in_run
    def test_exceptions_cross_switches_intact(self):
        def thrower():
            try:
                mt.yield_()
                raise KeyError("k")
            finally:
                mt.yield_()  # a switch while the exception propagates

        def catcher():
            try:
                mt.micro_thread(thrower).wait()
            except KeyError as e:
                mt.yield_()
                return "".join(traceback.format_exception(e))

        text = mt.micro_thread(catcher).wait()
        self.assertIn("in thrower", text)
        self.assertIn("in catcher", text)
        self.assertIn("KeyError: 'k'", text)

    @in_run
    def test_exc_info_and_bare_raise_are_per_micro_thread(self):
        def handler(exc, steps):
            try:
                raise exc
            except type(exc):
                for _ in range(steps):
                    mt.yield_()
                    self.assertIs(sys.exc_info()[1], exc)
                try:
                    raise  # bare raise: its own exception
                except type(exc) as again:
                    return again is exc

        def clean():
            for _ in range(4):
                self.assertEqual(sys.exc_info(), (None, None, None))
                mt.yield_()
            return True

        a = mt.micro_thread(handler, KeyError("a"), 3)
        b = mt.micro_thread(handler, ValueError("b"), 2)
        c = mt.micro_thread(clean)
        try:
            raise OSError("main's")
        except OSError as mine:
            self.assertEqual([a.wait(), b.wait(), c.wait()], [True, True, True])
            self.assertIs(sys.exc_info()[1], mine)
        self.assertEqual(sys.exc_info(), (None, None, None))

    @in_run
    def test_a_new_micro_thread_starts_with_no_exception_even_inside_except(self):
        try:
            raise KeyError("parent")
        except KeyError:
            self.assertEqual(mt.micro_thread(sys.exc_info).wait(), (None, None, None))

    @in_run
    def test_exception_context_chains_stay_per_micro_thread(self):
        def inner():
            try:
                raise KeyError("first")
            except KeyError:
                mt.yield_()
                raise ValueError("second")

        def other():
            try:
                raise TypeError("unrelated")
            except TypeError:
                mt.yield_()
                mt.yield_()

        o = mt.micro_thread(other)
        try:
            mt.micro_thread(inner).wait()
        except ValueError as e:
            self.assertIsInstance(e.__context__, KeyError)
        o.wait()


class ContextVarTests(unittest.TestCase):
    @in_run
    def test_each_micro_thread_runs_in_a_copy_of_its_spawners_context(self):
        var.set("main")

        def child(tag):
            seen = var.get()
            var.set(tag)
            mt.yield_()
            self.assertEqual(var.get(), tag)
            return seen

        a = mt.micro_thread(child, "a")
        b = mt.micro_thread(child, "b")
        var.set("main after spawn")
        self.assertEqual([a.wait(), b.wait()], ["main", "main"])
        self.assertEqual(var.get(), "main after spawn")

    @in_run
    def test_context_run_and_copy_context_inside_micro_threads(self):
        def child():
            ctx = contextvars.copy_context()
            ctx.run(var.set, "inner")
            mt.yield_()
            return ctx[var], var.get()

        self.assertEqual(mt.micro_thread(child).wait(), ("inner", "unset"))


class GeneratorTests(unittest.TestCase):
    @in_run
    def test_a_generator_suspended_in_one_micro_thread_resumes_in_another(self):
        def gen():
            try:
                x = yield 1
                try:
                    raise KeyError("in gen")
                except KeyError:
                    y = yield x + 1
                    self.assertIs(sys.exc_info()[0], KeyError)
                yield y * 2
            finally:
                pass

        g = gen()
        self.assertEqual(next(g), 1)
        self.assertEqual(mt.micro_thread(g.send, 10).wait(), 11)

        def third():
            self.assertEqual(sys.exc_info(), (None, None, None))
            return g.send(21)

        self.assertEqual(mt.micro_thread(third).wait(), 42)
        self.assertEqual(sys.exc_info(), (None, None, None))

    @in_run
    def test_a_generator_that_suspends_the_micro_thread_inside(self):
        def gen():
            for i in range(3):
                mt.yield_()
                yield i

        def consume():
            return list(gen())

        a, b = mt.micro_thread(consume), mt.micro_thread(consume)
        self.assertEqual((a.wait(), b.wait()), ([0, 1, 2], [0, 1, 2]))

    @in_run
    def test_coroutines_driven_from_micro_threads(self):
        async def coro():
            return 5

        def drive():
            c = coro()
            try:
                c.send(None)
            except StopIteration as e:
                return e.value

        self.assertEqual(mt.micro_thread(drive).wait(), 5)


class TracingTests(unittest.TestCase):
    def test_settrace_sees_every_micro_thread_and_survives_switches(self):
        events = []

        def tracer(frame, event, arg):
            if frame.f_code.co_name in ("traced_a", "traced_b"):
                events.append((frame.f_code.co_name, event))
            return tracer

        def traced_a():
            mt.yield_()
            return 1

        def traced_b():
            mt.yield_()
            return 2

        def main():
            sys.settrace(tracer)
            try:
                a, b = mt.micro_thread(traced_a), mt.micro_thread(traced_b)
                return a.wait() + b.wait()
            finally:
                sys.settrace(None)

        self.assertEqual(mt.run(main), 3)
        self.assertIn(("traced_a", "call"), events)
        self.assertIn(("traced_b", "return"), events)
        self.assertIn(("traced_a", "line"), events)

    def test_settrace_set_inside_a_micro_thread_reaches_the_others(self):
        events = []

        def tracer(frame, event, arg):
            if event == "call":
                events.append(frame.f_code.co_name)
            return None

        def waiting():
            mt.yield_()
            mt.yield_()
            inner_call()

        def inner_call():
            return 1

        def setter():
            sys.settrace(tracer)

        def main():
            w = mt.micro_thread(waiting)
            mt.yield_()
            mt.micro_thread(setter).wait()
            w.wait()
            sys.settrace(None)

        mt.run(main)
        self.assertIn("inner_call", events)

    def test_setprofile_across_switches(self):
        calls = []

        def profiler(frame, event, arg):
            if event == "call" and frame.f_code.co_name.startswith("prof_"):
                calls.append(frame.f_code.co_name)

        def prof_child():
            mt.yield_()
            return prof_leaf()

        def prof_leaf():
            return 1

        def main():
            sys.setprofile(profiler)
            try:
                return mt.micro_thread(prof_child).wait()
            finally:
                sys.setprofile(None)

        self.assertEqual(mt.run(main), 1)
        self.assertEqual(calls, ["prof_child", "prof_leaf"])


class GcTests(unittest.TestCase):
    @in_run
    def test_gc_while_micro_threads_are_suspended_keeps_their_frames_objects(self):
        class Node:
            pass

        def holder(n):
            nodes = [Node() for _ in range(n)]
            for node in nodes:
                node.self = node  # cycles only reachable from this frame
            ref = weakref.ref(nodes[0])
            mt.sleep_d(0.02)
            self.assertIsNotNone(ref())
            return len(nodes)

        ts = [mt.micro_thread(holder, 100) for _ in range(10)]
        mt.yield_()
        for _ in range(3):
            gc.collect()
        self.assertEqual([t.wait() for t in ts], [100] * 10)

    @in_run
    def test_gc_collects_what_ended_micro_threads_dropped(self):
        class Node:
            pass

        refs = []

        def make():
            n = Node()
            n.me = n
            refs.append(weakref.ref(n))
            mt.yield_()

        for t in [mt.micro_thread(make) for _ in range(5)]:
            t.wait()
        gc.collect()
        self.assertTrue(all(r() is None for r in refs))

    @in_run
    def test_collection_triggered_inside_micro_threads(self):
        def churn():
            for _ in range(200):
                a = []
                a.append(a)
                mt.yield_()

        gc.set_threshold(10)
        try:
            for t in [mt.micro_thread(churn) for _ in range(5)]:
                t.wait()
        finally:
            gc.set_threshold(700, 10, 10)


class RecursionTests(unittest.TestCase):
    @in_run
    def test_deep_python_recursion_is_a_recursion_error_in_every_micro_thread(self):
        def deep(n):
            return 0 if n == 0 else 1 + deep(n - 1)

        def probe():
            try:
                deep(10 ** 6)
            except RecursionError:
                return "RecursionError"

        self.assertEqual([t.wait() for t in [mt.micro_thread(probe) for _ in range(3)]], ["RecursionError"] * 3)

    @in_run
    def test_the_recursion_depth_is_per_micro_thread(self):
        limit = sys.getrecursionlimit()

        def nest(n, then):
            if n == 0:
                return then()
            return nest(n - 1, then)

        def deep_then_yield():
            return nest(limit - 100, lambda: (mt.yield_(), "deep ok")[1])

        # both sit near the limit at once: a shared counter would overflow
        a = mt.micro_thread(deep_then_yield)
        b = mt.micro_thread(deep_then_yield)
        self.assertEqual((a.wait(), b.wait()), ("deep ok", "deep ok"))

    @in_run
    def test_recursion_through_c_code_at_the_default_limit(self):
        import json
        import pickle

        nested = []
        for _ in range(sys.getrecursionlimit() * 2):
            nested = [nested]

        def sort_recursing(n):
            return sorted([2, 1], key=lambda v: sort_recursing(n - 1) if n else v)

        def probe(fn):
            try:
                fn()
                return "ok"
            except RecursionError:
                return "RecursionError"

        for fn in (lambda: repr(nested), lambda: json.dumps(nested), lambda: pickle.dumps(nested),
                   lambda: nested == nested[0], lambda: sort_recursing(10 ** 6)):
            self.assertEqual(mt.micro_thread(probe, fn).wait(), "RecursionError")

    @in_run
    def test_setrecursionlimit_applies_to_suspended_micro_threads(self):
        old = sys.getrecursionlimit()

        def deep(n):
            return 0 if n == 0 else 1 + deep(n - 1)

        def later():
            mt.yield_()
            try:
                deep(old + 200)
                return "ok"
            except RecursionError:
                return "RecursionError"

        t = mt.micro_thread(later)
        mt.yield_()
        sys.setrecursionlimit(old + 400)
        try:
            self.assertEqual(t.wait(), "ok")
        finally:
            sys.setrecursionlimit(old)


if __name__ == "__main__":
    unittest.main()
