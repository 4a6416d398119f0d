"""queue.SimpleQueue under the cooperative mode.

CPython's SimpleQueue is C (_queue): its blocking get() blocks the OS
thread, and with it every micro-thread, the producers too. queue's own
_PySimpleQueue waits cooperatively but is not reentrant: its put() takes a
lock, so a put() from a __del__ or a signal handler that runs inside another
put() of the same queue waits for itself. SimpleQueue here is both: put()
takes no lock (a deque append, then one waiting getter's own lock released,
which never waits), so it may run inside any other call on the queue, and
a get() that waits suspends its micro-thread (an OS thread blocks, as with
every CooperativeLock).

The patch also answers imports of _queue afresh (a test's
import_fresh_module('queue', fresh=['_queue']) makes a new C module, a new
type that no patching of the old one reaches): `_queue` then gives this
SimpleQueue and the original Empty.

Invariants: every lock in `_waiters` is held, and belongs to a get() that
is waiting on it or about to; put() releases at most one of them, after its
item is in `_items`; a get() puts its lock in `_waiters` before it looks at
`_items` the last time, so no put() falls between that look and its wait.
"""
import _queue as _c_queue
import collections as _collections
import importlib.abc as _abc
import importlib.machinery as _machinery
import sys as _sys
import time as _time
import types as _types

from .. import _core

Empty = _c_queue.Empty
_monotonic = _time.monotonic  # time.sleep is patched; the clock is not


class SimpleQueue:
    """Simple, unbounded, reentrant FIFO queue whose get() suspends the
    micro-thread that waits."""

    __slots__ = ("_items", "_waiters", "__weakref__")

    def __init__(self):
        self._items = _collections.deque()
        self._waiters = _collections.deque()

    def put(self, item, block=True, timeout=None):
        """Put the item on the queue; never blocks ('block' and 'timeout'
        are ignored, as in the Queue class's signature)."""
        self._items.append(item)
        if self._waiters:
            self._wake_one()

    def get(self, block=True, timeout=None):
        """Remove and return an item. With 'block' (the default) wait for
        one, at most 'timeout' seconds if given (then raise Empty); without,
        raise Empty at once when there is none."""
        end = None
        if block and timeout is not None:
            if timeout < 0:
                raise ValueError("'timeout' must be a non-negative number")
            end = _monotonic() + timeout
        items = self._items
        while True:
            try:
                return items.popleft()
            except IndexError:
                pass
            if not block:
                raise Empty
            waiter = _core.CooperativeLock()
            waiter.acquire()
            self._waiters.append(waiter)
            if items:  # an item came before the lock was queued: no put() releases it
                self._forget(waiter)
                continue
            try:
                if end is None:
                    woken = waiter.acquire()
                else:
                    left = end - _monotonic()
                    woken = left > 0 and waiter.acquire(True, left)
            except BaseException:  # aborted, interrupted: a wake-up it took goes to the next getter
                if not self._forget(waiter) and items:
                    self._wake_one()
                raise
            if not woken:
                self._forget(waiter)
                try:
                    return items.popleft()  # a put() came at the deadline, or released it as it gave up
                except IndexError:
                    raise Empty from None

    def _wake_one(self):
        try:
            waiter = self._waiters.popleft()
        except IndexError:  # another put() took the last one (reentrant, or another OS thread)
            return
        waiter.release()

    def _forget(self, waiter):
        """Takes waiter out of _waiters: True if it was there, False if a
        put() took it (and released it: that put's item is in _items, or a
        getter took it)."""
        try:
            self._waiters.remove(waiter)
            return True
        except ValueError:
            return False

    def put_nowait(self, item):
        """put(item, block=False)."""
        return self.put(item, block=False)

    def get_nowait(self):
        """get(block=False)."""
        return self.get(block=False)

    def empty(self):
        """True if the queue is empty (not reliable)."""
        return not self._items

    def qsize(self):
        """The number of items (not reliable)."""
        return len(self._items)

    __class_getitem__ = classmethod(_types.GenericAlias)


SimpleQueue.__module__ = "queue"


class _FreshQueueFinder(_abc.MetaPathFinder, _abc.Loader):
    """Answers `import _queue` when _queue is not in sys.modules (imported
    afresh): a module with this SimpleQueue and the original Empty."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "_queue":
            return None
        return _machinery.ModuleSpec("_queue", self)

    def create_module(self, spec):
        return None  # the default module

    def exec_module(self, module):
        module.SimpleQueue = SimpleQueue
        module.Empty = Empty
        module.__doc__ = __doc__


_finder = _FreshQueueFinder()


def apply(group, queue_module):
    """queue.SimpleQueue becomes this one; a fresh import of _queue gives it."""
    group.set(queue_module, "SimpleQueue", SimpleQueue)
    group.call(lambda: _sys.meta_path.insert(0, _finder),
               lambda: _sys.meta_path.remove(_finder) if _finder in _sys.meta_path else None)
