/* python/src/pipe.c — micro_pipe objects: the C API's untyped pipe holding
 * Python objects (one slot, the table of docs/reference/pipes.md), and the running
 * micro-thread's stdin()/stdout().
 *
 * A value put moves one reference into the pipe; a get hands one out. A
 * value left in the slot when the reader closes is released by the engine;
 * a put that did not deliver leaves the reference with the putter.
 * End-of-stream is StopIteration (iteration ends; get(default=x) returns x
 * instead); a pipe closed with an exception raises that exception object on
 * every later get. A put to a closed pipe raises MicroThreadExit in the
 * putter, which ends it silently unless it catches it. */
#include "mtpy.h"

typedef struct {
    PyObject_HEAD
    mt_pipe* p;     /* one counted reference */
    PyObject* name; /* str */
} PipeObject;

mt_pipe* mtpy_pipe_handle(PyObject* o) {
    if (!PyObject_TypeCheck(o, &mtpy_PipeType)) {
        PyErr_Format(PyExc_TypeError, "stdin/stdout must be micro_pipe objects, not %.100s", Py_TYPE(o)->tp_name);
        return NULL;
    }
    return ((PipeObject*)o)->p;
}

static PyObject* pipe_new(PyTypeObject* type, PyObject* args, PyObject* kwargs) {
    static char* kw[] = {"name", NULL};
    PyObject* name = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|O:micro_pipe", kw, &name)) return NULL;
    if (name != Py_None && !PyUnicode_Check(name)) {
        PyErr_SetString(PyExc_TypeError, "a pipe's name is a str");
        return NULL;
    }
    const char* cname = name == Py_None ? "" : PyUnicode_AsUTF8(name);
    if (!cname) return NULL;
    PipeObject* self = (PipeObject*)type->tp_alloc(type, 0);
    if (!self) return NULL;
    self->p = mt_pipe_new(cname);
    if (!self->p) {
        Py_DECREF(self);
        return mtpy_raise_status(mt_last_error_kind());
    }
    self->name = name == Py_None ? PyUnicode_FromString("") : Py_NewRef(name);
    if (!self->name) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject*)self;
}

static void pipe_dealloc(PipeObject* self) {
    if (self->p) mt_pipe_release(self->p);
    Py_XDECREF(self->name);
    Py_TYPE(self)->tp_free((PyObject*)self);
}

/* wrap — a micro_pipe object for a pipe reference (taken). */
static PyObject* wrap(mt_pipe* p) {
    PipeObject* self = PyObject_New(PipeObject, &mtpy_PipeType);
    if (!self) {
        mt_pipe_release(p);
        return NULL;
    }
    self->p = p;
    self->name = PyUnicode_FromString("");
    if (!self->name) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject*)self;
}

static PyObject* pipe_put(PipeObject* self, PyObject* args, PyObject* kwargs) {
    static char* kw[] = {"value", "timeout", NULL};
    PyObject* value;
    PyObject* timeout = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|O:put", kw, &value, &timeout)) return NULL;
    int64_t ns;
    if (mtpy_timeout_ns(timeout, &ns) < 0 || !mtpy_require_engine("micro_pipe.put")) return NULL;
    Py_INCREF(value);
    mt_status s = mt_pipe_put(self->p, value, &mtpy_object_type, ns);
    if (s != MT_OK) {
        Py_DECREF(value); /* not delivered: still ours */
        return mtpy_raise_status(s);
    }
    Py_RETURN_NONE;
}

/* get — the next value (a new reference), NULL with no exception set at
 * end-of-stream, or NULL with the exception. */
static PyObject* get_value(PipeObject* self, int64_t ns) {
    void* v = NULL;
    const mt_type* t = NULL;
    mt_status s = mt_pipe_get(self->p, ns, &v, &t);
    if (s == MT_OK) return v ? (PyObject*)v : Py_NewRef(Py_None);
    if (s == MT_END) return NULL;
    return mtpy_raise_status(s);
}

static PyObject* pipe_get(PipeObject* self, PyObject* args, PyObject* kwargs) {
    static char* kw[] = {"timeout", "default", NULL};
    PyObject* timeout = Py_None;
    PyObject* dflt = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|OO:get", kw, &timeout, &dflt)) return NULL;
    int64_t ns;
    if (mtpy_timeout_ns(timeout, &ns) < 0 || !mtpy_require_engine("micro_pipe.get")) return NULL;
    PyObject* v = get_value(self, ns);
    if (v || PyErr_Occurred()) return v;
    if (dflt) return Py_NewRef(dflt);
    PyErr_SetNone(PyExc_StopIteration);
    return NULL;
}

PyObject* mtpy_try_get_result(mt_status s, void* v, PyObject* dflt) {
    if (s == MT_OK) return Py_BuildValue("(ON)", Py_True, v ? (PyObject*)v : Py_NewRef(Py_None));
    if (s == MT_WOULD_BLOCK) return Py_BuildValue("(OO)", Py_False, dflt);
    if (s == MT_END) {
        PyErr_SetNone(PyExc_StopIteration);
        return NULL;
    }
    return mtpy_raise_status(s);
}

PyObject* mtpy_try_put_result(mt_status s, PyObject* value) {
    if (s == MT_OK) Py_RETURN_TRUE;
    Py_DECREF(value);
    if (s == MT_WOULD_BLOCK) Py_RETURN_FALSE;
    return mtpy_raise_status(s);
}

static PyObject* pipe_try_get(PipeObject* self, PyObject* args) {
    PyObject* dflt = Py_None;
    if (!PyArg_ParseTuple(args, "|O:try_get", &dflt)) return NULL;
    void* v = NULL;
    const mt_type* t = NULL;
    mt_status s = mt_pipe_try_get(self->p, &v, &t);
    return mtpy_try_get_result(s, v, dflt);
}

static PyObject* pipe_try_put(PipeObject* self, PyObject* value) {
    Py_INCREF(value);
    return mtpy_try_put_result(mt_pipe_try_put(self->p, value, &mtpy_object_type), value);
}

static PyObject* pipe_next(PipeObject* self) {
    if (!mtpy_require_engine("micro_pipe.__next__")) return NULL;
    return get_value(self, MT_FOREVER);
}

static PyObject* pipe_close(PipeObject* self, PyObject* args) {
    PyObject* exc = NULL;
    if (!PyArg_ParseTuple(args, "|O:close", &exc)) return NULL;
    mt_status s;
    if (exc && exc != Py_None) {
        exc = mtpy_exception_arg(exc, "close(exc)");
        if (!exc) return NULL;
        PyObject* text;
        const char* m = mtpy_error_message(exc, &text, "error");
        s = mt_pipe_close_error(self->p, exc, &mtpy_object_type, m); /* takes our reference */
        Py_XDECREF(text);
    } else {
        s = mt_pipe_close(self->p);
    }
    if (s != MT_OK) return mtpy_raise_status(s);
    Py_RETURN_NONE;
}

static PyObject* pipe_close_reader(PipeObject* self, PyObject* unused) {
    (void)unused;
    mt_status s = mt_pipe_close_reader(self->p);
    if (s != MT_OK) return mtpy_raise_status(s);
    Py_RETURN_NONE;
}

static PyObject* pipe_get_closed(PipeObject* self, void* c) {
    (void)c;
    int r = mt_pipe_closed(self->p);
    if (r < 0) return mtpy_raise_status(mt_last_error_kind());
    return PyBool_FromLong(r);
}

static PyObject* pipe_get_name(PipeObject* self, void* c) {
    (void)c;
    return Py_NewRef(self->name);
}

static PyObject* pipe_repr(PipeObject* self) {
    int r = mt_pipe_closed(self->p);
    return PyUnicode_FromFormat("<micro_pipe %R%s>", self->name, r == 1 ? " closed" : "");
}

static PyMethodDef pipe_methods[] = {
    {"put", (PyCFunction)(void (*)(void))pipe_put, METH_VARARGS | METH_KEYWORDS,
     "put(value, timeout=None): stores value, or waits until the reader takes the one in the slot.\n"
     "Raises MicroThreadExit when the pipe is closed (the putter ends silently), Timeout."},
    {"get", (PyCFunction)(void (*)(void))pipe_get, METH_VARARGS | METH_KEYWORDS,
     "get(timeout=None[, default]) -> the next value. At end-of-stream raises StopIteration\n"
     "(or returns default); after close(exc) raises exc; Timeout."},
    {"try_get", (PyCFunction)pipe_try_get, METH_VARARGS,
     "try_get(default=None) -> (True, value) or (False, default); never waits."},
    {"try_put", (PyCFunction)pipe_try_put, METH_O, "try_put(value) -> True if stored; never waits."},
    {"close", (PyCFunction)pipe_close, METH_VARARGS,
     "close(exc=None): end of data (what is in the slot is still got); with exc every later get\n"
     "raises exc. Wakes every waiter."},
    {"close_reader", (PyCFunction)pipe_close_reader, METH_NOARGS,
     "close_reader(): no more wanted: a value in the slot is dropped; putters get MicroThreadExit."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef pipe_getset[] = {
    {"closed", (getter)pipe_get_closed, NULL, "True once closed by either side", NULL},
    {"name", (getter)pipe_get_name, NULL, "its name", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject mtpy_PipeType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "micro_threading.micro_pipe",
    .tp_basicsize = sizeof(PipeObject),
    .tp_dealloc = (destructor)pipe_dealloc,
    .tp_repr = (reprfunc)pipe_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "micro_pipe(name=None): a pipe holding one value (the PEP's single slot).\n"
              "Iterating gets values until end-of-stream.",
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)pipe_next,
    .tp_methods = pipe_methods,
    .tp_getset = pipe_getset,
    .tp_new = pipe_new,
};

/* ---- stdin() / stdout() ------------------------------------------------------------------------- */

static PyObject* stdio(int out) {
    const char* op = out ? "stdout" : "stdin";
    if (!mtpy_require_engine(op)) return NULL;
    mtpy_record* rec = mtpy_current_record();
    PyObject* mine = rec ? (out ? rec->out : rec->in) : NULL;
    if (mine) return Py_NewRef(mine);
    mt_pipe* p = out ? mt_stdout() : mt_stdin();
    if (p) return wrap(p);
    Py_RETURN_NONE; /* none attached */
}

static PyObject* py_stdin(PyObject* m, PyObject* unused) {
    (void)m;
    (void)unused;
    return stdio(0);
}

static PyObject* py_stdout(PyObject* m, PyObject* unused) {
    (void)m;
    (void)unused;
    return stdio(1);
}

/* ---- select ------------------------------------------------------------------------------------- */

/* END_OF_STREAM — what select returns for a get case that found end-of-stream. */
static PyObject* end_of_stream;

/* select(*cases, timeout=None) — cases: a micro_pipe (get from it), a
 * (micro_pipe, value) tuple (put value to it), or None (disabled: never
 * chosen, like Go's nil channel). Exactly one case happens: returns
 * (index, value got) — END_OF_STREAM for a get at end-of-stream, None for a
 * put. Timeout when the timeout passes first; the exception of a pipe
 * closed with one; MicroThreadExit when the chosen put's pipe is closed. */
static PyObject* py_select(PyObject* m, PyObject* args, PyObject* kwargs) {
    (void)m;
    PyObject* timeout = Py_None;
    if (kwargs) {
        PyObject* t = PyDict_GetItemString(kwargs, "timeout");
        if (PyDict_GET_SIZE(kwargs) != (t ? 1 : 0)) {
            PyErr_SetString(PyExc_TypeError, "select() takes only the keyword argument timeout");
            return NULL;
        }
        if (t) timeout = t;
    }
    int64_t ns;
    if (mtpy_timeout_ns(timeout, &ns) < 0 || !mtpy_require_engine("select")) return NULL;
    const Py_ssize_t n = PyTuple_GET_SIZE(args);
    mt_select_case one;
    mt_select_case* cases = n <= 1 ? &one : PyMem_Calloc((size_t)n, sizeof *cases);
    if (!cases) return PyErr_NoMemory();
    memset(cases, 0, sizeof *cases * (size_t)(n ? n : 1));
    PyObject* result = NULL;
    for (Py_ssize_t i = 0; i < n; ++i) {
        PyObject* c = PyTuple_GET_ITEM(args, i);
        if (c == Py_None) continue;
        if (PyObject_TypeCheck(c, &mtpy_PipeType)) {
            cases[i].pipe = ((PipeObject*)c)->p;
            cases[i].enabled = 1;
        } else if (PyTuple_Check(c) && PyTuple_GET_SIZE(c) == 2 &&
                   PyObject_TypeCheck(PyTuple_GET_ITEM(c, 0), &mtpy_PipeType)) {
            cases[i].pipe = ((PipeObject*)PyTuple_GET_ITEM(c, 0))->p;
            cases[i].enabled = 1;
            cases[i].is_put = 1;
            cases[i].value = PyTuple_GET_ITEM(c, 1); /* borrowed until it moves in */
            cases[i].type = &mtpy_object_type;
        } else {
            PyErr_Format(PyExc_TypeError,
                         "select() case %zd: a micro_pipe (get), a (micro_pipe, value) tuple (put) or None", i);
            goto done;
        }
    }
    /* A put case's value moves in with one reference only if it is chosen:
     * give every put value one now, take back those not chosen. */
    for (Py_ssize_t i = 0; i < n; ++i)
        if (cases[i].is_put) Py_INCREF((PyObject*)cases[i].value);
    size_t chosen = 0;
    mt_status st = mt_select(cases, (size_t)n, ns, &chosen);
    for (Py_ssize_t i = 0; i < n; ++i)
        if (cases[i].is_put && !(st == MT_OK && (size_t)i == chosen)) Py_DECREF((PyObject*)cases[i].value);
    if (st != MT_OK) {
        mtpy_raise_status(st);
        goto done;
    }
    if (cases[chosen].is_put) {
        result = Py_BuildValue("(nO)", (Py_ssize_t)chosen, Py_None);
    } else if (cases[chosen].end) {
        result = Py_BuildValue("(nO)", (Py_ssize_t)chosen, end_of_stream);
    } else {
        PyObject* got = cases[chosen].got ? (PyObject*)cases[chosen].got : Py_NewRef(Py_None);
        result = Py_BuildValue("(nN)", (Py_ssize_t)chosen, got);
    }
done:
    if (cases != &one) PyMem_Free(cases);
    return result;
}

static PyMethodDef functions[] = {
    {"select", (PyCFunction)(void (*)(void))py_select, METH_VARARGS | METH_KEYWORDS,
     "select(*cases, timeout=None) -> (index, value)\n\n"
     "Waits on several pipe operations; exactly one happens. A case is a micro_pipe (get from\n"
     "it), a (micro_pipe, value) tuple (put the value), or None (disabled). Among cases ready at\n"
     "once one is chosen at random. Returns the chosen case's index and the value got\n"
     "(END_OF_STREAM at end-of-stream; None for a put). Raises Timeout, the exception of a pipe\n"
     "closed with one, or MicroThreadExit when the chosen put's pipe is closed."},
    {"stdin", py_stdin, METH_NOARGS, "stdin() -> the micro_pipe attached as the running micro-thread's stdin, or None."},
    {"stdout", py_stdout, METH_NOARGS, "stdout() -> the micro_pipe attached as its stdout, or None."},
    {NULL, NULL, 0, NULL},
};

int mtpy_pipe_init(PyObject* module) {
    if (PyType_Ready(&mtpy_PipeType) < 0) return -1;
    if (!end_of_stream) {
        end_of_stream = PyObject_CallNoArgs((PyObject*)&PyBaseObject_Type);
        if (!end_of_stream) return -1;
    }
    if (PyModule_AddObjectRef(module, "END_OF_STREAM", end_of_stream) < 0) return -1;
    if (PyModule_AddObjectRef(module, "micro_pipe", (PyObject*)&mtpy_PipeType) < 0) return -1;
    return PyModule_AddFunctions(module, functions);
}
