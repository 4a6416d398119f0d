# 02 — start_in_parallel (the PEP's second scenario).
#
# What to notice:
#   * the results come back in the order of the functions, whatever order
#     they finish in;
#   * when one raises, the others are aborted (their `finally` runs) and the
#     first exception reaches the caller with its own traceback.
import micro_threading as mt


def fetch(name, seconds):
    mt.sleep_d(seconds)
    print("  fetched", name)
    return name.upper()


def slow_cleanup():
    try:
        mt.sleep_d(10)
    finally:
        print("  slow one aborted: cleanup ran")


def broken():
    mt.sleep_d(0.01)
    raise ConnectionError("server 2 is down")


def main():
    results = mt.start_in_parallel(lambda: fetch("a", 0.03), lambda: fetch("b", 0.01), lambda: fetch("c", 0.02))
    print("results in order:", results)
    try:
        mt.start_in_parallel(slow_cleanup, broken)
    except ConnectionError as e:
        print("the caller got:", repr(e))


mt.run(main)
