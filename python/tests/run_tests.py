#!/usr/bin/env python3
"""run_tests.py — runs each test file of micro_threading in its own process
(a crash costs one file) under a given interpreter, and prints one summary
line the way doctest does, so ./test.sh folds it into its count:

    [doctest] test cases: N | P passed | F failed | S skipped

Usage: run_tests.py INTERPRETER BUILD_DIR [TEST_FILE...]
  INTERPRETER  the python to test under (it must be CPython 3.11)
  BUILD_DIR    a meson build dir: BUILD_DIR/python holds the built package
A file that crashes or prints no unittest summary counts as one failed case.
cpython_suites.py (CPython's own tests inside micro-threads) is added when
the interpreter has CPython's test package."""
import os
import re
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def sigint_as_under_a_terminal():
    """The tests of Ctrl-C expect what a terminal gives a program: SIGINT at
    its default, which Python turns into KeyboardInterrupt. A runner started
    in the background without job control has it ignored, and Python keeps
    an ignored SIGINT ignored; each test file starts with it at its default."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_file(interpreter, pythonpath, path, timeout=600):
    env = dict(os.environ)
    env["PYTHONPATH"] = pythonpath
    env.setdefault("PYTHONFAULTHANDLER", "1")
    start = time.monotonic()
    try:
        p = subprocess.run([interpreter, path], cwd=HERE, env=env, capture_output=True, text=True, timeout=timeout,
                           preexec_fn=sigint_as_under_a_terminal)
        out, rc = p.stdout + p.stderr, p.returncode
    except subprocess.TimeoutExpired as e:
        out, rc = (e.stdout or "") + (e.stderr or "") + "\n(timed out)", -1
        out = out if isinstance(out, str) else out.decode(errors="replace")
    elapsed = time.monotonic() - start
    ran = re.search(r"^Ran (\d+) tests? in", out, re.M)
    if not ran:
        return 1, 0, 1, 0, out, elapsed, rc
    n = int(ran.group(1))
    failures = sum(int(x) for x in re.findall(r"(?:failures|errors)=(\d+)", out))
    skipped = sum(int(x) for x in re.findall(r"skipped=(\d+)", out))
    unexpected = sum(int(x) for x in re.findall(r"unexpected successes=(\d+)", out))
    failed = failures + unexpected
    if rc != 0 and failed == 0:
        failed = 1  # exited badly after its tests (a crash at exit)
    return n, n - failed - skipped, failed, skipped, out, elapsed, rc


def main(argv):
    if len(argv) < 3:
        print(__doc__)
        return 2
    interpreter, build_dir = argv[1], os.path.abspath(argv[2])
    files = argv[3:] or sorted(f for f in os.listdir(HERE) if f.startswith("test_") and f.endswith(".py"))
    if not argv[3:] and subprocess.run([interpreter, "-c", "import test.test_generators"],
                                       capture_output=True).returncode == 0:
        files.append("cpython_suites.py")  # CPython's own tests, where its test package is installed
    pythonpath = os.pathsep.join([os.path.join(build_dir, "python"), HERE])
    total = passed = failed = skipped = 0
    for f in files:
        n, p, fl, s, out, elapsed, rc = run_file(interpreter, pythonpath, os.path.join(HERE, f))
        total, passed, failed, skipped = total + n, passed + p, failed + fl, skipped + s
        print("%s %-28s %3d passed, %d failed, %d skipped (%.1f s)" % ("ok  " if fl == 0 else "FAIL", f, p, fl, s,
                                                                         elapsed))
        if fl:
            print("\n".join("     " + line for line in out.splitlines()[-40:]))
    print("[doctest] test cases: %d | %d passed | %d failed | %d skipped" % (total, passed, failed, skipped))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
