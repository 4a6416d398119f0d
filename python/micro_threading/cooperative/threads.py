"""Cooperative threads: threading.Thread as micro-threads.

The threading module is pure Python over a few functions of _thread; those
are replaced (in _thread, and where threading keeps its own references), and
threading itself is left as it is, so Thread and its subclasses — defined
before or after the patching — keep all their behaviour (names, daemon,
join(timeout), is_alive, excepthook, enumerate, current_thread):

  _thread.start_new_thread   in a micro-thread: starts the function in a new
                             micro-thread (named after the Thread), returns
                             its ident; elsewhere: an OS thread, as before.
  _thread.allocate_lock      CooperativeLock (C): a micro-thread that waits
                             suspends, an OS thread blocks; not bound to any
                             run. threading.Lock, Condition, Semaphore,
                             BoundedSemaphore, Event, Barrier, Timer and
                             queue.Queue are built on it.
  _thread.RLock              threading's own Python RLock over those.
  _thread.get_ident          each micro-thread's own; the run's main
                             micro-thread has its OS thread's (it stands for
                             that thread: current_thread() is the OS thread's
                             Thread, its thread-locals the OS thread's).
  _thread._set_sentinel      the lock join() waits on, released when the
                             micro-thread ends.
  _thread._local             `local` below: thread-local per micro-thread.
  _thread._count             counts these micro-threads too.
  queue.SimpleQueue          simple_queue.SimpleQueue: reentrant, and its get()
                             suspends (the C one blocks the OS thread); a
                             fresh import of _queue gives it too.

When main's function ends, what threading does at the end of the main
thread happens in main: the non-daemon threads are waited for; then the
daemon threads (and those of _thread.start_new_thread) are aborted (they
unwind, running their finally clauses), so run() returns.

An exception that ends a Thread goes to threading.excepthook as usual; one
that ends a function of start_new_thread to sys.unraisablehook; SystemExit
ends only its thread, silently, as with OS threads.
"""
import _thread
import itertools as _itertools
import queue as _queue
import sys as _sys
import threading as _threading

from .. import _core
from . import simple_queue

_in_micro_thread = _core._coop_in_micro_thread
_local_dict = _core._coop_local_dict
get_ident = _core._coop_get_ident
CooperativeLock = _core.CooperativeLock
MicroThreadExit = _core.MicroThreadExit

_orig_start_new_thread = _thread.start_new_thread
_orig_set_sentinel = _thread._set_sentinel
_orig_count = _thread._count
_os_ident = _thread.get_ident
_OSLocal = _thread._local

_SENTINELS = "micro_threading.cooperative.sentinels"
_DUMMY = "micro_threading.cooperative.dummy"

# OS thread ident -> {micro-thread ident: (micro_thread, its Thread or None)}:
# the threads started through start_new_thread in the run on that OS thread,
# until their bodies end.
_registries = {}


def _registry():
    ident = _os_ident()
    r = _registries.get(ident)
    if r is None:
        r = _registries[ident] = {}
    return r


def _passing_aborts(invoke_excepthook):
    """A Thread's _invoke_excepthook that lets an abort (MicroThreadExit,
    caught by _bootstrap_inner's bare except) go on instead of reporting it."""

    def invoke(thread):
        exc = _sys.exc_info()[1]
        if isinstance(exc, MicroThreadExit):
            raise exc
        return invoke_excepthook(thread)

    return invoke


def _body(function, args, kwargs, registry):
    ident = get_ident()
    try:
        function(*args, **kwargs)
    except SystemExit:
        pass  # ends its thread only, as _thread's threads
    except MicroThreadExit:
        raise
    except BaseException as e:
        _core._coop_write_unraisable(e, "in thread started by", function)
    finally:
        store = _local_dict()
        for lock in store.pop(_SENTINELS, ()) if store is not None else ():
            if lock.locked():
                lock.release()  # join() returns
        registry.pop(ident, None)


def start_new_thread(function, args, kwargs=None):
    """start_new_thread(function, args[, kwargs]) -> ident: in a micro-thread,
    runs function(*args, **kwargs) in a new micro-thread; elsewhere in a new
    OS thread (the original)."""
    if not _in_micro_thread():
        if kwargs is None:
            return _orig_start_new_thread(function, args)
        return _orig_start_new_thread(function, args, kwargs)
    if not callable(function):
        raise TypeError("first arg must be callable")
    if not isinstance(args, tuple):
        raise TypeError("2nd arg must be a tuple")
    if kwargs is not None and not isinstance(kwargs, dict):
        raise TypeError("optional 3rd arg must be a dictionary")
    owner = getattr(function, "__self__", None)
    thread = owner if isinstance(owner, _threading.Thread) else None
    if thread is not None:
        thread._invoke_excepthook = _passing_aborts(thread._invoke_excepthook)
        name = thread.name
    else:
        name = getattr(function, "__qualname__", None) or type(function).__name__
    _sweep_dummies()
    registry = _registry()
    t = _core.micro_thread(_body, function, args, kwargs or {}, registry, name=name)
    ident = _core._coop_ident_of(t)
    registry[ident] = (t, thread)
    return ident


def _set_sentinel():
    """The lock Thread.join() waits on: released when the thread ends."""
    store = _local_dict()
    if store is None:
        return _orig_set_sentinel()
    lock = CooperativeLock()
    store.setdefault(_SENTINELS, []).append(lock)
    return lock


def _count():
    return _orig_count() + sum(len(r) for r in list(_registries.values()))


def at_main_end():
    """What threading does when the main thread ends, for the run on this
    OS thread (called in main by the engine): waits for the non-daemon
    Threads (and those they start meanwhile), then aborts the rest and waits
    for them to unwind."""
    registry = _registries.get(_os_ident())
    if not registry:
        return
    while True:
        waiting = [t for t, th in list(registry.values()) if th is not None and not th.daemon and not t.done]
        if not waiting:
            break
        for t in waiting:
            try:
                t.wait()
            except MicroThreadExit:
                raise
            except BaseException:
                pass  # its failure was reported where it happened
    rest = [t for t, th in list(registry.values()) if not t.done]
    for t in rest:
        t.abort()
    for t in rest:
        try:
            t.wait()
        except MicroThreadExit:
            raise
        except BaseException:
            pass


# The idents of ended micro-threads whose dummy Thread is still in
# threading._active: they leave it at the next start_new_thread or the next
# dummy made (_sweep_dummies), not as they end. So, as with CPython's dummy
# threads, the entry is there when the code that started the thread looks
# right after it ended (CPython's own tests do), and a server that keeps
# starting such threads does not grow (CPython 3.11 keeps them for ever).
# Idents are never reused.
_ended_dummies = []


def _sweep_dummies():
    active = getattr(_threading, "_active", None)
    while _ended_dummies:
        ident = _ended_dummies.pop()
        if active is not None and isinstance(active.get(ident), _threading._DummyThread):
            active.pop(ident, None)


class _IdentRemover:
    """Kept in a micro-thread's thread-local store; when the store goes (its
    body returned), the dummy Thread that current_thread() made for it is
    marked to leave threading._active (see _ended_dummies)."""

    __slots__ = ("ident",)

    def __init__(self, ident):
        self.ident = ident

    def __del__(self):
        _ended_dummies.append(self.ident)


class _DummyThread(_threading._DummyThread):
    """threading's _DummyThread (what current_thread() gives a micro-thread
    that threading did not start), which leaves threading._active some time
    after its micro-thread ended instead of staying for ever."""

    def __init__(self):
        _sweep_dummies()
        super().__init__()
        store = _local_dict()
        if store is not None:
            store[_DUMMY] = _IdentRemover(self._ident)


# ---- threading.local per micro-thread ------------------------------------------------------------

_MISSING = object()
_local_keys = _itertools.count()


def _class_attr(tp, name):
    for k in tp.__mro__:
        v = k.__dict__.get(name, _MISSING)
        if v is not _MISSING:
            return v
    return _MISSING


def _is_data_descriptor(attr):
    t = type(attr)
    return hasattr(t, "__set__") or hasattr(t, "__delete__")


class _LocalImpl:
    __slots__ = ("key", "args", "kwargs", "os_local", "__weakref__")

    def __init__(self, args, kwargs):
        self.key = "micro_threading.local.%d" % next(_local_keys)
        self.args = args
        self.kwargs = kwargs
        self.os_local = _OSLocal()  # the OS threads' dicts (C thread-locals): attribute `d`


def _dict_of(self, creating=False):
    """self's attribute dict for the calling thread (a micro-thread's own;
    main's and any OS thread's: the OS thread's), made on the first use in a
    thread, where the local's __init__ then runs with its arguments, as
    threading.local does."""
    impl = object.__getattribute__(self, "_local__impl")
    store = _local_dict()
    if store is None:
        try:
            return impl.os_local.d
        except AttributeError:
            d = impl.os_local.d = {}
    else:
        d = store.get(impl.key)
        if d is not None:
            return d
        d = store[impl.key] = {}
    if not creating:
        init = type(self).__init__
        if init is not object.__init__:
            init(self, *impl.args, **impl.kwargs)
    return d


class local:
    """threading.local for the cooperative mode: attributes are per
    micro-thread (the run's main micro-thread has its OS thread's, as have OS
    threads), and the values a micro-thread set go when it ends. Subclasses
    work as with threading.local: __init__ runs again, with the arguments
    given at construction, the first time each thread uses the object."""

    __slots__ = ("_local__impl", "__weakref__")

    def __new__(cls, *args, **kwargs):
        if (args or kwargs) and cls.__init__ is object.__init__:
            raise TypeError("Initialization arguments are not supported")
        self = object.__new__(cls)
        object.__setattr__(self, "_local__impl", _LocalImpl(args, kwargs))
        _dict_of(self, creating=True)  # this thread's; type() runs __init__ next
        return self

    def __getattribute__(self, name):
        d = _dict_of(self)
        if name == "__dict__":
            return d
        tp = type(self)
        attr = _class_attr(tp, name)
        if attr is not _MISSING and _is_data_descriptor(attr):
            return type(attr).__get__(attr, self, tp)
        try:
            return d[name]
        except KeyError:
            pass
        if attr is not _MISSING:
            get = getattr(type(attr), "__get__", None)
            return attr if get is None else get(attr, self, tp)
        raise AttributeError("%r object has no attribute %r" % (tp.__name__, name))

    def __setattr__(self, name, value):
        if name == "__dict__":
            raise AttributeError("%r object attribute '__dict__' is read-only" % type(self).__name__)
        d = _dict_of(self)
        attr = _class_attr(type(self), name)
        if attr is not _MISSING and hasattr(type(attr), "__set__"):
            type(attr).__set__(attr, self, value)
        else:
            d[name] = value

    def __delattr__(self, name):
        if name == "__dict__":
            raise AttributeError("%r object attribute '__dict__' is read-only" % type(self).__name__)
        d = _dict_of(self)
        attr = _class_attr(type(self), name)
        if attr is not _MISSING and hasattr(type(attr), "__delete__"):
            type(attr).__delete__(attr, self)
            return
        try:
            del d[name]
        except KeyError:
            raise AttributeError(name) from None


def _renew_logging_locks():
    """logging's module lock and its handlers' locks are RLocks made when
    logging was imported: threading's C RLock, which takes a micro-thread
    for the OS thread, so two micro-threads would hold it at once if one
    were suspended inside (a handler writing to a cooperative socket). They
    are made again from the patched threading."""
    logging = _sys.modules.get("logging")
    if logging is None:
        return
    logging._lock = _threading.RLock()
    for ref in list(getattr(logging, "_handlerList", ())):
        h = ref() if callable(ref) else ref
        if h is not None and hasattr(h, "createLock"):
            h.createLock()


def apply(group):
    """patch_thread: _thread's functions, threading's copies of them,
    threading.local, queue.SimpleQueue, and the end of main."""
    rlock = _threading._PyRLock
    for name, value in (("start_new_thread", start_new_thread), ("start_new", start_new_thread),
                        ("allocate_lock", CooperativeLock), ("allocate", CooperativeLock),
                        ("RLock", rlock), ("get_ident", get_ident), ("_set_sentinel", _set_sentinel),
                        ("_local", local), ("_count", _count)):
        group.set(_thread, name, value)
    for name, value in (("_start_new_thread", start_new_thread), ("_allocate_lock", CooperativeLock),
                        ("Lock", CooperativeLock), ("_CRLock", rlock), ("get_ident", get_ident),
                        ("_set_sentinel", _set_sentinel), ("local", local), ("_DummyThread", _DummyThread)):
        group.set(_threading, name, value)
    simple_queue.apply(group, _queue)
    group.call(lambda: _core._coop_set_main_end_hook(at_main_end), lambda: _core._coop_set_main_end_hook(None))
    _renew_logging_locks()
