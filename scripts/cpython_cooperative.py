#!/usr/bin/env python3
"""cpython_cooperative.py — runs CPython's own tests of the modules the
cooperative mode patches, under the mode: each suite in its own process,
which calls micro_threading.cooperative.patch_all() before importing the
suite and runs it as the main micro-thread of micro_threading.run(), so its
threads are micro-threads and its sockets, selects, locks and sleeps suspend.

Usage: PYTHONPATH=<build>/python python3 scripts/cpython_cooperative.py [-v] [--quick] [--all] [SUITE...]
  python3   one with CPython's `test` package (the pyenv 3.11 has it)
  SUITE     a module name under test. (default: SUITES; --quick: QUICK)
  -v        list each suite's failing, erroring and hung tests
  --all     run the tests of NOT_RUN too (known to hang under the mode)
Environment: MT_TEST_TIMEOUT  seconds one test may take (default 60);
             MT_PLAIN=1      the same run without the mode (no patching, no
                             run()): the suites' own results on this machine.

A test that runs longer than MT_TEST_TIMEOUT (it hangs: typically it waits
for a signal handler to interrupt a wait, see docs/embedding.md) ends its
process; it counts as "hung" and the suite goes on in a new process from
the test after it. A process that dies during a test counts that test as
"crashed" and goes on the same way. Prints one line per suite and a total:

    ok   test_queue   ran 90: 88 passed, 0 failed, 2 skipped, 0 hung, 0 crashed (12.3 s)

Exit status 1 when any test failed, hung or crashed, else 0."""
import os
import re
import subprocess
import sys
import time

SUITES = ["test_socket", "test_selectors", "test_select", "test_poll", "test_epoll", "test_time", "test_thread",
          "test_threading", "test_threading_local", "test_queue", "test_socketserver", "test_httpservers",
          "test_httplib", "test_urllib2_localnet", "test_ssl", "test_signal"]
# a selection that runs in well under a minute (./test.sh runs it)
QUICK = ["test_threading_local", "test_queue", "test_socketserver", "test_select", "test_poll"]

# Tests not run (unless --all), each of which hangs under the mode (it
# would cost MT_TEST_TIMEOUT and a new process): why, per test.
NOT_RUN = {
    # two threads' loops that never wait (one sends signals, one changes the
    # handlers): without preemption the first never lets the second run
    "test.test_signal.StressTest.test_stress_modifying_handlers": "needs preemption",
    # hangs without the mode too, on this machine
    "test.test_signal.SiginterruptTest.test_siginterrupt_off": "hangs without the mode too",
}

CHILD = r"""
import faulthandler, os, sys, unittest
from micro_threading import cooperative
import micro_threading as mt
plain = os.environ.get("MT_PLAIN") == "1"
if not plain:
    cooperative.patch_all()
name, skip, per_test = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
module = __import__("test." + name, fromlist=["*"])
out = sys.__stderr__

def flat(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from flat(t)
        else:
            yield t

class Result(unittest.TextTestResult):
    index = -1
    def startTest(self, test):
        Result.index += 1
        print("MT-START %d %s" % (Result.index, test.id()), file=out, flush=True)
        faulthandler.dump_traceback_later(per_test, exit=True)
        super().startTest(test)
    def stopTest(self, test):
        faulthandler.cancel_dump_traceback_later()
        super().stopTest(test)
    def _mark(self, test, outcome, err=None):
        print("MT-RESULT %s %s" % (outcome, test.id()), file=out, flush=True)
        if err is not None:  # now: a later hang ends the process before the summary
            print(self._exc_info_to_string(err, test), file=out, flush=True)
    def addSuccess(self, test):
        super().addSuccess(test); self._mark(test, "passed")
    def addFailure(self, test, err):
        super().addFailure(test, err); self._mark(test, "failed", err)
    def addError(self, test, err):
        super().addError(test, err)
        self._mark(test if isinstance(test, unittest.TestCase) else _Fixture(test), "failed", err)
    def addSkip(self, test, reason):
        super().addSkip(test, reason); self._mark(test, "skipped")
    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err); self._mark(test, "passed")
    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test); self._mark(test, "failed")
    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            self._mark(test, "failed", err)

class _Fixture:
    def __init__(self, what): self.what = what
    def id(self): return str(self.what).split(" ")[0]

def main():
    not_run = set(filter(None, os.environ.get("MT_NOT_RUN", "").split(",")))
    tests = [t for t in flat(unittest.TestLoader().loadTestsFromModule(module)) if t.id() not in not_run]
    Result.index = skip - 1
    runner = unittest.TextTestRunner(stream=out, verbosity=2, resultclass=Result)
    runner.run(unittest.TestSuite(tests[skip:]))
    print("MT-END %d" % len(tests), file=out, flush=True)

main() if plain else mt.run(main)
"""


def run_suite(name, per_test, not_run):
    """Runs the suite in as many processes as its hangs and crashes need;
    returns {test id: outcome}, [(outcome, id)] of hung/crashed, seconds."""
    start = time.monotonic()
    outcomes, lost, skip, logs = {}, [], 0, []
    while True:
        p = subprocess.run([sys.executable, "-c", CHILD, name, str(skip), str(per_test)], capture_output=True,
                           text=True, timeout=7200, env=dict(os.environ, MT_NOT_RUN=",".join(not_run)))
        out = p.stdout + p.stderr
        logs.append(out)
        for outcome, tid in re.findall(r"^MT-RESULT (\w+) (\S+)", out, re.M):
            if outcomes.get(tid) != "failed":  # a failed sub-test keeps its test failed
                outcomes[tid] = outcome
        if re.search(r"^MT-END \d+", out, re.M) and p.returncode == 0:
            break
        started = re.findall(r"^MT-START (\d+) (\S+)", out, re.M)
        if not started:  # died before its first test (import, setUpModule)
            lost.append(("crashed", "test.%s (rc %d)" % (name, p.returncode)))
            break
        index, tid = int(started[-1][0]), started[-1][1]
        if tid in outcomes and re.search(r"^MT-END", out, re.M):
            lost.append(("crashed", "test.%s at exit (rc %d)" % (name, p.returncode)))
            break
        lost.append(("hung" if "Timeout (" in out else "crashed", tid))
        outcomes.pop(tid, None)
        skip = index + 1
    if os.environ.get("MT_SUITE_LOGS"):
        with open(os.path.join(os.environ["MT_SUITE_LOGS"], name + ".log"), "w") as f:
            f.write("\n==== next process ====\n".join(logs))
    return outcomes, lost, time.monotonic() - start


def main(argv):
    verbose = "-v" in argv
    args = [a for a in argv[1:] if not a.startswith("-")]
    suites = args or (QUICK if "--quick" in argv else SUITES)
    per_test = int(os.environ.get("MT_TEST_TIMEOUT", "60"))
    total = dict(ran=0, passed=0, failed=0, skipped=0, hung=0, crashed=0)
    every = "--all" in argv or os.environ.get("MT_PLAIN") == "1"
    for name in suites:
        not_run = [] if every else [t for t in NOT_RUN if t.startswith("test.%s." % name)]
        outcomes, lost, elapsed = run_suite(name, per_test, not_run)
        c = dict(passed=0, failed=0, skipped=0)
        for o in outcomes.values():
            c[o] += 1
        c["hung"] = sum(1 for o, _ in lost if o == "hung")
        c["crashed"] = sum(1 for o, _ in lost if o == "crashed")
        c["ran"] = sum(c.values())
        for k in total:
            total[k] += c[k]
        ok = c["failed"] == c["hung"] == c["crashed"] == 0
        print("%s %-22s ran %4d: %4d passed, %3d failed, %3d skipped, %d hung, %d crashed (%.1f s)%s" % (
            "ok  " if ok else "FAIL", name, c["ran"], c["passed"], c["failed"], c["skipped"], c["hung"],
            c["crashed"], elapsed, "; %d not run (NOT_RUN)" % len(not_run) if not_run else ""), flush=True)
        if verbose:
            for tid, o in sorted(outcomes.items()):
                if o == "failed":
                    print("       failed ", tid, flush=True)
            for o, tid in lost:
                print("       %-7s" % o, tid, flush=True)
    print("total: ran %(ran)d: %(passed)d passed, %(failed)d failed, %(skipped)d skipped, %(hung)d hung, "
          "%(crashed)d crashed" % total)
    print("[doctest] test cases: %d | %d passed | %d failed | %d skipped" % (
        total["ran"], total["passed"], total["failed"] + total["hung"] + total["crashed"], total["skipped"]))
    return 1 if total["failed"] or total["hung"] or total["crashed"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
