"""Cooperative TLS: ssl.SSLSocket over a cooperative socket.

ssl's SSL object reads and writes the socket's fd itself, in C, waiting with
poll(2) when the socket has a timeout. A cooperative socket's fd is always in
non-blocking mode (its timeout is kept in Python), so the SSL object never
waits: it raises SSLWantReadError / SSLWantWriteError, and this class waits
for that readiness through the engine and calls it again — read, write, the
handshake and unwrap — within the socket's timeout, which raises
TimeoutError with the ssl module's messages ("The read operation timed out",
...). A socket in non-blocking mode (timeout 0.0) gets the SSLWant errors as
before.

SSLContext.sslsocket_class is this class, so SSLContext.wrap_socket (and
what uses it: http.client, urllib, ssl.wrap_socket, SSLSocket.accept)
makes cooperative SSL sockets. Outside run() they block like the originals.
"""
import ssl as _ssl

from . import sockets as _sockets

_UNSET = object()


class SSLSocket(_ssl.SSLSocket, _sockets.socket):
    """ssl.SSLSocket whose blocking calls suspend only the calling
    micro-thread (see the module's documentation)."""

    def _ssl_call(self, message, block, op, *args):
        """op(*args), waiting for the readiness the SSL object asks for
        until it succeeds; TimeoutError(message) after the socket's timeout.
        With timeout 0.0 the SSLWant error is raised unless `block`."""
        deadline = _UNSET
        while True:
            try:
                return op(*args)
            except _ssl.SSLWantReadError:
                if self._mt_timeout == 0.0 and not block:
                    raise
                write = False
            except _ssl.SSLWantWriteError:
                if self._mt_timeout == 0.0 and not block:
                    raise
                write = True
            if deadline is _UNSET:
                deadline = _sockets._deadline(None if self._mt_timeout == 0.0 else self._mt_timeout)
            _sockets.wait(self, write, deadline, message)

    def read(self, len=1024, buffer=None):
        return self._ssl_call("The read operation timed out", False, super().read, len, buffer)

    def write(self, data):
        return self._ssl_call("The write operation timed out", False, super().write, data)

    def do_handshake(self, block=False):
        self._check_connected()
        return self._ssl_call("The handshake operation timed out", block, self._sslobj.do_handshake)

    def unwrap(self):
        if not self._sslobj:
            raise ValueError("No SSL wrapper around " + str(self))
        s = self._ssl_call("The read operation timed out", False, self._sslobj.shutdown)
        self._sslobj = None
        return s


SSLSocket.__module__ = _ssl.SSLSocket.__module__


def apply(group):
    """patch_ssl: the SSL sockets SSLContext makes."""
    group.set(_ssl.SSLContext, "sslsocket_class", SSLSocket)
