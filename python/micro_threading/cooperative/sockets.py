"""Cooperative sockets: the socket module's socket class, whose blocking
calls suspend only the calling micro-thread.

A cooperative socket is the standard socket.socket with its blocking calls
redone: the fd underneath is always non-blocking, the socket's timeout
(settimeout, gettimeout, setblocking, getblocking, the default timeout) is
kept here, and a call that would block tries the system call, and on EAGAIN
waits for readiness through micro_threading (_coop_wait_fd), then tries
again, until the socket's timeout — which, as in the socket module, bounds
the whole call (sendall included) and raises TimeoutError("timed out")
(socket.timeout). A socket whose timeout is 0.0 (non-blocking) raises
BlockingIOError as before.

Outside run() (or on another OS thread) the same wait blocks the OS thread in
poll(2), so the class behaves like the original there.

close() goes through micro_threading.close_fd: a micro-thread waiting on the
socket is woken with OSError(EBADF) instead of waiting for ever.

Host names given to connect(), connect_ex() and sendto() are resolved first
through the cooperative getaddrinfo (on the worker pool), so the kernel
never resolves them while the engine's thread waits.

Not changed: bind() and the calls that never block. detach() leaves the fd
in the mode the original would: blocking when the socket's timeout is None
(multiprocessing's Pipe() detaches a blocking socketpair and reads the fd
with os.read, which then waits for it), non-blocking otherwise. ssl's
wrap_socket, which makes its socket on the fd before it detaches the old
one, sets its timeout afterwards, which makes the fd non-blocking again.
"""
import errno as _errno
import os as _os
import socket as _stdsocket
import _socket
from time import monotonic as _monotonic

from .. import _core
from . import dns as _dns

_ss = _socket.socket
_Base = _stdsocket.socket if not getattr(_stdsocket.socket, "_cooperative", False) \
    else _stdsocket.socket.__mro__[1]
_wait_fd = _core._coop_wait_fd
_close_fd = _core.close_fd
_family_of = _ss.family.__get__
_INET = (_socket.AF_INET, getattr(_socket, "AF_INET6", _socket.AF_INET))
_CONNECTING = (_errno.EINPROGRESS, _errno.EALREADY, _errno.EWOULDBLOCK, _errno.EAGAIN)


_DONTWAIT = getattr(_socket, "MSG_DONTWAIT", 0)


def _flags_at(args, i):
    """The flags argument of a call whose flags are args[i] (0 if absent)."""
    return args[i] if len(args) > i and isinstance(args[i], int) else 0


def _timed_out(message="timed out"):
    return TimeoutError(message)


def _deadline(timeout):
    return None if timeout is None else _monotonic() + timeout


def wait(sock, write, deadline, message="timed out"):
    """Suspends until sock is readable (write false) or writable, or raises
    TimeoutError(message) once `deadline` (monotonic, or None) has passed."""
    if deadline is None:
        left = None
    else:
        left = deadline - _monotonic()
        if left <= 0:
            raise _timed_out(message)
    if not _wait_fd(sock, write, left):
        raise _timed_out(message)


class socket(_Base):
    """socket.socket whose blocking calls suspend only the calling
    micro-thread (see the module's documentation)."""

    __slots__ = ("_mt_timeout",)
    _cooperative = True

    def __init__(self, family=-1, type=-1, proto=-1, fileno=None):
        _Base.__init__(self, family, type, proto, fileno)
        self._mt_timeout = _ss.gettimeout(self)  # the default timeout, or 0.0 for SOCK_NONBLOCK
        _ss.setblocking(self, False)

    # ---- the timeout, kept here ----------------------------------------------------------

    def settimeout(self, value):
        _ss.settimeout(self, value)  # the original's checks and conversion
        self._mt_timeout = _ss.gettimeout(self)
        if self._mt_timeout != 0.0:
            _ss.setblocking(self, False)

    def gettimeout(self):
        return self._mt_timeout

    def setblocking(self, flag):
        self.settimeout(None if flag else 0.0)

    def getblocking(self):
        return self._mt_timeout != 0.0

    def detach(self):
        """detach() -> file descriptor, as the original's: a blocking
        socket's fd is blocking again (the original's is)."""
        blocking = self._mt_timeout is None
        fd = _Base.detach(self)
        if blocking and fd >= 0:
            try:
                _os.set_blocking(fd, True)
            except OSError:  # closed behind the socket's back: the original's detach does not look
                pass
        return fd

    # ---- connections ----------------------------------------------------------------------

    def _accept(self):
        return self._io(False, _ss._accept)

    def accept(self):
        """accept() -> (socket object, address info); the new socket is
        cooperative too, with the default timeout."""
        fd, addr = self._accept()
        return socket(self.family, self.type, self.proto, fileno=fd), addr

    def _resolve(self, address):
        if isinstance(address, tuple) and len(address) >= 2 and _family_of(self) in _INET:
            host = address[0]
            if not _dns.is_literal(host, _family_of(self)):
                sa = _dns.getaddrinfo(host, address[1], _family_of(self), self.type, self.proto)[0][4]
                return sa if len(address) == 2 else sa[:2] + address[2:]
        return address

    def _connect(self, address):
        """The connection's errno (0: connected), waiting within the
        timeout; TimeoutError when it passes."""
        err = _ss.connect_ex(self, address)
        if err == 0 or err not in _CONNECTING or self._mt_timeout == 0.0:
            return err
        deadline = _deadline(self._mt_timeout)
        while True:
            wait(self, True, deadline)
            err = _ss.getsockopt(self, _socket.SOL_SOCKET, _socket.SO_ERROR)
            if err in (_errno.EAGAIN, _errno.EWOULDBLOCK):  # a Unix socket's full backlog: try again
                err = _ss.connect_ex(self, address)
                if err in _CONNECTING:
                    continue
            return 0 if err == _errno.EISCONN else err

    def connect(self, address):
        err = self._connect(self._resolve(address))
        if err:
            raise OSError(err, _os.strerror(err))

    def connect_ex(self, address):
        try:
            return self._connect(self._resolve(address))
        except TimeoutError:
            return _errno.EWOULDBLOCK  # what the socket module returns when its timeout passes

    # ---- reading and writing ----------------------------------------------------------------

    def _retry(self, write, method, *args):
        """After method(self, *args) raised BlockingIOError on a socket with
        a timeout: waits and tries again until it succeeds or the timeout
        passes (TimeoutError)."""
        if self._mt_timeout is None:  # the common case, without the deadline's arithmetic
            while True:
                _wait_fd(self, write, None)
                try:
                    return method(self, *args)
                except BlockingIOError:
                    pass
        deadline = _deadline(self._mt_timeout)
        while True:
            wait(self, write, deadline)
            try:
                return method(self, *args)
            except BlockingIOError:
                pass

    def _io(self, write, method, *args, flags=0):
        """method(self, *args), waiting while it would block; flags: the
        call's (MSG_DONTWAIT: never waits, as with the original)."""
        try:
            return method(self, *args)
        except BlockingIOError:
            if self._mt_timeout == 0.0 or flags & _DONTWAIT:
                raise
        return self._retry(write, method, *args)

    def recv(self, bufsize, flags=0):
        try:
            return _ss.recv(self, bufsize, flags)
        except BlockingIOError:
            if self._mt_timeout == 0.0 or flags & _DONTWAIT:
                raise
        return self._retry(False, _ss.recv, bufsize, flags)

    def recv_into(self, buffer, nbytes=0, flags=0):
        try:
            return _ss.recv_into(self, buffer, nbytes, flags)
        except BlockingIOError:
            if self._mt_timeout == 0.0 or flags & _DONTWAIT:
                raise
        return self._retry(False, _ss.recv_into, buffer, nbytes, flags)

    def recvfrom(self, bufsize, flags=0):
        return self._io(False, _ss.recvfrom, bufsize, flags, flags=flags)

    def recvfrom_into(self, buffer, nbytes=0, flags=0):
        return self._io(False, _ss.recvfrom_into, buffer, nbytes, flags, flags=flags)

    if hasattr(_ss, "recvmsg"):
        def recvmsg(self, *args):
            return self._io(False, _ss.recvmsg, *args, flags=_flags_at(args, 2))

        def recvmsg_into(self, *args):
            return self._io(False, _ss.recvmsg_into, *args, flags=_flags_at(args, 2))

    def send(self, data, flags=0):
        try:
            return _ss.send(self, data, flags)
        except BlockingIOError:
            if self._mt_timeout == 0.0 or flags & _DONTWAIT:
                raise
        return self._retry(True, _ss.send, data, flags)

    def sendall(self, data, flags=0):
        """Sends all of data; the timeout bounds the whole call."""
        if self._mt_timeout == 0.0:
            return _ss.sendall(self, data, flags)
        first = None
        if type(data) is bytes:  # the common case: one send() without a memoryview often does it all
            try:
                first = _ss.send(self, data, flags)
            except BlockingIOError:
                first = 0
            if first == len(data):
                return None
        with memoryview(data) as view, view.cast("B") as b:
            n = len(b)
            if first is not None:
                sent = first
            else:
                try:
                    sent = _ss.send(self, b, flags)
                except BlockingIOError:
                    sent = 0
            if sent >= n:
                return None
            deadline = _deadline(self._mt_timeout)
            while sent < n:
                wait(self, True, deadline)
                try:
                    sent += _ss.send(self, b[sent:], flags)
                except BlockingIOError:
                    pass
        return None

    def sendto(self, data, *args):
        args = args[:-1] + (self._resolve(args[-1]),) if args else args
        return self._io(True, _ss.sendto, data, *args, flags=_flags_at(args, 1) if len(args) == 2 else 0)

    if hasattr(_ss, "sendmsg"):
        def sendmsg(self, *args):
            return self._io(True, _ss.sendmsg, *args, flags=_flags_at(args, 2))

    def _sendfile_use_sendfile(self, file, offset=0, count=None):
        # The socket module's own version waits in a selector; this one
        # waits through the engine (and keeps the same contract).
        self._check_sendfile_params(file, offset, count)
        try:
            fileno = file.fileno()
        except (AttributeError, OSError) as err:
            raise _stdsocket._GiveupOnSendfile(err)
        try:
            fsize = _os.fstat(fileno).st_size
        except OSError as err:
            raise _stdsocket._GiveupOnSendfile(err)
        if not fsize:
            return 0
        if self._mt_timeout == 0.0:
            raise ValueError("non-blocking sockets are not supported")
        blocksize = min(count or fsize, 2 ** 30)
        deadline = _deadline(self._mt_timeout)
        total = 0
        try:
            while True:
                if count:
                    blocksize = min(count - total, blocksize)
                    if blocksize <= 0:
                        break
                try:
                    sent = _os.sendfile(self.fileno(), fileno, offset, blocksize)
                except BlockingIOError:
                    wait(self, True, deadline)
                    continue
                except OSError as err:
                    if total == 0:
                        raise _stdsocket._GiveupOnSendfile(err)
                    raise err from None
                if sent == 0:
                    break
                offset += sent
                total += sent
            return total
        finally:
            if total > 0 and hasattr(file, "seek"):
                file.seek(offset)

    # ---- closing ------------------------------------------------------------------------------

    def _real_close(self, _ss=_ss):
        fd = _ss.detach(self)
        if fd >= 0:
            try:
                _close_fd(fd)  # wakes the micro-threads waiting on it (EBADF), then closes
            except ConnectionResetError:
                pass  # as the socket module's close() ignores ECONNRESET


socket.__module__ = _Base.__module__


def apply(group):
    """patch_socket: socket.socket and its constructors."""
    # socketpair(), fromfd(), create_connection(), create_server() and
    # socket.dup() make their sockets with the module's global `socket`.
    group.set(_stdsocket, "socket", socket)
