# 03 — cooperative micro-threads linked by micro_pipes (the PEP's third
# scenario): producer -> filter -> consumer, each reading its stdin() and
# writing its stdout().
#
# What to notice:
#   * a pipe holds one value: the producer runs only as far ahead as the
#     consumer lets it (see the interleaved lines);
#   * the producer just ends; its attached stdout closes, and the `for`
#     loops downstream end (the PEP's StopIteration).
import micro_threading as mt


def producer():
    for i in range(1, 6):
        print("produce", i)
        mt.stdout().put(i)


def evens_squared():
    for v in mt.stdin():
        if v % 2 == 0:
            mt.stdout().put(v * v)


def consumer():
    for v in mt.stdin():
        print("          consume", v)
    return "consumer saw the end"


def main():
    a, b = mt.micro_pipe("numbers"), mt.micro_pipe("squares")
    mt.micro_thread(producer, stdout=a)
    mt.micro_thread(evens_squared, stdin=a, stdout=b)
    print(mt.micro_thread(consumer, stdin=b).wait())


mt.run(main)
