#!/usr/bin/env bash
# test.sh [--long] [--valgrind] — installs what is missing, builds, and runs
# every test:
#   release build   the C++ suite (the model-checked stress test's fixed seeds
#                   are part of it), the C API's tests in C, the PEP example
#                   outputs (C++ and Python), README's example, the Python
#                   module's tests under both interpreters, and an outside
#                   program built against the installed library (pkg-config
#                   with g++ and clang++, CMake, a meson subproject); the
#                   instruction-count guard (scripts/check_instructions.sh:
#                   hot paths against bench/baseline_instructions.txt);
#   ASan+UBSan      the C++ suite and the C API's tests again;
#   TSan            the tests that cross OS threads (the worker pool, wake-ups
#                   from other OS threads, several engines);
#   clang fuzz      each libFuzzer target over its seed corpus.
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
# examples, README's example, the Python module, the installed library.
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

# step_asan — the ASan+UBSan build: the suite and the C API's tests again.
step_asan() {
  echo "== build (ASan+UBSan)"
  if ! mt_build build/asan -Dbuildtype=debug -Db_sanitize=address,undefined -Db_lto=false -Db_lundef=false; then
    failed=$((failed + 1)); return
  fi
  run_doctest "core (ASan+UBSan)" build/asan/tests/core_tests
  run_doctest "C API, from C (ASan+UBSan)" build/asan/tests/capi_tests
}

# The tests where OS threads meet: the worker pool, wake-ups from other OS
# threads, engines on several OS threads, subprocesses in two engines.
MT_THREAD_TESTS='*OS thread*,*worker*,*submit_work*,*remote*,*engines*,*other thread*'

# step_tsan — ThreadSanitizer over the tests that cross OS threads.
step_tsan() {
  echo "== build (TSan)"
  if [ ! -f build/tsan/build.ninja ]; then
    meson setup build/tsan -Dbuildtype=debug -Db_sanitize=thread -Db_lto=false -Db_lundef=false \
      >build/tsan.setup.log 2>&1 || { cat build/tsan.setup.log; failed=$((failed + 1)); return; }
  fi
  if ! ninja -C build/tsan tests/core_tests >build/tsan.build.log 2>&1; then
    tail -50 build/tsan.build.log; failed=$((failed + 1)); return
  fi
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    run_doctest "threads (TSan)" build/tsan/tests/core_tests -tc="$MT_THREAD_TESTS"
}

# ---- fuzzing (tests/fuzz/, docs/reliability.md) -------------------------------

MT_FUZZ_TARGETS=(fuzz_ops fuzz_deferred fuzz_select)

# build_fuzz — configures build/fuzz with clang, libFuzzer and ASan+UBSan
# once, then builds only the fuzz targets.
build_fuzz() {
  if [ ! -f build/fuzz/build.ninja ]; then
    CXX=clang++-14 meson setup build/fuzz -Dbuildtype=debug -Db_sanitize=address,undefined \
      -Db_lto=false -Db_lundef=false -Dfuzz=true -Dpython_module=disabled >build/fuzz.setup.log 2>&1 ||
      { cat build/fuzz.setup.log; return 1; }
  fi
  ninja -C build/fuzz "${MT_FUZZ_TARGETS[@]/#/tests/fuzz/}" >build/fuzz.build.log 2>&1 || { tail -50 build/fuzz.build.log; return 1; }
}

# step_fuzz_regression — each fuzz target runs every input of its corpus
# (tests/fuzz/corpus/<target>/) once: a regression check of seconds.
step_fuzz_regression() {
  echo "== build (clang, libFuzzer, ASan+UBSan)"
  if ! build_fuzz; then failed=$((failed + 1)); return; fi
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

step_release
step_instructions
step_asan
step_tsan
step_fuzz_regression
if [ "$long" = 1 ]; then
  step_soak
  step_stress_long
  step_fuzz_long
fi
if [ "$valgrind" = 1 ]; then
  step_valgrind
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
