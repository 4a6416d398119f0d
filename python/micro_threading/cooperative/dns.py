"""Cooperative name resolution: getaddrinfo and friends on the engine's pool
of worker OS threads.

The C library's resolver blocks its OS thread (DNS over the network, NSS
modules). In a micro-thread these functions hand the call to a worker of
micro_threading.submit_work and suspend only the caller; the resolver
releases the GIL, so it runs in parallel with the micro-threads. A host that
is already an address literal (or None, or "") is resolved at once, on the
caller's thread: nothing can block then. Outside run() they are the
originals. Errors are the originals' (socket.gaierror, socket.herror).
"""
import socket as _stdsocket
import _socket

from .. import _core

_in_micro_thread = _core._coop_in_micro_thread
_submit = _core.submit_work
_inet_pton = _socket.inet_pton
_LITERAL_FAMILIES = (_socket.AF_INET,) + ((_socket.AF_INET6,) if hasattr(_socket, "AF_INET6") else ())

_orig = dict(
    getaddrinfo=_stdsocket.getaddrinfo,
    gethostbyname=_stdsocket.gethostbyname,
    gethostbyname_ex=_stdsocket.gethostbyname_ex,
    gethostbyaddr=_stdsocket.gethostbyaddr,
    getnameinfo=_stdsocket.getnameinfo,
)


def is_literal(host, family=0):
    """True for None, "", "<broadcast>" and address literals: resolving them
    never asks a resolver."""
    if host is None or host == "" or host == "<broadcast>" or host == b"":
        return True
    if isinstance(host, bytes):
        try:
            host = host.decode("ascii")
        except UnicodeDecodeError:
            return False
    if not isinstance(host, str):
        return True  # let the original raise its TypeError
    for af in ((family,) if family in _LITERAL_FAMILIES else _LITERAL_FAMILIES):
        try:
            _inet_pton(af, host)
            return True
        except (OSError, ValueError):
            pass
    return False


def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
    if not _in_micro_thread() or is_literal(host, family):
        return _orig["getaddrinfo"](host, port, family, type, proto, flags)
    found = _submit(_socket.getaddrinfo, host, port, family, type, proto, flags)
    conv = _stdsocket._intenum_converter
    return [(conv(af, _stdsocket.AddressFamily), conv(kind, _stdsocket.SocketKind), p, canon, sa)
            for af, kind, p, canon, sa in found]


def gethostbyname(hostname):
    if not _in_micro_thread() or is_literal(hostname):
        return _orig["gethostbyname"](hostname)
    return _submit(_socket.gethostbyname, hostname)


def gethostbyname_ex(hostname):
    if not _in_micro_thread():
        return _orig["gethostbyname_ex"](hostname)
    return _submit(_socket.gethostbyname_ex, hostname)


def gethostbyaddr(ip_address):
    if not _in_micro_thread():
        return _orig["gethostbyaddr"](ip_address)
    return _submit(_socket.gethostbyaddr, ip_address)


def getnameinfo(sockaddr, flags):
    if not _in_micro_thread() or not isinstance(sockaddr, tuple):  # not a tuple: the original's TypeError
        return _orig["getnameinfo"](sockaddr, flags)
    return _submit(_socket.getnameinfo, sockaddr, flags)


for _f in (getaddrinfo, gethostbyname, gethostbyname_ex, gethostbyaddr, getnameinfo):
    _f.__doc__ = (_orig[_f.__name__].__doc__ or "") + \
        "\n\n(cooperative: in a micro-thread, resolved on a worker OS thread)"


def apply(group):
    """patch_dns: the socket module's resolver functions (socket.getfqdn
    and socket.create_connection use them)."""
    for name in _orig:
        group.set(_stdsocket, name, globals()[name])
