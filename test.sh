#!/usr/bin/env bash
# test.sh [--long] — installs what is missing, builds, and runs every test:
# the suite in a release build and under ASan+UBSan (the model-checked stress
# test's fixed seeds are part of it), the PEP example outputs, and each
# libFuzzer target over its seed corpus (clang build).
#   --long  also: many more stress seeds (MT_STRESS_LONG_SEEDS per profile,
#           default 2000) and each fuzz target for MT_FUZZ_SECONDS (default 600).
# Ends with one line "N passed, N failed" and exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")"
source scripts/deps.sh

long=0
for arg in "$@"; do
  case "$arg" in
    --long) long=1 ;;
    *) echo "usage: ./test.sh [--long]"; exit 2 ;;
  esac
done

mt_install_deps || { echo "cannot install dependencies"; echo "0 passed, 1 failed"; exit 1; }
mkdir -p build

passed=0
failed=0

# run_doctest NAME BINARY [ARGS...] — runs a doctest binary and adds its counts.
run_doctest() {
  local name="$1" bin="$2" log="build/$1.log"
  echo "== $name"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$bin" --no-intro=true "${@:3}" >"$log" 2>&1
  local rc=$?
  local line
  line=$(grep -E '^\[doctest\] test cases:' "$log" | tail -1)
  if [ -z "$line" ]; then
    echo "   crashed (exit $rc); last lines:"; tail -20 "$log"
    failed=$((failed + 1))
    return
  fi
  local p f
  p=$(echo "$line" | sed -E 's/.*\| *([0-9]+) passed.*/\1/')
  f=$(echo "$line" | sed -E 's/.*\| *([0-9]+) failed.*/\1/')
  passed=$((passed + p)); failed=$((failed + f))
  echo "   $p passed, $f failed"
  if [ "$f" != 0 ] || [ $rc -ne 0 ]; then
    grep -E "ERROR|FATAL|CRASHED|runtime error|AddressSanitizer" "$log" | head -20
    [ "$f" = 0 ] && failed=$((failed + 1))
  fi
}

# step_release — the release build: the suite, the PEP examples, README's example.
step_release() {
  echo "== build (release)"
  if mt_build build/release; then
    run_doctest "core (release)" build/release/tests/core_tests
    echo "== PEP examples (release)"
    if pep_examples/check.sh build/release >build/pep_check.log 2>&1; then :; fi
    cat build/pep_check.log
    p=$(grep -cE '^ok ' build/pep_check.log); f=$(grep -cE '^FAIL ' build/pep_check.log)
    passed=$((passed + p)); failed=$((failed + f))
    echo "== README example"
    if python3 scripts/check_readme.py build/release/docs/examples/readme_hello; then
      passed=$((passed + 1)); echo "   ok"
    else
      failed=$((failed + 1))
    fi
  else
    failed=$((failed + 1))
  fi
}

# step_asan — the ASan+UBSan build: the suite again.
step_asan() {
  echo "== build (ASan+UBSan)"
  if mt_build build/asan -Dbuildtype=debug -Db_sanitize=address,undefined -Db_lto=false -Db_lundef=false; then
    run_doctest "core (ASan+UBSan)" build/asan/tests/core_tests
  else
    failed=$((failed + 1))
  fi
}

# ---- fuzzing (tests/fuzz/, docs/reliability.md) -------------------------------

MT_FUZZ_TARGETS=(fuzz_ops fuzz_deferred fuzz_select)

# build_fuzz — configures build/fuzz with clang, libFuzzer and ASan+UBSan
# once, then builds only the fuzz targets.
build_fuzz() {
  if [ ! -f build/fuzz/build.ninja ]; then
    CXX=clang++-14 meson setup build/fuzz -Dbuildtype=debug -Db_sanitize=address,undefined \
      -Db_lto=false -Db_lundef=false -Dfuzz=true >build/fuzz.setup.log 2>&1 || { cat build/fuzz.setup.log; return 1; }
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

# ---- the model-checked stress test, long (tests/stress/) ---------------------

# step_stress_long — MT_STRESS_LONG_SEEDS seeds per profile (default 2000:
# 10,000 in all, from seed 1000 on; the suite runs 1..32) in the ASan+UBSan
# build, where the engine's invariants are checked after every step.
step_stress_long() {
  local n="${MT_STRESS_LONG_SEEDS:-2000}"
  MT_STRESS_SEEDS="$n" MT_STRESS_FIRST_SEED=1000 \
    run_doctest "stress, $n seeds per profile (ASan+UBSan)" build/asan/tests/core_tests -tc='stress:*'
}

step_release
step_asan
step_fuzz_regression
if [ "$long" = 1 ]; then
  step_stress_long
  step_fuzz_long
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
