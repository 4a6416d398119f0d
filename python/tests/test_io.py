"""sleep_d, fd and socket I/O that suspends only the caller, accept_d and
connect_d, timeouts and aborts on I/O waits, submit_work."""
import os
import socket
import threading
import time
import unittest

import micro_threading as mt
from mt_testing import in_run


class SleepTests(unittest.TestCase):
    @in_run
    def test_sleepers_wake_in_deadline_order(self):
        order = []

        def nap(tag, s):
            mt.sleep_d(s)
            order.append(tag)

        ts = [mt.micro_thread(nap, tag, s) for tag, s in (("c", 0.03), ("a", 0.01), ("b", 0.02))]
        for t in ts:
            t.wait()
        self.assertEqual(order, ["a", "b", "c"])
        mt.sleep_d(0)
        with self.assertRaises(ValueError):
            mt.sleep_d(-1)
        with self.assertRaises(TypeError):
            mt.sleep_d(None)

    @in_run
    def test_sleeping_micro_threads_do_not_block_each_other(self):
        start = time.monotonic()
        ts = [mt.micro_thread(mt.sleep_d, 0.05) for _ in range(50)]
        for t in ts:
            t.wait()
        self.assertLess(time.monotonic() - start, 2.0)


class FdTests(unittest.TestCase):
    @in_run
    def test_read_d_write_d_on_a_pipe_fd(self):
        r, w = os.pipe()
        try:
            def writer():
                mt.sleep_d(0.01)
                self.assertEqual(mt.write_d(w, b"hello"), 5)

            t = mt.micro_thread(writer)
            self.assertEqual(mt.read_d(r, 100), b"hello")
            t.wait()
            with self.assertRaises(mt.Timeout):
                mt.read_d(r, 10, timeout=0.01)
            big = b"x" * (1 << 20)  # more than the pipe holds: write_d waits for the reader
            t = mt.micro_thread(mt.write_d, w, big)
            got = b""
            while len(got) < len(big):
                got += mt.read_d(r)
            self.assertEqual(t.wait(), len(big))
            os.close(w)
            w = -1
            self.assertEqual(mt.read_d(r), b"")  # end of file
        finally:
            os.close(r)
            if w >= 0:
                os.close(w)

    @in_run
    def test_bad_fds(self):
        r, w = os.pipe()
        os.close(r)
        os.close(w)
        with self.assertRaises(OSError):
            mt.read_d(r, 1)
        with self.assertRaises(OSError):
            mt.wait_readable(r)
        with self.assertRaises(ValueError):
            mt.read_d(-1, 1)
        with self.assertRaises(TypeError):
            mt.read_d("not an fd", 1)

    @in_run
    def test_socketpair_send_recv_and_abort_of_a_reader(self):
        a, b = socket.socketpair()
        with a, b:
            def echo():
                while True:
                    data = mt.recv_d(b, 1024)
                    if not data:
                        return "closed"
                    mt.send_d(b, data)

            t = mt.micro_thread(echo)
            for i in range(100):
                msg = b"ping %d" % i
                mt.send_d(a, msg)
                self.assertEqual(mt.recv_d(a, 1024), msg)
            a.shutdown(socket.SHUT_WR)
            self.assertEqual(t.wait(), "closed")
            blocked = mt.micro_thread(mt.recv_d, a, 10)
            mt.yield_()
            blocked.abort()
            with self.assertRaises(mt.MicroThreadAborted):
                blocked.wait()
            with self.assertRaises(mt.Timeout):
                mt.wait_readable(a, timeout=0.01)

    @in_run
    def test_send_to_a_closed_peer_is_an_os_error_not_sigpipe(self):
        a, b = socket.socketpair()
        b.close()
        with a:
            with self.assertRaises(OSError):
                for _ in range(100):
                    mt.send_d(a, b"x" * 65536)

    @in_run
    def test_echo_server_with_accept_d_and_connect_d(self):
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]

        def serve(conn):
            with conn:
                while data := mt.recv_d(conn, 1024):
                    mt.send_d(conn, data.upper())

        def server():
            for _ in range(3):
                conn, _addr = mt.accept_d(listener)
                mt.start_and_forget(serve, conn)

        def client(i):
            with socket.socket() as s:
                mt.connect_d(s, ("127.0.0.1", port))
                mt.send_d(s, b"hi %d" % i)
                return mt.recv_d(s, 100)

        srv = mt.micro_thread(server)
        self.assertEqual(mt.start_in_parallel(*(lambda i=i: client(i) for i in range(3))),
                         [b"HI 0", b"HI 1", b"HI 2"])
        srv.wait()
        with self.assertRaises(mt.Timeout):
            mt.accept_d(listener, timeout=0.01)
        listener.close()
        with socket.socket() as s:
            with self.assertRaises(ConnectionRefusedError):
                mt.connect_d(s, ("127.0.0.1", port))


class SubmitWorkTests(unittest.TestCase):
    @in_run
    def test_submit_work_runs_on_another_os_thread(self):
        me = threading.get_ident()
        self.assertNotEqual(mt.submit_work(threading.get_ident), me)
        self.assertEqual(mt.submit_work(pow, 2, 10), 1024)
        self.assertIsNone(mt.submit_work(lambda: None))

    @in_run
    def test_submit_work_raises_the_jobs_exception(self):
        with self.assertRaisesRegex(ZeroDivisionError, "division"):
            mt.submit_work(lambda: 1 / 0)
        with self.assertRaises(TypeError):
            mt.submit_work(42)

    @in_run
    def test_micro_threads_run_while_a_job_releases_the_gil(self):
        ticks = []

        def ticker():
            for _ in range(5):
                mt.sleep_d(0.01)
                ticks.append(1)

        t = mt.micro_thread(ticker)
        mt.submit_work(time.sleep, 0.2)  # releases the GIL
        self.assertEqual(len(ticks), 5)
        t.wait()

    @in_run
    def test_an_aborted_caller_leaves_nothing_behind(self):
        import sys

        obj = object()
        base = sys.getrefcount(obj)

        def job():
            time.sleep(0.05)
            return obj

        t = mt.micro_thread(mt.submit_work, job)
        mt.sleep_d(0.01)
        t.abort()
        with self.assertRaises(mt.MicroThreadAborted):
            t.wait()
        mt.sleep_d(0.15)  # the job ends; its result is released
        self.assertEqual(sys.getrefcount(obj), base + 0 if job.__closure__ is None else base)


if __name__ == "__main__":
    unittest.main()
