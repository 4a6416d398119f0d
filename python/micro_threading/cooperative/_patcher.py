"""The record of what the cooperative mode replaced, so that it can be undone.

Each area (socket, select, time, thread, ...) is patched as one group: every
attribute it sets on a module or a class is recorded with the value it had
(or that it had none), and undoing the group puts each back, in reverse
order (with any other change the group made, recorded as an undo function). A group is patched at most once; undoing a group that is not patched
does nothing.

Invariants: `_groups` holds the patched groups in the order they were
patched; each group's undos undo every change it made.
"""
import threading as _threading

_MISSING = object()

# name -> list of (target, attribute, previous value or _MISSING); in patch order
_groups = {}
_originals = {}  # (module name, attribute) -> the value before the first patch
# Patching is rare; a real lock (the original, taken before anything is
# patched) keeps two OS threads from patching at once.
_guard = _threading.RLock()


class Group:
    """What one area changes: set() and call() record how to undo, then change."""

    def __init__(self, name):
        self.name = name
        self.undos = []

    def set(self, target, attribute, value):
        """target.attribute = value, recording what was there."""
        previous = target.__dict__.get(attribute, _MISSING) if isinstance(target, type) \
            else getattr(target, attribute, _MISSING)
        _originals.setdefault((getattr(target, "__name__", repr(target)), attribute), previous)

        def undo():
            if previous is _MISSING:
                try:
                    delattr(target, attribute)
                except AttributeError:
                    pass
            else:
                setattr(target, attribute, previous)

        setattr(target, attribute, value)
        self.undos.append(undo)

    def call(self, do, undo):
        """do() now, undo() when the group is undone."""
        do()
        self.undos.append(undo)


def patch(name, apply):
    """Runs apply(group) once for the area `name`; returns True if it ran now."""
    with _guard:
        if name in _groups:
            return False
        group = Group(name)
        try:
            apply(group)
        except BaseException:
            _undo(group)
            raise
        _groups[name] = group
        return True


def _undo(group):
    for undo in reversed(group.undos):
        undo()


def unpatch(name):
    """Puts back what the area `name` replaced; returns True if it was patched."""
    with _guard:
        group = _groups.pop(name, None)
        if group is None:
            return False
        _undo(group)
        return True


def unpatch_all():
    with _guard:
        for name in reversed(list(_groups)):
            unpatch(name)


def patched():
    """The names of the areas patched now, in the order they were patched."""
    with _guard:
        return list(_groups)


def original(module, attribute):
    """What module.attribute (a module's or a class's __name__) was before
    the cooperative mode first replaced it; KeyError if it never did."""
    value = _originals[(module, attribute)]
    if value is _MISSING:
        raise KeyError((module, attribute))
    return value
