"""Helpers shared by the test files of micro_threading (each file runs in its
own process: see run_tests.py)."""
import functools
import os
import subprocess
import sys
import textwrap

import micro_threading as mt


def in_run(test):
    """Runs the test method as the main micro-thread of a fresh run(); fails
    if the run does not end cleanly."""

    @functools.wraps(test)
    def wrapper(self):
        return mt.run(test, self)

    return wrapper


def run_child(code, timeout=60, env_extra=None, **popen):
    """Runs `code` in a fresh interpreter (this one) that imports the module
    the same way; returns the CompletedProcess (text, stdout and stderr)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    if env_extra:
        env.update(env_extra)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, env=env, **popen)
