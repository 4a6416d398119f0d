#!/usr/bin/env python3
"""check_trace.py FILE [--track NAME]... [--slice NAME]... [--arg KEY=VALUE]...
[--instant NAME]... — checks a trace written by MT_TRACE or mt::trace_stop
(core/trace.hpp) for the structure ui.perfetto.dev and chrome://tracing need,
and for the events a test expects.

Structure: valid JSON, an object with a traceEvents list; every event has a
name, a ph among B E X i M, a pid and a tid, and all but M a numeric ts;
per track (pid, tid) the timestamps never go back and every B is closed by
an E (never an E before its B); every track has a thread_name and every
process a process_name.
Expectations: --track NAME a track so named ("#2 'getter'"); --slice NAME a
B event so named ("wait: pipe get"); --arg KEY=VALUE an event with that
argument (on="to get from pipe 'inbox'", ended="timed out"); --instant NAME
an instant event so named ("timeout").
Prints "ok <check>" or "FAIL <check>" per check; exits non-zero on a failure.
"""
import argparse
import json
import sys

failures = 0


def check(name, ok, detail=""):
    global failures
    print(("ok " if ok else "FAIL ") + name)
    if not ok:
        failures += 1
        if detail:
            print("   " + str(detail)[:2000])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("file")
    p.add_argument("--track", action="append", default=[])
    p.add_argument("--slice", action="append", default=[])
    p.add_argument("--arg", action="append", default=[])
    p.add_argument("--instant", action="append", default=[])
    a = p.parse_args()
    label = a.file.split("/")[-1]

    try:
        with open(a.file) as f:
            doc = json.load(f)
    except (OSError, ValueError) as ex:
        check("%s is valid JSON" % label, False, ex)
        return 1
    check("%s is valid JSON" % label, True)
    events = doc.get("traceEvents") if isinstance(doc, dict) else None
    check("%s has a traceEvents list" % label, isinstance(events, list) and len(events) > 0)
    if not isinstance(events, list):
        return 1

    bad = [e for e in events
           if not isinstance(e, dict) or not isinstance(e.get("name"), str) or e.get("ph") not in ("B", "E", "X", "i", "M")
           or not isinstance(e.get("pid"), int) or not isinstance(e.get("tid"), int)
           or (e.get("ph") != "M" and not isinstance(e.get("ts"), (int, float)))]
    check("%s: every event has a name, a known ph, a pid, a tid and a ts" % label, not bad, bad[:3])

    depth, last_ts, unbalanced, backwards = {}, {}, [], []
    for e in events:
        if e.get("ph") == "M":
            continue
        track = (e["pid"], e["tid"])
        if e["ts"] < last_ts.get(track, float("-inf")):
            backwards.append(e)
        last_ts[track] = e["ts"]
        if e["ph"] == "B":
            depth[track] = depth.get(track, 0) + 1
        elif e["ph"] == "E":
            depth[track] = depth.get(track, 0) - 1
            if depth[track] < 0:
                unbalanced.append(("E before its B", e))
    unbalanced += [("left open", t, d) for t, d in depth.items() if d != 0]
    check("%s: B and E balanced on every track (%d tracks)" % (label, len(depth)), not unbalanced, unbalanced[:3])
    check("%s: time never goes back on a track" % label, not backwards, backwards[:3])

    names = {(e["pid"], e["tid"]): e["args"]["name"] for e in events
             if e.get("ph") == "M" and e["name"] == "thread_name"}
    processes = {e["pid"] for e in events if e.get("ph") == "M" and e["name"] == "process_name"}
    tracks = {(e["pid"], e["tid"]) for e in events if e.get("ph") != "M"}
    check("%s: every track is named" % label, tracks <= set(names), sorted(tracks - set(names))[:5])
    check("%s: every process is named" % label, {t[0] for t in tracks} <= processes)

    for t in a.track:
        check("%s: a track named %s" % (label, t), t in names.values(), sorted(names.values()))
    slices = {e["name"] for e in events if e.get("ph") == "B"}
    for s in a.slice:
        check("%s: a slice named '%s'" % (label, s), s in slices, sorted(slices))
    for kv in a.arg:
        key, _, value = kv.partition("=")
        check("%s: an event with %s" % (label, kv),
              any(isinstance(e.get("args"), dict) and e["args"].get(key) == value for e in events))
    instants = {e["name"] for e in events if e.get("ph") == "i"}
    for i in a.instant:
        check("%s: an instant '%s'" % (label, i), i in instants, sorted(instants))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
