#!/usr/bin/env bash
# check.sh BUILD_DIR — runs every PEP example and compares its output (stdout
# and stderr) with expected/<name>.out. Lines of the expected file may hold
# the mask {{ANY}}, which matches any text on that line. Prints "ok NAME" or
# "FAIL NAME" with a diff.
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
exit $status
