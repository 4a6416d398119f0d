#!/usr/bin/env bash
# test.sh [--long] [--valgrind] — installs what is missing, builds, and runs
# every test:
#   release build   the C++ suite (the model-checked stress test's fixed seeds
#                   are part of it), the C API's tests in C, the PEP example
#                   outputs (C++ and Python), README's example, the Python
#                   module's tests under both interpreters, and an outside
#                   program built against the installed library (pkg-config
#                   with g++ and clang++, CMake, a meson subproject), and
#                   programs that must not compile (tests/compile_fail/);
#   the docs        every public name of the headers named in docs/reference/,
#                   every code snippet of README.md and docs/ compiled, and the
#                   programs whose output a page shows run and compared (the
#                   tutorial's against the installed library);
#   instructions    the instruction-count guard (scripts/check_instructions.sh:
#                   hot paths against bench/baseline_instructions.txt);
#   ASan+UBSan      the C++ suite and the C API's tests again;
#   TSan            the tests that cross OS threads (the worker pool, wake-ups
#                   from other OS threads, several engines);
#   clang fuzz      each libFuzzer target over its seed corpus;
#   observability   the gdb extension in gdb's batch mode, and traces of
#                   programs under MT_TRACE checked for their structure
#                   (a release build with debug info, build/gdb).
# Options:
#   --long      also: the soak runs (servers under wrk with 1,000 and 10,000
#               connections, a million spawn/exit cycles, ten million values
#               through a pipeline), many more stress seeds
#               (MT_STRESS_LONG_SEEDS per profile, default 2000) and each fuzz
#               target for MT_FUZZ_SECONDS (default 600).
#   --valgrind  also: the suite under valgrind memcheck (scripts/memcheck.sh).
# Ends with one line "N passed, N failed" and exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")"
source scripts/deps.sh

long=0
valgrind=0
for arg in "$@"; do
  case "$arg" in
    --long) long=1 ;;
    --valgrind) valgrind=1 ;;
    *) echo "usage: ./test.sh [--long] [--valgrind]"; exit 2 ;;
  esac
done

mt_install_deps || { echo "cannot install dependencies"; echo "0 passed, 1 failed"; exit 1; }
mkdir -p build

passed=0
failed=0

# count_summary NAME LOG RC — adds the counts of a doctest-style summary line
# ("[doctest] test cases: N | P passed | F failed ...") found in LOG.
count_summary() {
  local name="$1" log="$2" rc="$3" line p f
  line=$(grep -E '^\[doctest\] test cases:' "$log" | tail -1)
  if [ -z "$line" ]; then
    echo "   crashed (exit $rc); last lines:"; tail -20 "$log"
    failed=$((failed + 1))
    return
  fi
  p=$(echo "$line" | sed -E 's/.*\| *([0-9]+) passed.*/\1/')
  f=$(echo "$line" | sed -E 's/.*\| *([0-9]+) failed.*/\1/')
  passed=$((passed + p)); failed=$((failed + f))
  echo "   $p passed, $f failed"
  if [ "$f" != 0 ] || [ "$rc" -ne 0 ]; then
    grep -E "ERROR|FATAL|CRASHED|FAIL|runtime error|Sanitizer" "$log" | head -20
    [ "$f" = 0 ] && failed=$((failed + 1))
  fi
}

# count_lines LOG — adds the "ok ..." and "FAIL ..." lines of LOG.
count_lines() {
  local p f
  p=$(grep -cE '^ok ' "$1"); f=$(grep -cE '^FAIL ' "$1")
  passed=$((passed + p)); failed=$((failed + f))
}

# run_doctest NAME BINARY [ARGS...] — runs a doctest binary and adds its counts.
run_doctest() {
  local name="$1" bin="$2" log="build/$1.log"
  echo "== $name"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$bin" --no-intro=true "${@:3}" >"$log" 2>&1
  count_summary "$name" "$log" $?
}

# ---- release ------------------------------------------------------------------------

# step_release — the release build: the C++ suite, the C API's tests, the PEP
# examples, README's example, the compile failures, the Python module, the
# installed library.
step_release() {
  echo "== build (release)"
  if ! mt_build build/release; then failed=$((failed + 1)); return; fi
  run_doctest "core (release)" build/release/tests/core_tests
  run_doctest "C API, from C (release)" build/release/tests/capi_tests
  echo "== PEP examples (release)"
  pep_examples/check.sh build/release >build/pep_check.log 2>&1
  cat build/pep_check.log
  count_lines build/pep_check.log
  echo "== README example"
  if python3 scripts/check_readme.py build/release/docs/examples/readme_hello; then
    passed=$((passed + 1)); echo "   ok"
  else
    failed=$((failed + 1))
  fi
  echo "== programs that must not compile, with one readable message (g++, clang++)"
  : >build/compile_fail.log
  local cxx
  for cxx in g++ clang++; do
    command -v "$cxx" >/dev/null || continue
    python3 tests/compile_fail/check.py . "$cxx" >"build/compile_fail.$cxx.log" 2>&1 ||
      grep -q '^FAIL ' "build/compile_fail.$cxx.log" ||
      echo "FAIL check.py with $cxx exited non-zero" >>"build/compile_fail.$cxx.log"
    cat "build/compile_fail.$cxx.log" >>build/compile_fail.log
  done
  sed 's/^/   /' build/compile_fail.log | grep -E '^   (ok|FAIL)'
  grep -A25 '^FAIL' build/compile_fail.log | head -40
  count_lines build/compile_fail.log
  python_module_tests build/release
  echo "== the installed library, used from outside (pkg-config, CMake, meson subproject; g++, clang++)"
  tests/consumer/check.sh build/release build/consumers >build/consumers.log 2>&1
  sed 's/^/   /' build/consumers.log | grep -E '^   (ok|FAIL)'
  grep -A25 '^FAIL' build/consumers.log | head -40
  count_lines build/consumers.log
}

# python_module_tests BUILD_DIR — builds the CPython module micro_threading
# in BUILD_DIR and runs its tests (one process per test file) under Debian's
# /usr/bin/python3 and under the python3 first on PATH (same 3.11 ABI: built
# once), folding each run's summary line into the counts.
python_module_tests() {
  local dir="$1"
  echo "== Python module (micro_threading)"
  if ! ninja -C "$dir" python/micro_threading/__init__.py \
      "python/micro_threading/_core$(/usr/bin/python3 -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')" \
      $(cd python && ls micro_threading/cooperative/*.py | sed 's|^|python/|') \
      >"$dir.python.log" 2>&1; then
    tail -30 "$dir.python.log"; failed=$((failed + 1)); return
  fi
  local interp
  for interp in /usr/bin/python3 "$(command -v python3)"; do
    [ -x "$interp" ] || continue
    echo "== Python tests under $interp ($("$interp" -c 'import sys; print(sys.version.split()[0])'))"
    "$interp" python/tests/run_tests.py "$interp" "$dir" >"$dir.python-tests.log" 2>&1
    local rc=$?
    grep -E '^(ok|FAIL)' "$dir.python-tests.log" | grep -E '^FAIL' | head -20
    count_summary "python ($interp)" "$dir.python-tests.log" $rc
  done
  # CPython's own tests of a few patched modules under the cooperative mode
  # (a quick selection; scripts/cpython_cooperative.py without --quick runs
  # them all, see docs/embedding.md), where the python3 on PATH has them.
  if python3 -c 'import test.test_queue' >/dev/null 2>&1; then
    echo "== CPython's own tests under the cooperative mode (quick selection)"
    PYTHONPATH="$dir/python" python3 scripts/cpython_cooperative.py -v --quick >"$dir.cpython-coop.log" 2>&1
    local rc=$?
    grep -E '^(FAIL|    )' "$dir.cpython-coop.log" | head -20
    count_summary "CPython suites, cooperative" "$dir.cpython-coop.log" $rc
  fi
}

# ---- the documentation ---------------------------------------------------------------

# step_docs — scripts/check_reference.py (one count): docs/reference/ names
# every public function, class and member of the public headers and every
# C API function, and nothing that does not exist; scripts/check_doc_snippets.py
# (one count per snippet): every code block of README.md, docs/*.md,
# docs/design/*.md and docs/reference/*.md compiles against the tree's
# headers and build/release's library, each program followed by an output
# block prints exactly that, and docs/tutorial.md's programs build against
# the library installed from build/release (meson install --destdir) with
# pkg-config. Needs step_release's build and Python module.
step_docs() {
  echo "== docs/reference/ covers the public headers (scripts/check_reference.py)"
  if python3 scripts/check_reference.py >build/docs-reference.log 2>&1; then
    passed=$((passed + 1)); echo "   ok:$(tail -1 build/docs-reference.log)"
  else
    failed=$((failed + 1)); grep -vE '^   [A-Za-z_/.]+ +[0-9]+ public names' build/docs-reference.log | head -40
  fi
  echo "== the docs' snippets, compiled and run (scripts/check_doc_snippets.py)"
  if [ ! -f build/release/build.ninja ]; then failed=$((failed + 1)); echo "   no release build"; return; fi
  local dest="$PWD/build/docs-install" prefix libdir
  rm -rf "$dest"
  if ! meson install -C build/release --no-rebuild --destdir "$dest" >build/docs-install.log 2>&1; then
    tail -20 build/docs-install.log; failed=$((failed + 1)); return
  fi
  prefix=$(meson introspect build/release --buildoptions | python3 -c "import json,sys; print([o['value'] for o in json.load(sys.stdin) if o['name']=='prefix'][0])")
  libdir=$(meson introspect build/release --buildoptions | python3 -c "import json,sys; print([o['value'] for o in json.load(sys.stdin) if o['name']=='libdir'][0])")
  case "$libdir" in /*) ;; *) libdir="$prefix/$libdir" ;; esac
  python3 scripts/check_doc_snippets.py --lib-dir build/release --python-path build/release/python \
    --installed "$dest" --installed-libdir "$libdir" >build/docs-snippets.log 2>&1
  grep -E '^FAIL' -A14 build/docs-snippets.log | head -80
  tail -1 build/docs-snippets.log
  count_lines build/docs-snippets.log
}

# step_instructions — the instruction-count guard (scripts/check_instructions.sh):
# callgrind's counts for yield, spawn+join, a pipe round trip and a socket
# round trip in the release build against bench/baseline_instructions.txt;
# a rise of more than 10% fails. Independent of the machine's noise.
step_instructions() {
  echo "== instruction counts against bench/baseline_instructions.txt (callgrind)"
  scripts/check_instructions.sh build/release >build/instructions.log 2>&1
  sed 's/^/   /' build/instructions.log
  count_lines build/instructions.log
  if ! grep -qE '^(ok|FAIL) ' build/instructions.log; then failed=$((failed + 1)); fi
}

# ---- sanitizers ---------------------------------------------------------------------

# The sanitizer builds keep line tables only (-g1: a report still names
# file and line): full debug info made their compiles a quarter slower.
MT_SANITIZER_DEBUG_INFO='-Dc_args=-g1 -Dcpp_args=-g1'

# step_asan — the ASan+UBSan build: the suite and the C API's tests again
# (only they and the example servers the suite starts are built).
build_asan() {
  if [ ! -f build/asan/build.ninja ]; then
    mt_setup build/asan -Dbuildtype=debug -Db_sanitize=address,undefined -Db_lto=false -Db_lundef=false \
      $MT_SANITIZER_DEBUG_INFO || return 1
  fi
  ninja -C build/asan tests/core_tests tests/capi_tests pep_examples/http_server pep_examples/echo_server \
    >build/asan.build.log 2>&1 || { tail -50 build/asan.build.log; return 1; }
}

step_asan() {
  echo "== build (ASan+UBSan)"
  if ! await_build asan; then failed=$((failed + 1)); return; fi
  run_doctest "core (ASan+UBSan)" build/asan/tests/core_tests
  run_doctest "C API, from C (ASan+UBSan)" build/asan/tests/capi_tests
}

# The tests where OS threads meet: the worker pool, wake-ups from other OS
# threads, engines on several OS threads, subprocesses in two engines (all
# in the files of tests/thread_tests: tests/meson.build).
MT_THREAD_TESTS='*OS thread*,*worker*,*submit_work*,*remote*,*engines*,*other thread*,*select over xpipes*'

# step_tsan — ThreadSanitizer over the tests that cross OS threads.
build_tsan() {
  if [ ! -f build/tsan/build.ninja ]; then
    mt_setup build/tsan -Dbuildtype=debug -Db_sanitize=thread -Db_lto=false -Db_lundef=false \
      $MT_SANITIZER_DEBUG_INFO || return 1
  fi
  ninja -C build/tsan tests/thread_tests >build/tsan.build.log 2>&1 || { tail -50 build/tsan.build.log; return 1; }
}

step_tsan() {
  echo "== build (TSan)"
  if ! await_build tsan; then failed=$((failed + 1)); return; fi
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    run_doctest "threads (TSan)" build/tsan/tests/thread_tests -tc="$MT_THREAD_TESTS"
  # Every such test of the suite is in thread_tests' files.
  local want have
  want=$(build/release/tests/core_tests --count -tc="$MT_THREAD_TESTS" 2>/dev/null | grep -oE '[0-9]+$')
  have=$(build/tsan/tests/thread_tests --count -tc="$MT_THREAD_TESTS" 2>/dev/null | grep -oE '[0-9]+$')
  if [ -n "$want" ] && [ "$want" != "$have" ]; then
    echo "   FAIL: the suite has $want tests where OS threads meet, tests/thread_tests ${have:-0}: add their files to it (tests/meson.build)"
    failed=$((failed + 1))
  fi
}

# ---- fuzzing (tests/fuzz/, docs/reliability.md) -------------------------------

MT_FUZZ_TARGETS=(fuzz_ops fuzz_deferred fuzz_select)

# build_fuzz — configures build/fuzz with clang, libFuzzer and ASan+UBSan
# once, then builds only the fuzz targets.
build_fuzz() {
  if [ ! -f build/fuzz/build.ninja ]; then
    CXX=clang++-14 mt_setup build/fuzz -Dbuildtype=debug -Db_sanitize=address,undefined $MT_SANITIZER_DEBUG_INFO \
      -Db_lto=false -Db_lundef=false -Dfuzz=true -Dpython_module=disabled || return 1
  fi
  ninja -C build/fuzz "${MT_FUZZ_TARGETS[@]/#/tests/fuzz/}" >build/fuzz.build.log 2>&1 || { tail -50 build/fuzz.build.log; return 1; }
}

# step_fuzz_regression — each fuzz target runs every input of its corpus
# (tests/fuzz/corpus/<target>/) once: a regression check of seconds.
step_fuzz_regression() {
  echo "== build (clang, libFuzzer, ASan+UBSan)"
  if ! await_build fuzz; then failed=$((failed + 1)); return; fi
  local t
  for t in "${MT_FUZZ_TARGETS[@]}"; do
    echo "== $t over its corpus"
    if build/fuzz/tests/fuzz/$t tests/fuzz/corpus/$t/* >build/$t.log 2>&1; then
      passed=$((passed + 1)); echo "   ok"
    else
      failed=$((failed + 1)); tail -40 build/$t.log
    fi
  done
}

# step_fuzz_long — each fuzz target fuzzes for MT_FUZZ_SECONDS (default 600).
# New inputs go to build/fuzz-corpus/<target>/, crashes to build/fuzz-artifacts/.
step_fuzz_long() {
  local secs="${MT_FUZZ_SECONDS:-600}" t
  mkdir -p build/fuzz-artifacts
  for t in "${MT_FUZZ_TARGETS[@]}"; do
    echo "== fuzz $t for ${secs} s"
    mkdir -p build/fuzz-corpus/$t
    # -entropic=0: the entropic schedule spent 80% of the time ranking the
    # targets' many features (4 runs/s instead of 30).
    if MT_FUZZ_CURRENT=build/fuzz-artifacts/$t-last-input \
        build/fuzz/tests/fuzz/$t -max_total_time="$secs" -timeout=60 -entropic=0 -print_final_stats=1 \
        -artifact_prefix=build/fuzz-artifacts/$t- build/fuzz-corpus/$t tests/fuzz/corpus/$t >build/$t-long.log 2>&1; then
      passed=$((passed + 1)); echo "   ok: $(grep -E 'stat::number_of_executed_units' build/$t-long.log)"
    else
      failed=$((failed + 1)); tail -60 build/$t-long.log
    fi
  done
}

# ---- observability (docs/observability.md) -------------------------------------------

# step_observability — in build/gdb (the release build's options plus debug
# info, -g; only the programs below are built): the gdb extension in gdb's
# batch mode (mt list, mt bt, auto-loaded and sourced by hand), and traces
# of real programs under MT_TRACE checked for their structure (valid JSON,
# B/E balanced per track, named tracks) and for the waits they must show.
build_gdb() {
  if [ ! -f build/gdb/build.ninja ]; then
    mt_setup build/gdb -Ddebug=true -Db_ndebug=true -Dpython_module=disabled || return 1
  fi
  ninja -C build/gdb tests/gdb/parked_program pep_examples/08_sleep_and_timeouts >build/gdb.build.log 2>&1 ||
    { tail -50 build/gdb.build.log; return 1; }
}

step_observability() {
  echo "== build (release + debug info, for gdb and traces)"
  if ! await_build gdb; then failed=$((failed + 1)); return; fi
  echo "== gdb extension: mt list, mt bt (gdb -batch)"
  python3 tests/gdb/check_gdb.py build/gdb >build/gdb-check.log 2>&1
  grep -A20 '^FAIL' build/gdb-check.log | head -40
  echo "   $(grep -c '^ok ' build/gdb-check.log) ok, $(grep -c '^FAIL ' build/gdb-check.log) failed"
  count_lines build/gdb-check.log
  echo "== traces (MT_TRACE) of the parked program and PEP example 08"
  rm -f build/trace-parked.json build/trace-08.json
  MT_TRACE=build/trace-parked.json build/gdb/tests/gdb/parked_program --no-trap >build/trace-check.log 2>&1
  python3 tests/trace/check_trace.py build/trace-parked.json \
    --track "#2 'getter'" --track "#8 'micro-thread-8'" \
    --slice "wait: pipe get" --slice "wait: lock" --slice "wait: fd" --slice "wait: join" --slice "wait: sleep" \
    --arg "on=to get from pipe 'inbox'" --arg "ended=fired" --arg "ended=aborted" \
    --instant "abort" --instant "end: finished" --instant "end: aborted" >>build/trace-check.log 2>&1
  MT_TRACE=build/trace-08.json build/gdb/pep_examples/08_sleep_and_timeouts >/dev/null 2>&1
  python3 tests/trace/check_trace.py build/trace-08.json \
    --track "#7 'patient reader'" --slice "wait: sleep" --slice "blocked in the notifier" \
    --arg "ended=timed out" --instant "timeout" >>build/trace-check.log 2>&1
  grep -A5 '^FAIL' build/trace-check.log | head -30
  echo "   $(grep -c '^ok ' build/trace-check.log) ok, $(grep -c '^FAIL ' build/trace-check.log) failed"
  count_lines build/trace-check.log
}

# ---- long runs ------------------------------------------------------------------------

# step_stress_long — MT_STRESS_LONG_SEEDS seeds per profile (default 2000:
# 10,000 in all, from seed 1000 on; the suite runs 1..32) in the ASan+UBSan
# build, where the engine's invariants are checked after every step.
step_stress_long() {
  local n="${MT_STRESS_LONG_SEEDS:-2000}"
  MT_STRESS_SEEDS="$n" MT_STRESS_FIRST_SEED=1000 \
    run_doctest "stress, $n seeds per profile (ASan+UBSan)" build/asan/tests/core_tests -tc='stress:*'
}

# step_soak — the soak runs in the release build (MT_SOAK_SECONDS per server
# run, default 20).
step_soak() {
  if ! ninja -C build/release tests/soak_tests >build/soak.build.log 2>&1; then
    tail -50 build/soak.build.log; failed=$((failed + 1)); return
  fi
  run_doctest "soak (release)" build/release/tests/soak_tests
}

# step_valgrind — the suite under valgrind memcheck.
step_valgrind() {
  echo "== valgrind memcheck (scripts/memcheck.sh)"
  scripts/memcheck.sh >build/memcheck.log 2>&1
  local rc=$?
  count_summary "memcheck" build/memcheck.log $rc
  grep -E 'ERROR SUMMARY' build/memcheck.log | tail -1
  if ! grep -qE 'ERROR SUMMARY: 0 errors' build/memcheck.log; then failed=$((failed + 1)); fi
}

# ---- the side builds -------------------------------------------------------------------

# The ASan, TSan, fuzz and gdb builds (build_asan, build_tsan, build_fuzz,
# build_gdb) do not need the release build, so they run beside everything
# from the start, one after the other, at the lowest CPU priority (nice 19):
# they get what the release build and the tests leave of the cores (most of
# the tests run on one), and each step waits for its own build. Run one
# after the other, after the tests, they took ~12 of CI's 31 minutes.
MT_SIDE_BUILDS=(asan tsan fuzz gdb)
side_pid=

# start_side_builds — starts the side builds in the background; each one's
# exit status goes to build/NAME.side.rc, what it printed to build/NAME.side.out.
start_side_builds() {
  local b
  for b in "${MT_SIDE_BUILDS[@]}"; do rm -f "build/$b.side.rc" "build/$b.side.out"; done
  (
    renice -n 19 -p "$BASHPID" >/dev/null 2>&1
    for b in "${MT_SIDE_BUILDS[@]}"; do
      "build_$b" >"build/$b.side.out" 2>&1
      echo $? >"build/$b.side.rc"
    done
  ) &
  side_pid=$!
  trap stop_side_builds EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# descendants PID... — the processes below PID, children first (from
# /proc/PID/task/*/children).
descendants() {
  local p c
  for p in "$@"; do
    for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do
      echo "$c"
      descendants "$c"
    done
  done
}

# stop_side_builds — on exit (also by Ctrl-C or SIGTERM), stops the side
# builds if they still run: the chain, ninja and its compilers.
stop_side_builds() {
  [ -n "$side_pid" ] && kill -0 "$side_pid" 2>/dev/null || return 0
  kill $(descendants "$side_pid") "$side_pid" 2>/dev/null
  wait "$side_pid" 2>/dev/null
  return 0
}

# await_build NAME — waits for side build NAME (builds it here if the side
# builds did not start), prints what it printed, returns its status.
await_build() {
  local b="$1" rc
  if [ -z "$side_pid" ]; then "build_$b"; return; fi
  local start=$SECONDS
  while [ ! -f "build/$b.side.rc" ]; do
    if ! kill -0 "$side_pid" 2>/dev/null && [ ! -f "build/$b.side.rc" ]; then
      echo "   the side builds ended before build $b"; return 1
    fi
    sleep 1
  done
  rc=$(cat "build/$b.side.rc")
  cat "build/$b.side.out"
  echo "   (built beside the earlier steps; waited $((SECONDS - start)) s for it)"
  return "$rc"
}

# cpu_seconds — sets $cpu to the CPU time (user + system, whole seconds)
# of this script and of every process it has waited for: the work done,
# which on a 2-core machine bounds the wall time more than any one step.
# (`times` must run in this shell, not in a pipeline or $(...), where it
# would report a subshell's own zeros.)
cpu_seconds() {
  times >build/times.txt
  cpu=$(awk '{ for (i = 1; i <= 2; i++) { split($i, t, /[ms]/); s += t[1] * 60 + t[2] } } END { printf "%d", s }' build/times.txt)
}

# timed STEP — runs STEP and says how long it took (CI's budget is 30 minutes).
timed() {
  local start=$SECONDS
  "$1"
  echo "   [$1: $((SECONDS - start)) s]"
}

start_side_builds
timed step_release
timed step_docs
timed step_instructions
timed step_asan
timed step_tsan
timed step_fuzz_regression
timed step_observability
if [ "$long" = 1 ]; then
  timed step_soak
  timed step_stress_long
  timed step_fuzz_long
fi
if [ "$valgrind" = 1 ]; then
  timed step_valgrind
fi
[ -n "$side_pid" ] && wait "$side_pid" 2>/dev/null  # ended with the last side build: count its CPU time
cpu_seconds
echo "   [all steps: $SECONDS s, $cpu s of CPU time]"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
