# 06 — the deferred and the PEP's callback queue ("not really a queue").
#
# Continuation style: A calls B calls C calls D; D starts something slow and
# defers; as the calls return, each pushes its continuation. What to notice:
#   * the continuations run D', C', B', A': in push order, each fed the
#     previous result, and wait() returns the last;
#   * when C' defers again (through E), what is pushed meanwhile (E', C'')
#     goes in front of what is still pending: [E', C'', B', A'].
import micro_threading as mt

d = None
again = False


def cont(name):
    def run(value):
        print("  %s got %d" % (name, value))
        return value + 1
    return run


def c_prime(value):
    cont("C'")(value)
    if not again:
        return value + 1
    d.arm()                   # E defers...
    d.push(cont("E'"))        # ...E returns, pushing E'
    d.push(cont("C''"))       # C' returns, pushing C''
    print("  C' deferred again")
    return None


def D():
    d.arm()
    d.push(cont("D'"))


def C():
    D()
    d.push(c_prime)


def B():
    C()
    d.push(cont("B'"))


def A():
    B()
    d.push(cont("A'"))


def main():
    global d, again
    d = mt.this_deferred()
    for twice in (False, True):
        again = twice
        print("C' defers again:" if twice else "one deferral:")
        A()

        def firer():  # someone else completes the slow work
            d.callback(100)
            if twice:
                mt.yield_()
                mt.yield_()
                d.callback(200)

        t = mt.micro_thread(firer)
        print("result:", d.wait())
        t.wait()


mt.run(main)
