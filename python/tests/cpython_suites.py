"""CPython's own tests of the state a switch saves and restores (generators,
exceptions, contextlib, contextvars, tracing, with, raise, coroutines), run
inside micro-threads while other micro-threads, each in the middle of its
own exception handler, generator and context, switch in between every test.

Needs CPython's `test` package (the pyenv interpreter has it; Debian's
python3 does not): run_tests.py runs this file only where it imports."""
import contextvars
import io
import sys
import unittest

import micro_threading as mt

SUITES = ["test_generators", "test_exceptions", "test_contextlib", "test_context", "test_sys_settrace",
          "test_with", "test_raise", "test_coroutines"]

# Raises SIGINT and expects Python's own handler; inside run() Ctrl-C belongs
# to the engine (KeyboardInterrupt in main at its suspension point).
EXCLUDED = {"test_raise_and_yield_from"}

noise_var = contextvars.ContextVar("noise")


def noise(i, stop):
    """A micro-thread holding an exception being handled, a suspended
    generator and a context value, switching away between every test."""
    noise_var.set(i)

    def gen():
        while True:
            yield noise_var.get()

    g = gen()
    try:
        raise KeyError(i)
    except KeyError as e:
        while not stop:
            mt.yield_()
            assert sys.exc_info()[1] is e and next(g) == i and noise_var.get() == i


def filtered(suite):
    out = unittest.TestSuite()
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            out.addTest(filtered(t))
        elif t._testMethodName not in EXCLUDED:
            out.addTest(t)
    return out


class YieldingResult(unittest.TextTestResult):
    def startTest(self, test):
        mt.yield_()  # the noise runs between tests, and main's state is switched out and back
        super().startTest(test)


def run_suite(name):
    import importlib

    module = importlib.import_module("test." + name)
    suite = filtered(unittest.defaultTestLoader.loadTestsFromModule(module))
    stream = io.StringIO()
    stop = []
    noisy = [mt.micro_thread(noise, i, stop) for i in range(3)]
    runner = unittest.TextTestRunner(stream=stream, verbosity=0, resultclass=YieldingResult)
    result = mt.micro_thread(runner.run, suite, name=name).wait()
    stop.append(1)
    for t in noisy:
        t.wait()
    return result.testsRun, len(result.failures) + len(result.errors), stream.getvalue()


class CPythonSuites(unittest.TestCase):
    pass


def make(name):
    def test(self):
        ran, bad, text = mt.run(run_suite, name)
        self.assertGreater(ran, 0)
        self.assertEqual(bad, 0, text[-4000:])

    test.__name__ = "test_" + name
    return test


for _name in SUITES:
    setattr(CPythonSuites, "test_" + _name, make(_name))

if __name__ == "__main__":
    unittest.main()
