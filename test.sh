#!/usr/bin/env bash
# test.sh — installs what is missing, builds, and runs every test: the suite
# in a release build and under ASan+UBSan, and the PEP example outputs.
# Ends with one line "N passed, N failed" and exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")"
source scripts/deps.sh

mt_install_deps || { echo "cannot install dependencies"; echo "0 passed, 1 failed"; exit 1; }
mkdir -p build

passed=0
failed=0

# run_doctest NAME BINARY — runs a doctest binary and adds its counts.
run_doctest() {
  local name="$1" bin="$2" log="build/$1.log"
  echo "== $name"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$bin" --no-intro=true >"$log" 2>&1
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

echo "== build (ASan+UBSan)"
if mt_build build/asan -Dbuildtype=debug -Db_sanitize=address,undefined -Db_lto=false -Db_lundef=false; then
  run_doctest "core (ASan+UBSan)" build/asan/tests/core_tests
else
  failed=$((failed + 1))
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
