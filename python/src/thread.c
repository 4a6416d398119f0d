/* python/src/thread.c — micro_thread objects and the bodies they run.
 *
 * A micro_thread object holds one counted handle (mt_thread*) of its
 * micro-thread. Its body is a spawn record: the function, its arguments, a
 * copy of the spawner's contextvars context, and the micro_pipe objects
 * attached as stdin/stdout. The record is linked into the run's list of
 * running bodies from spawn until its body returns (mtpy_abort_running walks
 * that list when a SystemExit or KeyboardInterrupt ends the run), and freed
 * by the C API's arg_dispose in the micro-thread as its body returns — also
 * when it was aborted before it started and its body never ran.
 *
 * Outcomes: the body's result is the micro-thread's result (an object the
 * engine releases if nobody joins); its exception crosses as the exception
 * object itself, with its traceback; MicroThreadExit ends it silently
 * (aborted); SystemExit and KeyboardInterrupt end the whole run (as in
 * asyncio): the first one is kept, every other micro-thread is aborted, and
 * run() raises it. A failure nobody will join (start_and_forget, or every
 * handle dropped) is reported on stderr with its Python traceback. */
#include "mtpy.h"

#include <stddef.h>

typedef struct {
    PyObject_HEAD
    mt_thread* t;  /* one counted handle; NULL only if construction failed */
} ThreadObject;

static const char* const state_names[] = {"created", "runnable", "running", "waiting",
                                          "finished", "failed", "aborted"};

/* ---- records ------------------------------------------------------------------------------- */

static void record_unlink(mtpy_record* rec) {
    if (!rec->linked) return;
    mtpy_run_state* r = mtpy_run;
    if (rec->prev) rec->prev->next = rec->next;
    else if (r && r->running == rec) r->running = rec->next;
    if (rec->next) rec->next->prev = rec->prev;
    rec->prev = rec->next = NULL;
    rec->linked = 0;
}

static void record_clear(mtpy_record* rec) {
    record_unlink(rec);
    Py_CLEAR(rec->fn);
    Py_CLEAR(rec->args);
    Py_CLEAR(rec->context);
    Py_CLEAR(rec->in);
    Py_CLEAR(rec->out);
}

/* record_enter — the running micro-thread takes up its record: the
 * interpreter state owns the record's context from here (mtpy_body_begin). */
static void record_enter(mtpy_record* rec) {
    mtpy_body_begin(rec->context, rec);
    rec->context = NULL;
}

/* record_free — a record nobody will use: cleared (only if the body never
 * ran: it clears itself) and freed. */
static void record_free(mtpy_record* rec) {
    record_clear(rec);
    PyMem_Free(rec);
}

/* record_dispose — the C API's arg_dispose, called in the micro-thread: its
 * body is done with the record, or it was aborted before it started and this
 * is all that runs in it. Then its Python state ends here as a body's does
 * (mtpy_body_end), so the switch away gives back what the switch in handed
 * it (a data-stack chunk). */
static void record_dispose(void* arg) {
    mtpy_record* rec = arg;
    if (rec->fn == NULL) { /* the body ran and cleared it */
        PyMem_Free(rec);
        return;
    }
    /* Never ran: its objects' finalizers run as this micro-thread (its
     * context entered, its record current), as at the end of a body. */
    record_enter(rec);
    record_free(rec);
    mtpy_body_end();
}

void mtpy_abort_running(mtpy_run_state* r) {
    for (mtpy_record* rec = r->running; rec; rec = rec->next) mt_abort(rec->handle);
}

/* is_fatal — exceptions that end the whole run, as in asyncio. */
static int is_fatal(void) {
    return PyErr_ExceptionMatches(PyExc_SystemExit) || PyErr_ExceptionMatches(PyExc_KeyboardInterrupt);
}

/* after_main — runs the cooperative mode's hook in main once main's
 * function returned (r) or raised (r == NULL); returns what main's outcome
 * is now: the hook's failure replaces a result, and is reported as
 * unraisable when main failed already. */
static PyObject* after_main(PyObject* r) {
    PyObject* hook = Py_NewRef(mtpy_main_end_hook);
    PyObject *et, *ev, *etb;
    PyErr_Fetch(&et, &ev, &etb);
    PyObject* h = PyObject_CallNoArgs(hook);
    if (h) {
        Py_DECREF(h);
        PyErr_Restore(et, ev, etb);
    } else if (r) {
        Py_CLEAR(r); /* main's result gives way to the hook's failure */
    } else {
        PyErr_WriteUnraisable(hook);
        PyErr_Restore(et, ev, etb);
    }
    Py_DECREF(hook);
    return r;
}

/* body — the mt_func of every micro-thread started from Python. */
static mt_status body(void* arg, void** result) {
    mtpy_record* rec = arg;
    mtpy_flush_graveyard();
    record_enter(rec);
    PyObject* r = PyObject_Call(rec->fn, rec->args, NULL);
    if (mtpy_main_end_hook && mtpy_run && rec->handle == mtpy_run->main && (r || !is_fatal())) r = after_main(r);
    mt_status st = MT_OK;
    if (r) {
        *result = r;
    } else if (is_fatal()) {
        mtpy_run_state* run = mtpy_run;
        PyObject *t, *v, *tb;
        PyErr_Fetch(&t, &v, &tb);
        PyErr_NormalizeException(&t, &v, &tb);
        if (tb && v) PyException_SetTraceback(v, tb);
        if (run && !run->fatal) {
            Py_XINCREF(v);
            run->fatal = v;
        }
        PyErr_Restore(t, v, tb);
        st = mtpy_fail_with_python_error();
        record_unlink(rec);
        if (run) mtpy_abort_running(run);
    } else {
        st = mtpy_fail_with_python_error();
    }
    record_clear(rec);
    mtpy_body_end();
    return st;
}

/* ---- the unhandled report --------------------------------------------------------------------- */

void mtpy_unhandled(void* user, const mt_info* info, void* error, const mt_type* type, const char* message) {
    (void)user;
    PyObject *et, *ev, *etb;
    PyErr_Fetch(&et, &ev, &etb);
    if (type == &mtpy_object_type && error &&
        (PyErr_GivenExceptionMatches((PyObject*)error, PyExc_SystemExit) ||
         PyErr_GivenExceptionMatches((PyObject*)error, PyExc_KeyboardInterrupt))) {
        PyErr_Restore(et, ev, etb); /* run() raises it */
        return;
    }
    PySys_FormatStderr("microthreading: unhandled exception in micro-thread #%llu '%s': %s\n",
                       (unsigned long long)info->id, info->name, message);
    if (type == &mtpy_object_type && error && PyExceptionInstance_Check((PyObject*)error)) {
        PyObject* exc = (PyObject*)error;
        PyObject* tb = PyException_GetTraceback(exc);
        PyErr_Display((PyObject*)Py_TYPE(exc), exc, tb);
        Py_XDECREF(tb);
    }
    PyErr_Clear();
    PyErr_Restore(et, ev, etb);
}

/* ---- spawning ------------------------------------------------------------------------------------ */

PyObject* mtpy_thread_wrap(mt_thread* t) {
    ThreadObject* self = PyObject_New(ThreadObject, &mtpy_ThreadType);
    if (!self) {
        mt_thread_release(t);
        return NULL;
    }
    self->t = t;
    return (PyObject*)self;
}

mt_thread* mtpy_thread_handle(PyObject* o) { return ((ThreadObject*)o)->t; }

PyObject* mtpy_spawn(PyObject* fn, PyObject* args, const char* name, size_t stack_size, PyObject* in,
                     PyObject* out, int forget) {
    mtpy_run_state* r = mtpy_require_engine(forget ? "start_and_forget" : "micro_thread");
    if (!r) return NULL;
    if (!PyCallable_Check(fn)) {
        PyErr_Format(PyExc_TypeError, "a micro-thread runs a callable, not %.100s", Py_TYPE(fn)->tp_name);
        return NULL;
    }
    mt_pipe* pin = NULL;
    mt_pipe* pout = NULL;
    if (in && in != Py_None && !(pin = mtpy_pipe_handle(in))) return NULL;
    if (out && out != Py_None && !(pout = mtpy_pipe_handle(out))) return NULL;
    mtpy_record* rec = PyMem_Calloc(1, sizeof *rec);
    if (!rec) return PyErr_NoMemory();
    rec->context = PyContext_CopyCurrent();
    if (!rec->context) {
        PyMem_Free(rec);
        return NULL;
    }
    rec->fn = Py_NewRef(fn);
    rec->args = Py_NewRef(args);
    rec->in = pin ? Py_NewRef(in) : NULL;
    rec->out = pout ? Py_NewRef(out) : NULL;
    rec->forget = forget;

    mt_spawn_options o;
    mt_spawn_options_init(&o);
    o.name = name;
    o.stack_size = stack_size;
    o.stdin_pipe = pin;
    o.stdout_pipe = pout;
    o.result_type = &mtpy_object_type;
    o.arg_dispose = record_dispose;
    mt_thread* t = mt_spawn(&o, body, rec);
    if (!t) {
        mt_status s = mt_last_error_kind();
        record_free(rec); /* in the spawner: not a micro-thread's end */
        return mtpy_raise_status(s);
    }
    rec->handle = t;
    rec->next = r->running;
    if (r->running) r->running->prev = rec;
    r->running = rec;
    rec->linked = 1;
    if (forget) {
        mt_thread_release(t);
        Py_RETURN_NONE;
    }
    return mtpy_thread_wrap(t);
}

/* micro_thread(fn, *args, name=None, stack_size=None, stdin=None, stdout=None) */
static PyObject* thread_new(PyTypeObject* type, PyObject* args, PyObject* kwargs) {
    (void)type;
    Py_ssize_t n = PyTuple_GET_SIZE(args);
    if (n < 1) {
        PyErr_SetString(PyExc_TypeError, "micro_thread() needs the function to run");
        return NULL;
    }
    const char* name = NULL;
    size_t stack_size = 0;
    PyObject *in = NULL, *out = NULL;
    if (kwargs) {
        PyObject *key, *value;
        Py_ssize_t pos = 0;
        while (PyDict_Next(kwargs, &pos, &key, &value)) {
            const char* k = PyUnicode_AsUTF8(key);
            if (!k) return NULL;
            if (strcmp(k, "name") == 0) {
                if (value != Py_None && !(name = PyUnicode_AsUTF8(value))) return NULL;
            } else if (strcmp(k, "stack_size") == 0) {
                if (value != Py_None) {
                    Py_ssize_t v = PyLong_AsSsize_t(value);
                    if (v == -1 && PyErr_Occurred()) return NULL;
                    if (v < 0) {
                        PyErr_SetString(PyExc_ValueError, "stack_size must be >= 0");
                        return NULL;
                    }
                    stack_size = (size_t)v;
                }
            } else if (strcmp(k, "stdin") == 0) {
                in = value;
            } else if (strcmp(k, "stdout") == 0) {
                out = value;
            } else {
                PyErr_Format(PyExc_TypeError, "micro_thread() got an unexpected keyword argument '%s' "
                             "(pass keyword arguments to the function with functools.partial)", k);
                return NULL;
            }
        }
    }
    PyObject* fargs = PyTuple_GetSlice(args, 1, n);
    if (!fargs) return NULL;
    PyObject* t = mtpy_spawn(PyTuple_GET_ITEM(args, 0), fargs, name, stack_size, in, out, 0);
    Py_DECREF(fargs);
    return t;
}

static void thread_dealloc(ThreadObject* self) {
    if (self->t) mt_thread_release(self->t);
    PyObject_Free(self);
}

static mt_thread* handle(ThreadObject* self) {
    if (!self->t) PyErr_SetString(mtpy_UsageError, "an empty micro_thread object");
    return self->t;
}

/* ---- methods ------------------------------------------------------------------------------------- */

static PyObject* thread_wait(ThreadObject* self, PyObject* args, PyObject* kwargs) {
    static char* kw[] = {"timeout", NULL};
    PyObject* timeout = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|O:wait", kw, &timeout)) return NULL;
    int64_t ns;
    if (mtpy_timeout_ns(timeout, &ns) < 0) return NULL;
    mt_thread* t = handle(self);
    if (!t) return NULL;
    if (!mtpy_run) {
        PyErr_SetString(mtpy_UsageError, "wait() outside micro_threading.run() (the micro-thread's run has ended)");
        return NULL;
    }
    void* result = NULL;
    mt_status s = mt_join(t, ns, &result);
    if (s != MT_OK) return mtpy_raise_status(s);
    return result ? (PyObject*)result : Py_NewRef(Py_None);
}

static PyObject* thread_abort(ThreadObject* self, PyObject* unused) {
    (void)unused;
    mt_thread* t = handle(self);
    if (!t) return NULL;
    mt_status s = mt_abort(t);
    if (s != MT_OK) return mtpy_raise_status(s);
    Py_RETURN_NONE;
}

static int info(ThreadObject* self, mt_info* out) {
    mt_thread* t = handle(self);
    if (!t) return -1;
    mt_status s = mt_thread_info(t, out);
    if (s != MT_OK) {
        mtpy_raise_status(s);
        return -1;
    }
    return 0;
}

static PyObject* thread_get_name(ThreadObject* self, void* c) {
    (void)c;
    mt_info i;
    return info(self, &i) < 0 ? NULL : PyUnicode_FromString(i.name);
}

static PyObject* thread_get_id(ThreadObject* self, void* c) {
    (void)c;
    mt_info i;
    return info(self, &i) < 0 ? NULL : PyLong_FromUnsignedLongLong(i.id);
}

static PyObject* thread_get_state(ThreadObject* self, void* c) {
    (void)c;
    mt_info i;
    if (info(self, &i) < 0) return NULL;
    if (i.state < 0 || i.state > 6) return PyUnicode_FromFormat("state %d", i.state);
    return PyUnicode_FromString(state_names[i.state]);
}

static PyObject* thread_get_done(ThreadObject* self, void* c) {
    (void)c;
    mt_info i;
    if (info(self, &i) < 0) return NULL;
    return PyBool_FromLong(i.state >= 4);
}

static PyObject* thread_repr(ThreadObject* self) {
    mt_info i;
    if (!self->t || mt_thread_info(self->t, &i) != MT_OK) return PyUnicode_FromString("<micro_thread (its run has ended)>");
    return PyUnicode_FromFormat("<micro_thread #%llu '%s' %s>", (unsigned long long)i.id, i.name,
                                i.state >= 0 && i.state <= 6 ? state_names[i.state] : "?");
}

static PyObject* thread_richcompare(PyObject* a, PyObject* b, int op) {
    if (!PyObject_TypeCheck(b, &mtpy_ThreadType) || (op != Py_EQ && op != Py_NE)) Py_RETURN_NOTIMPLEMENTED;
    int same = ((ThreadObject*)a)->t == ((ThreadObject*)b)->t;
    return PyBool_FromLong(op == Py_EQ ? same : !same);
}

static Py_hash_t thread_hash(ThreadObject* self) { return _Py_HashPointer(self->t); }

static PyMethodDef thread_methods[] = {
    {"wait", (PyCFunction)(void (*)(void))thread_wait, METH_VARARGS | METH_KEYWORDS,
     "wait(timeout=None) -> the result; raises the micro-thread's exception (with its traceback),\n"
     "MicroThreadAborted if it was aborted, Timeout if the timeout passes first."},
    {"abort", (PyCFunction)thread_abort, METH_NOARGS,
     "abort() -> raises MicroThreadExit in it at its suspension point (at once if it is the caller)."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef thread_getset[] = {
    {"name", (getter)thread_get_name, NULL, "its name", NULL},
    {"id", (getter)thread_get_id, NULL, "its id (main is 1)", NULL},
    {"state", (getter)thread_get_state, NULL,
     "'created', 'runnable', 'running', 'waiting', 'finished', 'failed' or 'aborted'", NULL},
    {"done", (getter)thread_get_done, NULL, "True once it has ended", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject mtpy_ThreadType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "micro_threading.micro_thread",
    .tp_basicsize = sizeof(ThreadObject),
    .tp_dealloc = (destructor)thread_dealloc,
    .tp_repr = (reprfunc)thread_repr,
    .tp_hash = (hashfunc)thread_hash,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "micro_thread(fn, *args, name=None, stack_size=None, stdin=None, stdout=None)\n\n"
              "Starts fn(*args) in a new micro-thread at once (it runs when the caller next\n"
              "suspends) and returns its handle.",
    .tp_richcompare = thread_richcompare,
    .tp_methods = thread_methods,
    .tp_getset = thread_getset,
    .tp_new = thread_new,
};

/* ---- module functions --------------------------------------------------------------------------- */

static PyObject* start_and_forget(PyObject* m, PyObject* args, PyObject* kwargs) {
    (void)m;
    Py_ssize_t n = PyTuple_GET_SIZE(args);
    if (n < 1) {
        PyErr_SetString(PyExc_TypeError, "start_and_forget() needs the function to run");
        return NULL;
    }
    const char* name = NULL;
    if (kwargs) {
        PyObject* v = PyDict_GetItemString(kwargs, "name");
        if (PyDict_GET_SIZE(kwargs) != (v ? 1 : 0)) {
            PyErr_SetString(PyExc_TypeError, "start_and_forget() takes only the keyword argument name");
            return NULL;
        }
        if (v && v != Py_None && !(name = PyUnicode_AsUTF8(v))) return NULL;
    }
    PyObject* fargs = PyTuple_GetSlice(args, 1, n);
    if (!fargs) return NULL;
    PyObject* r = mtpy_spawn(PyTuple_GET_ITEM(args, 0), fargs, name, 0, NULL, NULL, 1);
    Py_DECREF(fargs);
    return r;
}

static PyObject* current(PyObject* m, PyObject* unused) {
    (void)m;
    (void)unused;
    if (!mtpy_run) Py_RETURN_NONE;
    mt_thread* t = mt_current_thread();
    if (!t) Py_RETURN_NONE;
    return mtpy_thread_wrap(t);
}

static PyMethodDef functions[] = {
    {"start_and_forget", (PyCFunction)(void (*)(void))start_and_forget, METH_VARARGS | METH_KEYWORDS,
     "start_and_forget(fn, *args, name=None) -> None\n\n"
     "Starts fn(*args) detached: nobody joins it. An exception it does not handle\n"
     "(other than MicroThreadExit) is reported on stderr: the micro-thread's id, name and\n"
     "message, then the Python traceback; the run carries on."},
    {"current", current, METH_NOARGS,
     "current() -> the running micro_thread (None outside run())."},
    {NULL, NULL, 0, NULL},
};

int mtpy_thread_init(PyObject* module) {
    if (PyType_Ready(&mtpy_ThreadType) < 0) return -1;
    if (PyModule_AddObjectRef(module, "micro_thread", (PyObject*)&mtpy_ThreadType) < 0) return -1;
    return PyModule_AddFunctions(module, functions);
}
