#!/usr/bin/env python3
"""installed_ratio.py [--build DIR] [--rounds N] — is the installed library as
fast as the in-tree build?

Installs the release build (DIR, default build/release) into a temporary
directory, builds three core benchmarks (mt_yield, mt_spawn_join,
mt_pingpong) from their unchanged sources as an outside user would, and runs
them interleaved with the in-tree binaries:

  in-tree   DIR/bench/<name>: the project's release build (-O3, LTO across
            the whole program, the library linked statically)
  shared    g++ -O2, -lmicrothreading: the installed shared library
  static    g++ -O2 -flto=auto, libmicrothreading.a: the installed static
            library, whose objects carry LTO bytecode beside machine code,
            so a user's -flto link optimizes across the switch as the tree does

Prints the median of each metric per variant and the ratio in-tree/variant
(1.0: as fast; above 0.95 meets the target). Needs DIR configured and
built; the three in-tree benchmarks (not built by default) are built first.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile

BENCHES = ["mt_yield", "mt_spawn_join", "mt_pingpong"]
COUNTS = {"mt_yield": "2000000", "mt_spawn_join": "200000", "mt_pingpong": "500000"}


def run_metrics(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    metrics = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                metrics[parts[0]] = float(parts[1])
            except ValueError:
                pass
    return metrics


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build/release")
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    build = os.path.join(top, args.build)
    subprocess.run(["ninja", "-C", build] + ["bench/" + b for b in BENCHES], check=True,
                   stdout=subprocess.DEVNULL)
    with tempfile.TemporaryDirectory(prefix="mt-installed-") as tmp:
        dest = os.path.join(tmp, "root")
        subprocess.run(["meson", "install", "-C", build, "--no-rebuild", "--quiet", "--destdir", dest],
                       check=True, stdout=subprocess.DEVNULL)
        prefix = subprocess.run(["meson", "introspect", build, "--buildoptions"], check=True,
                                capture_output=True, text=True).stdout
        import json
        opts = {o["name"]: o["value"] for o in json.loads(prefix)}
        root = dest + opts["prefix"]
        inc = os.path.join(root, opts["includedir"], "microthreading")
        lib = os.path.join(root, opts["libdir"])
        variants = {"in-tree": {}, "shared": {}, "static": {}}
        for b in BENCHES:
            src = os.path.join(top, "bench", b + ".cpp")
            counter = os.path.join(top, "bench", "alloc_count.cpp")  # every benchmark counts its allocations
            common = ["g++", "-std=c++20", "-O2", "-DNDEBUG", "-I" + inc, "-I" + os.path.join(top, "bench"), src, counter]
            shared = os.path.join(tmp, b + "-shared")
            subprocess.run(common + ["-L" + lib, "-lmicrothreading", "-Wl,-rpath," + lib, "-pthread", "-o", shared],
                           check=True)
            static = os.path.join(tmp, b + "-static")
            subprocess.run(common + ["-flto=auto", os.path.join(lib, "libmicrothreading.a"), "-lboost_context",
                                     "-lev", "-lfmt", "-pthread", "-o", static], check=True)
            variants["in-tree"][b] = os.path.join(build, "bench", b)
            variants["shared"][b] = shared
            variants["static"][b] = static
        samples = {}  # (bench, metric, variant) -> [values]
        for _ in range(args.rounds):
            for b in BENCHES:
                for v, paths in variants.items():  # interleaved: one run of each in turn
                    for metric, value in run_metrics([paths[b], COUNTS[b]]).items():
                        samples.setdefault((b, metric, v), []).append(value)
        print(f"{'metric':34} {'in-tree':>9} {'shared':>9} {'ratio':>6} {'static':>9} {'ratio':>6}")
        worst = None
        for (b, metric, v) in sorted(samples):
            if v != "in-tree" or "alloc" in metric:
                continue
            t = statistics.median(samples[(b, metric, "in-tree")])
            s = statistics.median(samples[(b, metric, "shared")])
            st = statistics.median(samples[(b, metric, "static")])
            rs, rst = t / s if s else 0.0, t / st if st else 0.0
            worst = min(x for x in (worst, rs, rst) if x is not None)
            print(f"{b + ' ' + metric:34} {t:9.1f} {s:9.1f} {rs:6.2f} {st:9.1f} {rst:6.2f}")
        print(f"(medians of {args.rounds} interleaved runs, ns; ratio = in-tree / installed, 1.00 = as fast; "
              f"worst {worst:.2f})")


if __name__ == "__main__":
    sys.exit(main())
