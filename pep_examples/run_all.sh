#!/usr/bin/env bash
# run_all.sh BUILD_DIR — runs every PEP example, showing its name and output.
cd "$(dirname "$0")/.."
build="${1:-build/release}"
n=0; bad=0
for exe in $(ls "$build"/pep_examples/[0-9][0-9]_* 2>/dev/null | grep -v '\.p$' | sort); do
  [ -x "$exe" ] || continue
  name=$(basename "$exe")
  echo
  echo "=== $name: $(sed -n '1s|^// *||p' pep_examples/$name.cpp)"
  "$exe" 2>&1
  rc=$?
  n=$((n + 1))
  [ $rc -ne 0 ] && { echo "(exit $rc)"; bad=$((bad + 1)); }
done
# The same scenarios in Python, on the micro_threading module built in $build.
if [ -f "$build/python/micro_threading/__init__.py" ]; then
  for src in pep_examples/python/[0-9][0-9]_*.py; do
    name=python/$(basename "$src" .py)
    echo
    echo "=== $name: $(sed -n '1s|^# *||p' "$src")"
    PYTHONPATH="$build/python" /usr/bin/python3 "$src" 2>&1
    rc=$?
    n=$((n + 1))
    [ $rc -ne 0 ] && { echo "(exit $rc)"; bad=$((bad + 1)); }
  done
fi
echo
echo "PEP example suite: $n programs ran, $((n - bad)) ended cleanly, $bad did not."
[ $bad -eq 0 ]
