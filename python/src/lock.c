/* python/src/lock.c — CooperativeLock: threading.Lock (_thread.allocate_lock)
 * for the cooperative mode.
 *
 * A lock in the sense of _thread.lock: not owned (any thread may release
 * it), acquire(blocking=True, timeout=-1) -> bool, release() on an unlocked
 * lock is RuntimeError. What differs is how its waiters wait:
 *
 *   * a micro-thread suspends (its deferred, armed with a remote token), so
 *     the other micro-threads of its engine run meanwhile;
 *   * any other caller — outside run(), another OS thread, a worker of
 *     submit_work — blocks its OS thread without the GIL on a private
 *     PyThread lock, as _thread.lock does.
 *
 * So one lock serves micro-threads and OS threads at once, across runs: it
 * belongs to no engine (unlike the toolbox's primitives), since a lock made
 * at import time or in one run() is used in later ones. Waiters are served
 * first come first served: release() hands the lock to the first waiter
 * (it stays locked), so nobody barges past a waiter.
 *
 * A micro-thread waiter is woken by mt_deferred_callback when the releaser
 * runs on its engine's OS thread, else through its remote token (another OS
 * thread or another engine). Arming the token every time costs a little on
 * the contended path and makes the wait one that the engine does not report
 * as a deadlock (an OS thread could end it): a cycle of threading locks
 * hangs, as it does with OS threads, and mt.dump() shows who waits.
 *
 * Invariants (with the GIL, which every function here holds):
 *   * waiters exist only while the lock is locked (head != NULL => locked);
 *   * a waiter is linked until it is granted (release unlinks and grants
 *     it) or leaves by itself (timeout, abort, signal) — never both;
 *   * a granted waiter owns the lock: it returns True or, when it must raise
 *     instead, passes the lock on before raising;
 *   * a waiter record lives in its waiter's C frame, which stays until the
 *     waiter has unlinked it or been granted. */
#include "mtpy.h"

#include <pythread.h>

typedef struct lock_waiter {
    struct lock_waiter* prev;
    struct lock_waiter* next;
    int linked;
    int granted;
    mt_thread* thread;          /* a micro-thread waiter's handle (a reference), or NULL */
    mt_remote* token;           /* its deferred's remote token (a reference) */
    unsigned long os_thread;    /* the OS thread its engine runs on */
    PyThread_type_lock os_lock; /* an OS-thread waiter's: held by it, released to wake it */
} lock_waiter;

typedef struct {
    PyObject_HEAD
    int locked;
    lock_waiter* head; /* FIFO */
    lock_waiter* tail;
    PyObject* weakrefs;
} LockObject;

static void link_waiter(LockObject* self, lock_waiter* w) {
    w->prev = self->tail;
    w->next = NULL;
    if (self->tail) self->tail->next = w;
    else self->head = w;
    self->tail = w;
    w->linked = 1;
}

static void unlink_waiter(LockObject* self, lock_waiter* w) {
    if (!w->linked) return;
    if (w->prev) w->prev->next = w->next;
    else self->head = w->next;
    if (w->next) w->next->prev = w->prev;
    else self->tail = w->prev;
    w->prev = w->next = NULL;
    w->linked = 0;
}

/* hand_over — release: the first waiter gets the lock, or it is unlocked. */
static void hand_over(LockObject* self) {
    lock_waiter* w = self->head;
    if (!w) {
        self->locked = 0;
        return;
    }
    unlink_waiter(self, w);
    w->granted = 1;
    if (!w->thread) {
        PyThread_release_lock(w->os_lock);
        return;
    }
    /* On its engine's OS thread the deferred is fired directly (that
     * withdraws the token); a fire the engine refuses (its waiter was
     * aborted meanwhile) needs nothing more: it will see `granted`. */
    if (w->os_thread == PyThread_get_thread_ident() && mtpy_run) {
        (void)mt_deferred_callback(w->thread, NULL);
        return;
    }
    (void)mt_remote_callback(w->token, NULL);
}

/* wait_micro — a micro-thread waits its turn: 1 granted, 0 timed out, -1
 * with an exception (MicroThreadExit, or an error of the engine). */
static int wait_micro(LockObject* self, int64_t ns) {
    lock_waiter w = {0};
    w.os_thread = PyThread_get_thread_ident();
    w.thread = mt_current_thread();
    if (!w.thread) {
        PyErr_SetString(mtpy_UsageError, "lock.acquire: no micro-thread is running");
        return -1;
    }
    w.token = mt_remote_arm();
    if (!w.token) {
        mtpy_raise_status(mt_last_error_kind());
        mt_thread_release(w.thread);
        return -1;
    }
    link_waiter(self, &w);
    void* v = NULL;
    mt_status s = mt_deferred_wait(ns, &v);
    unlink_waiter(self, &w);
    int result;
    if (s == MT_OK) {
        result = 1;
        if (!w.granted) {
            PyErr_SetString(mtpy_UsageError,
                            "lock.acquire: the micro-thread's deferred was fired while it waited for a lock");
            result = -1;
        }
    } else if (s == MT_TIMEOUT) {
        /* A grant may have come after the deadline but before this
         * micro-thread resumed: then it owns the lock. Either way the
         * deferred is left idle: a fire that came is taken, a remote one
         * still in flight is dropped by the cancel. */
        if (mt_deferred_wait(0, &v) != MT_OK) mt_deferred_cancel();
        result = w.granted ? 1 : 0;
    } else {
        mtpy_raise_status(s);
        mt_deferred_cancel();
        if (w.granted) hand_over(self); /* it owned the lock: the next one gets it */
        result = -1;
    }
    mt_remote_release(w.token);
    mt_thread_release(w.thread);
    return result;
}

/* wait_os — an OS thread waits its turn on a private lock, without the GIL;
 * signals are handled as _thread.lock handles them. */
static int wait_os(LockObject* self, int64_t ns) {
    lock_waiter w = {0};
    w.os_lock = PyThread_allocate_lock();
    if (!w.os_lock) {
        PyErr_NoMemory();
        return -1;
    }
    PyThread_acquire_lock(w.os_lock, 0); /* held: the next acquire waits for the grant */
    link_waiter(self, &w);
    _PyTime_t deadline = ns == MT_FOREVER ? 0 : _PyTime_GetMonotonicClock() + ns;
    int failed = 0;
    for (;;) {
        PY_TIMEOUT_T us = -1;
        if (ns != MT_FOREVER) {
            _PyTime_t left = deadline - _PyTime_GetMonotonicClock();
            us = left <= 0 ? 0 : (PY_TIMEOUT_T)((left + 999) / 1000);
        }
        PyLockStatus st;
        Py_BEGIN_ALLOW_THREADS
        st = PyThread_acquire_lock_timed(w.os_lock, us, 1);
        Py_END_ALLOW_THREADS
        if (st != PY_LOCK_INTR || w.granted) break;
        if (Py_MakePendingCalls() < 0) { /* a signal handler raised */
            failed = 1;
            break;
        }
    }
    unlink_waiter(self, &w);
    PyThread_free_lock(w.os_lock);
    if (failed) {
        if (w.granted) hand_over(self);
        return -1;
    }
    return w.granted;
}

/* take — 1 acquired, 0 not (non-blocking or timed out), -1 with an
 * exception. timeout: nanoseconds, < 0 forever, 0 only try. */
static int take(LockObject* self, _PyTime_t timeout) {
    if (!self->locked) {
        self->locked = 1;
        return 1;
    }
    if (timeout == 0) return 0;
    int64_t ns = timeout < 0 ? MT_FOREVER : (int64_t)timeout;
    return mtpy_coop_state() ? wait_micro(self, ns) : wait_os(self, ns);
}

/* parse_acquire — acquire(blocking=True, timeout=-1), checked as
 * _thread.lock checks it; *timeout in ns: -1 forever, 0 do not wait. */
static int parse_acquire(PyObject* args, PyObject* kwargs, _PyTime_t* timeout) {
    static char* kw[] = {"blocking", "timeout", NULL};
    int blocking = 1;
    PyObject* t = NULL;
    *timeout = -1;
    if ((!args || PyTuple_GET_SIZE(args) == 0) && !kwargs) return 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|pO:acquire", kw, &blocking, &t)) return -1;
    const _PyTime_t unset = -1000000000; /* -1 s, as _thread.lock says "unset" */
    _PyTime_t v = unset;
    if (t && _PyTime_FromSecondsObject(&v, t, _PyTime_ROUND_TIMEOUT) < 0) return -1;
    if (!blocking && v != unset) {
        PyErr_SetString(PyExc_ValueError, "can't specify a timeout for a non-blocking call");
        return -1;
    }
    if (v < 0 && v != unset) {
        PyErr_SetString(PyExc_ValueError, "timeout value must be positive");
        return -1;
    }
    if (!blocking) {
        *timeout = 0;
    } else if (v != unset) {
        if (v / 1000 > PY_TIMEOUT_MAX) {
            PyErr_SetString(PyExc_OverflowError, "timeout value is too large");
            return -1;
        }
        *timeout = v;
    }
    return 0;
}

/* ---- the type ---------------------------------------------------------------------------------- */

static PyObject* lock_new(PyTypeObject* type, PyObject* args, PyObject* kwargs) {
    if (PyTuple_GET_SIZE(args) || (kwargs && PyDict_GET_SIZE(kwargs))) {
        PyErr_SetString(PyExc_TypeError, "CooperativeLock() takes no arguments");
        return NULL;
    }
    return type->tp_alloc(type, 0);
}

static void lock_dealloc(LockObject* self) {
    if (self->weakrefs) PyObject_ClearWeakRefs((PyObject*)self);
    Py_TYPE(self)->tp_free((PyObject*)self);
}

static PyObject* lock_acquire(LockObject* self, PyObject* args, PyObject* kwargs) {
    _PyTime_t timeout;
    if (parse_acquire(args, kwargs, &timeout) < 0) return NULL;
    int r = take(self, timeout);
    return r < 0 ? NULL : PyBool_FromLong(r);
}

static PyObject* lock_release(LockObject* self, PyObject* u) {
    (void)u;
    if (!self->locked) {
        PyErr_SetString(PyExc_RuntimeError, "release unlocked lock");
        return NULL;
    }
    hand_over(self);
    Py_RETURN_NONE;
}

static PyObject* lock_exit(LockObject* self, PyObject* args) {
    (void)args;
    return lock_release(self, NULL);
}

static PyObject* lock_locked(LockObject* self, PyObject* u) {
    (void)u;
    return PyBool_FromLong(self->locked);
}

static PyObject* lock_at_fork_reinit(LockObject* self, PyObject* u) {
    (void)u;
    self->locked = 0; /* the child has none of the parent's waiters */
    self->head = self->tail = NULL;
    Py_RETURN_NONE;
}

static PyObject* lock_repr(LockObject* self) {
    return PyUnicode_FromFormat("<%s %s object at %p>", self->locked ? "locked" : "unlocked", Py_TYPE(self)->tp_name,
                                self);
}

static PyMethodDef lock_methods[] = {
    {"acquire", (PyCFunction)(void (*)(void))lock_acquire, METH_VARARGS | METH_KEYWORDS,
     "acquire(blocking=True, timeout=-1) -> bool: takes the lock, waiting (first come, first served)\n"
     "for it if need be: a micro-thread suspends, any other caller blocks its OS thread."},
    {"acquire_lock", (PyCFunction)(void (*)(void))lock_acquire, METH_VARARGS | METH_KEYWORDS,
     "acquire_lock() is an obsolete synonym of acquire()."},
    {"__enter__", (PyCFunction)(void (*)(void))lock_acquire, METH_VARARGS | METH_KEYWORDS, "acquire()"},
    {"release", (PyCFunction)lock_release, METH_NOARGS,
     "release(): unlocks it (any thread may), handing it to the first waiter."},
    {"release_lock", (PyCFunction)lock_release, METH_NOARGS, "release_lock() is an obsolete synonym of release()."},
    {"__exit__", (PyCFunction)lock_exit, METH_VARARGS, "release()"},
    {"locked", (PyCFunction)lock_locked, METH_NOARGS, "locked() -> bool"},
    {"locked_lock", (PyCFunction)lock_locked, METH_NOARGS, "locked_lock() is an obsolete synonym of locked()."},
    {"_at_fork_reinit", (PyCFunction)lock_at_fork_reinit, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject LockType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "micro_threading.CooperativeLock",
    .tp_basicsize = sizeof(LockObject),
    .tp_dealloc = (destructor)lock_dealloc,
    .tp_repr = (reprfunc)lock_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "CooperativeLock(): threading.Lock for micro-threads and OS threads alike (the cooperative\n"
              "mode's _thread.allocate_lock): a micro-thread that waits for it suspends, any other\n"
              "caller blocks its OS thread. Not owned; first come, first served.",
    .tp_weaklistoffset = offsetof(LockObject, weakrefs),
    .tp_methods = lock_methods,
    .tp_new = lock_new,
};

int mtpy_lock_init(PyObject* module) {
    if (PyType_Ready(&LockType) < 0) return -1;
    return PyModule_AddObjectRef(module, "CooperativeLock", (PyObject*)&LockType);
}
