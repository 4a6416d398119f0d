"""os.close through the engine: a micro-thread waiting on the fd (a socket's,
a pipe's) is woken with OSError(EBADF) before the fd is closed, instead of
waiting for ever (micro_threading.close_fd). Outside run() it is a plain
close(2).

os.read on a blocking fd (a pipe, a terminal) waits in a micro-thread for
the fd to be readable through the engine first, so that only the caller
waits; a non-blocking fd reads at once (BlockingIOError as before), and a
regular file is always readable. Outside run() it is the original."""
import operator as _operator
import os as _os

from .. import _core

_close_fd = _core.close_fd
_wait_fd = _core._coop_wait_fd
_in_micro_thread = _core._coop_in_micro_thread
_orig_read = _os.read
_get_blocking = _os.get_blocking


def close(fd):
    """close(fd): closes a file descriptor, ending the waits of micro-threads on it."""
    _close_fd(_operator.index(fd))


def read(fd, length):
    """read(fd, length) -> bytes: in a micro-thread, a blocking fd is waited
    for (only the caller waits) before it is read."""
    if _in_micro_thread():
        fd = _operator.index(fd)
        if _get_blocking(fd):
            _wait_fd(fd, False, None)
    return _orig_read(fd, length)


read.__doc__ = (_orig_read.__doc__ or "") + "\n\n(cooperative: in a micro-thread, waits for readability first)"


def apply(group):
    """patch_os: os.close, os.read."""
    group.set(_os, "close", close)
    group.set(_os, "read", read)
