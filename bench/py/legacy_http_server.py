"""The legacy http.server under load, made concurrent by a monkey-patching
mode: an unmodified http.server.ThreadingHTTPServer (a thread per
connection) with a BaseHTTPRequestHandler answering "Hello, world!\\n" over
HTTP/1.1 keep-alive, run by bench/server_bench.py under wrk.

    legacy_http_server.py mt BUILD_PYTHON_DIR PORT   micro_threading.cooperative.patch_all(), run()
    legacy_http_server.py gevent - PORT              gevent.monkey.patch_all()

Prints "listening on PORT", serves until SIGINT, then exits 0 at once (the
same way in both modes: where a patched program's KeyboardInterrupt lands is
not what is measured)."""
import os
import signal
import sys

signal.signal(signal.SIGINT, lambda *args: os._exit(0))

mode = sys.argv[1]
if mode == "mt":
    sys.path.insert(0, sys.argv[2])
    import micro_threading as mt
    from micro_threading import cooperative
    cooperative.patch_all()
elif mode == "gevent":
    from gevent import monkey
    monkey.patch_all()
else:
    sys.exit("mode: mt or gevent")

import http.server  # noqa: E402 (after the patching, as both modes ask)

BODY = b"Hello, world!\n"


class Hello(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as wrk expects

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 1024


def main():
    server = Server(("127.0.0.1", int(sys.argv[3])), Hello)
    print("listening on", server.server_address[1], flush=True)
    server.serve_forever()


mt.run(main) if mode == "mt" else main()
