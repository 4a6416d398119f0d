/* python/src/coop.c — what the cooperative mode (the package
 * micro_threading.cooperative) needs in C:
 *
 *   _coop_wait_fd(fd, write, timeout)   -> True when ready, False at the timeout.
 *       In a micro-thread it waits in the engine (mt_wait_fd); anywhere else
 *       (outside run(), another OS thread) it blocks in poll(2) without the
 *       GIL, the way the socket module itself waits: patched functions called
 *       outside run() behave like the originals.
 *   _coop_wait_fds(((fd, events), ...), timeout) -> True / False: until any
 *       of the fds is ready for its poll(2) events (POLLIN, POLLOUT, POLLPRI),
 *       through one epoll fd made for the wait, which the engine waits on.
 *   close_fd(fd)                        closes fd through the engine
 *       (mt_close_fd): every micro-thread waiting on it is woken with
 *       OSError(EBADF) first.
 *   _coop_get_ident()                   the threading ident of the caller: a
 *       micro-thread's own (main's is its OS thread's), else the OS thread's.
 *   _coop_ident_of(t)                   the ident of micro-thread t.
 *   _coop_local_dict()                  the caller's thread-local dict, or
 *       None where the OS thread's thread-locals apply (outside run(), main).
 *   _coop_in_micro_thread()             whether waits suspend here.
 *   _coop_set_main_end_hook(fn)         fn() runs in main when main's function
 *       has returned (threading's end of the main thread: non-daemon threads
 *       are joined, daemon ones aborted).
 *   _coop_write_unraisable(exc, msg, obj) sys.unraisablehook, as _thread does
 *       for an exception that ends a thread started by start_new_thread.
 *   CooperativeLock                     threading.Lock for micro-threads and
 *       OS threads alike (see its comment).
 *
 * Threading: every function runs with the GIL. */
#include "mtpy.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <pythread.h>
#include <sys/epoll.h>
#include <unistd.h>

PyObject* mtpy_main_end_hook;

/* in_micro_thread — waits suspend only the caller here. */
static int in_micro_thread(void) { return mtpy_coop_state() != NULL; }

static PyObject* raise_errno(int err) {
    errno = err;
    return PyErr_SetFromErrno(PyExc_OSError);
}

/* ---- waiting for fds ------------------------------------------------------------------------ */

/* poll_blocking — outside an engine: poll(2) without the GIL until ready or
 * the timeout (ns, MT_FOREVER); EINTR runs the signal handlers and goes on.
 * 1 ready, 0 timed out, -1 with an exception. */
static int poll_blocking(struct pollfd* p, nfds_t n, int64_t ns) {
    _PyTime_t deadline = 0;
    if (ns != MT_FOREVER) deadline = _PyTime_GetMonotonicClock() + ns;
    for (;;) {
        int ms = -1;
        if (ns != MT_FOREVER) {
            _PyTime_t left = deadline - _PyTime_GetMonotonicClock();
            if (left < 0) left = 0;
            _PyTime_t m = (left + 999999) / 1000000;
            ms = m > 0x7fffffff ? 0x7fffffff : (int)m;
        }
        int r;
        Py_BEGIN_ALLOW_THREADS
        r = poll(p, n, ms);
        Py_END_ALLOW_THREADS
        if (r > 0) return 1;
        if (r == 0) {
            if (ns != MT_FOREVER && _PyTime_GetMonotonicClock() >= deadline) return 0;
            continue;
        }
        if (errno != EINTR) {
            raise_errno(errno);
            return -1;
        }
        if (PyErr_CheckSignals() < 0) return -1;
    }
}

/* engine_wait — in a micro-thread: 1 ready, 0 timed out, -1 with an exception. */
static int engine_wait(int fd, int write, int64_t ns) {
    mt_status s = mt_wait_fd(fd, write, ns);
    if (s == MT_OK) return 1;
    if (s == MT_TIMEOUT) return 0;
    mtpy_raise_status(s);
    return -1;
}

static PyObject* bool_or_null(int r) {
    if (r < 0) return NULL;
    return PyBool_FromLong(r);
}

static PyObject* coop_wait_fd(PyObject* m, PyObject* const* args, Py_ssize_t nargs) {
    (void)m;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "_coop_wait_fd(fd, write, timeout)");
        return NULL;
    }
    int fd = PyObject_AsFileDescriptor(args[0]);
    if (fd < 0) return NULL;
    int write = PyObject_IsTrue(args[1]);
    if (write < 0) return NULL;
    int64_t ns;
    if (mtpy_timeout_ns(args[2], &ns) < 0) return NULL;
    if (in_micro_thread()) return bool_or_null(engine_wait(fd, write, ns));
    struct pollfd p = {fd, write ? POLLOUT : POLLIN, 0};
    return bool_or_null(poll_blocking(&p, 1, ns));
}

static PyObject* coop_wait_fds(PyObject* m, PyObject* const* args, Py_ssize_t nargs) {
    (void)m;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "_coop_wait_fds(((fd, events), ...), timeout)");
        return NULL;
    }
    int64_t ns;
    if (mtpy_timeout_ns(args[1], &ns) < 0) return NULL;
    PyObject* seq = PySequence_Fast(args[0], "_coop_wait_fds: a sequence of (fd, events)");
    if (!seq) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (!in_micro_thread()) {
        /* outside an engine: poll(2) itself */
        struct pollfd* p = PyMem_Calloc(n ? (size_t)n : 1, sizeof *p);
        if (!p) {
            Py_DECREF(seq);
            return PyErr_NoMemory();
        }
        for (Py_ssize_t i = 0; i < n; ++i) {
            int fd, ev;
            if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, i), "ii", &fd, &ev)) {
                PyMem_Free(p);
                Py_DECREF(seq);
                return NULL;
            }
            p[i].fd = fd;
            p[i].events = (short)ev;
        }
        Py_DECREF(seq);
        int r = poll_blocking(p, (nfds_t)n, ns);
        PyMem_Free(p);
        return bool_or_null(r);
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) {
        Py_DECREF(seq);
        return raise_errno(errno);
    }
    int r = -1;
    for (Py_ssize_t i = 0; i < n; ++i) {
        int fd, ev;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, i), "ii", &fd, &ev)) goto done;
        struct epoll_event e = {0};
        e.events = (uint32_t)ev; /* POLLIN/POLLPRI/POLLOUT have EPOLLIN/EPOLLPRI/EPOLLOUT's values */
        e.data.fd = fd;
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) < 0) {
            if (errno == EPERM) { /* a regular file: always ready */
                r = 1;
                goto done;
            }
            raise_errno(errno);
            goto done;
        }
    }
    r = engine_wait(ep, 0, ns);
done:
    Py_DECREF(seq);
    mt_close_fd(ep); /* through the engine: its watcher goes first */
    return bool_or_null(r);
}

/* ---- close_fd -------------------------------------------------------------------------------- */

static PyObject* close_fd(PyObject* m, PyObject* arg) {
    (void)m;
    int fd = PyObject_AsFileDescriptor(arg);
    if (fd < 0) return NULL;
    int r;
    Py_BEGIN_ALLOW_THREADS
    r = mt_close_fd(fd);
    Py_END_ALLOW_THREADS
    if (r < 0 && errno != EINTR) return raise_errno(errno); /* EINTR: closed anyway on Linux */
    Py_RETURN_NONE;
}

/* ---- identity and thread-locals ------------------------------------------------------------- */

/* Idents of micro-threads start far above 0 and far below any pthread_t
 * (the address of its thread's descriptor): they never meet an OS thread's.
 * Every engine's thread hands them out with the GIL held. */
static unsigned long next_ident = 1UL << 32;

static PyObject* coop_get_ident(PyObject* m, PyObject* u) {
    (void)m;
    (void)u;
    mtpy_coop* c = mtpy_coop_state();
    if (!c || c->is_main) return PyLong_FromUnsignedLong(PyThread_get_thread_ident());
    if (!c->ident) c->ident = next_ident++;
    return PyLong_FromUnsignedLong(c->ident);
}

/* _coop_ident_of(t) — a micro-thread's ident, given now if it has none
 * (start_new_thread returns it before the new thread runs). */
static PyObject* coop_ident_of(PyObject* m, PyObject* t) {
    (void)m;
    if (!PyObject_TypeCheck(t, &mtpy_ThreadType)) {
        PyErr_SetString(PyExc_TypeError, "_coop_ident_of(micro_thread)");
        return NULL;
    }
    mtpy_coop* c = mtpy_coop_of(mtpy_thread_handle(t));
    if (!c) {
        PyErr_SetString(mtpy_UsageError, "_coop_ident_of: a micro-thread of another run");
        return NULL;
    }
    if (c->is_main) return PyLong_FromUnsignedLong(PyThread_get_thread_ident());
    if (!c->ident) c->ident = next_ident++;
    return PyLong_FromUnsignedLong(c->ident);
}

static PyObject* coop_local_dict(PyObject* m, PyObject* u) {
    (void)m;
    (void)u;
    mtpy_coop* c = mtpy_coop_state();
    if (!c || c->is_main) Py_RETURN_NONE;
    if (!c->dict && !(c->dict = PyDict_New())) return NULL;
    return Py_NewRef(c->dict);
}

static PyObject* coop_in_micro_thread(PyObject* m, PyObject* u) {
    (void)m;
    (void)u;
    return PyBool_FromLong(in_micro_thread());
}

static PyObject* coop_set_main_end_hook(PyObject* m, PyObject* fn) {
    (void)m;
    if (fn != Py_None && !PyCallable_Check(fn)) {
        PyErr_SetString(PyExc_TypeError, "_coop_set_main_end_hook(fn): fn must be callable or None");
        return NULL;
    }
    Py_XSETREF(mtpy_main_end_hook, fn == Py_None ? NULL : Py_NewRef(fn));
    Py_RETURN_NONE;
}

static PyObject* coop_write_unraisable(PyObject* m, PyObject* const* args, Py_ssize_t nargs) {
    (void)m;
    const char* msg;
    if (nargs != 3 || !PyExceptionInstance_Check(args[0]) || !(msg = PyUnicode_AsUTF8(args[1]))) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "_coop_write_unraisable(exc, message, obj)");
        return NULL;
    }
    PyObject* exc = args[0];
    PyErr_Restore(Py_NewRef((PyObject*)Py_TYPE(exc)), Py_NewRef(exc), PyException_GetTraceback(exc));
    _PyErr_WriteUnraisableMsg(msg, args[2]);
    Py_RETURN_NONE;
}

/* ---- the module's functions ------------------------------------------------------------------ */

static PyMethodDef functions[] = {
    {"_coop_wait_fd", (PyCFunction)(void (*)(void))coop_wait_fd, METH_FASTCALL,
     "_coop_wait_fd(fd, write, timeout) -> True when ready, False when the timeout passed.\n"
     "Suspends a micro-thread; blocks (in poll, without the GIL) anywhere else."},
    {"_coop_wait_fds", (PyCFunction)(void (*)(void))coop_wait_fds, METH_FASTCALL,
     "_coop_wait_fds(((fd, poll_events), ...), timeout) -> True when any is ready, False at the timeout."},
    {"close_fd", close_fd, METH_O,
     "close_fd(fd): closes fd (an int or an object with fileno()) after waking every micro-thread\n"
     "waiting on it with OSError(EBADF). Close this way any fd another micro-thread may wait on."},
    {"_coop_get_ident", coop_get_ident, METH_NOARGS,
     "_coop_get_ident() -> the threading ident of the caller (main's is its OS thread's)."},
    {"_coop_ident_of", coop_ident_of, METH_O,
     "_coop_ident_of(micro_thread) -> its threading ident (given now if it has none)."},
    {"_coop_local_dict", coop_local_dict, METH_NOARGS,
     "_coop_local_dict() -> the micro-thread's thread-local dict, or None where the OS thread's apply."},
    {"_coop_in_micro_thread", coop_in_micro_thread, METH_NOARGS,
     "_coop_in_micro_thread() -> True in a micro-thread of this OS thread's run()."},
    {"_coop_set_main_end_hook", coop_set_main_end_hook, METH_O,
     "_coop_set_main_end_hook(fn or None): fn() runs in main after main's function ends."},
    {"_coop_write_unraisable", (PyCFunction)(void (*)(void))coop_write_unraisable, METH_FASTCALL,
     "_coop_write_unraisable(exc, message, obj): reports exc through sys.unraisablehook."},
    {NULL, NULL, 0, NULL},
};

int mtpy_lock_init(PyObject* module);

int mtpy_coop_init(PyObject* module) {
    if (PyModule_AddFunctions(module, functions) < 0) return -1;
    return mtpy_lock_init(module);
}
