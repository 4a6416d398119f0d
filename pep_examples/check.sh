#!/usr/bin/env bash
# check.sh BUILD_DIR — runs every PEP example and compares its output (stdout
# and stderr) with expected/<name>.out. Lines of the expected file may hold
# the mask {{ANY}}, which matches any text on that line. Prints "ok NAME" or
# "FAIL NAME" with a diff. Then the Python ones (python/NN_*.py, checked
# against python/expected/NN_*.out) under Debian's /usr/bin/python3 with the
# micro_threading package built in BUILD_DIR/python.
cd "$(dirname "$0")/.."
build="${1:-build/release}"
status=0
for src in pep_examples/[0-9][0-9]_*.cpp; do
  name=$(basename "$src" .cpp)
  exe="$build/pep_examples/$name"
  expected="pep_examples/expected/$name.out"
  if [ ! -x "$exe" ] || [ ! -f "$expected" ]; then
    echo "FAIL $name (missing program or expected output)"; status=1; continue
  fi
  actual=$(mktemp)
  { timeout 120 "$exe" 2>&1; echo "(exit $?)"; } >"$actual"
  if python3 pep_examples/compare_output.py "$expected" "$actual"
  then echo "ok $name"; else echo "FAIL $name"; status=1; fi
  rm -f "$actual"
done
py=/usr/bin/python3
for src in pep_examples/python/[0-9][0-9]_*.py; do
  name=python/$(basename "$src" .py)
  expected="pep_examples/$(dirname "$name")/expected/$(basename "$name").out"
  if [ ! -f "$build/python/micro_threading/__init__.py" ] || [ ! -f "$expected" ]; then
    echo "FAIL $name (the module is not built in $build, or no expected output)"; status=1; continue
  fi
  actual=$(mktemp)
  { PYTHONPATH="$build/python" timeout 120 "$py" "$src" 2>&1; echo "(exit $?)"; } >"$actual"
  if python3 pep_examples/compare_output.py "$expected" "$actual"
  then echo "ok $name"; else echo "FAIL $name"; status=1; fi
  rm -f "$actual"
done
exit $status
