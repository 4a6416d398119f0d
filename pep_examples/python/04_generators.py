# 04 — generators by composition: a producer writes to its stdout; when it
# calls another producer function, that function's output lands in the same
# stdout, in order, with nothing passed back (no `yield from` needed).
import micro_threading as mt


def walk(tree, depth=0):
    label, children = tree
    mt.stdout().put("  " * depth + label)
    for child in children:
        walk(child, depth + 1)  # a plain call: its values go to the same stdout


TREE = ("root", [("a", [("a1", []), ("a2", [])]), ("b", [("b1", [("b1x", [])])]), ("c", [])])


def main():
    out = mt.micro_pipe("tree")
    mt.micro_thread(walk, TREE, stdout=out)
    for line in out:
        print(line)


mt.run(main)
