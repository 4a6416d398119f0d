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
  local interp line p f
  for interp in /usr/bin/python3 "$(command -v python3)"; do
    [ -x "$interp" ] || continue
    echo "   under $interp ($("$interp" -c 'import sys; print(sys.version.split()[0])'))"
    "$interp" python/tests/run_tests.py "$interp" "$dir" >"$dir.python-tests.log" 2>&1
    sed 's/^/   /' "$dir.python-tests.log" | grep -vE '^   \[doctest\]' | grep -E '^   (ok|FAIL)|^        ' | head -80
    line=$(grep -E '^\[doctest\] test cases:' "$dir.python-tests.log" | tail -1)
    if [ -z "$line" ]; then failed=$((failed + 1)); tail -20 "$dir.python-tests.log"; continue; fi
    p=$(echo "$line" | sed -E 's/.*\| *([0-9]+) passed.*/\1/')
    f=$(echo "$line" | sed -E 's/.*\| *([0-9]+) failed.*/\1/')
    passed=$((passed + p)); failed=$((failed + f))
    echo "   $p passed, $f failed"
  done
}

echo "== build (ASan+UBSan)"
if mt_build build/asan -Dbuildtype=debug -Db_sanitize=address,undefined -Db_lto=false -Db_lundef=false; then
  run_doctest "core (ASan+UBSan)" build/asan/tests/core_tests
else
  failed=$((failed + 1))
fi

# After the C++ suites: the Python module, built in the release build.
if [ -f build/release/build.ninja ]; then
  python_module_tests build/release
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
