"""What must be seen from outside the process: Ctrl-C during run(),
interpreter shutdown with suspended micro-threads, the deadlock report."""
import os
import signal
import subprocess
import sys
import time
import unittest

from mt_testing import run_child


def start_child(code):
    import textwrap

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


class CtrlCTests(unittest.TestCase):
    def interrupt(self, code):
        p = start_child(code)
        try:
            self.assertEqual(p.stdout.readline(), "ready\n")
            time.sleep(0.05)
            p.send_signal(signal.SIGINT)
            out, err = p.communicate(timeout=30)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        return p.returncode, out, err

    def test_ctrl_c_raises_keyboard_interrupt_in_main_where_it_waits(self):
        rc, out, err = self.interrupt("""
            import micro_threading as mt
            def child():
                try:
                    mt.sleep_d(60)
                finally:
                    print("child cleaned up", flush=True)
            def main():
                mt.micro_thread(child)
                print("ready", flush=True)
                try:
                    mt.sleep_d(60)
                except KeyboardInterrupt:
                    print("main got KeyboardInterrupt", flush=True)
                    raise
            try:
                mt.run(main)
            except KeyboardInterrupt:
                print("run raised KeyboardInterrupt", flush=True)
        """)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "main got KeyboardInterrupt\nchild cleaned up\nrun raised KeyboardInterrupt\n")

    def test_ctrl_c_uncaught_ends_the_program_like_plain_python(self):
        rc, out, err = self.interrupt("""
            import micro_threading as mt
            def main():
                print("ready", flush=True)
                mt.sleep_d(60)
            mt.run(main)
        """)
        self.assertNotEqual(rc, 0)
        self.assertIn("KeyboardInterrupt", err)
        self.assertIn("line 5, in main", err)  # where main waited

    def test_ctrl_c_while_main_computes_without_waiting_interrupts_it_at_once(self):
        rc, out, err = self.interrupt("""
            import time, micro_threading as mt
            def main():
                print("ready", flush=True)
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    sum(range(1000))  # never suspends: Python's handler runs at main's next bytecode
                print("not interrupted")
            try:
                mt.run(main)
            except KeyboardInterrupt:
                print("interrupted")
        """)
        self.assertEqual((rc, out), (0, "interrupted\n"), err)

    def test_ctrl_c_while_another_micro_thread_computes_goes_to_main(self):
        rc, out, err = self.interrupt("""
            import time, micro_threading as mt
            def busy():
                deadline = time.monotonic() + 30
                try:
                    while time.monotonic() < deadline:
                        sum(range(1000))
                        mt.yield_()
                except KeyboardInterrupt:
                    print("busy got KeyboardInterrupt", flush=True)
                    raise
            def main():
                mt.micro_thread(busy)
                print("ready", flush=True)
                try:
                    mt.sleep_d(60)
                except KeyboardInterrupt:
                    print("main got KeyboardInterrupt", flush=True)
                    raise
            try:
                mt.run(main)
            except KeyboardInterrupt:
                print("run raised KeyboardInterrupt", flush=True)
        """)
        self.assertEqual((rc, out), (0, "main got KeyboardInterrupt\nrun raised KeyboardInterrupt\n"), err)

    def test_ctrl_c_after_main_ended_ends_the_run(self):
        rc, out, err = self.interrupt("""
            import micro_threading as mt
            def left():
                try:
                    mt.sleep_d(60)
                finally:
                    print("left cleaned up", flush=True)
            def main():
                mt.micro_thread(left)
                print("ready", flush=True)
            try:
                mt.run(main)
            except KeyboardInterrupt:
                print("run raised KeyboardInterrupt", flush=True)
        """)
        self.assertEqual((rc, out), (0, "left cleaned up\nrun raised KeyboardInterrupt\n"), err)

    def test_ctrl_c_reaches_the_main_thread_while_another_os_thread_runs_an_engine(self):
        rc, out, err = self.interrupt("""
            import threading, time, micro_threading as mt
            running, done = threading.Event(), []
            def engine_main():
                running.set()
                mt.sleep_d(2)
                return "engine done"
            t = threading.Thread(target=lambda: done.append(mt.run(engine_main)))
            t.start()
            running.wait()
            print("ready", flush=True)
            try:
                time.sleep(30)
            except KeyboardInterrupt:
                print("main thread got KeyboardInterrupt", flush=True)
            t.join()
            print(done, flush=True)
        """)
        self.assertEqual((rc, out), (0, "main thread got KeyboardInterrupt\n['engine done']\n"), err)

    def test_the_programs_own_sigint_handler_runs_in_main_and_the_wait_goes_on(self):
        rc, out, err = self.interrupt("""
            import signal, time, micro_threading as mt
            seen = []
            signal.signal(signal.SIGINT, lambda signo, frame: seen.append(signo))
            def busy():
                deadline = time.monotonic() + 1.0
                while time.monotonic() < deadline:
                    sum(range(1000))
                    mt.yield_()
                return "busy went on"
            def main():
                b = mt.micro_thread(busy)
                print("ready", flush=True)
                start = time.monotonic()
                mt.sleep_d(1.0)
                print(seen == [signal.SIGINT], time.monotonic() - start >= 1.0, b.wait(), flush=True)
            mt.run(main)
        """)
        self.assertEqual((rc, out), (0, "True True busy went on\n"), err)

    def test_python_sigint_handling_is_back_after_run(self):
        r = run_child("""
            import signal, micro_threading as mt
            # as under a terminal: a runner may start us with SIGINT ignored
            signal.signal(signal.SIGINT, signal.default_int_handler)
            mt.run(lambda: mt.sleep_d(0.001))
            print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)
            try:
                signal.raise_signal(signal.SIGINT)
            except KeyboardInterrupt:
                print("plain KeyboardInterrupt")
        """)
        self.assertEqual(r.stdout, "True\nplain KeyboardInterrupt\n", r.stderr)


class ShutdownTests(unittest.TestCase):
    def test_sys_exit_in_main_with_suspended_micro_threads(self):
        r = run_child("""
            import sys, micro_threading as mt
            def child(i):
                try:
                    mt.sleep_d(60)
                finally:
                    print("child", i, "unwound", flush=True)
            def main():
                for i in range(3):
                    mt.micro_thread(child, i)
                mt.yield_()
                sys.exit(7)
            mt.run(main)
        """)
        self.assertEqual(r.returncode, 7, r.stderr)
        self.assertEqual(sorted(r.stdout.splitlines()), ["child 0 unwound", "child 1 unwound", "child 2 unwound"])
        self.assertEqual(r.stderr, "")

    def test_interpreter_exit_while_a_daemon_thread_runs_an_engine(self):
        r = run_child("""
            import threading, micro_threading as mt
            started = threading.Event()
            def engine_thread():
                def main():
                    for _ in range(5):
                        mt.micro_thread(mt.sleep_d, 60)
                    started.set()
                    mt.sleep_d(60)
                mt.run(main)
            threading.Thread(target=engine_thread, daemon=True).start()
            started.wait()
            print("main thread exits", flush=True)
        """)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "main thread exits\n")

    def test_objects_of_an_ended_run_at_interpreter_exit(self):
        r = run_child("""
            import micro_threading as mt
            keep = {}
            def main():
                keep["t"] = mt.micro_thread(lambda: 1)
                keep["p"] = mt.micro_pipe("kept")
                keep["p"].put(object())
                keep["d"] = mt.this_deferred()
            mt.run(main)
            print("exiting", flush=True)
        """)
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, "exiting\n", ""))

    def test_engines_on_two_os_threads(self):
        r = run_child("""
            import threading, micro_threading as mt
            out = []
            def engine(tag):
                def main():
                    ts = [mt.micro_thread(lambda i=i: (mt.sleep_d(0.01), i)[1]) for i in range(10)]
                    return sum(t.wait() for t in ts)
                out.append((tag, mt.run(main)))
            ts = [threading.Thread(target=engine, args=(k,)) for k in range(2)]
            for t in ts: t.start()
            for t in ts: t.join()
            print(sorted(out))
        """)
        self.assertEqual(r.stdout, "[(0, 45), (1, 45)]\n", r.stderr)


class DeadlockTests(unittest.TestCase):
    def test_a_deadlock_is_reported_with_its_chain_after_cleanup(self):
        r = run_child("""
            import micro_threading as mt
            def stage(inp, out):
                try:
                    out.put(inp.get())
                finally:
                    print("cleanup", flush=True)
            def main():
                a, b = mt.micro_pipe("a"), mt.micro_pipe("b")
                t1 = mt.micro_thread(stage, a, b, name="first")
                t2 = mt.micro_thread(stage, b, a, name="second")
                t1.wait()
            try:
                mt.run(main)
            except mt.DeadlockError as e:
                print(e)
        """)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.count("cleanup"), 2)
        self.assertIn("#1 'main' waits to join #2 'first', which waits to get from pipe 'a'", r.stdout)
        self.assertIn("'second' waits to get from pipe 'b'", r.stdout)


if __name__ == "__main__":
    unittest.main()
