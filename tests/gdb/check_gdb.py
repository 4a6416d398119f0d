#!/usr/bin/env python3
"""check_gdb.py BUILD_DIR — the gdb extension (scripts/gdb/microthreading.py)
against tests/gdb/parked_program, in gdb's batch mode.

BUILD_DIR is a build with debug info (test.sh uses build/gdb: the release
build's options plus -g). Two runs:
  auto-load   the build directory in gdb's auto-load safe-path: the stub
              beside libmicrothreading.so loads the commands by itself;
  source      auto-load off, the commands `source`d by hand (what a
              statically linked program needs).
Each checks `mt list` (ids, names, states, waits), `mt bt` of every
micro-thread (the function each is parked in), `mt bt root`, and that the
program, continued after all that, ends cleanly (the registers `mt bt`
borrowed were put back). Prints "ok <check>" or "FAIL <check>" per check.
"""
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.dirname(os.path.dirname(HERE))

# (id, name, state, what `mt list` says it waits on, a function `mt bt` must show)
EXPECTED = [
    (1, "main", "running", "", "parked_program.cpp"),
    (2, "getter", "waiting", "pipe get: to get from pipe 'inbox'", "park_on_pipe"),
    (3, "locker", "waiting", "lock: mutex 'accounts', held by #1 'main'", "park_on_mutex"),
    (4, "sleeper", "waiting", "sleep: in sleep_d", "park_in_sleep"),
    (5, "joiner", "waiting", "join: to join #4 'sleeper'", "park_on_join"),
    (6, "reader", "waiting", "fd: for fd {reader_fd} to become readable", "park_on_fd"),  # the program prints it
    (7, "yielder", "runnable", "", "park_in_yield"),
    (8, "micro-thread-8", "created", "", "has not started"),
]

failures = 0


def check(name, ok, detail=""):
    global failures
    print(("ok " if ok else "FAIL ") + name)
    if not ok:
        failures += 1
        if detail:
            print("   " + detail.replace("\n", "\n   "))


def run_gdb(build, how):
    program = os.path.join(build, "tests", "gdb", "parked_program")
    cmd = ["gdb", "-batch", "-nx", "-iex", "set debuginfod enabled off", "-iex", "set pagination off"]
    if how == "auto-load":
        cmd += ["-iex", "add-auto-load-safe-path " + os.path.abspath(build)]
    else:
        cmd += ["-iex", "set auto-load python-scripts off"]
    cmd += ["-ex", "run"]
    if how == "source":
        cmd += ["-ex", "source " + os.path.join(SOURCE_ROOT, "scripts", "gdb", "microthreading.py")]
    cmd += ["-ex", "echo ==list\\n", "-ex", "mt list"]
    for ident, *_ in EXPECTED:
        cmd += ["-ex", "echo ==bt %d\\n" % ident, "-ex", "mt bt %d -frame-arguments none" % ident]
    cmd += ["-ex", "echo ==root\\n", "-ex", "mt bt root -frame-arguments none"]
    cmd += ["-ex", "echo ==continue\\n", "-ex", "continue", "--args", program]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
    return r.stdout


def sections(output):
    """'==name' markers split the output into named parts."""
    parts, name = {}, "start"
    for line in output.splitlines():
        if line.startswith("=="):
            name = line[2:].strip()
            parts[name] = []
        elif not line.startswith("warning: RTTI symbol not found"):
            parts.setdefault(name, []).append(line)
    return {k: "\n".join(v) for k, v in parts.items()}


def check_run(build, how):
    out = run_gdb(build, how)
    part = sections(out)
    listing = part.get("list", "")
    fd = re.search(r"reader's fd: (\d+)", part.get("start", ""))
    check("[%s] the program says which fd #6 waits for" % how, fd is not None, part.get("start", "")[-2000:])
    reader_fd = fd.group(1) if fd else "?"
    check("[%s] mt list names the engine and who runs" % how,
          "engine " in listing and "8 live micro-threads; running: #1 'main'" in listing, listing)
    for ident, name, state, wait, frame in EXPECTED:
        wait = wait.format(reader_fd=reader_fd)
        line = next((l for l in listing.splitlines() if re.match(r"\s*%d\s" % ident, l)), "")
        fields = line.split(None, 4)
        said = fields[4] if len(fields) > 4 else ""
        wait_ok = said == wait
        check("[%s] mt list: #%d %s %s %s" % (how, ident, name, state, wait),
              len(fields) >= 4 and fields[1] == name and fields[2] == state and fields[3].isdigit() and wait_ok,
              line or listing)
        bt = part.get("bt %d" % ident, "")
        check("[%s] mt bt %d shows %s" % (how, ident, frame), frame in bt, bt[-3000:])
        if state in ("waiting", "runnable"):
            check("[%s] mt bt %d unwinds to the micro-thread's start" % (how, ident),
                  "mt::engine::run_to_end" in bt, bt[-3000:])
    root = part.get("root", "")
    check("[%s] mt bt root shows the engine's loop under main" % how,
          "mt::engine::loop" in root and re.search(r"\bmain \(", root) is not None, root)
    tail = part.get("continue", "")
    check("[%s] the program, continued, ends cleanly" % how,
          "parked program: ended cleanly" in tail and "exited normally" in tail, tail + "\n" + out[-2000:])


def main():
    if len(sys.argv) != 2:
        print("usage: check_gdb.py BUILD_DIR")
        return 2
    build = sys.argv[1]
    check_run(build, "auto-load")
    check_run(build, "source")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
