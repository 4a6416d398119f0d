"""Cooperative time.sleep: in a micro-thread it suspends only the caller
(micro_threading.sleep_d; sleep(0) lets the others run once); anywhere else
it is the original. Its argument is checked as the original checks it."""
import operator as _operator
import time as _time

from .. import _core

_in_micro_thread = _core._coop_in_micro_thread
_sleep_d = _core.sleep_d
_orig_sleep = _time.sleep


def sleep(secs):
    """sleep(seconds): delays the calling micro-thread (or, outside run(),
    the OS thread) for the given number of seconds."""
    if not _in_micro_thread():
        return _orig_sleep(secs)
    if not isinstance(secs, float):
        secs = _operator.index(secs)  # TypeError as the original's
    if secs != secs:
        raise ValueError("Invalid value NaN (not a number)")
    if secs < 0:
        raise ValueError("sleep length must be non-negative")
    _sleep_d(secs)


def apply(group):
    """patch_time: time.sleep."""
    group.set(_time, "sleep", sleep)
