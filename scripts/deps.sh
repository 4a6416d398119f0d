# scripts/deps.sh — sourced by quickstart.sh and test.sh: installs, from
# Debian's packages, whatever the build, the tests and the benchmarks need
# and this machine lacks. Needs root (or sudo) only when something is missing.

MT_PACKAGES=(
  g++ meson ninja-build pkg-config
  libboost-context-dev libboost-fiber-dev libev-dev doctest-dev libfmt-dev
  valgrind golang-go python3-gevent curl wrk strace gnuplot-nox
  clang-14 libclang-rt-14-dev
  python3-dev python3-greenlet python3-mesonpy
  cmake clang
  gdb
)

mt_install_deps() {
  local missing=()
  for p in "${MT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "== installing: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq || return 1
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" || return 1
}

# mt_setup DIR [meson options...] — configures DIR (DIR relative to the
# tree's top; its log: DIR.setup.log) from a working directory of its own,
# DIR.cwd: meson's cmake module runs `cmake --system-information`, which
# writes scratch files into the working directory, so two setups at once
# from one directory break each other (./test.sh configures side by side).
mt_setup() {
  local dir="$1" top="$PWD"; shift
  mkdir -p "$dir.cwd"
  (cd "$dir.cwd" && meson setup "$top/$dir" "$top" "$@") >"$dir.setup.log" 2>&1 ||
    { cat "$dir.setup.log"; return 1; }
}

# mt_build DIR [meson options...] — configures DIR once, then builds it.
mt_build() {
  local dir="$1"; shift
  if [ ! -f "$dir/build.ninja" ]; then
    mt_setup "$dir" "$@" || return 1
  fi
  ninja -C "$dir" >"$dir.build.log" 2>&1 || { tail -50 "$dir.build.log"; return 1; }
}
