"""micro_threading — micro-threads for CPython 3.11, on the microthreading engine.

Stackful micro-threads, each with its own C stack, run by an engine on one OS
thread; micro_pipes between them; non-blocking I/O that looks blocking; the
deferred and its callback queue (the 2008 python-ideas micro-threading PEP).

    import micro_threading as mt

    def worker(n):
        mt.sleep_d(0.01)
        return n * n

    def main():
        threads = [mt.micro_thread(worker, i) for i in range(3)]
        return [t.wait() for t in threads]

    print(mt.run(main))        # [0, 1, 4]

The engine itself (micro-threads, pipes, the deferred, I/O, the switch of the
interpreter's state) is the extension micro_threading._core, built on the C
API of microthreading; this file adds what is plain Python over it: scope,
start_in_parallel, pipeline, accept_d and connect_d. See docs/embedding.md.

The cooperative mode (unmodified blocking stdlib code served by
micro-threads: socket, select, time.sleep, threading.Thread) is the
submodule micro_threading.cooperative: call its patch_all().
"""

import socket as _socket

from ._core import (  # noqa: F401  (re-exported)
    DEFAULT_STACK_SIZE,
    END_OF_STREAM,
    Barrier,
    Condition,
    Event,
    Mutex,
    Queue,
    Semaphore,
    DeadlockError,
    MicroThreadAborted,
    MicroThreadError,
    MicroThreadExit,
    Timeout,
    UsageError,
    current,
    deferred,
    dump,
    micro_pipe,
    micro_thread,
    read_d,
    recv_d,
    run,
    select,
    send_d,
    sleep_d,
    start_and_forget,
    stdin,
    stdout,
    submit_work,
    this_deferred,
    wait_readable,
    wait_writable,
    write_d,
    yield_,
)

__all__ = [
    "Barrier", "Condition", "END_OF_STREAM", "Event", "Mutex", "Queue", "Semaphore", "select",
    "DEFAULT_STACK_SIZE", "DeadlockError", "MicroThreadAborted", "MicroThreadError", "MicroThreadExit",
    "Timeout", "UsageError", "accept_d", "connect_d", "current", "deferred", "dump", "micro_pipe",
    "micro_thread", "pipeline", "read_d", "recv_d", "run", "scope", "send_d", "sleep_d",
    "start_and_forget", "start_in_parallel", "stdin", "stdout", "submit_work", "this_deferred",
    "wait_readable", "wait_writable", "write_d", "yield_",
]


class scope:
    """A structured scope: every micro-thread started through it is waited for
    when the ``with`` block ends; the first failure (in time) aborts the others
    and is raised there, with its own traceback.

        with mt.scope() as s:
            a = s.spawn(fetch, url1)
            b = s.spawn(fetch, url2)
        print(a.wait(), b.wait())

    If the block itself raises, the children are aborted and waited for, and
    the block's exception goes on. A child's MicroThreadExit (an abort) is not
    a failure.
    """

    def __init__(self):
        self._children = []
        self._failure = None
        self._closed = False

    def __enter__(self):
        return self

    def spawn(self, fn, *args, name=None, stack_size=None, stdin=None, stdout=None):
        """Starts fn(*args) in a micro-thread belonging to this scope; returns its handle."""
        if self._closed:
            raise UsageError("scope.spawn() after the scope ended")
        t = micro_thread(self._child, fn, args, name=name, stack_size=stack_size, stdin=stdin, stdout=stdout)
        self._children.append(t)
        return t

    def _child(self, fn, args):
        try:
            return fn(*args)
        except MicroThreadExit:
            raise
        except BaseException as e:
            if self._failure is None:
                self._failure = e
                self.abort(keep=current())
            raise

    def abort(self, keep=None):
        """Aborts every child still running (but `keep`)."""
        for t in self._children:
            if t != keep and not t.done:
                t.abort()

    def wait(self):
        """Waits for every child; raises the first failure."""
        try:
            for t in self._children:
                try:
                    t.wait()
                except MicroThreadExit:
                    raise
                except BaseException:
                    pass  # the first failure is raised below
        except MicroThreadExit:
            self.abort()  # we are being aborted: so are our children
            raise
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure

    def __exit__(self, exc_type, exc, tb):
        self._closed = True
        if exc is not None:
            self.abort()
            try:
                self.wait()
            except BaseException:
                pass  # the block's own exception goes on
            return False
        self.wait()
        return False


def start_in_parallel(*fns):
    """Runs every fn() in its own micro-thread and returns their results in
    order. If one raises, the others are aborted and waited for, and the first
    exception is raised."""
    with scope() as s:
        threads = [s.spawn(f) for f in fns]
    return [t.wait() for t in threads]


def pipeline(*stages, stdin=None, stdout=None):
    """Runs each stage in its own micro-thread, stage i's stdout linked to
    stage i+1's stdin by a micro_pipe (the first reads `stdin`, the last writes
    `stdout`, when given). Waits for all and returns the last stage's result.
    When a stage fails, the others are aborted at once and the original
    failure is raised."""
    if not stages:
        raise TypeError("pipeline() needs at least one stage")
    pipes = [micro_pipe("pipeline %d" % (i + 1)) for i in range(len(stages) - 1)]
    ins = [stdin] + pipes
    outs = pipes + [stdout]
    with scope() as s:
        threads = [
            s.spawn(stage, name=getattr(stage, "__name__", None), stdin=ins[i], stdout=outs[i])
            for i, stage in enumerate(stages)
        ]
    return threads[-1].wait()


def _nonblocking(sock):
    if sock.gettimeout() != 0.0:
        sock.setblocking(False)


def accept_d(sock, timeout=None):
    """accept_d(sock, timeout=None) -> (conn, address), suspending only the
    calling micro-thread. Puts sock in non-blocking mode."""
    _nonblocking(sock)
    while True:
        try:
            return sock.accept()
        except (BlockingIOError, InterruptedError):
            wait_readable(sock, timeout)


def connect_d(sock, address, timeout=None):
    """connect_d(sock, address, timeout=None): connects, suspending only the
    calling micro-thread. Puts sock in non-blocking mode."""
    _nonblocking(sock)
    try:
        sock.connect(address)
        return
    except (BlockingIOError, InterruptedError):
        pass
    wait_writable(sock, timeout)
    err = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_ERROR)
    if err:
        import os

        raise OSError(err, os.strerror(err))
