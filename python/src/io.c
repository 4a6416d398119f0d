/* python/src/io.c — waiting for the outside world from Python: sleep_d,
 * fd readiness, the PEP's read_d/write_d/recv_d/send_d, and submit_work.
 *
 * They look blocking and suspend only the calling micro-thread: each tries
 * its system call without blocking (MSG_DONTWAIT for sockets; O_NONBLOCK is
 * set on other fds), and on EAGAIN waits for readiness through the engine's
 * notifier (mt_wait_fd), then retries; EINTR is retried. Each takes a
 * timeout (Timeout when it passes) and is interrupted by an abort
 * (MicroThreadExit). Descriptors are ints or objects with fileno(). accept_d
 * and connect_d, which need the socket module's address handling, are in the
 * package's Python layer over wait_readable/wait_writable.
 *
 * submit_work(fn, *args) runs fn on the engine's pool of worker OS threads:
 * the worker takes the GIL to run it, so Python code there interleaves with
 * the micro-threads under the GIL (CPython switches it every
 * sys.getswitchinterval()); C code that releases the GIL (hashing,
 * compression, file I/O, time.sleep) runs in parallel with them. */
#include "mtpy.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

static PyObject* raise_errno(const char* op, int err) {
    PyObject* args = Py_BuildValue("(is)", err, strerror(err));
    if (args) {
        PyErr_SetObject(PyExc_OSError, args);
        Py_DECREF(args);
    }
    (void)op;
    return NULL;
}

/* wait_fd — suspends until fd is ready (MT_OK), or sets the exception. */
static int wait_fd(int fd, int write, int64_t ns) {
    mt_status s = mt_wait_fd(fd, write, ns);
    if (s == MT_OK) return 0;
    mtpy_raise_status(s);
    return -1;
}

static int set_nonblocking(int fd) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0) return -1;
    if (fl & O_NONBLOCK) return 0;
    return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int parse_fd(PyObject* o, int* fd) {
    *fd = PyObject_AsFileDescriptor(o);
    return *fd < 0 ? -1 : 0;
}

/* ---- sleep_d and readiness ----------------------------------------------------------------------- */

static PyObject* sleep_d(PyObject* m, PyObject* arg) {
    (void)m;
    if (arg == Py_None) {
        PyErr_SetString(PyExc_TypeError, "sleep_d(seconds): seconds must be a number");
        return NULL;
    }
    if (!mtpy_require_engine("sleep_d")) return NULL;
    int64_t ns;
    if (mtpy_timeout_ns(arg, &ns) < 0) return NULL;
    if (ns == MT_FOREVER) ns = (int64_t)3155760000LL * 1000000000LL; /* a century */
    mt_status s = mt_sleep(ns);
    if (s != MT_OK) return mtpy_raise_status(s);
    Py_RETURN_NONE;
}

static PyObject* wait_ready(PyObject* args, PyObject* kwargs, int write) {
    static char* kw[] = {"fd", "timeout", NULL};
    PyObject *fdo, *timeout = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, write ? "O|O:wait_writable" : "O|O:wait_readable", kw, &fdo,
                                     &timeout))
        return NULL;
    if (!mtpy_require_engine(write ? "wait_writable" : "wait_readable")) return NULL;
    int fd;
    int64_t ns;
    if (parse_fd(fdo, &fd) < 0 || mtpy_timeout_ns(timeout, &ns) < 0) return NULL;
    if (wait_fd(fd, write, ns) < 0) return NULL;
    Py_RETURN_NONE;
}

static PyObject* wait_readable(PyObject* m, PyObject* args, PyObject* kwargs) {
    (void)m;
    return wait_ready(args, kwargs, 0);
}

static PyObject* wait_writable(PyObject* m, PyObject* args, PyObject* kwargs) {
    (void)m;
    return wait_ready(args, kwargs, 1);
}

/* ---- reading --------------------------------------------------------------------------------------- */

/* do_read — up to n bytes (b"" at end of file); sockets use recv. */
static PyObject* do_read(PyObject* args, PyObject* kwargs, int sock, const char* fmt) {
    static char* kw[] = {"fd", "n", "timeout", NULL};
    PyObject *fdo, *timeout = Py_None;
    Py_ssize_t n = 65536;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, fmt, kw, &fdo, &n, &timeout)) return NULL;
    if (!mtpy_require_engine(sock ? "recv_d" : "read_d")) return NULL;
    int fd;
    int64_t ns;
    if (parse_fd(fdo, &fd) < 0 || mtpy_timeout_ns(timeout, &ns) < 0) return NULL;
    if (n < 0) {
        PyErr_SetString(PyExc_ValueError, "n must be >= 0");
        return NULL;
    }
    if (!sock && set_nonblocking(fd) < 0) return raise_errno("read_d", errno);
    PyObject* buf = PyBytes_FromStringAndSize(NULL, n);
    if (!buf) return NULL;
    for (;;) {
        ssize_t got = sock ? recv(fd, PyBytes_AS_STRING(buf), (size_t)n, MSG_DONTWAIT)
                           : read(fd, PyBytes_AS_STRING(buf), (size_t)n);
        if (got >= 0) {
            if (got != n) _PyBytes_Resize(&buf, got);
            return buf;
        }
        if (errno == EINTR) continue;
        if (errno == ENOTSOCK && sock) {
            sock = 0; /* recv_d on a pipe: read it */
            if (set_nonblocking(fd) < 0) break;
            continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) break;
        if (wait_fd(fd, 0, ns) < 0) {
            Py_DECREF(buf);
            return NULL;
        }
    }
    int err = errno;
    Py_DECREF(buf);
    return raise_errno(sock ? "recv_d" : "read_d", err);
}

static PyObject* read_d(PyObject* m, PyObject* args, PyObject* kwargs) {
    (void)m;
    return do_read(args, kwargs, 0, "O|nO:read_d");
}

static PyObject* recv_d(PyObject* m, PyObject* args, PyObject* kwargs) {
    (void)m;
    return do_read(args, kwargs, 1, "O|nO:recv_d");
}

/* ---- writing ------------------------------------------------------------------------------------------ */

/* do_write — writes all of data (returns its length); sockets use send
 * with MSG_NOSIGNAL (a closed peer is EPIPE, not SIGPIPE). */
static PyObject* do_write(PyObject* args, PyObject* kwargs, int sock, const char* fmt) {
    static char* kw[] = {"fd", "data", "timeout", NULL};
    PyObject *fdo, *timeout = Py_None;
    Py_buffer data;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, fmt, kw, &fdo, &data, &timeout)) return NULL;
    PyObject* result = NULL;
    int fd;
    int64_t ns;
    if (!mtpy_require_engine(sock ? "send_d" : "write_d") || parse_fd(fdo, &fd) < 0 ||
        mtpy_timeout_ns(timeout, &ns) < 0)
        goto done;
    if (!sock && set_nonblocking(fd) < 0) {
        raise_errno("write_d", errno);
        goto done;
    }
    const char* p = data.buf;
    size_t left = (size_t)data.len;
    while (left > 0) {
        ssize_t put = sock ? send(fd, p, left, MSG_DONTWAIT | MSG_NOSIGNAL) : write(fd, p, left);
        if (put >= 0) {
            p += put;
            left -= (size_t)put;
            continue;
        }
        if (errno == EINTR) continue;
        if (errno == ENOTSOCK && sock) {
            sock = 0;
            if (set_nonblocking(fd) < 0) {
                raise_errno("send_d", errno);
                goto done;
            }
            continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            raise_errno(sock ? "send_d" : "write_d", errno);
            goto done;
        }
        if (wait_fd(fd, 1, ns) < 0) goto done;
    }
    result = PyLong_FromSsize_t(data.len);
done:
    PyBuffer_Release(&data);
    return result;
}

static PyObject* write_d(PyObject* m, PyObject* args, PyObject* kwargs) {
    (void)m;
    return do_write(args, kwargs, 0, "Oy*|O:write_d");
}

static PyObject* send_d(PyObject* m, PyObject* args, PyObject* kwargs) {
    (void)m;
    return do_write(args, kwargs, 1, "Oy*|O:send_d");
}

/* ---- submit_work ------------------------------------------------------------------------------------ */

typedef struct {
    PyObject* fn;
    PyObject* args;
} work;

/* run_work — on a worker OS thread: takes the GIL to run fn(*args), and
 * drops fn and args while it holds it, so that nothing of the job needs the
 * GIL once its result is posted (the program may be exiting by then). */
static mt_status run_work(void* arg, void** result) {
    work* w = arg;
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject* r = PyObject_Call(w->fn, w->args, NULL);
    mt_status s = MT_OK;
    if (r) *result = r;
    else s = mtpy_fail_with_python_error();
    Py_CLEAR(w->fn);
    Py_CLEAR(w->args);
    PyGILState_Release(g);
    return s;
}

/* dispose_work — after the job ran, or when it was dropped unrun (its
 * caller aborted or timed out first); any OS thread. An unrun job's
 * references are dropped with the GIL, unless the interpreter is being
 * finalized (a thread taking the GIL then is ended by CPython). */
static void dispose_work(void* arg) {
    work* w = arg;
    if (w->fn && !_Py_IsFinalizing()) {
        PyGILState_STATE g = PyGILState_Ensure();
        Py_CLEAR(w->fn);
        Py_CLEAR(w->args);
        PyGILState_Release(g);
    }
    PyMem_RawFree(w);
}

static PyObject* submit_work(PyObject* m, PyObject* args) {
    (void)m;
    Py_ssize_t n = PyTuple_GET_SIZE(args);
    if (n < 1 || !PyCallable_Check(PyTuple_GET_ITEM(args, 0))) {
        PyErr_SetString(PyExc_TypeError, "submit_work(fn, *args): fn must be callable");
        return NULL;
    }
    if (!mtpy_require_engine("submit_work")) return NULL;
    work* w = PyMem_RawMalloc(sizeof *w);
    if (!w) return PyErr_NoMemory();
    w->fn = Py_NewRef(PyTuple_GET_ITEM(args, 0));
    w->args = PyTuple_GetSlice(args, 1, n);
    if (!w->args) {
        Py_DECREF(w->fn);
        PyMem_RawFree(w);
        return NULL;
    }
    void* result = NULL;
    mt_status s = mt_submit_object(run_work, w, dispose_work, &mtpy_object_type, MT_FOREVER, &result);
    if (s != MT_OK) return mtpy_raise_status(s);
    return result ? (PyObject*)result : Py_NewRef(Py_None);
}

static PyMethodDef functions[] = {
    {"sleep_d", sleep_d, METH_O, "sleep_d(seconds): suspends the calling micro-thread (0: yields)."},
    {"wait_readable", (PyCFunction)(void (*)(void))wait_readable, METH_VARARGS | METH_KEYWORDS,
     "wait_readable(fd, timeout=None): suspends until fd (an int or an object with fileno()) is readable."},
    {"wait_writable", (PyCFunction)(void (*)(void))wait_writable, METH_VARARGS | METH_KEYWORDS,
     "wait_writable(fd, timeout=None): suspends until fd is writable."},
    {"read_d", (PyCFunction)(void (*)(void))read_d, METH_VARARGS | METH_KEYWORDS,
     "read_d(fd, n=65536, timeout=None) -> up to n bytes (b'' at end of file). Sets O_NONBLOCK on fd."},
    {"write_d", (PyCFunction)(void (*)(void))write_d, METH_VARARGS | METH_KEYWORDS,
     "write_d(fd, data, timeout=None) -> len(data): writes all of it. Sets O_NONBLOCK on fd."},
    {"recv_d", (PyCFunction)(void (*)(void))recv_d, METH_VARARGS | METH_KEYWORDS,
     "recv_d(sock, n=65536, timeout=None) -> up to n bytes (b'' when the peer closed)."},
    {"send_d", (PyCFunction)(void (*)(void))send_d, METH_VARARGS | METH_KEYWORDS,
     "send_d(sock, data, timeout=None) -> len(data): sends all of it (EPIPE, not SIGPIPE)."},
    {"submit_work", submit_work, METH_VARARGS,
     "submit_work(fn, *args) -> fn(*args), run on a worker OS thread while the caller is suspended.\n"
     "The worker takes the GIL to run Python code: see the module's documentation."},
    {NULL, NULL, 0, NULL},
};

int mtpy_io_init(PyObject* module) { return PyModule_AddFunctions(module, functions); }
