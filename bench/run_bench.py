#!/usr/bin/python3
"""Interleaved comparison of our mt_* micro-benchmarks with their "twins".

Run with Debian's python (gevent lives there):
    /usr/bin/python3 bench/run_bench.py [--build-dir build/release] [--rounds 7]
        [--only yield,spawn_join,parked,pingpong,waits,queue,semaphore,mutex,xpipe,socket,python] [--taskset CPU] [--markdown FILE]

Each contestant is an executable printing "<metric> <value>" lines on stdout.
Ours live in <build-dir>/bench/ (mt_yield, ...), the C++ peers in
<build-dir>/bench/peers/ (built by bench/peers/meson.build), the Go peers are
built here from bench/peers/go/<name> into <build-dir>/bench/go/<name>, offline:
GO111MODULE=on GOFLAGS=-mod=mod GOPROXY=off, GOCACHE/GOPATH under
<build-dir>/bench/go/. Go contestants run with GOMAXPROCS=1 (and call
runtime.GOMAXPROCS(1) themselves).

Every round runs each contestant of every selected operation once, in turn
(the starting contestant rotates each round), so machine noise hits all of
them alike; the table shows the median per contestant, the ratio ours/peer
and PASS/MISS against the targets below. Metrics are lower-is-better (times,
bytes: target "ours/peer <= k") unless the operation says
higher_is_better=True (throughputs such as the servers' requests/s: target
"ours/peer >= k").
A contestant whose executable (or a file it needs) is missing is skipped
with "(missing: path)".

The servers group runs bench/server_bench.py on each server (ours from
<build-dir>/pep_examples/, the libev floors from <build-dir>/bench/peers/, the
Go twins): the server pinned to CPU 0, the client (wrk, or the common epoll
client peer_echo_client) to CPU 1.
"""
import argparse
import datetime
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
GO_SRC = os.path.join(HERE, 'peers', 'go')
GO_ENV = {'GOMAXPROCS': '1'}
PARKED_N = '1000000'


def C(label, exe, metric, args=(), env=None, ours=False, needs=()):
    """A contestant. exe is relative to <build-dir>/bench unless absolute;
    args and needs may contain {src} (this bench/ directory), {bench} (build
    bench/) and {build} (the build directory). needs: further files that must
    exist (e.g. the server a wrapper script runs), else it counts as missing."""
    return dict(label=label, exe=exe, metric=metric, args=list(args),
                env=env or {}, ours=ours, needs=list(needs))


def S(label, kind, server, metric, env=None, ours=False):
    """A server contestant: bench/server_bench.py KIND SERVER (see there)."""
    needs = [server] + (['{bench}/peers/peer_echo_client'] if kind == 'echo' else [])
    return C(label, '/usr/bin/python3', metric, env=env, ours=ours, needs=needs,
             args=['{src}/server_bench.py', '--echo-client', '{bench}/peers/peer_echo_client',
                   kind, server])


# Operations: name, group (for --only), contestants (first = ours), targets
# {peer label: k}, optionally abs_target (a bound on our own median, in the
# metric's unit, checked on our row) and optionally higher_is_better. By default metrics are
# times or sizes and k is the max ratio ours/peer; with higher_is_better=True
# (throughputs, e.g. the servers' requests/s) k is the min ratio ours/peer.
# To extend, add an entry; a script contestant looks like the gevent one
# below, a server one like those of the servers group (S above). A time
# metric's throughput target "ours must do >= k x the peer's round trips/s"
# is ratio ours/peer <= 1/k.
OPERATIONS = [
    dict(name='yield', group='yield', contestants=[
        C('ours', 'mt_yield', 'yield_ns', ours=True),
        C('Boost.Fiber', 'peers/peer_fiber_yield', 'yield_ns'),
        C('Go', 'go/yield', 'yield_ns', env=GO_ENV),
        C('jump floor', 'peers/peer_jump_floor', 'jump_ns'),
    ], targets={'Boost.Fiber': 0.5, 'Go': 0.75, 'jump floor': 3.0}),
    dict(name='spawn_join', group='spawn_join', contestants=[
        C('ours (guarded, pooled)', 'mt_spawn_join', 'spawn_join_ns', ours=True),
        C('Boost.Fiber', 'peers/peer_fiber_spawn_join', 'spawn_join_ns'),
        C('Boost.Fiber guarded', 'peers/peer_fiber_spawn_join', 'spawn_join_guarded_ns'),
        C('Go', 'go/spawn_join', 'spawn_join_ns', env=GO_ENV),
    ], targets={'Go': 0.5, 'Boost.Fiber': 0.5}),
    dict(name='parked (N=%s)' % PARKED_N, group='parked', contestants=[
        C('ours', 'mt_parked', 'rss_per_thread_bytes', [PARKED_N], ours=True),
        C('Boost.Fiber', 'peers/peer_fiber_parked', 'rss_per_thread_bytes', [PARKED_N]),
        C('Go', 'go/parked', 'rss_per_thread_bytes', [PARKED_N], env=GO_ENV),
    ], targets={'Boost.Fiber': 0.5}),
    dict(name='pingpong roundtrip', group='pingpong', contestants=[
        C('ours', 'mt_pingpong', 'roundtrip_ns', ours=True),
        C('Boost.Fiber', 'peers/peer_fiber_pingpong', 'roundtrip_ns'),
        C('Go', 'go/pingpong', 'roundtrip_ns', env=GO_ENV),
    ], targets={'Go': 0.5, 'Boost.Fiber': 0.5}),
    dict(name='pingpong handoff', group='pingpong', contestants=[
        C('ours', 'mt_pingpong', 'handoff_ns', ours=True),
        C('Boost.Fiber', 'peers/peer_fiber_pingpong', 'handoff_ns'),
        C('Go', 'go/pingpong', 'handoff_ns', env=GO_ENV),
    ], targets={'Go': 0.5}),
    # What a deadline costs: the pipe round trip with a 10 s deadline on every
    # put and get (that never passes) against the same without; target: the
    # timed one <= 2x. And a select over 4 pipes that are all ready.
    dict(name='timed round trip', group='waits', contestants=[
        C('ours (timed)', 'mt_waits', 'roundtrip_timed_ns', ours=True),
        C('ours (untimed)', 'mt_waits', 'roundtrip_untimed_ns'),
    ], targets={'ours (untimed)': 2.0}),
    dict(name='select over 4 ready pipes', group='waits', contestants=[
        C('ours', 'mt_waits', 'select4_ready_ns', ours=True),
    ], targets={}),
    # mt::queue of capacity 64 against Go's make(chan int, 64) and
    # Boost.Fiber's buffered_channel(64) (a power of 2 is required; it holds
    # 63 values). Round trip: two queues, A -> B -> A. Stream: N values from a
    # producer to a consumer through one queue. Target: <= 0.5x both.
    dict(name='queue(64) roundtrip', group='queue', contestants=[
        C('ours', 'mt_queue', 'queue_roundtrip_ns', ours=True),
        C('Boost.Fiber', 'peers/peer_fiber_queue', 'queue_roundtrip_ns'),
        C('Go', 'go/queue', 'queue_roundtrip_ns', env=GO_ENV),
    ], targets={'Go': 0.5, 'Boost.Fiber': 0.5}),
    dict(name='queue(64) stream', group='queue', contestants=[
        C('ours', 'mt_queue', 'queue_stream_ns', ours=True),
        C('Boost.Fiber', 'peers/peer_fiber_queue', 'queue_stream_ns'),
        C('Go', 'go/queue', 'queue_stream_ns', env=GO_ENV),
    ], targets={'Go': 0.5, 'Boost.Fiber': 0.5}),
    # A permit bounced between two micro-threads through two semaphores that
    # start at 0 (every acquire suspends, every release hands over). The
    # twins: Boost.Fiber has no semaphore, so its twin builds one from
    # boost::fibers::mutex + condition_variable; Go's is a chan struct{} of
    # capacity 1 (golang.org/x/sync/semaphore is not in the standard library).
    # Target: <= 0.5x both.
    dict(name='semaphore roundtrip', group='semaphore', contestants=[
        C('ours', 'mt_semaphore', 'sem_roundtrip_ns', ours=True),
        C('Boost.Fiber', 'peers/peer_fiber_semaphore', 'sem_roundtrip_ns'),
        C('Go', 'go/semaphore', 'sem_roundtrip_ns', env=GO_ENV),
    ], targets={'Boost.Fiber': 0.5, 'Go': 0.5}),
    dict(name='semaphore uncontended', group='semaphore', contestants=[
        C('ours', 'mt_semaphore', 'sem_uncontended_ns', ours=True),
        C('Boost.Fiber', 'peers/peer_fiber_semaphore', 'sem_uncontended_ns'),
        C('Go', 'go/semaphore', 'sem_uncontended_ns', env=GO_ENV),
    ], targets={}),
    # xpipe between two engines on two OS threads (bench/mt_xpipe.cpp) vs
    # Go's channels between goroutines with GOMAXPROCS=2 (go/xchan). Round
    # trip on capacity 1 (target <= 0.5x Go), a stream on capacity 128
    # (target <= 1.0x Go's time per value). Needs 2 cores.
    dict(name='xpipe cross-engine roundtrip', group='xpipe', contestants=[
        C('ours', 'mt_xpipe', 'cross_roundtrip_ns', ours=True),
        C('Go', 'go/xchan', 'cross_roundtrip_ns', env={'GOMAXPROCS': '2'}),
    ], targets={'Go': 0.5}),
    dict(name='xpipe cross-engine stream', group='xpipe', contestants=[
        C('ours', 'mt_xpipe', 'cross_stream_ns', ours=True),
        C('Go', 'go/xchan', 'cross_stream_ns', env={'GOMAXPROCS': '2'}),
    ], targets={'Go': 1.0}),
    # mt::mutex (bench/mt_mutex.cpp). Uncontended lock+unlock: target <= 5 ns
    # (absolute). Handoff: the time per change of holder when two
    # micro-threads both want the mutex; target <= 1.2x our own yield. The
    # twins' locks barge, so their loops yield after unlock (see the
    # programs' headers); they are shown for comparison.
    dict(name='mutex uncontended', group='mutex', contestants=[
        C('ours', 'mt_mutex', 'lock_unlock_ns', ours=True),
        C('Boost.Fiber', 'peers/peer_fiber_mutex', 'lock_unlock_ns'),
        C('Go', 'go/mutex', 'lock_unlock_ns', env=GO_ENV),
    ], targets={}, abs_target=5.0),
    dict(name='mutex handoff', group='mutex', contestants=[
        C('ours', 'mt_mutex', 'handoff_ns', ours=True),
        C('our yield', 'mt_yield', 'yield_ns'),
        C('Boost.Fiber', 'peers/peer_fiber_mutex', 'handoff_ns'),
        C('Go', 'go/mutex', 'handoff_ns', env=GO_ENV),
    ], targets={'our yield': 1.2}),
    # 1-byte ping-pong over a non-blocking AF_UNIX socketpair, both parties
    # in one OS thread on a reactor. Targets: >= 0.85x raw libev's round
    # trips/s, >= 1.2x Go's, >= 3x gevent's.
    dict(name='socket pingpong', group='socket', contestants=[
        C('ours', 'mt_socket_pingpong', 'socket_roundtrip_ns', ours=True),
        C('libev floor', 'peers/peer_libev_pingpong', 'socket_roundtrip_ns'),
        C('Go', 'go/socket_pingpong', 'socket_roundtrip_ns', env=GO_ENV),
        C('gevent', '/usr/bin/python3', 'socket_roundtrip_ns',
          args=['{src}/peers/gevent_pingpong.py']),
    ], targets={'libev floor': 1 / 0.85, 'Go': 1 / 1.2, 'gevent': 1 / 3}),
    # The Python module micro_threading (<build>/python) against the Python
    # alternatives, every contestant under Debian's /usr/bin/python3 (which
    # sees python3-greenlet and python3-gevent). A switch: two micro-threads
    # yielding, against greenlet's raw switch, the floor (target <= 1.2x).
    # Spawn+join of an empty function against gevent's (<= 0.25x). A round
    # trip through two pipes against gevent's Channel (<= 0.25x) and
    # asyncio.Queue(1) between two tasks (<= 0.3x). The socketpair ping-pong
    # against gevent's (>= 1.5x its round trips/s).
    dict(name='python: switch', group='python', contestants=[
        C('ours', '/usr/bin/python3', 'switch_ns', args=['{src}/py/mt_switch.py', '{build}/python'], ours=True,
          needs=['{build}/python/micro_threading']),
        C('greenlet', '/usr/bin/python3', 'switch_ns', args=['{src}/py/greenlet_switch.py', '-']),
    ], targets={'greenlet': 1.2}),
    dict(name='python: spawn+join', group='python', contestants=[
        C('ours', '/usr/bin/python3', 'spawn_join_ns', args=['{src}/py/mt_spawn_join.py', '{build}/python'],
          ours=True, needs=['{build}/python/micro_threading']),
        C('gevent', '/usr/bin/python3', 'spawn_join_ns', args=['{src}/py/gevent_spawn_join.py', '-']),
    ], targets={'gevent': 0.25}),
    dict(name='python: pipe round trip', group='python', contestants=[
        C('ours', '/usr/bin/python3', 'pipe_roundtrip_ns', args=['{src}/py/mt_pipe_roundtrip.py', '{build}/python'],
          ours=True, needs=['{build}/python/micro_threading']),
        C('gevent Channel', '/usr/bin/python3', 'pipe_roundtrip_ns',
          args=['{src}/py/gevent_channel_roundtrip.py', '-']),
        C('asyncio.Queue(1)', '/usr/bin/python3', 'pipe_roundtrip_ns',
          args=['{src}/py/asyncio_queue_roundtrip.py', '-']),
    ], targets={'gevent Channel': 0.25, 'asyncio.Queue(1)': 0.3}),
    dict(name='python: socket pingpong', group='python', contestants=[
        C('ours', '/usr/bin/python3', 'socket_roundtrip_ns',
          args=['{src}/py/mt_socket_pingpong.py', '{build}/python'], ours=True,
          needs=['{build}/python/micro_threading']),
        C('gevent', '/usr/bin/python3', 'socket_roundtrip_ns', args=['{src}/peers/gevent_pingpong.py']),
    ], targets={'gevent': 1 / 1.5}),
    # Servers, one OS thread each (Go: GOMAXPROCS=1), pinned to CPU 0, the
    # client to CPU 1. HTTP/1.1 keep-alive hello world under wrk -t1 -c100
    # -d3s; TCP echo, 100 connections of 64-byte ping-pong, under the common
    # epoll client (TCP_NODELAY). Higher is better. Targets: >= 1.0x Go's
    # requests/s and >= 0.85x the libev floor's; echo >= 1.0x Go's.
    dict(name='http keep-alive (wrk -t1 -c100)', group='servers', higher_is_better=True,
         contestants=[
        S('ours', 'http', '{build}/pep_examples/http_server', 'http_requests_per_s', ours=True),
        S('Go', 'http', '{bench}/go/http_server', 'http_requests_per_s', env=GO_ENV),
        S('libev floor', 'http', '{bench}/peers/peer_libev_http', 'http_requests_per_s'),
    ], targets={'Go': 1.0, 'libev floor': 0.85}),
    dict(name='echo 100 connections', group='servers', higher_is_better=True, contestants=[
        S('ours', 'echo', '{build}/pep_examples/echo_server', 'echo_roundtrips_per_s', ours=True),
        S('Go', 'echo', '{bench}/go/echo_server', 'echo_roundtrips_per_s', env=GO_ENV),
        S('libev floor', 'echo', '{bench}/peers/peer_libev_echo', 'echo_roundtrips_per_s'),
    ], targets={'Go': 1.0}),
]

UNITS = {'_ns': 'ns', '_bytes': 'B', '_per_s': '/s'}


def unit_of(metric):
    return next((u for s, u in UNITS.items() if metric.endswith(s)), '')


def build_go(bench_dir, log):
    """go build every bench/peers/go/<name> into <bench_dir>/go/<name>."""
    go = shutil.which('go')
    if not go or not os.path.isdir(GO_SRC):
        log('note: go toolchain or %s not found; Go peers skipped' % GO_SRC)
        return
    out = os.path.join(bench_dir, 'go')
    env = dict(os.environ, GO111MODULE='on', GOFLAGS='-mod=mod', GOPROXY='off',
               GOTOOLCHAIN='local', CGO_ENABLED='0',
               GOCACHE=os.path.join(out, '.cache'), GOPATH=os.path.join(out, '.gopath'))
    for name in sorted(os.listdir(GO_SRC)):
        src = os.path.join(GO_SRC, name)
        if not os.path.isfile(os.path.join(src, 'main.go')):
            continue
        r = subprocess.run([go, 'build', '-o', os.path.join(out, name), '.'], cwd=src,
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode:
            log('note: go build %s failed:\n%s' % (name, r.stdout))


def expand(s, bench_dir):
    return s.format(src=HERE, bench=bench_dir, build=os.path.dirname(bench_dir))


def command(c, bench_dir, taskset):
    exe = c['exe'] if os.path.isabs(c['exe']) else os.path.join(bench_dir, c['exe'])
    args = [expand(a, bench_dir) for a in c['args']]
    pre = ['taskset', '-c', taskset] if taskset else []
    return exe, pre + [exe] + args


def run_once(argv, env, timeout):
    """Run one contestant; return ({metric: value}, error string or None)."""
    try:
        r = subprocess.run(argv, env=dict(os.environ, **env), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {}, 'timeout'
    vals = {}
    for line in r.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                vals[parts[0]] = float(parts[1])
            except ValueError:
                pass
    err = None if r.returncode == 0 else 'exit %d: %s' % (r.returncode, r.stderr.strip()[-200:])
    return vals, err


def fmt(x):
    return '-' if x is None else ('%.3g' % x if abs(x) < 10 else '%.1f' % x)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--build-dir', default='build/release')
    ap.add_argument('--rounds', type=int, default=7)
    ap.add_argument('--only', default='', help='comma list of operation groups/names')
    ap.add_argument('--taskset', default='', help='run every contestant under taskset -c CPU')
    ap.add_argument('--markdown', default='', help='also write the table as Markdown here')
    ap.add_argument('--timeout', type=float, default=600, help='seconds per single run')
    opts = ap.parse_args()

    log = lambda s: print(s, file=sys.stderr, flush=True)
    bench_dir = os.path.join(os.path.abspath(opts.build_dir), 'bench')
    only = {s.strip() for s in opts.only.split(',') if s.strip()}
    ops = [o for o in OPERATIONS if not only or o['group'] in only or o['name'] in only]
    if not ops:
        sys.exit('no operation matches --only %s' % opts.only)
    if opts.taskset and not shutil.which('taskset'):
        sys.exit('taskset not found')
    build_go(bench_dir, log)

    # Resolve contestants; note missing executables once.
    notes, live = [], []
    for o in ops:
        for c in o['contestants']:
            exe, argv = command(c, bench_dir, opts.taskset)
            c['argv'], c['samples'], c['errors'] = argv, [], []
            lacking = [p for p in [exe] + [expand(n, bench_dir) for n in c['needs']]
                       if not os.access(p, os.X_OK)]
            if not lacking:
                live.append(c)
            else:
                c['missing'] = lacking[0]
                notes.append('%s / %s (missing: %s)' % (o['name'], c['label'], lacking[0]))
    for n in notes:
        log(n)

    for rnd in range(opts.rounds):
        log('round %d/%d' % (rnd + 1, opts.rounds))
        cache = {}  # one run per distinct command line per round
        for o in ops:
            cs = [c for c in o['contestants'] if c in live]
            k = rnd % len(cs) if cs else 0
            for c in cs[k:] + cs[:k]:
                key = tuple(c['argv'])
                if key not in cache:
                    cache[key] = run_once(c['argv'], c['env'], opts.timeout)
                vals, err = cache[key]
                if err is None and c['metric'] in vals:  # a failed run counts for nothing
                    c['samples'].append(vals[c['metric']])
                else:
                    c['errors'].append(err or 'no %s in output' % c['metric'])

    # Table.
    header = ['operation', 'contestant', 'median', 'unit', 'min..max', 'runs',
              'ours/peer', 'target', 'check']
    rows = []
    for o in ops:
        ours = next((c for c in o['contestants'] if c['ours']), None)
        for c in o['contestants']:
            c['median'] = statistics.median(c['samples']) if c['samples'] else None
        om = ours['median'] if ours else None
        higher = o.get('higher_is_better', False)
        for c in o['contestants']:
            m = c['median']
            ratio = om / m if (om is not None and m and not c['ours']) else None
            tgt = o['targets'].get(c['label'])
            ok = None if ratio is None or tgt is None else (ratio >= tgt if higher else ratio <= tgt)
            check = '' if tgt is None else ('-' if ok is None else ('PASS' if ok else 'MISS'))
            abs_tgt = o.get('abs_target') if c['ours'] else None
            if abs_tgt is not None:
                ok = None if m is None else (m >= abs_tgt if higher else m <= abs_tgt)
                check = '-' if ok is None else ('PASS' if ok else 'MISS')
            if 'missing' in c:
                med, spread = '(missing: %s)' % c['missing'], ''
            elif m is None:
                med, spread = '(failed: %s)' % (c['errors'][0] if c['errors'] else '?'), ''
            else:
                med = fmt(m)
                spread = '%s..%s' % (fmt(min(c['samples'])), fmt(max(c['samples'])))
            rows.append([o['name'], c['label'], med, unit_of(c['metric']), spread,
                         str(len(c['samples'])), '' if c['ours'] else fmt(ratio),
                         ('%s %s %s' % ('>=' if higher else '<=', fmt(abs_tgt), unit_of(c['metric'])))
                         if abs_tgt is not None else
                         ('' if tgt is None else '%s %.2fx' % ('>=' if higher else '<=', tgt)), check])

    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    for r in [header] + rows:
        print('  '.join(v.ljust(w) for v, w in zip(r, widths)).rstrip())

    if opts.markdown:
        cmd = shlex.join([sys.executable] + sys.argv)
        with open(opts.markdown, 'w') as f:
            f.write('# Micro-benchmark comparison\n\n')
            f.write('- command: `%s`\n' % cmd)
            f.write('- date: %s\n' % datetime.datetime.now().astimezone().isoformat(timespec='seconds'))
            f.write('- uname -r: %s\n' % platform.release())
            f.write('- nproc: %d\n' % len(os.sched_getaffinity(0)))
            f.write('- rounds: %d (median per contestant; ratio = ours/peer, lower is better '
                    'except for throughputs (/s), where higher is better)\n' % opts.rounds)
            for n in notes:
                f.write('- note: %s\n' % n)
            f.write('\n| ' + ' | '.join(header) + ' |\n')
            f.write('|' + '---|' * len(header) + '\n')
            for r in rows:
                f.write('| ' + ' | '.join(v.replace('|', '\\|') for v in r) + ' |\n')
        log('wrote %s' % opts.markdown)


if __name__ == '__main__':
    main()
