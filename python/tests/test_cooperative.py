"""The cooperative mode: unmodified blocking stdlib code (threading, socket,
select/selectors, time.sleep, socketserver, http.server) served by
micro-threads on one OS thread, after micro_threading.cooperative.patch_all().

The whole file runs patched (its own process: run_tests.py); the cases
about patching itself (twice, after OS threads started, unpatching) run in
fresh interpreters."""
import _thread
import http.client
import http.server
import os
import queue
import select
import selectors
import shutil
import signal
import socket
import socketserver
import ssl
import subprocess
import tempfile
import threading
import time
import unittest

import micro_threading as mt
from micro_threading import cooperative
from mt_testing import in_run, run_child

PATCHED = cooperative.patch_all()


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """A plain blocking handler: it sleeps half a second, then answers."""

    def do_GET(self):
        time.sleep(0.5)
        body = b"slept\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def get(port, path="/"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


class PatchAllTest(unittest.TestCase):
    def test_patch_all_patches_every_area_once(self):
        self.assertEqual(sorted(PATCHED), sorted(["thread", "socket", "dns", "select", "time", "os", "ssl"]))
        self.assertEqual(cooperative.patch_all(), [])  # a second call patches nothing more
        self.assertTrue(getattr(socket.socket, "_cooperative", False))
        self.assertIs(socket.socket, socket.socket)  # not wrapped twice
        self.assertEqual(socket.socket.__mro__.count(socket.socket), 1)

    def test_patched_functions_outside_run_behave_like_the_originals(self):
        start = time.monotonic()
        time.sleep(0.05)
        self.assertGreaterEqual(time.monotonic() - start, 0.04)
        a, b = socket.socketpair()
        with a, b:
            a.sendall(b"x")
            self.assertEqual(select.select([b], [], [], 5)[0], [b])
            self.assertEqual(b.recv(1), b"x")
            b.settimeout(0.05)
            self.assertRaises(TimeoutError, b.recv, 1)
        lock = threading.Lock()
        self.assertTrue(lock.acquire())
        self.assertFalse(lock.acquire(timeout=0.01))
        lock.release()


class ServerTest(unittest.TestCase):
    @in_run
    def test_threading_http_server_serves_100_sleeping_requests_in_about_one_sleep(self):
        class Server(http.server.ThreadingHTTPServer):
            request_queue_size = 128  # the kernel's backlog, not concurrency: 100 connect at once

        server = Server(("127.0.0.1", 0), QuietHandler)
        serving = threading.Thread(target=server.serve_forever, daemon=True)
        serving.start()
        results = []

        def client():
            results.append(get(server.server_address[1]))

        start = time.monotonic()
        clients = [threading.Thread(target=client) for _ in range(100)]
        for c in clients:
            c.start()
        for c in clients:
            c.join()
        elapsed = time.monotonic() - start
        server.shutdown()
        server.server_close()
        self.assertEqual(results, [(200, b"slept\n")] * 100)
        self.assertLess(elapsed, 10.0)  # one after the other: 50 s

    @in_run
    def test_threading_tcp_server_echoes_on_many_connections_at_once(self):
        class Echo(socketserver.StreamRequestHandler):
            def handle(self):
                for line in self.rfile:
                    time.sleep(0.01)
                    self.wfile.write(line.upper())

        server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Echo)
        serving = threading.Thread(target=server.serve_forever)
        serving.start()
        replies = {}

        def client(i):
            with socket.create_connection(server.server_address, timeout=30) as s, s.makefile("rwb") as f:
                got = []
                for j in range(5):
                    f.write(b"c%d-%d\n" % (i, j))
                    f.flush()
                    got.append(f.readline())
                replies[i] = got

        clients = [threading.Thread(target=client, args=(i,)) for i in range(20)]
        for c in clients:
            c.start()
        for c in clients:
            c.join()
        server.shutdown()
        serving.join()
        server.server_close()
        self.assertEqual(replies, {i: [b"C%d-%d\n" % (i, j) for j in range(5)] for i in range(20)})


class ThreadingTest(unittest.TestCase):
    @in_run
    def test_threads_are_micro_threads_of_this_os_thread(self):
        seen = []

        def body():
            seen.append((threading.get_native_id(), threading.current_thread().name, mt.current().name))

        t = threading.Thread(target=body, name="worker")
        t.start()
        t.join()
        self.assertEqual(seen, [(threading.get_native_id(), "worker", "worker")])
        self.assertNotEqual(t.ident, threading.get_ident())
        self.assertIs(threading.current_thread(), threading.main_thread())

    @in_run
    def test_time_sleep_suspends_only_the_caller(self):
        start = time.monotonic()
        ts = [threading.Thread(target=time.sleep, args=(0.3,)) for _ in range(20)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertLess(time.monotonic() - start, 3.0)  # 20 sleeps one after the other: 6 s

    @in_run
    def test_a_signal_handler_that_raises_ends_mains_wait_with_its_exception(self):
        class Alarm(Exception):
            pass

        def handler(signo, frame):
            raise Alarm(signo)

        old = signal.signal(signal.SIGALRM, handler)
        a, b = socket.socketpair()
        try:
            with selectors.DefaultSelector() as sel:
                sel.register(a, selectors.EVENT_READ)
                signal.setitimer(signal.ITIMER_REAL, 0.05)
                start = time.monotonic()
                with self.assertRaises(Alarm) as caught:
                    sel.select(20)  # nothing ever arrives: only the handler ends it
                self.assertEqual(caught.exception.args, (signal.SIGALRM,))
                self.assertLess(time.monotonic() - start, 10.0)
                signal.setitimer(signal.ITIMER_REAL, 0.05)
                with self.assertRaises(Alarm):
                    a.recv(1)  # a socket wait too
                signal.setitimer(signal.ITIMER_REAL, 0.05)
                with self.assertRaises(Alarm):
                    time.sleep(20)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
            a.close()
            b.close()

    @in_run
    def test_a_signal_handler_that_returns_lets_the_wait_go_on(self):
        calls = []
        old = signal.signal(signal.SIGALRM, lambda signo, frame: calls.append(signo))
        try:
            signal.setitimer(signal.ITIMER_REAL, 0.02)
            start = time.monotonic()
            time.sleep(0.2)
            self.assertGreaterEqual(time.monotonic() - start, 0.2)
            self.assertEqual(calls, [signal.SIGALRM])
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)

    @in_run
    def test_a_signal_handlers_exception_goes_to_main_not_to_the_thread_that_waits(self):
        class Alarm(Exception):
            pass

        def handler(signo, frame):
            raise Alarm()

        old = signal.signal(signal.SIGALRM, handler)
        done = threading.Event()
        try:
            def waiter():
                time.sleep(0.3)  # not interrupted: handlers belong to the main thread
                done.set()

            t = threading.Thread(target=waiter)
            t.start()
            signal.setitimer(signal.ITIMER_REAL, 0.05)
            with self.assertRaises(Alarm):
                done.wait()  # main waits here
            self.assertTrue(done.wait(10))
            t.join()
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)

    @in_run
    def test_interrupt_main_from_a_thread_raises_in_main_not_in_the_caller(self):
        where = []

        def handler(signo, frame):
            where.append(threading.get_ident())
            raise KeyboardInterrupt

        old = signal.signal(signal.SIGINT, handler)
        try:
            def caller():
                _thread.interrupt_main()
                where.append("caller went on")

            t = threading.Thread(target=caller)
            with self.assertRaises(KeyboardInterrupt):
                t.start()
                t.join()
            t.join()
            self.assertEqual(where, ["caller went on", threading.get_ident()])
        finally:
            signal.signal(signal.SIGINT, old)

    @in_run
    def test_interrupt_main_from_a_thread_with_another_signal_runs_its_handler_once_in_main(self):
        calls = []
        old = signal.signal(signal.SIGUSR1, lambda signo, frame: calls.append((signo, threading.get_ident())))
        try:
            t = threading.Thread(target=_thread.interrupt_main, args=(signal.SIGUSR1,))
            t.start()
            t.join()
            for _ in range(3):
                mt.yield_()
            self.assertEqual(calls, [(signal.SIGUSR1, threading.get_ident())])
        finally:
            signal.signal(signal.SIGUSR1, old)

    @in_run
    def test_interrupt_main_checks_the_signal_number_and_ignores_default_and_ignored_handlers(self):
        def in_thread(fn):
            out = []

            def body():
                try:
                    fn()
                    out.append(None)
                except BaseException as e:
                    out.append(e)

            t = threading.Thread(target=body)
            t.start()
            t.join()
            return out[0]

        for bad in (-1, 0, signal.NSIG, 1000000):
            self.assertIsInstance(in_thread(lambda: _thread.interrupt_main(bad)), ValueError)
        self.assertIsInstance(in_thread(lambda: _thread.interrupt_main(10 ** 20)), OverflowError)
        self.assertIsInstance(in_thread(lambda: _thread.interrupt_main("2")), TypeError)
        old = signal.getsignal(signal.SIGUSR2)
        try:
            for disposition in (signal.SIG_IGN, signal.SIG_DFL):
                signal.signal(signal.SIGUSR2, disposition)
                self.assertIsNone(in_thread(lambda: _thread.interrupt_main(signal.SIGUSR2)))
                mt.yield_()  # the process is still here: nothing was raised nor killed
        finally:
            signal.signal(signal.SIGUSR2, old)

    def test_interrupt_main_after_main_ended_runs_the_handler_in_runs_caller(self):
        calls = []
        old = signal.signal(signal.SIGUSR1, lambda signo, frame: calls.append(threading.get_ident()))

        def late():
            mt.yield_()
            mt.yield_()
            _thread.interrupt_main(signal.SIGUSR1)
            calls.append("late went on")

        def main():
            mt.micro_thread(late)
            return "main's result"

        try:
            self.assertEqual(mt.run(main), "main's result")
            for _ in range(1000):
                pass
            self.assertEqual(calls, ["late went on", threading.get_ident()])
        finally:
            signal.signal(signal.SIGUSR1, old)

    @in_run
    def test_interrupt_main_in_main_raises_at_once(self):
        with self.assertRaises(KeyboardInterrupt):
            _thread.interrupt_main()
            for _ in range(1000):
                pass

    @in_run
    def test_lock_condition_event_semaphore_and_queue_are_cooperative(self):
        lock, cond, event = threading.Lock(), threading.Condition(), threading.Event()
        sem = threading.BoundedSemaphore(2)
        q = queue.Queue(maxsize=1)
        inside, most, order, items = [0], [0], [], []

        def limited(i):
            with sem:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
                time.sleep(0.01)
                inside[0] -= 1
            with lock:
                time.sleep(0.001)  # suspended while holding it: nobody else gets in
                order.append(i)

        def producer():
            event.wait()
            for i in range(10):
                q.put(i)
            q.put(None)

        def consumer():
            while (i := q.get()) is not None:
                items.append(i)
            with cond:
                cond.notify_all()

        ts = [threading.Thread(target=limited, args=(i,)) for i in range(6)]
        ts += [threading.Thread(target=producer), threading.Thread(target=consumer)]
        for t in ts:
            t.start()
        with cond:
            event.set()
            self.assertTrue(cond.wait(timeout=10))
        for t in ts:
            t.join()
        self.assertEqual(most[0], 2)
        self.assertEqual(sorted(order), list(range(6)))
        self.assertEqual(items, list(range(10)))

    @in_run
    def test_simple_queue_get_suspends_only_the_caller_and_times_out(self):
        q = queue.SimpleQueue()
        got = []

        def consumer():
            while (i := q.get()) is not None:
                got.append(i)

        def producer():
            for i in range(100):
                q.put(i)
                if i % 10 == 0:
                    time.sleep(0.001)
            q.put(None)

        ts = [threading.Thread(target=consumer), threading.Thread(target=producer)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(got, list(range(100)))
        start = time.monotonic()
        with self.assertRaises(queue.Empty):
            q.get(timeout=0.05)
        self.assertGreaterEqual(time.monotonic() - start, 0.04)
        with self.assertRaises(queue.Empty):
            q.get_nowait()
        with self.assertRaises(ValueError):
            q.get(timeout=-1)
        self.assertEqual((q.qsize(), q.empty()), (0, True))

    @in_run
    def test_simple_queue_put_is_reentrant(self):
        q = queue.SimpleQueue()
        n = [0]

        class Circular:
            def __init__(self):
                self.me = self

            def __del__(self):
                q.put("from __del__")

        def put_many():
            for i in range(2000):
                Circular()
                q.put(i)
            n[0] = 1

        t = threading.Thread(target=put_many)
        t.start()
        t.join()
        import gc
        gc.collect()
        items = []
        while not q.empty():
            items.append(q.get_nowait())
        self.assertEqual([i for i in items if i != "from __del__"], list(range(2000)))
        self.assertEqual(n[0], 1)

    @in_run
    def test_simple_queue_an_aborted_getter_leaves_the_next_put_to_the_others(self):
        q = queue.SimpleQueue()
        got = []

        def getter(name):
            got.append((name, q.get()))

        first = mt.micro_thread(getter, "first")
        second = mt.micro_thread(getter, "second")
        mt.yield_()  # both wait, first in front
        first.abort()
        with self.assertRaises(mt.MicroThreadAborted):
            first.wait()
        q.put(1)  # not lost on the aborted one
        second.wait()
        self.assertEqual(got, [("second", 1)])
        self.assertEqual(q.qsize(), 0)

    def test_a_fresh_import_of_queue_gets_the_cooperative_simple_queue(self):
        import importlib
        import sys
        saved = {name: sys.modules.pop(name) for name in ("queue", "_queue")}  # as a test's import_fresh_module
        try:
            fresh = importlib.import_module("queue")
        finally:
            sys.modules.update(saved)
        self.assertIsNot(fresh, queue)
        self.assertIs(fresh.SimpleQueue, queue.SimpleQueue)
        self.assertIs(fresh.Empty, queue.Empty)

    @in_run
    def test_a_dummy_thread_stays_in_active_after_its_thread_ended_and_leaves_at_the_next_start(self):
        # As CPython's own tests expect of a thread started with
        # _thread.start_new_thread that called current_thread(); a server
        # starting such threads still does not grow.
        def f(done):
            threading.current_thread()
            done.release()

        before = len(threading._active)
        for _ in range(50):
            done = threading.Lock()
            done.acquire()
            tid = _thread.start_new_thread(f, (done,))
            done.acquire()  # it released it, and ends
            mt.yield_()
            self.assertIsInstance(threading._active.get(tid), threading._DummyThread)
            self.assertTrue(threading._active[tid].is_alive())
        self.assertLessEqual(len(threading._active), before + 2)
        _thread.start_new_thread(lambda: None, ())
        mt.yield_()
        self.assertNotIn(tid, threading._active)

    @in_run
    def test_rlock_is_owned_per_micro_thread(self):
        rlock = threading.RLock()
        got = []

        def other():
            got.append(rlock.acquire(timeout=0.05))

        with rlock, rlock:
            t = threading.Thread(target=other)
            t.start()
            t.join()
        self.assertEqual(got, [False])

    @in_run
    def test_threading_local_is_per_micro_thread(self):
        local = threading.local()
        local.x = "main"
        seen = []

        def body(i):
            seen.append(getattr(local, "x", None))
            local.x = i
            time.sleep(0.01)
            seen.append(local.x)

        ts = [threading.Thread(target=body, args=(i,)) for i in range(3)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(sorted(seen, key=repr), sorted([None] * 3 + [0, 1, 2], key=repr))
        self.assertEqual(local.x, "main")

    @in_run
    def test_join_with_timeout_returns_while_the_thread_runs_on(self):
        t = threading.Thread(target=time.sleep, args=(0.5,))
        t.start()
        start = time.monotonic()
        t.join(timeout=0.05)
        self.assertTrue(t.is_alive())
        self.assertLess(time.monotonic() - start, 0.45)
        t.join()
        self.assertFalse(t.is_alive())

    @in_run
    def test_a_raising_thread_goes_to_excepthook_and_the_others_run_on(self):
        caught = []
        old = threading.excepthook
        threading.excepthook = lambda args: caught.append((args.exc_type, str(args.exc_value), args.thread.name))
        try:
            def bad():
                time.sleep(0.01)
                raise ValueError("boom")

            survivors = []
            t = threading.Thread(target=bad, name="bad")
            ok = threading.Thread(target=lambda: (time.sleep(0.05), survivors.append(1)))
            t.start()
            ok.start()
            t.join()
            ok.join()
        finally:
            threading.excepthook = old
        self.assertEqual(caught, [(ValueError, "boom", "bad")])
        self.assertEqual(survivors, [1])
        self.assertFalse(t.is_alive())

    def test_run_waits_for_non_daemon_threads_and_aborts_daemon_ones(self):
        log = []

        def daemon():
            try:
                time.sleep(60)
            finally:
                log.append("daemon unwound")

        def worker():
            time.sleep(0.05)
            log.append("worker done")

        def main():
            threading.Thread(target=daemon, daemon=True).start()
            threading.Thread(target=worker).start()
            return "main"

        start = time.monotonic()
        self.assertEqual(mt.run(main), "main")
        self.assertLess(time.monotonic() - start, 30)
        self.assertEqual(log, ["worker done", "daemon unwound"])


class SelectTest(unittest.TestCase):
    @in_run
    def test_select_and_selectors_wait_without_blocking_the_others(self):
        a, b = socket.socketpair()
        ticks = []

        def ticker():
            for _ in range(5):
                time.sleep(0.01)
                ticks.append(1)
            a.send(b"!")

        t = threading.Thread(target=ticker)
        t.start()
        self.assertEqual(select.select([b], [], [], 10), ([b], [], []))
        self.assertEqual(len(ticks), 5)
        self.assertEqual(b.recv(1), b"!")
        t = threading.Thread(target=lambda: (time.sleep(0.02), a.send(b"?")))
        t.start()
        with selectors.DefaultSelector() as sel:
            sel.register(b, selectors.EVENT_READ, "b")
            events = sel.select(timeout=10)
        self.assertEqual([(k.data, ev) for k, ev in events], [("b", selectors.EVENT_READ)])
        self.assertEqual(select.select([b], [], [], 0.0), ([b], [], []))
        t.join()
        a.close()
        b.close()

    @in_run
    def test_socket_timeout_and_close_wake_a_waiter(self):
        a, b = socket.socketpair()
        b.settimeout(0.05)
        self.assertRaises(TimeoutError, b.recv, 1)
        b.settimeout(None)
        errors = []

        def reader():
            try:
                b.recv(1)
            except OSError as e:
                errors.append(type(e))

        t = threading.Thread(target=reader)
        t.start()
        time.sleep(0.01)
        b.close()  # the reader is woken, not left waiting for ever
        t.join(timeout=5)
        self.assertFalse(t.is_alive())
        self.assertEqual(len(errors), 1)
        a.close()


class DetachTest(unittest.TestCase):
    @in_run
    def test_detach_leaves_a_blocking_sockets_fd_blocking_and_os_read_waits_on_it(self):
        # multiprocessing.Pipe() detaches a blocking socketpair and reads its
        # fds with os.read: a non-blocking fd made that read fail with EAGAIN.
        a, b = socket.socketpair()
        fd = a.detach()
        self.assertTrue(os.get_blocking(fd))
        timed = socket.socket()
        timed.settimeout(1.0)
        tfd = timed.detach()
        self.assertFalse(os.get_blocking(tfd))  # as the original leaves a socket with a timeout
        os.close(tfd)
        got = []
        reader = mt.micro_thread(lambda: got.append(os.read(fd, 10)))
        mt.yield_()  # it waits for the fd, suspended
        self.assertEqual(got, [])
        b.sendall(b"hello")
        reader.wait()
        self.assertEqual(got, [b"hello"])
        os.close(fd)
        b.close()

    def test_detach_of_a_socket_whose_fd_was_closed_behind_it_returns_the_number(self):
        first = socket.socket()
        second = socket.socket(fileno=first.fileno())
        number = first.fileno()
        first.close()
        self.assertEqual(second.detach(), number)  # as the original: no error


class OsTest(unittest.TestCase):
    @in_run
    def test_os_read_of_a_pipe_suspends_only_the_caller(self):
        r, w = os.pipe()
        t = threading.Thread(target=lambda: (time.sleep(0.02), os.write(w, b"ok")))
        t.start()
        self.assertEqual(os.read(r, 2), b"ok")  # the writer ran while this waited
        t.join()
        os.set_blocking(r, False)
        self.assertRaises(BlockingIOError, os.read, r, 1)  # a non-blocking fd: at once, as before
        os.close(r)
        os.close(w)
        with open(__file__, "rb") as f:
            self.assertEqual(os.read(f.fileno(), 3), b'"""')

    @in_run
    def test_a_thread_that_forks_leaves_a_working_parent(self):
        r, w = os.pipe()
        pid = []

        def fork():
            pid.append(os.fork())
            if pid[0] == 0:
                try:
                    os.write(w, b"child")
                finally:
                    os._exit(0)

        t = threading.Thread(target=fork)
        t.start()
        self.assertEqual(os.read(r, 5), b"child")
        t.join()
        self.assertEqual(os.waitpid(pid[0], 0)[1], 0)
        os.close(r)
        os.close(w)


class TlsTest(unittest.TestCase):
    @unittest.skipUnless(shutil.which("openssl"), "needs the openssl command to make a certificate")
    @in_run
    def test_tls_server_and_client_on_one_os_thread(self):
        with tempfile.TemporaryDirectory() as d:
            cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                            "/CN=localhost", "-keyout", key, "-out", cert], check=True, capture_output=True)
            server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            server_ctx.load_cert_chain(cert, key)
        client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        client_ctx.check_hostname = False
        client_ctx.verify_mode = ssl.CERT_NONE
        listener = socket.create_server(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        got = []

        def server():
            conn, _ = listener.accept()
            with server_ctx.wrap_socket(conn, server_side=True) as tls:
                while data := tls.recv(1024):
                    tls.sendall(data.upper())

        def client(i):
            with socket.create_connection(("127.0.0.1", port), timeout=30) as raw, \
                    client_ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                tls.sendall(b"hello %d" % i)
                got.append(tls.recv(1024))

        servers = [threading.Thread(target=server) for _ in range(3)]
        clients = [threading.Thread(target=client, args=(i,)) for i in range(3)]
        for t in servers + clients:
            t.start()
        for t in servers + clients:
            t.join()
        listener.close()
        self.assertEqual(sorted(got), [b"HELLO 0", b"HELLO 1", b"HELLO 2"])


class PatchingTest(unittest.TestCase):
    def test_patching_twice_is_harmless_and_unpatch_all_restores_the_originals(self):
        r = run_child("""
            import socket, time, threading, _thread, select
            originals = (socket.socket, time.sleep, threading.Lock, _thread.start_new_thread, select.select)
            from micro_threading import cooperative
            first = cooperative.patch_all()
            assert cooperative.patch_all() == [] and cooperative.patch_socket() is False
            assert cooperative.patched() == first, cooperative.patched()
            assert socket.socket.__mro__[1] is originals[0]
            cooperative.unpatch_all()
            assert cooperative.patched() == []
            now = (socket.socket, time.sleep, threading.Lock, _thread.start_new_thread, select.select)
            assert now == originals, (now, originals)
            assert cooperative.patch_all() == first  # and again
            print("ok")
        """)
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "ok"), r.stderr)

    def test_patching_after_os_threads_started_leaves_them_working(self):
        r = run_child("""
            import threading, time, queue
            import micro_threading as mt
            q = queue.Queue()
            stop = threading.Event()
            def os_thread():  # an OS thread started before the patching
                while not stop.wait(0.005):
                    time.sleep(0.001)
                    q.put("tick")
            t = threading.Thread(target=os_thread)
            t.start()
            from micro_threading import cooperative
            cooperative.patch_all()
            def main():
                ws = [threading.Thread(target=time.sleep, args=(0.05,)) for _ in range(5)]
                for w in ws: w.start()
                for w in ws: w.join()
                return len(ws)
            assert mt.run(main) == 5
            stop.set()
            t.join(10)
            assert not t.is_alive() and q.get(timeout=5) == "tick"
            print("ok")
        """)
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "ok"), r.stderr)

    def test_patching_inside_run_makes_later_threads_cooperative(self):
        r = run_child("""
            import threading, time
            import micro_threading as mt
            def main():
                from micro_threading import cooperative
                cooperative.patch_all()
                start = time.monotonic()
                ws = [threading.Thread(target=time.sleep, args=(0.2,)) for _ in range(10)]
                for w in ws: w.start()
                for w in ws: w.join()
                return time.monotonic() - start
            assert mt.run(main) < 1.5
            print("ok")
        """)
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "ok"), r.stderr)

    def test_an_exception_in_start_new_thread_goes_to_unraisablehook(self):
        r = run_child("""
            import _thread, sys, time
            import micro_threading as mt
            from micro_threading import cooperative
            cooperative.patch_all()
            seen = []
            sys.unraisablehook = lambda u: seen.append((u.exc_type.__name__, str(u.exc_value)))
            def bad():
                raise KeyError("lost")
            def main():
                _thread.start_new_thread(bad, ())
                time.sleep(0.01)
            mt.run(main)
            assert seen == [("KeyError", "'lost'")], seen
            print("ok")
        """)
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "ok"), r.stderr)


if __name__ == "__main__":
    unittest.main()
