# 08 — an echo server: one micro-thread per connection on one OS thread,
# with accept_d / recv_d / send_d, and clients in the same program.
#
# What to notice:
#   * the calls look blocking, but each suspends only its micro-thread: the
#     five clients are served at once, each by its own micro-thread;
#   * aborting the server micro-thread ends its accept loop; the connection
#     micro-threads end when their clients close.
import socket

import micro_threading as mt


def serve(conn, n):
    with conn:
        while data := mt.recv_d(conn, 1024):
            mt.send_d(conn, data.upper())
    print("  connection %d closed" % n)


def server(listener):
    n = 0
    try:
        while True:
            conn, _ = mt.accept_d(listener)
            n += 1
            mt.start_and_forget(serve, conn, n, name="conn %d" % n)
    finally:
        listener.close()
        print("  server stopped after", n, "connections")


def client(port, i):
    with socket.socket() as s:
        mt.connect_d(s, ("127.0.0.1", port))
        replies = []
        for word in ("hello", "micro", "threads"):
            mt.send_d(s, b"%s %d" % (word.encode(), i))
            replies.append(mt.recv_d(s, 1024).decode())
            mt.sleep_d(0.005)
    return replies


def main():
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    srv = mt.micro_thread(server, listener, name="server")
    port = listener.getsockname()[1]
    results = mt.start_in_parallel(*(lambda i=i: client(port, i) for i in range(5)))
    for r in results:
        print(r)
    mt.sleep_d(0.01)
    srv.abort()


mt.run(main)
