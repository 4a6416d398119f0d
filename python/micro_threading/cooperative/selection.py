"""Cooperative readiness: select.select, select.poll, select.epoll and the
selectors module.

Each first asks the kernel without waiting (the original call with a zero
timeout: its checks, errors and results stay the original's). When nothing
is ready and the caller may wait, a micro-thread suspends until one of the
fds is ready or the timeout passes — on the fd itself when there is one, else
on an epoll fd made for the wait (_coop_wait_fds) — and asks again. Outside
a micro-thread they are the originals.

selectors: the selector classes are patched in place (their `_select` /
`_selector_cls`), so a class bound earlier by another module (socketserver's
_ServerSelector, subprocess's _PopenSelector) is cooperative too;
DefaultSelector is the epoll one. A selector or poll object made before the
patching stays as it was.
"""
import math as _math
import operator as _operator
import select as _select
import selectors as _selectors
from time import monotonic as _monotonic

from .. import _core

_in_micro_thread = _core._coop_in_micro_thread
_wait_fd = _core._coop_wait_fd
_wait_fds = _core._coop_wait_fds
_orig_select = _select.select
_orig_poll = _select.poll
_orig_epoll = getattr(_select, "epoll", None)
_POLLIN, _POLLPRI, _POLLOUT = _select.POLLIN, _select.POLLPRI, _select.POLLOUT
_WAITABLE = _POLLIN | _POLLPRI | _POLLOUT | getattr(_select, "POLLRDNORM", 0) | \
    getattr(_select, "POLLRDBAND", 0) | getattr(_select, "POLLWRNORM", 0) | getattr(_select, "POLLWRBAND", 0)


def _fileno(obj):
    if isinstance(obj, int):
        return obj
    return obj.fileno()


def _seconds(timeout, what):
    """A select/epoll timeout in seconds (None: no limit), checked as the
    originals check it."""
    if timeout is None:
        return None
    if not isinstance(timeout, float):
        try:
            timeout = _operator.index(timeout)
        except TypeError:
            raise TypeError("timeout must be %s or None" % what) from None
    if timeout != timeout:
        raise ValueError("Invalid value NaN (not a number)")
    return timeout


_INT_MAX = 2 ** 31 - 1
_MAX_SECONDS = (2 ** 63 - 1) // 10 ** 9  # what _PyTime_t holds


def _milliseconds(timeout):
    """poll()'s timeout (ms, None or negative: no limit) in seconds or None,
    with the original's OverflowError for what a C int cannot hold."""
    if timeout is None:
        return None
    timeout = _seconds(timeout, "an integer")
    if timeout < 0:  # any negative value, -1e-100 too
        if timeout < -_INT_MAX - 1:
            raise OverflowError("timeout is too large")
        return None
    ms = _math.ceil(timeout)
    if ms > _INT_MAX:
        raise OverflowError("timeout is too large")
    return ms / 1000.0


def wait_any(interest, timeout):
    """Suspends until one of {fd: poll events} is ready (True) or the
    timeout passes (False)."""
    if len(interest) == 1:
        (fd, events), = interest.items()
        if events == _POLLIN or events == _POLLOUT:
            return _wait_fd(fd, events == _POLLOUT, timeout)
    return _wait_fds([(fd, ev & _WAITABLE) for fd, ev in interest.items()], timeout)


def _until_ready(ask, interest, timeout):
    """ask() until it reports something, waiting in between, within timeout
    (seconds, None: no limit); ask()'s last answer."""
    deadline = None if timeout is None else _monotonic() + timeout
    while True:
        left = None if deadline is None else max(0.0, deadline - _monotonic())
        if left == 0.0 or not wait_any(interest, left):
            return ask()  # the timeout passed: one last look, as the kernel's own call would give
        ready = ask()
        if ready:
            return ready


def select(rlist, wlist, xlist, timeout=None):
    """select.select(), cooperative in a micro-thread."""
    if not _in_micro_thread():
        return _orig_select(rlist, wlist, xlist, timeout)
    timeout = _seconds(timeout, "a float")
    if timeout is not None and timeout < 0:
        raise ValueError("timeout must be non-negative")
    if timeout is not None and timeout > _MAX_SECONDS:
        raise OverflowError("timestamp too large to convert to C _PyTime_t")
    ready = _orig_select(rlist, wlist, xlist, 0)
    if ready[0] or ready[1] or ready[2] or timeout == 0:
        return ready
    interest = {}
    for objs, ev in ((rlist, _POLLIN), (wlist, _POLLOUT), (xlist, _POLLPRI)):
        for o in objs:
            fd = _fileno(o)
            interest[fd] = interest.get(fd, 0) | ev

    def ask():
        r = _orig_select(rlist, wlist, xlist, 0)
        return r if (r[0] or r[1] or r[2]) else None

    return _until_ready(ask, interest, timeout) or ([], [], [])


class Poll:
    """What select.poll() returns: the original's poll object, whose poll()
    is cooperative in a micro-thread. Not instantiable (as the original's
    type): select.poll() makes them."""

    __slots__ = ("_poll", "_interest", "_polling")

    def __new__(cls, *args, **kwargs):
        raise TypeError("cannot create '%s.%s' instances" % (cls.__module__, cls.__name__))

    @classmethod
    def _make(cls):
        self = object.__new__(cls)
        self._poll = _orig_poll()
        self._interest = {}
        self._polling = False
        return self

    def register(self, fd, eventmask=_POLLIN | _POLLPRI | _POLLOUT):
        self._poll.register(fd, eventmask)
        self._interest[_fileno(fd)] = eventmask

    def modify(self, fd, eventmask):
        self._poll.modify(fd, eventmask)
        self._interest[_fileno(fd)] = eventmask

    def unregister(self, fd):
        self._poll.unregister(fd)
        del self._interest[_fileno(fd)]

    def poll(self, timeout=None):
        """poll([timeout]) -> list of (fd, event); timeout in milliseconds,
        None or negative: no limit."""
        if not _in_micro_thread():
            return self._poll.poll(timeout)
        timeout = _milliseconds(timeout)
        if self._polling:
            raise RuntimeError("concurrent poll() invocation")
        self._polling = True
        try:
            ready = self._poll.poll(0)
            if ready or timeout == 0 or not self._interest:
                if not ready and not self._interest and timeout != 0:
                    _until_ready(lambda: None, {}, timeout)  # poll() of nothing sleeps
                return ready
            return _until_ready(lambda: self._poll.poll(0), self._interest, timeout) or []
        finally:
            self._polling = False


Poll.__module__, Poll.__name__, Poll.__qualname__ = "select", "poll", "poll"


def poll():
    """poll() -> a polling object (select.poll's), cooperative in a micro-thread."""
    return Poll._make()


if _orig_epoll is not None:
    class epoll:
        """select.epoll(), whose poll() is cooperative in a micro-thread: it
        waits on the epoll fd itself. (select.epoll cannot be subclassed:
        this wraps one.)"""

        def __init__(self, sizehint=-1, flags=0, *, _wrap=None):
            self._epoll = _wrap if _wrap is not None else _orig_epoll(sizehint, flags)

        @classmethod
        def fromfd(cls, fd):
            return cls(_wrap=_orig_epoll.fromfd(fd))

        def poll(self, timeout=None, maxevents=-1):
            """poll([timeout=-1[, maxevents=-1]]) -> [(fd, events), ...]"""
            if not _in_micro_thread():
                return self._epoll.poll(timeout, maxevents)
            timeout = _seconds(timeout, "an integer")
            if timeout is not None and timeout < 0:
                timeout = None
            if timeout is not None and _math.ceil(timeout * 1000) > _INT_MAX:
                raise OverflowError("timeout is too large")
            ready = self._epoll.poll(0, maxevents)
            if ready or timeout == 0:
                return ready
            return _until_ready(lambda: self._epoll.poll(0, maxevents),
                                {self._epoll.fileno(): _POLLIN}, timeout) or []

        def register(self, fd, eventmask=_POLLIN | _POLLPRI | _POLLOUT):
            return self._epoll.register(fd, eventmask)

        def modify(self, fd, eventmask):
            return self._epoll.modify(fd, eventmask)

        def unregister(self, fd):
            return self._epoll.unregister(fd)

        def fileno(self):
            return self._epoll.fileno()

        def close(self):
            self._epoll.close()

        @property
        def closed(self):
            return self._epoll.closed

        def __enter__(self):
            if self._epoll.closed:
                raise ValueError("I/O operation on closed epoll object")
            return self

        def __exit__(self, *exc):
            self.close()
else:
    epoll = None


def apply(group):
    """patch_select: select.select/poll/epoll and the selectors' classes."""
    group.set(_select, "select", select)
    group.set(_select, "poll", poll)
    if epoll is not None:
        group.set(_select, "epoll", epoll)
    group.set(_selectors.SelectSelector, "_select", staticmethod(select))
    if hasattr(_selectors, "PollSelector"):
        group.set(_selectors.PollSelector, "_selector_cls", staticmethod(poll))
    if epoll is not None and hasattr(_selectors, "EpollSelector"):
        group.set(_selectors.EpollSelector, "_selector_cls", epoll)
        group.set(_selectors, "DefaultSelector", _selectors.EpollSelector)
