#!/usr/bin/env bash
# scripts/check_instructions.sh [BUILD_DIR] [--update] — the instruction-count
# guard: counts, under valgrind's callgrind, the instructions each hot path
# executes, and compares them with bench/baseline_instructions.txt. A rise of
# more than 10% over the baseline is a failure. Machine noise does not enter:
# the counts are of instructions, not time.
#
# Each benchmark runs twice, with N and with 2N iterations; the difference
# divided by the operations the extra N iterations perform is the count per
# operation, with start-up, warm-up set-up and exit cancelled out:
#   yield           mt_yield N bare: per yield (4 per iteration: the
#                   warm-up round's two and the measured round's two)
#   spawn+join      mt_spawn_join N bare: per micro-thread (2 per iteration:
#                   one spawned and joined alone, one of a batch of 1,000)
#   pipe round trip mt_pingpong N bare: per round trip together with one
#                   one-way handoff (1.1 of each per iteration: the
#                   warm-up's tenth)
#   socket round trip mt_socket_pingpong N: per 1-byte round trip over a
#                   socketpair through the reactor (1.1 per iteration)
# BUILD_DIR (default build/release) is a release build; the four programs
# are built there first.
# --update writes the counts as the new baseline, keeping its notes (commit
# it on its own, with the reason). Prints "ok NAME ..." / "FAIL NAME ..." lines (test.sh counts
# them); exits non-zero on any FAIL.
set -uo pipefail
cd "$(dirname "$0")/.."
build=build/release
update=0
for a in "$@"; do
  case "$a" in
    --update) update=1 ;;
    -*) echo "usage: scripts/check_instructions.sh [BUILD_DIR] [--update]" >&2; exit 2 ;;
    *) build="$a" ;;
  esac
done
baseline=bench/baseline_instructions.txt
limit_percent=10

if ! command -v valgrind >/dev/null; then
  echo "FAIL instructions: valgrind not found (Debian: valgrind)"; exit 1
fi

# instructions BINARY N [ARGS...] — instructions callgrind counts for one run.
instructions() {
  local bin="$1"; shift
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$@" 2>&1 >/dev/null |
    sed -nE 's/^==[0-9]+== Collected : ([0-9]+)$/\1/p'
}

# per_op NAME BINARY N OPS_PER_ITERATION [ARGS...] — instructions per operation.
per_op() {
  local name="$1" bin="$2" n="$3" ops="$4" a b
  shift 4
  if [ ! -x "$bin" ]; then echo "FAIL $name: $bin not built"; return 1; fi
  a=$(instructions "$bin" "$n" "$@")
  b=$(instructions "$bin" $((2 * n)) "$@")
  if [ -z "$a" ] || [ -z "$b" ]; then echo "FAIL $name: no count from callgrind for $bin"; return 1; fi
  python3 -c "print('%.1f' % (($b - $a) / ($n * $ops)))"
}

# The four benchmarks are not built by default (bench/meson.build): build
# them here, in BUILD_DIR's configuration.
programs=(bench/mt_yield bench/mt_spawn_join bench/mt_pingpong bench/mt_socket_pingpong)
if ! ninja -C "$build" "${programs[@]}" >"$build.instructions-build.log" 2>&1; then
  tail -30 "$build.instructions-build.log"
  echo "FAIL instructions: the benchmarks did not build (${programs[*]})"; exit 1
fi

declare -A count
fail=0
measure() {
  local name="$1" v
  v=$(per_op "$@") || { echo "$v"; fail=1; return; }
  count[$name]="$v"
}
# "bare": engines without a notifier. A busy engine polls its notifier by
# time (every ~60 us), and under valgrind the time per switch is ~50x and
# moves with the machine's load: with a notifier these counts would too. The
# socket round trip needs its notifier; it polls it once per wait anyway.
measure yield "$build/bench/mt_yield" 20000 4 bare
measure spawn_join "$build/bench/mt_spawn_join" 2000 2 bare
measure pipe_roundtrip "$build/bench/mt_pingpong" 20000 1.1 bare
measure socket_roundtrip "$build/bench/mt_socket_pingpong" 2000 1.1

if [ "$update" = 1 ]; then
  [ "$fail" = 0 ] || exit 1
  # Rewrites the header and each count's line in place; the notes between
  # them (why a count moved) stay.
  made="# Made with: $(c++ --version | head -1); $(valgrind --version); release build with LTO."
  counts=""
  for k in yield spawn_join pipe_roundtrip socket_roundtrip; do counts+="$k ${count[$k]}"$'\n'; done
  MADE="$made" COUNTS="$counts" python3 - "$baseline" <<'PY' || exit 1
import os, sys
path = sys.argv[1]
head = ["# Instructions per operation (scripts/check_instructions.sh; valgrind callgrind).",
        os.environ["MADE"],
        "# Updated only on purpose, in its own commit: scripts/check_instructions.sh --update"]
new = dict(line.split(" ", 1) for line in os.environ["COUNTS"].splitlines())
try:
    old = open(path).read().splitlines()
except FileNotFoundError:
    old = []
body, seen = [], set()
for line in old[len(head):] if old[:1] == head[:1] else old:
    key = line.split(" ", 1)[0]
    if not line.startswith("#") and key in new:
        line = key + " " + new[key]
        seen.add(key)
    body.append(line)
body += [k + " " + v for k, v in new.items() if k not in seen]
open(path, "w").write("\n".join(head + body) + "\n")
PY
  echo "wrote $baseline"; cat "$baseline"; exit 0
fi

for k in yield spawn_join pipe_roundtrip socket_roundtrip; do
  [ -n "${count[$k]:-}" ] || continue
  base=$(sed -nE "s/^$k ([0-9.]+)$/\1/p" "$baseline")
  if [ -z "$base" ]; then echo "FAIL $k: no baseline in $baseline"; fail=1; continue; fi
  verdict=$(python3 -c "
c, b = ${count[$k]}, $base
d = (c - b) / b * 100
print('%s %s: %.1f instructions per operation, baseline %.1f (%+.1f%%, limit +$limit_percent%%)' % (
    'ok' if d <= $limit_percent else 'FAIL', '$k', c, b, d))")
  echo "$verdict"
  case "$verdict" in FAIL*) fail=1 ;; esac
done
exit "$fail"
