# 10 — the legacy http.server made concurrent: an unmodified stdlib
# ThreadingHTTPServer whose handler blocks (time.sleep), its clients plain
# http.client code in threading.Threads, all on one OS thread.
#
# What to notice:
#   * nothing below uses micro_threading but the two lines marked (*): the
#     server, the handler and the clients are ordinary blocking code;
#   * patch_all() makes threading.Thread a micro-thread and socket, select
#     and time.sleep suspend only the calling micro-thread, so 50 requests
#     that each sleep 0.2 s are served together, in about 0.2 s, not 10 s;
#   * threading.get_native_id() is the same everywhere: one OS thread.
import http.client
import http.server
import threading
import time

import micro_threading as mt
from micro_threading import cooperative

cooperative.patch_all()  # (*) before the code it makes cooperative runs


class SlowHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        time.sleep(0.2)  # a blocking call in a legacy handler
        body = ("served %s on OS thread %s\n" % (self.path, threading.get_native_id())).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 64  # a backlog for 50 clients connecting at once


def fetch(port, path, replies):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path)
    replies[path] = conn.getresponse().read().decode()
    conn.close()


def main():
    server = Server(("127.0.0.1", 0), SlowHandler)
    threading.Thread(target=server.serve_forever, name="server").start()
    port = server.server_address[1]
    replies = {}
    start = time.monotonic()
    clients = [threading.Thread(target=fetch, args=(port, "/page/%d" % i, replies)) for i in range(50)]
    for c in clients:
        c.start()
    for c in clients:
        c.join()
    elapsed = time.monotonic() - start
    server.shutdown()
    server.server_close()
    me = threading.get_native_id()
    print("replies:", len(replies))
    print(replies["/page/0"].replace(str(me), "<this one>"), end="")
    print(replies["/page/49"].replace(str(me), "<this one>"), end="")
    print("all on this OS thread:", all(r.endswith(" %d\n" % me) for r in replies.values()))
    print("50 requests sleeping 0.2 s each, served at once:", elapsed < 5.0)  # one after the other: 10 s


mt.run(main)  # (*) the program runs as the main micro-thread
