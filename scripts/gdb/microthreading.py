# microthreading.py — gdb commands for programs built on microthreading.
#
#   (gdb) mt list          every micro-thread of the selected OS thread's
#                          engine: id, name, state, switches, what it waits on
#   (gdb) mt bt ID [OPTS]  the backtrace of micro-thread ID; OPTS go to gdb's
#                          bt (a frame count, -full, ...); `mt bt root` for the
#                          root (the OS thread's own stack) while a micro-thread
#                          runs
#
# Loaded by gdb's auto-load for programs linking the installed shared library
# (<datadir>/gdb/auto-load/<libdir>/libmicrothreading.so.<version>-gdb.py), or
# by hand:  (gdb) source <datadir>/microthreading/gdb/microthreading.py
# Needs the library's debug info (a build with -g); see docs/observability.md.
#
# How it reads the engine: mt::detail::tls_engine (the OS thread's engine),
# its live list (intrusive_list through control_block::live_hook), and each
# control block's state, name, switch count and wait (w.kind->name, w.obj).
# It calls no function of the program, so it works on a stopped process of
# any kind; `mt bt` of a suspended micro-thread changes the registers of
# the selected OS thread for the time of one `bt`, so it needs a live
# process (not a core file).
#
# The saved context: a suspended micro-thread's control_block::ctx.continuation
# is Boost.Context's fcontext_t on x86-64, the stack pointer its
# jump_fcontext left behind, pointing at
#
#   +0x00  mxcsr (4 bytes), x87 control word (4 bytes)
#   +0x08  r12      +0x10  r13      +0x18  r14      +0x20  r15
#   +0x28  rbx      +0x30  rbp      +0x38  return address (rip)
#
# The switch (core/detail/context.cpp, jump) enters jump_fcontext by a jump
# from a stack pointer it lowered past the red zone and aligned, and keeps
# the micro-thread's own stack pointer in rbx: the frame resumes at the
# saved rip with rsp = the saved rbx.

import struct

import gdb

_SAVED_REGISTERS = ("rip", "rsp", "rbp", "rbx", "r12", "r13", "r14", "r15")


def _engine():
    """The engine of the selected OS thread, as a gdb.Value (mt::engine)."""
    # Looked up as a symbol, not parsed as an expression: the selected frame
    # may be in C code (a libc function), where `mt::` does not parse.
    symbol = gdb.lookup_global_symbol("mt::detail::tls_engine")
    if symbol is None:
        raise gdb.GdbError(
            "microthreading: no symbol mt::detail::tls_engine; "
            "is the library loaded yet, and built with debug info (-g)?")
    try:
        e = symbol.value(gdb.selected_frame())
    except gdb.error as ex:
        raise gdb.GdbError("microthreading: cannot read mt::detail::tls_engine: %s" % ex)
    if int(e) == 0:
        thread = gdb.selected_thread()
        raise gdb.GdbError("microthreading: OS thread %s has no engine"
                           % (thread.num if thread else "?"))
    return e.dereference()


class _Block:
    """A control block at an address. Its fields are read by their offsets:
    dereferencing a pointer to the (polymorphic) control_block makes gdb look
    for the object's dynamic type, and warn when a lambda's task_block has no
    RTTI symbol it can match."""

    _fields = None

    def __init__(self, address):
        self.address = int(address)

    def __getitem__(self, name):
        if _Block._fields is None:
            t = gdb.lookup_type("mt::detail::control_block")
            _Block._fields = {f.name: f for f in t.fields() if not f.is_base_class}
        f = _Block._fields[name]
        return gdb.Value(self.address + f.bitpos // 8).cast(f.type.pointer()).dereference()


def _blocks(engine):
    """The live control blocks, oldest first."""
    cb = int(engine["live_"]["head_"])
    seen = 0
    while cb != 0:
        block = _Block(cb)
        yield block
        seen += 1
        if seen > 10_000_000:  # a corrupted list: stop rather than loop forever
            return
        cb = int(block["live_hook"]["next"])


def _enumerator(value):
    """`mt::state::waiting` -> `waiting`."""
    return str(value).split("::")[-1]


def _name(cb):
    text = cb["name"].string()
    return text if text else "micro-thread-%d" % int(cb["id"])


def _ref(cb):
    """'#3 'sink'' for a _Block or a pointer to a control block."""
    if not isinstance(cb, _Block):
        cb = _Block(cb)
    return "#%d '%s'" % (int(cb["id"]), _name(cb))


def _std_string(value):
    """A libstdc++ std::string's text, read without calling the program."""
    try:
        return value["_M_dataplus"]["_M_p"].string(length=int(value["_M_string_length"]))
    except gdb.error:
        return str(value)


def _name_buffer(value):
    """A primitive's name_buffer (core/detail/lock_core.hpp)."""
    n = int(value["len"])
    return value["text"].string(length=n) if n else "unnamed"


def _cast(obj, type_name):
    return obj.cast(gdb.lookup_type(type_name).pointer()).dereference()


# What each kind of wait's object says, where it is cheap to read. A kind
# not listed here is shown by its name alone.
def _on_join(obj):
    return "to join " + _ref(obj)


def _on_pipe(verb):
    def describe(obj):
        pipe = _cast(obj, "mt::detail::pipe_waiter")["pipe"].dereference()
        return "%s pipe '%s'" % (verb, _std_string(pipe["name_"]))
    return describe


def _on_lock(obj):
    waiter = _cast(obj, "mt::detail::lock_waiter")
    if int(waiter["lock"]) == 0:
        return "(withdrawn)"
    lock = waiter["lock"].dereference()
    text = "%s '%s'" % (lock["kind_"].string(), _name_buffer(lock["name_"]))
    if int(lock["holder_"]) != 0:
        text += ", held by " + _ref(lock["holder_"])
    return text


def _on_fd(obj):
    ticket = _cast(obj, "mt::detail::wait_ticket")
    direction = "writable" if bool(ticket["write"]) else "readable"
    return "for fd %d to become %s" % (int(ticket["fd"]), direction)


def _on_signal(obj):
    return "for signal %d" % int(_cast(obj, "mt::detail::wait_ticket")["signo"])


def _on_child(obj):
    return "for child process %d" % int(_cast(obj, "mt::detail::wait_ticket")["pid"])


_DESCRIBERS = {
    "join": _on_join,
    "pipe get": _on_pipe("to get from"),
    "pipe put": _on_pipe("to put to"),
    "lock": _on_lock,
    "fd": _on_fd,
    "signal": _on_signal,
    "child": _on_child,
    "sleep": lambda obj: "in sleep_d",
    "deferred": lambda obj: "on its deferred",
}


def _wait_of(cb):
    """'pipe get: to get from pipe 'inbox'' for a waiting block, else ''."""
    w = cb["w"]
    if int(w["kind"]) == 0:
        return ""
    kind = w["kind"]["name"].string()
    describe = _DESCRIBERS.get(kind)
    if describe is None or int(w["obj"]) == 0 and kind not in ("sleep", "deferred"):
        return kind
    try:
        return "%s: %s" % (kind, describe(w["obj"]))
    except (gdb.error, gdb.MemoryError) as ex:
        return "%s (object unreadable: %s)" % (kind, ex)


def _find(engine, which):
    for cb in _blocks(engine):
        if int(cb["id"]) == which:
            return cb
    return None


class MtPrefix(gdb.Command):
    """Commands for microthreading's micro-threads: mt list, mt bt ID."""

    def __init__(self):
        super().__init__("mt", gdb.COMMAND_STACK, gdb.COMPLETE_NONE, True)


class MtList(gdb.Command):
    """mt list — every micro-thread of the selected OS thread's engine.

One line each: id, name, state, how often it was switched to, and what it
waits on (the kind of wait and, for joins, pipes, locks, fds, signals and
children, its object). Use `thread apply all mt list` for every engine."""

    def __init__(self):
        super().__init__("mt list", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        engine = _engine()
        blocks = list(_blocks(engine))
        running = int(engine["current_"])
        header = "engine %d: %d live micro-thread%s" % (
            int(engine["serial_"]), len(blocks), "" if len(blocks) == 1 else "s")
        header += "; running: " + (_ref(running) if running != 0 else "the root")
        print(header)
        print("  %4s  %-20s %-9s %9s  %s" % ("ID", "NAME", "STATE", "SWITCHES", "WAITS ON"))
        for cb in blocks:
            line = "  %4d  %-20s %-9s %9d  %s" % (
                int(cb["id"]), _name(cb), _enumerator(cb["st"]), int(cb["switches"]), _wait_of(cb))
            print(line.rstrip())


class MtBt(gdb.Command):
    """mt bt ID [OPTIONS] — the backtrace of micro-thread ID; OPTIONS go to bt.

A suspended micro-thread is unwound from the context it saved when it
switched away: for the time of one `bt` the selected OS thread's registers
are set to that context, then put back (a live process only). `mt bt root`
shows the OS thread's own stack while a micro-thread runs."""

    def __init__(self):
        super().__init__("mt bt", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        args = arg.split(None, 1)
        if not args:
            raise gdb.GdbError("usage: mt bt ID [bt options]   (ID from `mt list`, or `root`)")
        limit = args[1] if len(args) > 1 else ""  # passed on to bt: N, -full, -frame-arguments none, ...
        engine = _engine()
        if args[0] == "root":
            if int(engine["current_"]) == 0:
                print("the root is running: its backtrace is `bt`")
                gdb.execute("bt " + limit)
                return
            self._unwind("the root", engine["root_"], limit)
            return
        try:
            which = int(args[0], 0)
        except ValueError:
            raise gdb.GdbError("mt bt: '%s' is not a micro-thread id" % args[0])
        cb = _find(engine, which)
        if cb is None:
            raise gdb.GdbError("mt bt: no live micro-thread #%d in this engine" % which)
        state = _enumerator(cb["st"])
        title = "%s %s" % (_ref(cb), state)
        wait = _wait_of(cb)
        if wait:
            title += ": " + wait
        if state == "running":
            print(title + " (running: the OS thread's own backtrace)")
            gdb.execute("bt " + limit)
            return
        if state == "created" or int(cb["ctx"]["continuation"]) == 0:
            print(title + " (has not started: no stack yet)")
            return
        self._unwind(title, cb["ctx"], limit)

    def _unwind(self, title, slot, limit):
        arch = gdb.selected_frame().architecture().name()
        if "x86-64" not in arch:
            raise gdb.GdbError("mt bt: saved contexts are read on x86-64 only (this is %s)" % arch)
        fctx = int(slot["continuation"])
        words = struct.unpack("<8Q", bytes(gdb.selected_inferior().read_memory(fctx, 0x40)))
        saved = {"r12": words[1], "r13": words[2], "r14": words[3], "r15": words[4],
                 "rbx": words[5], "rbp": words[6], "rip": words[7], "rsp": words[5]}
        print(title)
        level = gdb.selected_frame().level()
        gdb.newest_frame().select()
        original = {r: int(gdb.parse_and_eval("(unsigned long)$" + r)) for r in _SAVED_REGISTERS}
        try:
            try:
                for r in _SAVED_REGISTERS:
                    gdb.execute("set $%s = (long)0x%x" % (r, saved[r]), to_string=True)
            except gdb.error as ex:
                raise gdb.GdbError(
                    "mt bt: cannot switch registers (%s); a core file cannot be unwound this way. "
                    "Saved rip 0x%x, rsp 0x%x" % (ex, saved["rip"], saved["rsp"]))
            print(gdb.execute("bt " + limit, to_string=True), end="")
        finally:
            for r in _SAVED_REGISTERS:
                try:
                    gdb.execute("set $%s = (long)0x%x" % (r, original[r]), to_string=True)
                except gdb.error:
                    pass
            try:  # the register writes dropped gdb's frames: select the user's again by level
                gdb.execute("frame %d" % level, to_string=True)
            except gdb.error:
                pass


MtPrefix()
MtList()
MtBt()
