"""micro_threading.cooperative — unmodified blocking code, made concurrent.

    import micro_threading as mt
    from micro_threading import cooperative
    cooperative.patch_all()

    import http.server
    server = http.server.ThreadingHTTPServer(("", 8000), MyHandler)
    mt.run(server.serve_forever)      # every request in a micro-thread, one OS thread

patch_all() replaces the blocking parts of the standard library so that,
inside micro_threading.run(), they suspend only the calling micro-thread:

  socket    socket.socket (connect, accept, recv*, send*, sendall, sendfile,
            makefile's readers and writers; timeouts as the socket module's:
            TimeoutError("timed out")); close() wakes the micro-threads
            waiting on the socket with OSError(EBADF)
  dns       getaddrinfo, gethostbyname(_ex), gethostbyaddr, getnameinfo on
            the engine's worker OS threads
  select    select.select, select.poll, select.epoll, the selectors classes
  time      time.sleep
  thread    threading.Thread (and _thread.start_new_thread) as micro-threads;
            threading's locks, Condition, Event, Semaphore, Barrier, Timer,
            queue.Queue over a lock that suspends micro-threads;
            threading.local per micro-thread
  ssl       ssl.SSLSocket over cooperative sockets
  os        os.close through the engine (micro_threading.close_fd); os.read
            of a blocking fd waits for readability through the engine

Outside run() — before it, after it, on other OS threads — every patched
function behaves like the original: it blocks its OS thread.

Each area has its own patch_<area>(); unpatch_all() (and unpatch(area))
puts the originals back. Patch before the code you make cooperative binds
names of its own (`from time import sleep`, `from socket import socket`):
those keep what they bound. See docs/embedding.md, "The cooperative mode".
"""
from . import _patcher
from ._patcher import original, patched, unpatch, unpatch_all  # noqa: F401

__all__ = ["patch_all", "patch_socket", "patch_dns", "patch_select", "patch_time", "patch_thread",
           "patch_ssl", "patch_os", "unpatch", "unpatch_all", "patched", "original"]


def patch_socket():
    """socket.socket (and what makes sockets with it) becomes cooperative."""
    from . import sockets
    return _patcher.patch("socket", sockets.apply)


def patch_dns():
    """The socket module's resolver functions run on the worker pool."""
    from . import dns
    return _patcher.patch("dns", dns.apply)


def patch_select():
    """select.select/poll/epoll and the selectors classes become cooperative."""
    from . import selection
    return _patcher.patch("select", selection.apply)


def patch_time():
    """time.sleep suspends only the calling micro-thread."""
    from . import sleeping
    return _patcher.patch("time", sleeping.apply)


def patch_thread():
    """threading.Thread becomes a micro-thread; threading's locks cooperative."""
    from . import threads
    return _patcher.patch("thread", threads.apply)


def patch_ssl():
    """ssl's sockets become cooperative (needs patch_socket)."""
    patch_socket()
    from . import tls
    return _patcher.patch("ssl", tls.apply)


def patch_os():
    """os.close goes through micro_threading.close_fd; os.read waits through the engine."""
    from . import oscalls
    return _patcher.patch("os", oscalls.apply)


def patch_all(socket=True, dns=True, select=True, time=True, thread=True, ssl=True, os=True):
    """Patches every area (those given as False are left alone). Returns the
    list of areas patched by this call (already patched ones are left)."""
    done = []
    for name, wanted, fn in (("thread", thread, patch_thread), ("socket", socket, patch_socket),
                             ("dns", dns, patch_dns), ("select", select, patch_select),
                             ("time", time, patch_time), ("os", os, patch_os), ("ssl", ssl, patch_ssl)):
        if wanted and fn():
            done.append(name)
    return done
