#!/usr/bin/python3
"""Interleaved comparison of our mt_* micro-benchmarks with their "twins".

Usually run through bench/run (which configures build/bench and writes
docs/performance.md and docs/performance.svg). Directly, with Debian's python
(gevent lives there), on a configured release build, whose benchmarks, twins,
example servers and Python module it builds first:
    /usr/bin/python3 bench/run_bench.py [--build-dir build/release] [--rounds 7] [--quick]
        [--only yield,spawn_join,parked,skynet,pingpong,waits,queue,semaphore,mutex,xpipe,socket,python,servers,servers2]
        [--taskset CPU] [--markdown PAGE] [--chart SVG] [--syscalls]

--markdown replaces the generated block of PAGE (between the markers BEGIN
and END below) with a table per operation, the command, the machine and the
date; --chart draws every contestant's cost relative to ours (gnuplot when
installed, else plain SVG written here); --syscalls counts with strace -c -f
the system calls per round trip of the socket twins; --quick takes each
contestant's quick arguments (fewer iterations) and 3 rounds. Each program
may also print "<name>_allocs" (heap allocations per operation) beside
"<name>_ns": the table shows it.

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
client peer_echo_client) to CPU 1. The servers2 group runs them on two
engines / threads / Ps, server and client unpinned (see its entries).
"""
import argparse
import datetime
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
GO_SRC = os.path.join(HERE, 'peers', 'go')
GO_ENV = {'GOMAXPROCS': '1'}
GO_ENV2 = {'GOMAXPROCS': '2'}
PARKED_N = '1000000'


def C(label, exe, metric, args=(), env=None, ours=False, needs=(), quick=None, allocs=None):
    """A contestant. exe is relative to <build-dir>/bench unless absolute;
    args and needs may contain {src} (this bench/ directory), {bench} (build
    bench/) and {build} (the build directory). needs: further files that must
    exist (e.g. the server a wrapper script runs), else it counts as missing.
    quick: the args under --quick (default: args). allocs: the metric holding
    heap allocations per operation (default: the metric with _ns replaced by
    _allocs; shown when the program prints it)."""
    if allocs is None and metric.endswith('_ns'):
        allocs = metric[:-3] + '_allocs'
    return dict(label=label, exe=exe, metric=metric, args=list(args),
                quick=None if quick is None else list(quick),
                env=env or {}, ours=ours, needs=list(needs), allocs=allocs)


def S(label, kind, server, metric, env=None, ours=False, server_args=(), cpus=None):
    """A server contestant: bench/server_bench.py KIND SERVER SERVER_ARGS (see
    there). cpus: (server CPU list, client CPU list) for server_bench's
    --server-cpu/--client-cpu (default: its own, 0 and 1)."""
    needs = [server] + (['{bench}/peers/peer_echo_client'] if kind == 'echo' else [])
    pinning = ['--server-cpu', cpus[0], '--client-cpu', cpus[1]] if cpus else []
    args = ['{src}/server_bench.py', '--echo-client', '{bench}/peers/peer_echo_client'] + pinning + \
        [kind, server] + list(server_args)
    return C(label, '/usr/bin/python3', metric, env=env, ours=ours, needs=needs, args=args,
             quick=args[:1] + ['--duration', '1'] + args[1:])


def skynet_go():
    """Go's skynet (bench/peers/go/skynet) on one and on two OS threads: the
    peers of both skynet rows."""
    return [C('Go GOMAXPROCS=%d' % n, 'go/skynet', 'skynet_ms', ['1000000'], env={'GOMAXPROCS': str(n)},
              quick=['100000'], allocs='skynet_allocs') for n in (1, 2)]


def S2(label, kind, server, metric, threads=None, env=None, ours=False):
    """A server contestant of the two-engine rows: nothing pinned (server and
    client share the two CPUs), `--threads N` passed when threads is set."""
    return S(label, kind, server, metric, env=env, ours=ours, cpus=('none', 'none'),
             server_args=['--threads', str(threads)] if threads else ())


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
    # One yield() between two micro-threads (bench/mt_yield.cpp). The floor J
    # is a bare Boost.Context jump. The second row is the same with a live
    # reactor and one idle fd watcher, the way a server runs (the engine then
    # polls its reactor between runnable micro-threads).
    dict(name='yield', group='yield', contestants=[
        C('ours', 'mt_yield', 'yield_ns', ours=True, quick=['2000000']),
        C('Boost.Fiber', 'peers/peer_fiber_yield', 'yield_ns', quick=['500000']),
        C('Go', 'go/yield', 'yield_ns', env=GO_ENV, quick=['500000']),
        C('jump floor', 'peers/peer_jump_floor', 'jump_ns', quick=['2000000']),
    ], targets={'Boost.Fiber': 0.5, 'Go': 0.75, 'jump floor': 3.0}),
    dict(name='yield, reactor + idle fd', group='yield', contestants=[
        C('ours (reactor)', 'mt_yield', 'yield_reactor_ns', ['10000000', 'reactor'], ours=True,
          quick=['2000000', 'reactor']),
        C('ours (no reactor)', 'mt_yield', 'yield_ns', quick=['2000000']),
        C('Boost.Fiber', 'peers/peer_fiber_yield', 'yield_ns', quick=['500000']),
        C('Go', 'go/yield', 'yield_ns', env=GO_ENV, quick=['500000']),
        C('jump floor', 'peers/peer_jump_floor', 'jump_ns', quick=['2000000']),
    ], targets={'jump floor': 1.6}),
    # Spawn an empty micro-thread and join it, one at a time. Ours takes a
    # guarded stack from a pool; the like-for-like twin is Boost.Fiber with
    # pooled_fixedsize_stack (pooled, unguarded); its malloc'd and guarded
    # (mmap per fiber) stacks and Go's go + WaitGroup are context.
    dict(name='spawn+join', group='spawn_join', contestants=[
        C('ours (guarded, pooled)', 'mt_spawn_join', 'spawn_join_ns', ours=True, quick=['200000']),
        C('Boost.Fiber pooled', 'peers/peer_fiber_spawn_join', 'spawn_join_pooled_ns', quick=['100000']),
        C('Boost.Fiber', 'peers/peer_fiber_spawn_join', 'spawn_join_ns', quick=['100000']),
        C('Boost.Fiber guarded', 'peers/peer_fiber_spawn_join', 'spawn_join_guarded_ns', quick=['100000']),
        C('Go', 'go/spawn_join', 'spawn_join_ns', env=GO_ENV, quick=['200000']),
    ], targets={'Go': 0.2, 'Boost.Fiber pooled': 0.2}),
    dict(name='1,000 alive, then joined', group='spawn_join', contestants=[
        C('ours', 'mt_spawn_join', 'many_alive_ns', ours=True, quick=['200000']),
        C('Go', 'go/spawn_join', 'many_alive_ns', env=GO_ENV, quick=['200000']),
    ], targets={}),
    dict(name='parked (N=%s)' % PARKED_N, group='parked', contestants=[
        C('ours', 'mt_parked', 'rss_per_thread_bytes', [PARKED_N], ours=True, quick=['100000']),
        C('Boost.Fiber', 'peers/peer_fiber_parked', 'rss_per_thread_bytes', [PARKED_N], quick=['100000']),
        C('Go', 'go/parked', 'rss_per_thread_bytes', [PARKED_N], env=GO_ENV, quick=['100000']),
    ], targets={'Boost.Fiber': 0.5}, abs_target=4300),
    # skynet: 1,111,111 micro-threads in a tree, each node spawns ten and sums
    # what they put into its pipe (bench/mt_skynet.cpp); Go's reference shape
    # (bench/peers/go/skynet) on one and on two OS threads.
    dict(name='skynet 1M', group='skynet', contestants=[
        C('ours', 'mt_skynet', 'skynet_ms', ['1000000'], ours=True, quick=['100000'], allocs='skynet_allocs'),
        *skynet_go(),
    ], targets={'Go GOMAXPROCS=1': 0.5}),
    # The same tree with every spawn eager (spawn_options::eager: the child
    # runs before its parent goes on, so the tree unfolds depth-first, as
    # Go's runnext slot makes it do; the work is the same spawns and pipes).
    dict(name='skynet 1M, eager spawns', group='skynet', contestants=[
        C('ours', 'mt_skynet', 'skynet_ms', ['1000000', 'eager'], ours=True, quick=['100000', 'eager'],
          allocs='skynet_allocs'),
        *skynet_go(),
    ], targets={'Go GOMAXPROCS=1': 0.5}),
    # micro_pipe between two micro-threads (bench/mt_pingpong.cpp). A
    # micro_pipe holds one value: its like-for-like twins are Go's
    # make(chan int, 1) and Boost.Fiber's buffered_channel(2) (which holds
    # one); the unbuffered channels are context.
    dict(name='pipe round trip', group='pingpong', contestants=[
        C('ours', 'mt_pingpong', 'roundtrip_ns', ours=True, quick=['300000']),
        C('ours (reactor)', 'mt_pingpong', 'roundtrip_reactor_ns', ['2000000', 'reactor'],
          quick=['300000', 'reactor']),
        C('Go chan(1)', 'go/pingpong', 'roundtrip_buf1_ns', env=GO_ENV, quick=['200000']),
        C('Boost.Fiber buffered(2)', 'peers/peer_fiber_pingpong', 'roundtrip_buf_ns', quick=['200000']),
        C('Go unbuffered', 'go/pingpong', 'roundtrip_ns', env=GO_ENV, quick=['200000']),
        C('Boost.Fiber unbuffered', 'peers/peer_fiber_pingpong', 'roundtrip_ns', quick=['200000']),
    ], targets={'Go chan(1)': 0.25, 'Boost.Fiber buffered(2)': 0.25}),
    dict(name='pipe one-way', group='pingpong', contestants=[
        C('ours', 'mt_pingpong', 'handoff_ns', ours=True, quick=['300000']),
        C('ours (reactor)', 'mt_pingpong', 'handoff_reactor_ns', ['2000000', 'reactor'],
          quick=['300000', 'reactor']),
        C('Go chan(1)', 'go/pingpong', 'handoff_buf1_ns', env=GO_ENV, quick=['200000']),
        C('Boost.Fiber buffered(2)', 'peers/peer_fiber_pingpong', 'handoff_buf_ns', quick=['200000']),
        C('Go unbuffered', 'go/pingpong', 'handoff_ns', env=GO_ENV, quick=['200000']),
        C('Boost.Fiber unbuffered', 'peers/peer_fiber_pingpong', 'handoff_ns', quick=['200000']),
    ], targets={}),
    # A timed wait that does not time out: the pipe round trip with a 10 s
    # deadline on every put and get (a clock read, a timer-heap insert and
    # erase per suspending wait) against the same without; target <= 2x.
    dict(name='timed wait, no timeout', group='waits', contestants=[
        C('ours (timed)', 'mt_waits', 'roundtrip_timed_ns', ours=True, quick=['200000']),
        C('ours (untimed)', 'mt_waits', 'roundtrip_untimed_ns', quick=['200000']),
    ], targets={'ours (untimed)': 2.0}),
    dict(name='select over 4 ready pipes', group='waits', contestants=[
        C('ours', 'mt_waits', 'select4_ready_ns', ours=True, quick=['200000']),
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
        C('ours', 'mt_queue', 'queue_stream_ns', ours=True, allocs='allocs_per_queue_value'),
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
        C('ours', 'mt_semaphore', 'sem_roundtrip_ns', ours=True, allocs='allocs_per_roundtrip'),
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
    # parallel_map of a CPU-bound function (bench/mt_parallel_map.cpp) over 2
    # engines against 1: the target is a speed-up >= 1.8x, i.e. 2 engines'
    # time <= 0.556x one engine's. Needs 2 free cores.
    dict(name='parallel_map, 2 engines vs 1', group='xpipe', contestants=[
        C('ours, 2 engines', 'mt_parallel_map', 'map_2_engines_ms', args=['10000', '2'], ours=True,
          quick=['2000', '2']),
        C('ours, 1 engine', 'mt_parallel_map', 'map_1_engine_ms', args=['10000', '1'], quick=['2000', '1']),
    ], targets={'ours, 1 engine': 0.556}),
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
        C('ours', 'mt_mutex', 'handoff_ns', ours=True, allocs='allocs_per_handoff'),
        C('our yield', 'mt_yield', 'yield_ns'),
        C('Boost.Fiber', 'peers/peer_fiber_mutex', 'handoff_ns'),
        C('Go', 'go/mutex', 'handoff_ns', env=GO_ENV),
    ], targets={'our yield': 1.2}),
    # 1-byte ping-pong over a non-blocking AF_UNIX socketpair, both parties
    # in one OS thread on a reactor. Targets: <= 1.05x raw libev's time,
    # <= 0.83x Go's (>= 1.2x its round trips/s), <= 0.33x gevent's. The
    # system calls each makes per round trip are counted with strace -c and
    # shown below the tables (bench/run_bench.py --syscalls). "ours" owns
    # its sockets with mt::fd (managed: read watchers kept between waits);
    # "ours, raw fds" waits on plain numbers, as the C API and Python do.
    # "stackful floor" is the same round trip by two blocking-style contexts
    # on raw libev and Boost.Context with nothing else (no wait records, fd
    # table, timers or checks): a wait runs ev_run(EVRUN_ONCE) on its own
    # stack and jumps into the context woken; "via a loop context" jumps to
    # a loop context that polls and jumps on (our engine's shape). Context,
    # not targets: they show what blocking-style code on libev must cost.
    dict(name='socketpair ping-pong', group='socket', contestants=[
        C('ours', 'mt_socket_pingpong', 'socket_roundtrip_ns', ours=True, quick=['30000']),
        C('ours, raw fds', 'mt_socket_pingpong', 'socket_roundtrip_ns', args=['100000', '--raw'],
          quick=['30000', '--raw']),
        C('libev floor', 'peers/peer_libev_pingpong', 'socket_roundtrip_ns', quick=['30000']),
        C('stackful floor', 'peers/peer_libev_stackful_pingpong', 'socket_roundtrip_ns', quick=['30000']),
        C('stackful floor, via a loop context', 'peers/peer_libev_stackful_pingpong', 'socket_roundtrip_ns',
          args=['100000', '--via-loop'], quick=['30000', '--via-loop']),
        C('Go', 'go/socket_pingpong', 'socket_roundtrip_ns', env=GO_ENV, quick=['30000']),
        C('gevent', '/usr/bin/python3', 'socket_roundtrip_ns',
          args=['{src}/peers/gevent_pingpong.py']),
    ], targets={'libev floor': 1.05, 'Go': 1 / 1.2, 'gevent': 1 / 3}),
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
    # The legacy http.server (an unmodified ThreadingHTTPServer, a hello
    # handler over HTTP/1.1 keep-alive) under wrk -t1 -c100 -d3s, made
    # concurrent by micro_threading.cooperative.patch_all() against the same
    # server under gevent.monkey.patch_all(); server on CPU 0, wrk on CPU 1.
    # Higher is better; target >= 1.0x gevent's requests/s.
    dict(name='python: legacy http.server (wrk -t1 -c100)', group='python', higher_is_better=True, contestants=[
        C('ours (cooperative)', '/usr/bin/python3', 'http_requests_per_s', ours=True,
          args=['{src}/server_bench.py', 'http', '/usr/bin/python3', '{src}/py/legacy_http_server.py', 'mt',
                '{build}/python'], needs=['{build}/python/micro_threading']),
        C('gevent monkey', '/usr/bin/python3', 'http_requests_per_s',
          args=['{src}/server_bench.py', 'http', '/usr/bin/python3', '{src}/py/legacy_http_server.py', 'gevent',
                '-']),
    ], targets={'gevent monkey': 1.0}),
    # Servers, one OS thread each (Go: GOMAXPROCS=1), pinned to CPU 0, the
    # client to CPU 1. HTTP/1.1 keep-alive hello world under wrk -t1 -c100
    # -d3s; TCP echo, 100 connections of 64-byte ping-pong, under the common
    # epoll client (TCP_NODELAY). Higher is better. The HTTP targets: >= 1.0x
    # the same-work Go server (bench/peers/go/http_minimal: a fixed buffer,
    # the head checked and answered with the same bytes as ours) and >= 0.95x
    # the libev floor; Go's net/http does far more work and is context.
    # Echo: >= 1.0x Go's.
    dict(name='HTTP hello (wrk -t1 -c100)', group='servers', higher_is_better=True,
         contestants=[
        S('ours', 'http', '{build}/pep_examples/http_server', 'http_requests_per_s', ours=True),
        S('Go same work', 'http', '{bench}/go/http_minimal', 'http_requests_per_s', env=GO_ENV),
        S('libev floor', 'http', '{bench}/peers/peer_libev_http', 'http_requests_per_s'),
        S('Go net/http', 'http', '{bench}/go/http_server', 'http_requests_per_s', env=GO_ENV),
    ], targets={'Go same work': 1.0, 'libev floor': 0.95}),
    dict(name='TCP echo, 100 connections', group='servers', higher_is_better=True, contestants=[
        S('ours', 'echo', '{build}/pep_examples/echo_server', 'echo_roundtrips_per_s', ours=True),
        S('Go', 'echo', '{bench}/go/echo_server', 'echo_roundtrips_per_s', env=GO_ENV),
        S('libev floor', 'echo', '{bench}/peers/peer_libev_echo', 'echo_roundtrips_per_s'),
    ], targets={'Go': 1.0}),
    # The same servers on two engines (--threads 2: two OS threads, each
    # with its own SO_REUSEPORT listener, pep_examples/serve_on_cores.hpp)
    # against Go with GOMAXPROCS=2 and the libev floor on two threads (a loop
    # and a SO_REUSEPORT listener each, bench/peers/libev_server.hpp). This
    # machine has two CPUs, so the server may use both and the client shares
    # them (nothing pinned): the rows compare servers under the same client,
    # and the scaling row (2 engines against our own 1 engine, same
    # unpinned set-up) shows what two cores give when the client takes its
    # share of them, not the >= 1.7x a separate client machine would show.
    dict(name='HTTP hello, 2 engines (wrk -t1 -c100)', group='servers2', higher_is_better=True,
         contestants=[
        S2('ours', 'http', '{build}/pep_examples/http_server', 'http_requests_per_s', threads=2, ours=True),
        S2('Go same work GOMAXPROCS=2', 'http', '{bench}/go/http_minimal', 'http_requests_per_s', env=GO_ENV2),
        S2('libev floor, 2 threads', 'http', '{bench}/peers/peer_libev_http', 'http_requests_per_s', threads=2),
        S2('Go net/http GOMAXPROCS=2', 'http', '{bench}/go/http_server', 'http_requests_per_s', env=GO_ENV2),
        S2('ours, 1 engine', 'http', '{build}/pep_examples/http_server', 'http_requests_per_s'),
    ], targets={'Go same work GOMAXPROCS=2': 1.0, 'libev floor, 2 threads': 0.9, 'ours, 1 engine': 1.7}),
    dict(name='TCP echo, 100 connections, 2 engines', group='servers2', higher_is_better=True, contestants=[
        S2('ours', 'echo', '{build}/pep_examples/echo_server', 'echo_roundtrips_per_s', threads=2, ours=True),
        S2('Go GOMAXPROCS=2', 'echo', '{bench}/go/echo_server', 'echo_roundtrips_per_s', env=GO_ENV2),
        S2('libev floor, 2 threads', 'echo', '{bench}/peers/peer_libev_echo', 'echo_roundtrips_per_s', threads=2),
        S2('ours, 1 engine', 'echo', '{build}/pep_examples/echo_server', 'echo_roundtrips_per_s'),
    ], targets={'Go GOMAXPROCS=2': 1.0, 'libev floor, 2 threads': 0.9, 'ours, 1 engine': 1.7}),
]

# --quick: the iteration count appended to the arguments of contestants that
# name no quick arguments of their own, by group.
QUICK_N = {'queue': '300000', 'semaphore': '300000', 'mutex': '1000000', 'python': '20000', 'socket': '30000'}
for _o in OPERATIONS:
    for _c in _o['contestants']:
        if _c['quick'] is None and _o['group'] in QUICK_N:
            _c['quick'] = _c['args'] + [QUICK_N[_o['group']]]

UNITS = {'_ns': 'ns', '_ms': 'ms', '_bytes': 'B', '_per_s': '/s'}


def unit_of(metric):
    return next((u for s, u in UNITS.items() if metric.endswith(s)), '')


# What the comparison runs, among the build's targets: bench/ and its peers
# (not built by default: bench/meson.build), the example servers, the Python
# module.
BENCH_TARGET = re.compile(r'^((bench/[^:]+)|(pep_examples/(http|echo)_server)|(python/micro_threading/[^:/]+)): '
                          r'(cpp_LINKER|c_LINKER|CUSTOM_COMMAND|cpp_LINKER_RSP)')


def build_targets(build_dir, log):
    """Builds (ninja, MT_BENCH_JOBS jobs, default 2) every target the
    comparison runs in the configured build directory; exits on failure."""
    listing = subprocess.run(['ninja', '-C', build_dir, '-t', 'targets', 'all'], capture_output=True, text=True)
    if listing.returncode:
        sys.exit('%s is not a configured build directory (meson setup %s -Dbuildtype=release -Db_lto=true)'
                 % (build_dir, build_dir))
    targets = sorted({m.group(1) for m in map(BENCH_TARGET.match, listing.stdout.splitlines())
                      if m and '.p/' not in m.group(1) and not m.group(1).endswith('.o')})
    log('== building %d targets in %s' % (len(targets), build_dir))
    r = subprocess.run(['ninja', '-C', build_dir, '-j', os.environ.get('MT_BENCH_JOBS', '2')] + targets,
                       capture_output=True, text=True)
    if r.returncode:
        sys.exit('the build failed:\n' + '\n'.join((r.stdout + r.stderr).splitlines()[-40:]))


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


def command(c, bench_dir, taskset, quick=False):
    exe = c['exe'] if os.path.isabs(c['exe']) else os.path.join(bench_dir, c['exe'])
    args = [expand(a, bench_dir) for a in (c['quick'] if quick and c['quick'] is not None else c['args'])]
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


def machine():
    """One line naming the machine: CPU model, cores, kernel."""
    model = ''
    try:
        with open('/proc/cpuinfo') as f:
            model = next((l.split(':', 1)[1].strip() for l in f if l.startswith('model name')), '')
    except OSError:
        pass
    return '%s, %d cores available, %s %s' % (model or platform.machine(), len(os.sched_getaffinity(0)),
                                              platform.system(), platform.release())


def toolchain():
    def first_line(argv):
        try:
            r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=20)
            return r.stdout.splitlines()[0].strip() if r.stdout else ''
        except (OSError, subprocess.TimeoutExpired):
            return ''
    return '; '.join(x for x in (first_line(['c++', '--version']), first_line(['go', 'version']),
                                 'Python ' + platform.python_version()) if x)


def loadavg():
    try:
        return ' '.join(open('/proc/loadavg').read().split()[:3])
    except OSError:
        return '?'


# ---- system calls per round trip (strace -c) ------------------------------------

SYSCALL_N = 10000


def count_syscalls(ops, bench_dir, log):
    """For the socket ping-pong contestants: runs each once under strace -c -f
    with SYSCALL_N round trips (its warm-up of N/10 included, so the counts
    are divided by 1.1 N) and returns [(label, {syscall: calls per round trip})]."""
    strace = shutil.which('strace')
    if not strace:
        log('note: strace not found; system calls per round trip not counted')
        return []
    out = []
    for o in ops:
        if o['group'] != 'socket':
            continue
        for c in o['contestants']:
            if 'missing' in c:
                continue
            exe, argv = command(c, bench_dir, '')
            argv = (argv[:2] + [str(SYSCALL_N)] if c['exe'] == '/usr/bin/python3'
                    else [exe, str(SYSCALL_N)] + [a for a in argv[1:] if a.startswith('--')])
            path = os.path.join(bench_dir, 'strace-%s.txt' % c['label'].replace(' ', '_').replace('/', '_'))
            r = subprocess.run([strace, '-c', '-f', '-o', path] + argv, env=dict(os.environ, **c['env']),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
            if r.returncode:
                log('note: strace of %s failed' % c['label'])
                continue
            counts = {}
            for line in open(path):
                parts = line.split()
                # % time, seconds, usecs/call, calls, [errors], syscall
                if len(parts) >= 5 and parts[0][0].isdigit() and parts[-1] != 'total':
                    try:
                        counts[parts[-1]] = int(parts[3])
                    except ValueError:
                        pass
            per = {k: v / (SYSCALL_N * 1.1) for k, v in counts.items() if v / (SYSCALL_N * 1.1) >= 0.05}
            out.append((c['label'], per))
    return out


# ---- chart -------------------------------------------------------------------------

def chart_rows(ops):
    """[(operation, [(label, relative cost, text, is ours)])]: every contestant's
    cost relative to ours (time / our time; for throughputs our rate / theirs)."""
    groups = []
    for o in ops:
        ours = next((c for c in o['contestants'] if c['ours']), None)
        if not ours or not ours.get('median'):
            continue
        higher = o.get('higher_is_better', False)
        bars = []
        for c in o['contestants']:
            m = c.get('median')
            if not m:
                continue
            rel = (ours['median'] / m) if higher else (m / ours['median'])
            bars.append((c['label'], rel, '%s %s' % (fmt(m), unit_of(c['metric'])), c['ours']))
        if len(bars) > 1:
            groups.append((o['name'], bars))
    return groups


def esc(t):
    return t.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')


def write_svg(groups, path, title):
    """A horizontal bar chart, log scale, written as plain SVG (no library)."""
    import math
    row, left, width, right = 18, 330, 440, 150
    rels = [b[1] for _, bars in groups for b in bars]
    lo = math.floor(math.log10(min(rels + [1.0])))
    hi = max(math.ceil(math.log10(max(rels + [1.0]))), lo + 1)
    x = lambda v: left + (math.log10(v) - lo) / (hi - lo) * width
    y, parts = 50, []
    for name, bars in groups:
        parts.append('<text x="8" y="%d" font-weight="bold">%s</text>' % (y + 13, esc(name)))
        y += row
        for label, rel, text, ours in bars:
            parts.append('<text x="%d" y="%d" text-anchor="end">%s</text>' % (left - 6, y + 13, esc(label)))
            parts.append('<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>' % (
                left, y + 3, max(x(rel) - left, 1), row - 6, '#1f5fa8' if ours else '#a0a0a0'))
            parts.append('<text x="%.1f" y="%d" fill="#333">%s (%.2fx)</text>' % (x(rel) + 4, y + 13, esc(text), rel))
            y += row
        y += 6
    grid = []
    for e in range(lo, hi + 1):
        grid.append('<line x1="%.1f" y1="40" x2="%.1f" y2="%d" stroke="%s"/>' % (
            x(10 ** e), x(10 ** e), y, '#1f5fa8' if e == 0 else '#e0e0e0'))
        grid.append('<text x="%.1f" y="36" text-anchor="middle">%gx</text>' % (x(10 ** e), 10 ** e))
    h = y + 10
    with open(path, 'w') as f:
        f.write('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" '
                'font-size="12">\n<rect width="100%%" height="100%%" fill="white"/>\n' % (left + width + right, h))
        f.write('<text x="8" y="18" font-size="14" font-weight="bold">%s</text>\n' % esc(title))
        f.write('\n'.join(grid + parts) + '\n</svg>\n')


def write_gnuplot_svg(groups, path, title, log):
    """The same chart drawn by gnuplot (Debian: gnuplot-nox); False if it is
    missing or fails."""
    gp = shutil.which('gnuplot')
    if not gp:
        return False
    import math
    data = path + '.dat'
    rels = [b[1] for _, bars in groups for b in bars]
    lo = 10.0 ** math.floor(math.log10(min(rels + [1.0])))
    hi = 10.0 ** max(math.ceil(math.log10(max(rels + [1.0]))), math.log10(lo) + 1)
    n = 0
    with open(data, 'w') as f:
        for name, bars in groups:
            for label, rel, text, ours in bars:
                f.write('%d %g %d "%s"\n' % (n, rel, 1 if ours else 0,
                                             ('%s: %s, %s (%.2fx)' % (name, label, text, rel)).replace('"', "'")))
                n += 1
            n += 1  # a gap between operations
    # Each bar: a box from the left edge to its relative cost; ours (blue) ends at 1.
    script = """set terminal svg size 1000,%d dynamic font "sans,10" background "white"
set output "%s"
set title "%s"
set logscale x 10
set xrange [%g:%g]
set xlabel "cost relative to ours (1 = ours; right of 1: the peer takes longer or uses more)"
set yrange [%d:-1]
set ytics scale 0 font ",9"
unset key
set style fill solid 1.0 noborder
set grid xtics
plot "%s" using ($2):1:(%g):($2):($1 - 0.35):($1 + 0.35):($3 > 0 ? 0x1f5fa8 : 0xa0a0a0):ytic(4) with boxxyerror lc rgb variable
""" % (120 + 14 * n, path, title.replace('"', "'"), lo, hi, n, data, lo)
    r = subprocess.run([gp], input=script, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    os.unlink(data)
    if r.returncode or not os.path.exists(path) or not os.path.getsize(path):
        log('note: gnuplot failed (%s); writing the chart directly' % r.stderr.strip()[-300:])
        return False
    return True


# ---- the page ------------------------------------------------------------------------

BEGIN, END = '<!-- bench/run: begin (generated; edits here are overwritten) -->', '<!-- bench/run: end -->'


def page_block(o_tables, info, syscalls, chart_name, notes):
    out = [BEGIN, '']
    out.append('- command: `%s`' % info['command'])
    out.append('- date: %s' % info['date'])
    out.append('- machine: %s; load average %s at the start, %s at the end' % (
        info['machine'], info['load0'], info['load1']))
    out.append('- toolchain: %s' % info['toolchain'])
    out.append('- rounds: %d, interleaved (the first contestant rotates each round); median per contestant, '
               'min..max over the rounds; ratio = ours/peer (lower is better, except for rates (/s), where '
               'higher is better); allocs/op = heap allocations per operation in the measured loop' %
               info['rounds'])
    if info.get('quick'):
        out.append('- --quick: fewer rounds and iterations; parked and skynet with 100,000 micro-threads, '
                   'servers under load for 1 s')
    for n in notes:
        out.append('- note: %s' % n)
    if chart_name:
        out += ['', '![every contestant\'s cost relative to ours, per operation (log scale)](%s)' % chart_name]
    for name, header, rows in o_tables:
        out += ['', '### %s' % name, '', '| ' + ' | '.join(header[1:]) + ' |', '|' + '---|' * (len(header) - 1)]
        for r in rows:
            out.append('| ' + ' | '.join(v.replace('|', '\\|') for v in r[1:]) + ' |')
    if syscalls:
        names = sorted({k for _, per in syscalls for k in per})
        out += ['', '### System calls per socketpair round trip (strace -c -f, %d round trips)' % SYSCALL_N, '',
                '| contestant | ' + ' | '.join(names) + ' | total |', '|' + '---|' * (len(names) + 2)]
        for label, per in syscalls:
            out.append('| %s | %s | %.1f |' % (label, ' | '.join('%.1f' % per[k] if k in per else '' for k in names),
                                              sum(per.values())))
    out += ['', END]
    return '\n'.join(out) + '\n'


def write_page(path, block):
    """Replaces the generated block of the page at `path` (between BEGIN and
    END) with `block`, keeping the prose around it; a page without the
    markers gets the block appended."""
    text = open(path).read() if os.path.exists(path) else '# Performance\n\n'
    if BEGIN in text and END in text:
        a, b = text.index(BEGIN), text.index(END) + len(END)
        text = text[:a] + block.rstrip('\n') + text[b:]
    else:
        text = text.rstrip('\n') + '\n\n' + block
    with open(path, 'w') as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--build-dir', default='build/release')
    ap.add_argument('--rounds', type=int, default=0, help='default 7, or 3 with --quick')
    ap.add_argument('--only', default='', help='comma list of operation groups/names')
    ap.add_argument('--taskset', default='', help='run every contestant under taskset -c CPU')
    ap.add_argument('--markdown', default='', help='write the tables into this page (between the markers)')
    ap.add_argument('--chart', default='', help='write the chart here (SVG), linked from the page')
    ap.add_argument('--syscalls', action='store_true', help='count system calls per socket round trip (strace)')
    ap.add_argument('--quick', action='store_true', help='fewer rounds and iterations (under 2 minutes)')
    ap.add_argument('--command', default='', help='the command line shown on the page')
    ap.add_argument('--timeout', type=float, default=600, help='seconds per single run')
    opts = ap.parse_args()
    rounds = opts.rounds or (3 if opts.quick else 7)

    log = lambda s: print(s, file=sys.stderr, flush=True)
    bench_dir = os.path.join(os.path.abspath(opts.build_dir), 'bench')
    only = {s.strip() for s in opts.only.split(',') if s.strip()}
    ops = [o for o in OPERATIONS if not only or o['group'] in only or o['name'] in only]
    if not ops:
        sys.exit('no operation matches --only %s' % opts.only)
    if opts.taskset and not shutil.which('taskset'):
        sys.exit('taskset not found')
    build_targets(os.path.abspath(opts.build_dir), log)
    build_go(bench_dir, log)
    info = dict(command=opts.command or shlex.join([sys.executable] + sys.argv), rounds=rounds,
                date=datetime.datetime.now().astimezone().isoformat(timespec='seconds'),
                machine=machine(), toolchain=toolchain(), load0=loadavg(), quick=opts.quick)

    # Resolve contestants; note missing executables once.
    notes, live = [], []
    for o in ops:
        for c in o['contestants']:
            exe, argv = command(c, bench_dir, opts.taskset, opts.quick)
            c['argv'], c['samples'], c['errors'], c['alloc_samples'] = argv, [], [], []
            lacking = [p for p in [exe] + [expand(n, bench_dir) for n in c['needs']]
                       if not os.access(p, os.X_OK)]
            if not lacking:
                live.append(c)
            else:
                c['missing'] = lacking[0]
                notes.append('%s / %s (missing: %s)' % (o['name'], c['label'], lacking[0]))
    for n in notes:
        log(n)

    for rnd in range(rounds):
        log('round %d/%d' % (rnd + 1, rounds))
        cache = {}  # one run per distinct command line per round
        for o in ops:
            cs = [c for c in o['contestants'] if c in live]
            k = rnd % len(cs) if cs else 0
            for c in cs[k:] + cs[:k]:
                key = tuple(c['argv']) + tuple(sorted(c['env'].items()))
                if key not in cache:
                    cache[key] = run_once(c['argv'], c['env'], opts.timeout)
                vals, err = cache[key]
                if err is None and c['metric'] in vals:  # a failed run counts for nothing
                    c['samples'].append(vals[c['metric']])
                    if c['allocs'] in vals:
                        c['alloc_samples'].append(vals[c['allocs']])
                else:
                    c['errors'].append(err or 'no %s in output' % c['metric'])
    info['load1'] = loadavg()

    # Tables.
    header = ['operation', 'contestant', 'median', 'unit', 'min..max', 'runs', 'allocs/op',
              'ours/peer', 'target', 'check']
    rows, o_tables = [], []
    for o in ops:
        ours = next((c for c in o['contestants'] if c['ours']), None)
        for c in o['contestants']:
            c['median'] = statistics.median(c['samples']) if c['samples'] else None
        om = ours['median'] if ours else None
        higher = o.get('higher_is_better', False)
        o_rows = []
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
            allocs = '%.2f' % statistics.median(c['alloc_samples']) if c['alloc_samples'] else ''
            o_rows.append([o['name'], c['label'], med, unit_of(c['metric']), spread,
                           str(len(c['samples'])), allocs, '' if c['ours'] else fmt(ratio),
                           ('%s %s %s' % ('>=' if higher else '<=', fmt(abs_tgt), unit_of(c['metric'])))
                           if abs_tgt is not None else
                           ('' if tgt is None else '%s %.2fx' % ('>=' if higher else '<=', tgt)), check])
        rows += o_rows
        o_tables.append((o['name'], header, o_rows))

    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    for r in [header] + rows:
        print('  '.join(v.ljust(w) for v, w in zip(r, widths)).rstrip())

    syscalls = count_syscalls(ops, bench_dir, log) if opts.syscalls else []
    for label, per in syscalls:
        print('syscalls per round trip, %s: %s (total %.1f)' % (
            label, ', '.join('%s %.1f' % kv for kv in sorted(per.items())), sum(per.values())))

    chart_name = ''
    if opts.chart:
        groups = chart_rows(ops)
        title = 'microthreading against its peers: cost relative to ours (log scale; %s)' % info['date'][:10]
        if groups:
            if not write_gnuplot_svg(groups, opts.chart, title, log):
                write_svg(groups, opts.chart, title)
            log('wrote %s' % opts.chart)
            if opts.markdown:
                chart_name = os.path.relpath(os.path.abspath(opts.chart),
                                             os.path.dirname(os.path.abspath(opts.markdown)))
    if opts.markdown:
        write_page(opts.markdown, page_block(o_tables, info, syscalls, chart_name, notes))
        log('wrote %s' % opts.markdown)


if __name__ == '__main__':
    main()
