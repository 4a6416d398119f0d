# 05 — exceptions through a pipeline, both ways.
#
# What to notice:
#   * downstream: a stage's exception closes its stdout with that exception;
#     the next stage's get raises it, and so on to the end, where pipeline()
#     raises the original exception object, traceback included;
#   * upstream: a consumer that stops early ends; its stdin closes, and the
#     producer's next put raises MicroThreadExit, which ends it silently
#     (its `finally` runs).
import micro_threading as mt


def numbers():
    for i in range(10):
        mt.stdout().put(i)


def parse():
    for v in mt.stdin():
        if v == 3:
            raise ValueError("cannot parse record %d" % v)
        mt.stdout().put(v)


def total():
    return sum(mt.stdin())


def endless():
    try:
        i = 0
        while True:
            mt.stdout().put(i)
            i += 1
    finally:
        print("  endless producer: MicroThreadExit ended it after", i, "values")


def first_three():
    return [mt.stdin().get() for _ in range(3)]


def main():
    print("downstream:")
    try:
        mt.pipeline(numbers, parse, total)
    except ValueError as e:
        tb = e.__traceback__
        while tb.tb_next:
            tb = tb.tb_next
        print("  pipeline raised %r, from %s()" % (e, tb.tb_frame.f_code.co_name))
    print("upstream:")
    print("  consumer got", mt.pipeline(endless, first_three))


mt.run(main)
