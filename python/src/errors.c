/* python/src/errors.c — the exception classes, and the two directions of
 * the wall: a C API status becomes a Python exception (mtpy_raise_status),
 * a Python exception becomes what an mt_func returns (mt_set_error).
 *
 * One mechanism per kind of error:
 *   MT_EXIT         -> MicroThreadExit (BaseException, like GeneratorExit)
 *   MT_FAILED       -> the error object itself (a Python exception crossing
 *                      the engine keeps its identity and its traceback), or
 *                      MicroThreadError(message) for a C++ failure
 *   MT_ABORTED      -> MicroThreadAborted      MT_DEADLOCK -> DeadlockError
 *   MT_TIMEOUT      -> Timeout (a TimeoutError) MT_USAGE    -> UsageError (a RuntimeError)
 *   MT_INTERRUPTED  -> KeyboardInterrupt       MT_SYSTEM   -> OSError(errno, message)
 *   MT_NOMEM        -> MemoryError(message) */
#include "mtpy.h"

#include <math.h>

PyObject* mtpy_MicroThreadExit;
PyObject* mtpy_MicroThreadError;
PyObject* mtpy_MicroThreadAborted;
PyObject* mtpy_DeadlockError;
PyObject* mtpy_Timeout;
PyObject* mtpy_UsageError;

/* ---- Python objects as counted objects ------------------------------------------------- */

static void object_retain(void* o) { Py_INCREF((PyObject*)o); }

/* object_release — the engine drops a reference: on its own OS thread with
 * the GIL, or on a worker thread (a result or an error nobody waits for any
 * more), which takes the GIL first — unless the interpreter is being
 * finalized: then the reference is left (CPython ends a thread that takes
 * the GIL during finalization). */
static void object_release(void* o) {
    if (PyGILState_Check()) {
        Py_DECREF((PyObject*)o);
        return;
    }
    if (_Py_IsFinalizing()) return;
    PyGILState_STATE g = PyGILState_Ensure();
    Py_DECREF((PyObject*)o);
    PyGILState_Release(g);
}

const mt_type mtpy_object_type = {object_retain, object_release};

/* ---- status -> exception ----------------------------------------------------------------- */

PyObject* mtpy_raise_status(mt_status s) {
    const char* msg = mt_last_error_message();
    switch (s) {
        case MT_EXIT:
            PyErr_SetNone(mtpy_MicroThreadExit);
            return NULL;
        case MT_FAILED: {
            void* obj = NULL;
            const mt_type* type = NULL;
            char* copy = PyMem_Malloc(strlen(msg) + 1);
            if (copy) strcpy(copy, msg);
            if (mt_take_error(&obj, &type) == MT_OK && obj && type == &mtpy_object_type) {
                PyObject* exc = (PyObject*)obj;  /* our reference */
                PyMem_Free(copy);
                if (PyExceptionInstance_Check(exc)) {
                    PyErr_SetObject((PyObject*)Py_TYPE(exc), exc);
                } else {
                    PyErr_SetObject(mtpy_MicroThreadError, exc);
                }
                Py_DECREF(exc);
                return NULL;
            }
            if (obj && type && type->release) type->release(obj);
            PyErr_SetString(mtpy_MicroThreadError, copy ? copy : "a micro-thread failed");
            PyMem_Free(copy);
            return NULL;
        }
        case MT_ABORTED: PyErr_SetString(mtpy_MicroThreadAborted, msg); return NULL;
        case MT_TIMEOUT: PyErr_SetString(mtpy_Timeout, msg); return NULL;
        case MT_DEADLOCK: PyErr_SetString(mtpy_DeadlockError, msg); return NULL;
        case MT_INTERRUPTED: PyErr_SetNone(PyExc_KeyboardInterrupt); return NULL;
        case MT_SYSTEM: {
            PyObject* args = Py_BuildValue("(is)", mt_last_errno(), msg);
            if (args) {
                PyErr_SetObject(PyExc_OSError, args);
                Py_DECREF(args);
            }
            return NULL;
        }
        case MT_NOMEM: PyErr_SetString(PyExc_MemoryError, msg); return NULL;
        case MT_USAGE: PyErr_SetString(mtpy_UsageError, msg); return NULL;
        default:
            PyErr_Format(mtpy_MicroThreadError, "%s: %s", mt_status_name(s), msg);
            return NULL;
    }
}

/* ---- exception -> status ----------------------------------------------------------------- */

mt_status mtpy_fail_with_python_error(void) {
    if (PyErr_ExceptionMatches(mtpy_MicroThreadExit)) {
        PyErr_Clear();
        return MT_EXIT;
    }
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb && value) PyException_SetTraceback(value, tb);
    Py_XDECREF(type);
    Py_XDECREF(tb);
    if (!value) {
        mt_set_error(NULL, NULL, "a Python error without a value");
        return MT_FAILED;
    }
    PyObject* text;
    const char* m = mtpy_error_message(value, &text, Py_TYPE(value)->tp_name);
    mt_set_error(value, &mtpy_object_type, m); /* the engine takes our reference */
    Py_XDECREF(text);
    return MT_FAILED;
}

PyObject* mtpy_exception_arg(PyObject* exc, const char* call) {
    if (PyExceptionClass_Check(exc)) return PyObject_CallNoArgs(exc);
    if (PyExceptionInstance_Check(exc)) return Py_NewRef(exc);
    PyErr_Format(PyExc_TypeError, "%s: exc must be an exception", call);
    return NULL;
}

const char* mtpy_error_message(PyObject* exc, PyObject** text, const char* fallback) {
    *text = PyUnicode_FromFormat("%s: %S", Py_TYPE(exc)->tp_name, exc);
    const char* m = *text ? PyUnicode_AsUTF8(*text) : NULL;
    if (m) return m;
    PyErr_Clear();
    return fallback;
}

int mtpy_timeout_ns(PyObject* timeout, int64_t* out) {
    if (timeout == NULL || timeout == Py_None) {
        *out = MT_FOREVER;
        return 0;
    }
    double secs = PyFloat_AsDouble(timeout);
    if (secs == -1.0 && PyErr_Occurred()) return -2;
    if (isnan(secs) || secs < 0) {
        PyErr_SetString(PyExc_ValueError, "a timeout must be None or a number of seconds >= 0");
        return -2;
    }
    if (secs > 9.0e9) { /* ~285 years: as good as forever */
        *out = MT_FOREVER;
        return 0;
    }
    *out = (int64_t)(secs * 1e9);
    return 0;
}

/* ---- the classes -------------------------------------------------------------------------- */

static PyObject* new_class(PyObject* module, const char* name, PyObject* base, const char* doc) {
    char qualified[128];
    PyOS_snprintf(qualified, sizeof qualified, "micro_threading.%s", name);
    PyObject* cls = PyErr_NewExceptionWithDoc(qualified, doc, base, NULL);
    if (!cls) return NULL;
    if (PyModule_AddObjectRef(module, name, cls) < 0) {
        Py_DECREF(cls);
        return NULL;
    }
    return cls;
}

int mtpy_errors_init(PyObject* m) {
    mtpy_MicroThreadExit = new_class(m, "MicroThreadExit", PyExc_BaseException,
        "Raised at a micro-thread's suspension point by abort(), and by a put to a closed pipe.\n"
        "Like GeneratorExit it derives from BaseException, so `except Exception` does not\n"
        "swallow it. Reaching the top of a micro-thread it ends that micro-thread silently.\n"
        "Aborts are sticky: every later suspension raises it again.");
    mtpy_MicroThreadError = new_class(m, "MicroThreadError", PyExc_Exception,
        "Base of the engine's named errors.");
    if (!mtpy_MicroThreadExit || !mtpy_MicroThreadError) return -1;
    mtpy_MicroThreadAborted = new_class(m, "MicroThreadAborted", mtpy_MicroThreadError,
        "wait() on a micro-thread that was aborted: a killed child does not silently kill its parent.");
    mtpy_DeadlockError = new_class(m, "DeadlockError", mtpy_MicroThreadError,
        "Micro-threads wait and nothing can ever wake them; the message names the wait-for chain.");
    PyObject* bases = PyTuple_Pack(2, mtpy_MicroThreadError, PyExc_TimeoutError);
    if (!bases) return -1;
    mtpy_Timeout = new_class(m, "Timeout", bases,
        "A wait reached its timeout. A TimeoutError too; the message says who waited, for what, how long.");
    Py_DECREF(bases);
    bases = PyTuple_Pack(2, mtpy_MicroThreadError, PyExc_RuntimeError);
    if (!bases) return -1;
    mtpy_UsageError = new_class(m, "UsageError", bases,
        "The module was used against its contract: a blocking call outside run(), joining yourself,\n"
        "a pipe or micro-thread used after its run() ended, ...");
    Py_DECREF(bases);
    if (!mtpy_MicroThreadAborted || !mtpy_DeadlockError || !mtpy_Timeout || !mtpy_UsageError) return -1;
    return 0;
}
