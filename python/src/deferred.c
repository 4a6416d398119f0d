/* python/src/deferred.c — the deferred of a micro-thread (docs/reference/deferred.md)
 * and the PEP's callback queue, for Python.
 *
 *   d = this_deferred()          # the running micro-thread's
 *   d.arm()                      # something will fire it
 *   ... hand d to whoever completes the work: d.callback(value) / d.errback(exc)
 *   value = d.wait(timeout=None) # suspends until fired; runs pushed callbacks
 *
 * Values: the C API's deferred carries an untyped pointer, so the Python
 * value in flight lives in the owner's state block (a counted reference,
 * pystate.c), and the pointer passed through the API is only a token. A
 * fire stores the value there (only once the API accepted the fire); each
 * pushed callback takes it and leaves its result; wait() takes what is left.
 * A value nobody waits for is dropped when the owner ends or cancels.
 * `deferred_fires` counts fires: a callback during which the deferred fired
 * again (it deferred again and the new work completed at once) leaves the
 * newer value in place and drops its own result, which the engine discards
 * as well. */
#include "mtpy.h"

typedef struct {
    PyObject_HEAD
    mt_thread* owner; /* one counted handle */
} DeferredObject;

static PyTypeObject DeferredType;

static PyObject* make(mt_thread* owner) {
    DeferredObject* self = PyObject_New(DeferredObject, &DeferredType);
    if (!self) {
        mt_thread_release(owner);
        return NULL;
    }
    self->owner = owner;
    return (PyObject*)self;
}

static void dealloc(DeferredObject* self) {
    if (self->owner) mt_thread_release(self->owner);
    PyObject_Free(self);
}

/* ---- the callback queue ------------------------------------------------------------------ */

/* run_callback — an mt_callback: runs on the owner's micro-thread, inside
 * its wait(). `state` is the callable (its reference is ours now). */
static mt_status run_callback(void* token, void* state, void** out) {
    (void)token;
    PyObject* fn = state;
    void* block = mt_state();
    PyObject** slot = mtpy_deferred_slot(block);
    uint64_t* fires = mtpy_deferred_fires(block);
    PyObject* value = *slot ? *slot : Py_NewRef(Py_None);
    *slot = NULL;
    const uint64_t before = *fires;
    PyObject* r = PyObject_CallOneArg(fn, value);
    Py_DECREF(value);
    Py_DECREF(fn);
    if (!r) return mtpy_fail_with_python_error();
    if (*fires == before) {
        Py_XSETREF(*slot, r);
    } else {
        Py_DECREF(r); /* it deferred again and was fired meanwhile: the new value feeds the rest */
    }
    *out = *slot;
    return MT_OK;
}

static void dispose_callback(void* state) { Py_DECREF((PyObject*)state); }

/* ---- methods -------------------------------------------------------------------------------- */

static int require_owner(DeferredObject* self, const char* op) {
    if (!mtpy_require_engine(op)) return -1;
    mt_thread* me = mt_current_thread();
    if (!me) {
        PyErr_Format(mtpy_UsageError, "deferred.%s() outside a micro-thread", op);
        return -1;
    }
    mt_info a, b;
    int same = mt_thread_info(me, &a) == MT_OK && mt_thread_info(self->owner, &b) == MT_OK && a.id == b.id;
    mt_thread_release(me);
    if (!same) {
        PyErr_Format(mtpy_UsageError, "deferred.%s() on another micro-thread's deferred (only its owner may)", op);
        return -1;
    }
    return 0;
}

static PyObject* d_arm(DeferredObject* self, PyObject* unused) {
    (void)unused;
    if (require_owner(self, "arm") < 0) return NULL;
    mt_status s = mt_deferred_arm();
    if (s != MT_OK) return mtpy_raise_status(s);
    Py_RETURN_NONE;
}

static PyObject* d_callback(DeferredObject* self, PyObject* args) {
    PyObject* value = Py_None;
    if (!PyArg_ParseTuple(args, "|O:callback", &value)) return NULL;
    if (!mtpy_require_engine("callback")) return NULL;
    mt_status s = mt_deferred_callback(self->owner, value); /* a token: the value goes to the slot */
    if (s != MT_OK) return mtpy_raise_status(s);
    void* block = mt_thread_state(self->owner);
    Py_XSETREF(*mtpy_deferred_slot(block), Py_NewRef(value));
    ++*mtpy_deferred_fires(block);
    Py_RETURN_NONE;
}

static PyObject* d_errback(DeferredObject* self, PyObject* exc) {
    if (!mtpy_require_engine("errback")) return NULL;
    exc = mtpy_exception_arg(exc, "errback(exc)");
    if (!exc) return NULL;
    PyObject* text;
    const char* m = mtpy_error_message(exc, &text, "error");
    mt_status s = mt_deferred_errback(self->owner, exc, &mtpy_object_type, m); /* takes exc */
    Py_XDECREF(text);
    if (s != MT_OK) return mtpy_raise_status(s);
    void* block = mt_thread_state(self->owner);
    Py_CLEAR(*mtpy_deferred_slot(block));
    ++*mtpy_deferred_fires(block);
    Py_RETURN_NONE;
}

static PyObject* d_wait(DeferredObject* self, PyObject* args, PyObject* kwargs) {
    static char* kw[] = {"timeout", NULL};
    PyObject* timeout = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|O:wait", kw, &timeout)) return NULL;
    int64_t ns;
    if (mtpy_timeout_ns(timeout, &ns) < 0) return NULL;
    if (require_owner(self, "wait") < 0) return NULL;
    void* token = NULL;
    mt_status s = mt_deferred_wait(ns, &token);
    PyObject** slot = mtpy_deferred_slot(mt_state());
    if (s != MT_OK) {
        if (s != MT_TIMEOUT) Py_CLEAR(*slot);
        return mtpy_raise_status(s);
    }
    PyObject* v = *slot;
    *slot = NULL;
    return v ? v : Py_NewRef(Py_None);
}

static PyObject* d_cancel(DeferredObject* self, PyObject* unused) {
    (void)unused;
    if (require_owner(self, "cancel") < 0) return NULL;
    mt_status s = mt_deferred_cancel(); /* nothing once it fired: the value stays for wait() */
    if (s != MT_OK) return mtpy_raise_status(s);
    Py_RETURN_NONE;
}

static PyObject* d_push(DeferredObject* self, PyObject* args) {
    PyObject* fn;
    const char* name = NULL;
    if (!PyArg_ParseTuple(args, "O|s:push", &fn, &name)) return NULL;
    if (!PyCallable_Check(fn)) {
        PyErr_SetString(PyExc_TypeError, "push(fn): fn must be callable");
        return NULL;
    }
    if (require_owner(self, "push") < 0) return NULL;
    Py_INCREF(fn);
    mt_status s = mt_deferred_push(name ? name : "callback", run_callback, fn, dispose_callback);
    if (s != MT_OK) {
        Py_DECREF(fn);
        return mtpy_raise_status(s);
    }
    Py_RETURN_NONE;
}

static PyObject* d_repr(DeferredObject* self) {
    mt_info i;
    if (mt_thread_info(self->owner, &i) != MT_OK) return PyUnicode_FromString("<deferred (its run has ended)>");
    return PyUnicode_FromFormat("<deferred of micro-thread #%llu '%s'>", (unsigned long long)i.id, i.name);
}

static PyMethodDef methods[] = {
    {"arm", (PyCFunction)d_arm, METH_NOARGS, "arm(): something will fire this deferred (owner only)."},
    {"callback", (PyCFunction)d_callback, METH_VARARGS,
     "callback(value=None): fires it with a value (any micro-thread; UsageError if nobody armed it\n"
     "or it already fired and was not waited for)."},
    {"errback", (PyCFunction)d_errback, METH_O, "errback(exc): fires it with an exception; wait() raises it."},
    {"wait", (PyCFunction)(void (*)(void))d_wait, METH_VARARGS | METH_KEYWORDS,
     "wait(timeout=None) -> the value (after the pushed callbacks ran, the last one's result).\n"
     "Owner only. Timeout leaves it armed; UsageError if nothing armed it."},
    {"cancel", (PyCFunction)d_cancel, METH_NOARGS, "cancel(): disarms it (nothing once it fired: wait() returns the value)."},
    {"push", (PyCFunction)d_push, METH_VARARGS,
     "push(fn, name=None): adds a continuation: when it fires, the continuations run in push\n"
     "order, each fed the previous result (the PEP's callback queue); one that raises discards\n"
     "the rest and wait() raises it. Pushed while a continuation runs, it goes before the rest."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject DeferredType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "micro_threading.deferred",
    .tp_basicsize = sizeof(DeferredObject),
    .tp_dealloc = (destructor)dealloc,
    .tp_repr = (reprfunc)d_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The deferred each micro-thread owns: this_deferred() gives the running one's.",
    .tp_methods = methods,
};

static PyObject* this_deferred(PyObject* m, PyObject* unused) {
    (void)m;
    (void)unused;
    if (!mtpy_require_engine("this_deferred")) return NULL;
    mt_thread* me = mt_current_thread();
    if (!me) {
        PyErr_SetString(mtpy_UsageError, "this_deferred() outside a micro-thread");
        return NULL;
    }
    return make(me);
}

static PyMethodDef functions[] = {
    {"this_deferred", this_deferred, METH_NOARGS, "this_deferred() -> the running micro-thread's deferred."},
    {NULL, NULL, 0, NULL},
};

int mtpy_deferred_init(PyObject* module) {
    if (PyType_Ready(&DeferredType) < 0) return -1;
    if (PyModule_AddObjectRef(module, "deferred", (PyObject*)&DeferredType) < 0) return -1;
    return PyModule_AddFunctions(module, functions);
}
