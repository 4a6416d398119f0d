"""os.close through the engine: a micro-thread waiting on the fd (a socket's,
a pipe's) is woken with OSError(EBADF) before the fd is closed, instead of
waiting for ever (micro_threading.close_fd). Outside run() it is a plain
close(2)."""
import operator as _operator
import os as _os

from .. import _core

_close_fd = _core.close_fd


def close(fd):
    """close(fd): closes a file descriptor, ending the waits of micro-threads on it."""
    _close_fd(_operator.index(fd))


def apply(group):
    """patch_os: os.close."""
    group.set(_os, "close", close)
