#!/usr/bin/env python3
"""tests/compile_fail/check.py — programs that must not compile, and say why
in one message.

    check.py SOURCE_ROOT CXX [CXX_ARGS...]

Compiles pipeline_good_stages.cpp (must succeed: the command line works),
then each bad program (must fail with exactly one error, the static_assert
whose text is expected). Prints "ok NAME" or "FAIL NAME" per program (the
lines ./test.sh counts) and exits non-zero on any failure.
"""
import os
import subprocess
import sys

CASES = [
    ("pipeline_good_stages.cpp", None),
    ("pipeline_bad_stage.cpp",
     "pipeline: a middle stage K must be callable as f() or f(micro_pipe<LK-1>& in, micro_pipe<LK>& out)"),
    ("pipeline_bad_last_stage.cpp",
     "pipeline: the last stage must be callable as f() or f(micro_pipe<Ln-1>& in)"),
]


def main():
    root, cxx = sys.argv[1], sys.argv[2:]
    here = os.path.join(root, "tests", "compile_fail")
    failures = 0
    for name, expected in CASES:
        cmd = cxx + ["-std=c++20", "-fsyntax-only", "-I", root, os.path.join(here, name)]
        r = subprocess.run(cmd, capture_output=True, text=True)
        out = r.stdout + r.stderr
        errors = [line for line in out.splitlines() if "error:" in line]
        label = f"{name} ({os.path.basename(cxx[0])})"
        if expected is None:
            ok, why = r.returncode == 0, "does not compile"
        elif r.returncode == 0:
            ok, why = False, "compiles, but must not"
        elif expected not in out:
            ok, why = False, "fails without the expected static_assert"
        elif len(errors) != 1:
            ok, why = False, f"{len(errors)} errors instead of one"
        else:
            ok, why = True, ""
        if ok:
            print(f"ok {label}")
        else:
            failures += 1
            print(f"FAIL {label}: {why}\n  command: {' '.join(cmd)}")
            print("\n".join("  " + line for line in out.splitlines()[:40]))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
