#!/usr/bin/python3
"""Benchmark one server binary under load; print "<metric> <value>" lines.

    bench/server_bench.py [options] http|echo SERVER_COMMAND [ARGS...]

The server command gets the port as its last argument ("0": any port) and
must print "listening on PORT" as its first stdout line, then serve until
SIGINT (pep_examples/http_server and echo_server, bench/peers/peer_libev_*,
the Go twins in bench/peers/go/*_server). The server runs pinned to
--server-cpu and the client to --client-cpu with taskset: each a CPU list
("0", "0,1") or "none" (not pinned); pinning is skipped when taskset is
missing, the machine has a single CPU or a listed CPU is not available.
Then:

  http: one GET / checked by hand (status 200, body "Hello, world!\\n"), then
        wrk -t1 -c100 -d3s --latency http://127.0.0.1:PORT/ ; prints
        http_requests_per_s (wrk's Requests/sec) and, from its latency
        distribution, http_latency_p50_us and http_latency_p99_us. Fails
        (exit 1) if wrk reports non-2xx/3xx responses or socket errors.
  echo: the common epoll client (--echo-client, default
        <this dir's build>/bench/peers/peer_echo_client, see --echo-client)
        with 100 connections of 64-byte ping-pong for the same duration;
        prints echo_roundtrips_per_s.

Finally the server gets SIGINT and must exit within 5 s (its stdout is read
to the end, so its goodbye line cannot die of SIGPIPE); a server that died
during the run, or would not stop, fails the run (exit 1). Everything but the
metric lines goes to stderr.
"""
import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time


def log(s):
    print(s, file=sys.stderr, flush=True)


def fail(s):
    log('server_bench: ' + s)
    sys.exit(1)


def pin(cpu, argv):
    return (['taskset', '-c', cpu] + argv) if cpu is not None else argv


def cpu_list(arg):
    """"none" -> None; "0,1" -> "0,1" (checked: integers)."""
    if arg == 'none':
        return None
    for c in arg.split(','):
        int(c)
    return arg


def check_hello(port):
    """One keep-alive GET / by hand: status 200 and the hello body."""
    with socket.create_connection(('127.0.0.1', port), timeout=5) as s:
        s.sendall(b'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
        data = b''
        while b'\r\n\r\n' not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b'\r\n\r\n')
        m = re.search(rb'\r\ncontent-length:\s*(\d+)', head, re.I)
        n = int(m.group(1)) if m else 0
        while len(body) < n:
            chunk = s.recv(4096)
            if not chunk:
                break
            body += chunk
    if not head.startswith(b'HTTP/1.1 200 ') or body != b'Hello, world!\n':
        fail('unexpected reply to GET /: %r' % (head + b'\r\n\r\n' + body))


def to_us(value, unit):
    return float(value) * {'us': 1, 'ms': 1e3, 's': 1e6}[unit]


def run_wrk(port, opts, client_cpu):
    wrk = shutil.which('wrk')
    if not wrk:
        fail('wrk not found (Debian: apt-get install wrk)')
    check_hello(port)
    argv = pin(client_cpu, [wrk, '-t1', '-c%d' % opts.connections, '-d%gs' % opts.duration,
                            '--latency', 'http://127.0.0.1:%d/' % port])
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=opts.duration + 60)
    log(r.stdout.rstrip())
    if r.returncode:
        fail('wrk exited with %d' % r.returncode)
    m = re.search(r'^Requests/sec:\s*([\d.]+)', r.stdout, re.M)
    if not m:
        fail('no Requests/sec in wrk output')
    errors = []
    m_non2xx = re.search(r'Non-2xx or 3xx responses:\s*(\d+)', r.stdout)
    if m_non2xx and int(m_non2xx.group(1)):
        errors.append('%s non-2xx/3xx responses' % m_non2xx.group(1))
    m_sock = re.search(r'Socket errors:\s*connect (\d+), read (\d+), write (\d+), timeout (\d+)',
                        r.stdout)
    if m_sock and any(int(x) for x in m_sock.groups()):
        errors.append('socket errors: ' + m_sock.group(0))
    if errors:
        fail('wrk reported errors: ' + '; '.join(errors))
    out = [('http_requests_per_s', float(m.group(1)))]
    for pct in ('50', '99'):
        lm = re.search(r'^\s*%s(?:\.0+)?%%\s+([\d.]+)(us|ms|s)\s*$' % pct, r.stdout, re.M)
        if lm:
            out.append(('http_latency_p%s_us' % pct, to_us(lm.group(1), lm.group(2))))
    return out


def run_echo(port, opts, client_cpu):
    client = opts.echo_client
    if not os.access(client, os.X_OK):
        fail('echo client not found: %s (not built by default: ninja -C <build> bench/peers/peer_echo_client)' % client)
    argv = pin(client_cpu, [client, str(port), str(opts.connections), '%g' % opts.duration])
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=opts.duration + 60)
    log(r.stderr.rstrip())
    if r.returncode:
        fail('echo client exited with %d' % r.returncode)
    m = re.search(r'^echo_roundtrips_per_s\s+([\d.]+)', r.stdout, re.M)
    if not m:
        fail('no echo_roundtrips_per_s in client output')
    return [('echo_roundtrips_per_s', float(m.group(1)))]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(usage=__doc__.split('\n\n')[1].strip())
    ap.add_argument('--duration', type=float, default=3.0, help='seconds of load (default 3)')
    ap.add_argument('--connections', type=int, default=100, help='default 100')
    ap.add_argument('--server-cpu', type=cpu_list, default='0', help='CPU list or "none" (default 0)')
    ap.add_argument('--client-cpu', type=cpu_list, default='1', help='CPU list or "none" (default 1)')
    ap.add_argument('--echo-client', default='',
                    help='path of peer_echo_client (default: found next to the server '
                         'binary\'s build dir, else build/release/bench/peers/)')
    ap.add_argument('kind', choices=['http', 'echo'])
    ap.add_argument('server', nargs=argparse.REMAINDER)
    opts = ap.parse_args()
    if not opts.server:
        ap.error('no server command')
    if opts.kind == 'echo' and not opts.echo_client:
        # <build>/pep_examples/echo_server or <build>/bench/... -> <build>/bench/peers/
        exe = os.path.abspath(opts.server[0])
        cands = [os.path.join(d, 'bench', 'peers', 'peer_echo_client')
                 for d in (os.path.dirname(os.path.dirname(exe)),
                           os.path.dirname(os.path.dirname(os.path.dirname(exe))),
                           os.path.join(os.path.dirname(here), 'build', 'release'))]
        opts.echo_client = next((c for c in cands if os.access(c, os.X_OK)), cands[0])

    server_cpu, client_cpu = opts.server_cpu, opts.client_cpu
    cpus = os.sched_getaffinity(0)
    wanted = {int(c) for arg in (server_cpu, client_cpu) if arg for c in arg.split(',')}
    if not shutil.which('taskset') or len(cpus) < 2 or not wanted <= cpus:
        log('server_bench: note: not pinning (taskset missing or CPUs %s/%s not available)'
            % (server_cpu, client_cpu))
        server_cpu = client_cpu = None

    srv = subprocess.Popen(pin(server_cpu, opts.server + ['0']), stdout=subprocess.PIPE,
                           stdin=subprocess.DEVNULL, text=True)
    metrics = []
    try:
        line = srv.stdout.readline()
        m = re.match(r'listening on (\d+)', line)
        if not m:
            srv.kill()
            fail('server did not print "listening on PORT" (got %r)' % line)
        port = int(m.group(1))
        log('server_bench: %s on port %d (server cpu %s, client cpu %s)'
            % (' '.join(opts.server), port, server_cpu, client_cpu))
        metrics = (run_wrk if opts.kind == 'http' else run_echo)(port, opts, client_cpu)
        if srv.poll() is not None:
            fail('server died during the run (exit %d)' % srv.returncode)
    finally:
        if srv.poll() is None:
            srv.send_signal(signal.SIGINT)
        try:
            rest, _ = srv.communicate(timeout=5)  # drains stdout: no SIGPIPE
            if rest.strip():
                log('server: ' + rest.strip())
        except subprocess.TimeoutExpired:
            srv.kill()
            srv.communicate()
            fail('server did not exit within 5 s of SIGINT')
    if srv.returncode not in (0, -signal.SIGINT):
        fail('server exited with %d after SIGINT' % srv.returncode)
    for name, value in metrics:
        print('%s %.1f' % (name, value), flush=True)


if __name__ == '__main__':
    main()
