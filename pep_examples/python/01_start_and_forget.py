# 01 — fire-and-forget micro-threads (the PEP's first scenario).
#
# What to notice:
#   * start_and_forget returns at once; the micro-threads run when main
#     next suspends (here: in sleep_d);
#   * an exception nobody will see is reported on stderr — the micro-thread's
#     id, name and message, then its Python traceback — and the run carries on.
import micro_threading as mt


def greet(who, delay):
    mt.sleep_d(delay)
    print("hello from", who)


def doomed():
    mt.sleep_d(0.02)
    raise ValueError("nobody waits for me")


def main():
    mt.start_and_forget(greet, "second", 0.01)
    mt.start_and_forget(greet, "first", 0.0)
    mt.start_and_forget(doomed, name="doomed")
    print("main started three micro-threads and goes on")
    mt.sleep_d(0.05)
    print("main ends; run() returns once every micro-thread has ended")


mt.run(main)
