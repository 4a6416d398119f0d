/* python/src/module.c — the extension micro_threading._core: run(), yield_(),
 * dump(), and the module's assembly from the other files (see mtpy.h).
 *
 * run(main, *args) makes an engine on the calling OS thread, with a state
 * block per micro-thread for the interpreter's state (pystate.c), runs main
 * as micro-thread #1 'main' and everything it starts, and returns main's
 * result (or raises its exception) once every micro-thread has ended. */
#include "mtpy.h"

/* The default stack of a micro-thread started from Python: see
 * docs/embedding.md ("The stack size"). Deep recursion through C code at the
 * default recursion limit needs this much; untouched pages cost address
 * space only. */
#ifndef MTPY_DEFAULT_STACK_SIZE
#define MTPY_DEFAULT_STACK_SIZE (4 * 1024 * 1024)
#endif

_Thread_local mtpy_run_state* mtpy_run;

mtpy_run_state* mtpy_require_engine(const char* op) {
    if (!mtpy_run) {
        PyErr_Format(mtpy_UsageError,
                     "%s() called outside micro_threading.run(): start the engine with run(main) "
                     "and call it from a micro-thread",
                     op);
    }
    return mtpy_run;
}

/* finish — what run() returns or raises, from the loop's status and main's outcome. */
static PyObject* finish(mtpy_run_state* r, mt_status loop_status, char* loop_message) {
    if (r->fatal) {
        PyObject* exc = r->fatal;
        r->fatal = NULL;
        PyErr_SetObject((PyObject*)Py_TYPE(exc), exc);
        Py_DECREF(exc);
        return NULL;
    }
    if (loop_status == MT_DEADLOCK) {
        PyErr_SetString(mtpy_DeadlockError, loop_message ? loop_message : "deadlock");
        return NULL;
    }
    if (loop_status != MT_OK) {
        PyErr_Format(mtpy_MicroThreadError, "the engine's loop failed: %s: %s", mt_status_name(loop_status),
                     loop_message ? loop_message : "");
        return NULL;
    }
    void* result = NULL;
    mt_status s = mt_thread_result(r->main, &result);
    if (s != MT_OK) return mtpy_raise_status(s);
    return result ? (PyObject*)result : Py_NewRef(Py_None);
}

static PyObject* run(PyObject* m, PyObject* args) {
    (void)m;
    if (mtpy_run) {
        PyErr_SetString(mtpy_UsageError, "run() called inside run(): one engine per OS thread");
        return NULL;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(args);
    if (n < 1) {
        PyErr_SetString(PyExc_TypeError, "run() needs the main function");
        return NULL;
    }
    mtpy_run_state r = {0};
    r.tstate = PyThreadState_Get();
    r.graveyard = PyList_New(0);
    if (!r.graveyard) return NULL;

    mt_engine_options o;
    mt_engine_options_init(&o);
    o.ctrl_c = 0; /* SIGINT stays Python's: its handler raises KeyboardInterrupt in main (signals.c) */
    o.state_size = mtpy_state_size();
    o.default_stack_size = MTPY_DEFAULT_STACK_SIZE;
    r.engine = mt_engine_new(&o);
    if (!r.engine) {
        Py_DECREF(r.graveyard);
        return mtpy_raise_status(mt_last_error_kind());
    }
    mtpy_run = &r;
    r.root_block = mt_state();
    mtpy_signals_begin(&r);
    mtpy_install_hooks(r.engine);
    mt_set_unhandled_hook(r.engine, mtpy_unhandled, &r);

    PyObject* fargs = PyTuple_GetSlice(args, 1, n);
    PyObject* main = fargs ? mtpy_spawn(PyTuple_GET_ITEM(args, 0), fargs, "main", 0, NULL, NULL, 0) : NULL;
    Py_XDECREF(fargs);
    PyObject* result = NULL;
    if (main) {
        r.main = mtpy_thread_handle(main);
        mt_thread_retain(r.main);
        Py_DECREF(main);
        mt_set_main(r.engine, r.main);
        mt_status s = mt_engine_loop(r.engine);
        char* message = NULL;
        if (s != MT_OK) {
            const char* msg = mt_last_error_message();
            message = PyMem_Malloc(strlen(msg) + 1);
            if (message) strcpy(message, msg);
        }
        mtpy_flush_graveyard();
        result = finish(&r, s, message);
        PyMem_Free(message);
        mt_thread_release(r.main);
        r.main = NULL; /* released: the block hooks (signal handlers) still run while the engine is freed */
    }
    /* Anything still alive (only after a failure above) is aborted and run to its end. */
    PyObject *et, *ev, *etb;
    PyErr_Fetch(&et, &ev, &etb);
    mt_engine_free(r.engine);
    mtpy_flush_graveyard();
    mtpy_drop_chunk_cache();
    PyErr_Restore(et, ev, etb);
    mtpy_run = NULL;
    mtpy_signals_end(&r); /* a signal still pending has its handler run in run()'s caller */
    Py_XDECREF(r.fatal);
    Py_DECREF(r.graveyard);
    return result;
}

static PyObject* yield_(PyObject* m, PyObject* unused) {
    (void)m;
    (void)unused;
    if (!mtpy_require_engine("yield_")) return NULL;
    mt_status s = mt_yield();
    if (s != MT_OK) return mtpy_raise_status(s);
    Py_RETURN_NONE;
}

static PyObject* dump(PyObject* m, PyObject* unused) {
    (void)m;
    (void)unused;
    if (!mtpy_require_engine("dump")) return NULL;
    char* d = mt_dump();
    if (!d) return mtpy_raise_status(mt_last_error_kind());
    PyObject* s = PyUnicode_FromString(d);
    mt_free(d);
    return s;
}

static PyMethodDef functions[] = {
    {"run", run, METH_VARARGS,
     "run(main, *args) -> main's result\n\n"
     "Starts an engine on this OS thread, runs main(*args) as micro-thread #1 'main' and\n"
     "everything it starts, and returns main's result (or raises its exception) once every\n"
     "micro-thread has ended. Raises DeadlockError when micro-threads wait and nothing can\n"
     "wake them, and the SystemExit or KeyboardInterrupt that ended any micro-thread (the\n"
     "others are aborted). Signal handlers run in main, as in CPython's main thread: Ctrl-C\n"
     "raises KeyboardInterrupt in main, at its next bytecode or in the wait it is in."},
    {"yield_", yield_, METH_NOARGS, "yield_() -> lets every other runnable micro-thread run once."},
    {"dump", dump, METH_NOARGS,
     "dump() -> str: every live micro-thread, one per line: id, name, state, what it waits on,\n"
     "its stack and the stack's high-water mark."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "micro_threading._core",
    .m_doc = "The engine of micro_threading, through the C API of microthreading (see the package).",
    .m_size = -1,
    .m_methods = functions,
};

PyMODINIT_FUNC PyInit__core(void) {
    if (mt_version() != MT_VERSION_NUMBER) {
        PyErr_Format(PyExc_ImportError, "micro_threading was built for microthreading %d but runs with %d",
                     MT_VERSION_NUMBER, mt_version());
        return NULL;
    }
    PyObject* m = PyModule_Create(&module_def);
    if (!m) return NULL;
    if (mtpy_errors_init(m) < 0 || mtpy_thread_init(m) < 0 || mtpy_pipe_init(m) < 0 ||
        mtpy_deferred_init(m) < 0 || mtpy_io_init(m) < 0 || mtpy_toolbox_init(m) < 0 || mtpy_coop_init(m) < 0 ||
        PyModule_AddIntConstant(m, "DEFAULT_STACK_SIZE", MTPY_DEFAULT_STACK_SIZE) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
