# 09 — a deadlock is reported, not a hang.
#
# Two stages each wait to get from the other's pipe. What to notice:
#   * when nothing can ever run again, run() raises DeadlockError naming the
#     wait-for chain;
#   * before that, the stuck micro-threads were aborted, so their `finally`
#     blocks ran.
import micro_threading as mt


def stage(name, inp, out):
    try:
        out.put(inp.get())
    finally:
        print("cleanup in", name)


def main():
    a, b = mt.micro_pipe("a"), mt.micro_pipe("b")
    first = mt.micro_thread(stage, "first", a, b, name="first")
    mt.micro_thread(stage, "second", b, a, name="second")
    first.wait()


try:
    mt.run(main)
except mt.DeadlockError as e:
    print(e)
