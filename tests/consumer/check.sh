#!/usr/bin/env bash
# tests/consumer/check.sh BUILD_DIR WORK_DIR — installs the library built in
# BUILD_DIR into WORK_DIR/dest and builds the program of this folder outside
# the tree, each way a user would: pkg-config with g++ and with clang++ (the
# shared library and the static one), the C API from C, CMake's
# find_package, and a meson subproject. Runs each result. Prints one
# "ok NAME" or "FAIL NAME" line per way; exits non-zero if any failed.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="$(cd "$1" && pwd)"
rm -rf "$2"
mkdir -p "$2"
work="$(cd "$2" && pwd)"
dest="$work/dest"
status=0

report() {  # report NAME LOG EXIT_CODE
  if [ "$3" -eq 0 ]; then echo "ok $1"; else echo "FAIL $1"; tail -25 "$2"; status=1; fi
}

if ! meson install -C "$build" --destdir "$dest" --no-rebuild >"$work/install.log" 2>&1; then
  echo "FAIL install"; tail -25 "$work/install.log"; exit 1
fi
echo "ok install"
prefix=$(meson introspect "$build" --buildoptions | python3 -c "import json,sys; print([o['value'] for o in json.load(sys.stdin) if o['name']=='prefix'][0])")
libdir=$(meson introspect "$build" --buildoptions | python3 -c "import json,sys; print([o['value'] for o in json.load(sys.stdin) if o['name']=='libdir'][0])")
case "$libdir" in /*) ;; *) libdir="$prefix/$libdir" ;; esac
export PKG_CONFIG_PATH="$dest$libdir/pkgconfig"
export PKG_CONFIG_SYSROOT_DIR="$dest"
export LD_LIBRARY_PATH="$dest$libdir"

# The builds below are independent and each runs one compiler: they run
# side by side, and are reported in order.
pids=()
names=()
logs=()
start() {  # start NAME LOG COMMAND...
  names+=("$1"); logs+=("$2")
  "${@:3}" >"$2" 2>&1 &
  pids+=($!)
}

# pkg-config: shared, with g++ and clang++; static with both; C on the C API.
pkg_build() {  # pkg_build CXX KIND
  local cxx="$1" kind="$2" flags libs
  flags=$(pkg-config --cflags microthreading)
  if [ "$kind" = shared ]; then libs=$(pkg-config --libs microthreading)
  else  # the archive itself, then what it needs (Libs.private)
    libs="$dest$libdir/libmicrothreading.a $(pkg-config --static --libs microthreading | sed 's/-lmicrothreading\b//')"
  fi
  $cxx -std=c++20 -O2 "$here/main.cpp" -o "$work/consumer-$cxx-$kind" $flags $libs && "$work/consumer-$cxx-$kind"
}
for cxx in g++ clang++; do
  for kind in shared static; do
    start "pkg-config $cxx $kind" "$work/$cxx-$kind.log" pkg_build "$cxx" "$kind"
  done
done
c_build() {
  cc -std=c11 "$here/capi_main.c" -o "$work/consumer-c" $(pkg-config --cflags --libs microthreading) && "$work/consumer-c"
}
start "pkg-config cc (the C API)" "$work/c.log" c_build

# CMake: find_package(microthreading) and the imported target.
cmake_build() {
  cmake -S "$here" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$dest$prefix" -DCMAKE_BUILD_TYPE=Release &&
    cmake --build "$work/cmake" && "$work/cmake/consumer"
}
start "cmake find_package" "$work/cmake.log" cmake_build

for i in "${!pids[@]}"; do
  wait "${pids[$i]}"
  report "${names[$i]}" "${logs[$i]}" $?
done

# A meson subproject: dependency('microthreading') through override_dependency.
log="$work/subproject.log"
sub="$work/subproject"
mkdir -p "$sub/subprojects"
cp "$here/meson.build" "$here/main.cpp" "$sub/"
ln -s "$root" "$sub/subprojects/microthreading"
{ env -u PKG_CONFIG_PATH -u PKG_CONFIG_SYSROOT_DIR \
    meson setup "$sub/build" "$sub" -Db_lto=false --force-fallback-for=microthreading &&
  ninja -C "$sub/build" &&
  "$sub/build/consumer" &&
  python3 - "$sub/build" <<'PY'
import json, subprocess, sys
targets = json.loads(subprocess.run(['meson', 'introspect', sys.argv[1], '--targets'], capture_output=True, text=True).stdout)
extra = [t['name'] for t in targets if t['subproject'] == 'microthreading' and not t['name'].startswith('mt_') and t['name'] != 'microthreading']
print('targets of the subproject beyond the library:', extra or 'none')
sys.exit(1 if extra else 0)
PY
} >"$log" 2>&1
report "meson subproject" "$log" $?

exit $status
