# 07 — sleep_d and timeouts.
#
# What to notice:
#   * sleepers wake in deadline order, whatever order they went to sleep in;
#   * every wait takes a timeout: a pipe get, a join, an fd wait; when it
#     passes, Timeout (a TimeoutError) says who waited, for what, how long.
import os

import micro_threading as mt


def sleeper(name, seconds):
    mt.sleep_d(seconds)
    print("woke:", name)


def main():
    for name, s in (("third", 0.03), ("first", 0.01), ("second", 0.02)):
        mt.micro_thread(sleeper, name, s)
    mt.sleep_d(0.05)

    p = mt.micro_pipe("answers")
    try:
        p.get(timeout=0.01)
    except mt.Timeout as e:
        print("pipe:", e)

    t = mt.micro_thread(mt.sleep_d, 60, name="napper")
    try:
        t.wait(timeout=0.01)
    except TimeoutError as e:
        print("join:", e)
    t.abort()

    r, w = os.pipe()
    try:
        mt.read_d(r, 10, timeout=0.01)
    except mt.Timeout as e:
        print("fd:", e)
    finally:
        os.close(r)
        os.close(w)


mt.run(main)
