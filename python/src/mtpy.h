/* python/src/mtpy.h — what the files of the extension micro_threading._core
 * share. The module is built on the C API (core/microthreading.h) only.
 *
 * One concept per file:
 *   module.c    the module, run(), current(), yield_(), dump()
 *   errors.c    the exception classes; C API statuses <-> Python exceptions;
 *               Python objects as the API's counted objects (mtpy_object_type)
 *   pystate.c   CPython 3.11's per-thread state saved and restored on every
 *               switch; the GIL released around the engine's blocking wait
 *   thread.c    micro_thread objects, their bodies, start_and_forget, the
 *               unhandled-exception report, the list of running bodies
 *   pipe.c      micro_pipe objects, stdin()/stdout(), select
 *   deferred.c  the deferred and its callback queue
 *   io.c        sleep_d, fd/socket I/O, submit_work
 *   toolbox.c   Semaphore, Event, Barrier, Queue (docs/design/sync.md)
 *   coop.c      what the cooperative mode needs in C: waits that fall back
 *               to blocking outside run(), close_fd, idents and
 *               thread-locals per micro-thread, CooperativeLock
 *
 * Threading: everything here runs on the engine's OS thread with the GIL
 * held, except the bodies of submit_work (a worker OS thread that takes the
 * GIL) and the release of objects a worker drops (mtpy_object_type takes the
 * GIL when it does not hold it).
 *
 * One engine per OS thread (the C API's rule), so the module state is per
 * OS thread too: `mtpy_run` points at the run() active on this thread. */
#ifndef MTPY_H
#define MTPY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "core/microthreading.h"

/* ---- the run() active on this OS thread ----------------------------------------------- */

typedef struct mtpy_record mtpy_record;

typedef struct mtpy_run_state {
    mt_engine* engine;
    PyThreadState* tstate;       /* the OS thread's Python thread state */
    PyThreadState* released;     /* set while the engine blocks without the GIL */
    mt_thread* main;             /* micro-thread #1 */
    mtpy_record* running;        /* bodies started and not yet returned (a list) */
    PyObject* fatal;             /* SystemExit / KeyboardInterrupt that ends the run, or NULL */
    PyObject* graveyard;         /* a list of objects dropped where no Python code may run */
    void* root_block;            /* the root's state block (run()'s caller, between micro-threads) */
    unsigned long os_ident;      /* the OS thread's ident (signals.c) */
    int routes_signals;          /* run on the main OS thread: signals go to main (signals.c) */
} mtpy_run_state;

extern _Thread_local mtpy_run_state* mtpy_run;

/* mtpy_require_engine — the active run, or NULL with UsageError naming `op`
 * ("op() outside micro_threading.run()"). */
mtpy_run_state* mtpy_require_engine(const char* op);

/* ---- errors.c -------------------------------------------------------------------------- */

extern PyObject* mtpy_MicroThreadExit;    /* BaseException: an abort, a put to a closed pipe */
extern PyObject* mtpy_MicroThreadError;   /* Exception: base of the named errors */
extern PyObject* mtpy_MicroThreadAborted; /* joined a micro-thread that was aborted */
extern PyObject* mtpy_DeadlockError;      /* nothing can ever run again */
extern PyObject* mtpy_Timeout;            /* a deadline passed (subclass of TimeoutError) */
extern PyObject* mtpy_UsageError;         /* the module was used against its contract (RuntimeError) */

/* mtpy_object_type — Python objects as the C API's counted objects. */
extern const mt_type mtpy_object_type;

int mtpy_errors_init(PyObject* module);
/* mtpy_raise_status — sets the Python exception a failed status stands for
 * (MT_FAILED: the error object, raised with its own traceback) and returns
 * NULL. */
PyObject* mtpy_raise_status(mt_status s);
/* mtpy_fail_with_python_error — in an mt_func / callback / work function
 * whose Python call failed: hands the pending exception to the engine and
 * returns the status to return (MT_EXIT for MicroThreadExit, MT_FAILED). */
mt_status mtpy_fail_with_python_error(void);
/* mtpy_exception_arg — an exception argument (a class, called with no
 * arguments, or an instance) as a new reference to an instance; NULL with
 * TypeError "CALL: exc must be an exception" (CALL: "close(exc)", ...). */
PyObject* mtpy_exception_arg(PyObject* exc, const char* call);
/* mtpy_error_message — the "TypeName: str(exc)" text the C API keeps with
 * an error object; *text owns it (a new reference or NULL: the caller
 * releases it after the call that copies the text). FALLBACK when it
 * cannot be made (no Python error is left set). */
const char* mtpy_error_message(PyObject* exc, PyObject** text, const char* fallback);
/* mtpy_timeout_ns — a timeout argument (None or seconds >= 0) as the API's
 * nanoseconds; -2 with ValueError/TypeError set. */
int mtpy_timeout_ns(PyObject* timeout, int64_t* out);

/* ---- pystate.c ------------------------------------------------------------------------- */

/* mtpy_state — the per-micro-thread block the engine keeps for us
 * (mt_engine_options.state_size; zeroed at spawn). */
typedef struct mtpy_state mtpy_state;
size_t mtpy_state_size(void);
void mtpy_install_hooks(mt_engine* e);
/* mtpy_body_begin / mtpy_body_end — bracket a micro-thread's body on its own
 * stack: begin gives it its context (a reference stolen); end drops what
 * its interpreter state still holds and marks it ended (its frames' memory
 * goes at the switch away). */
void mtpy_body_begin(PyObject* context, mtpy_record* record);
void mtpy_body_end(void);
mtpy_record* mtpy_current_record(void);
/* the deferred's in-flight value, kept in the owner's state block */
PyObject** mtpy_deferred_slot(void* state_block);
uint64_t* mtpy_deferred_fires(void* state_block);
/* mtpy_bury — drops a reference where no Python code may run (in the switch
 * hook): it is released at the next safe point (mtpy_flush_graveyard). */
void mtpy_bury(PyObject* o);
/* mtpy_drop_chunk_cache — frees the data-stack chunks kept for new
 * micro-threads (when a run ends). */
void mtpy_drop_chunk_cache(void);
void mtpy_flush_graveyard(void);

/* ---- which micro-thread handles signals (signals.c) ------------------------------------------ */

/* mtpy_signals_begin — at the start of a run (before the first switch):
 * notes whether it runs on CPython's main thread, whose signal handlers
 * then run only in main and the root. */
void mtpy_signals_begin(mtpy_run_state* r);
/* mtpy_signals_enter — from the switch hook (and when a body learns it is
 * main): the code about to run may handle signals (main, the root) or not. */
void mtpy_signals_enter(mtpy_run_state* r, int handles);
/* mtpy_signals_check — PyErr_CheckSignals as main, wherever it is called
 * (the block hook, between micro-threads): -1 with the handler's exception. */
int mtpy_signals_check(mtpy_run_state* r);
/* mtpy_signals_end — when the run ends: run()'s caller is main again. */
void mtpy_signals_end(mtpy_run_state* r);

/* ---- the cooperative mode (coop.c) ------------------------------------------------------- */

/* mtpy_coop — what the cooperative mode keeps per micro-thread, in its state
 * block: the run's main micro-thread stands for the OS thread (its ident and
 * thread-locals are the OS thread's); any other gets an ident of its own at
 * the first ask and a dict of thread-local storage, dropped when its body
 * returns. */
typedef struct mtpy_coop {
    int is_main;
    unsigned long ident;  /* 0 until asked */
    PyObject* dict;       /* owned, or NULL */
} mtpy_coop;
/* mtpy_coop_state — the running micro-thread's, or NULL on the root, outside
 * run(), or once its body has returned. */
mtpy_coop* mtpy_coop_state(void);
/* mtpy_coop_of — a micro-thread's (its block's), or NULL. */
mtpy_coop* mtpy_coop_of(mt_thread* t);
/* mtpy_main_end_hook — called (no arguments) in the main micro-thread after
 * main's function returned or raised (not after SystemExit or
 * KeyboardInterrupt), before the body ends; NULL: none. A reference. */
extern PyObject* mtpy_main_end_hook;
int mtpy_coop_init(PyObject* module);

/* ---- thread.c -------------------------------------------------------------------------- */

extern PyTypeObject mtpy_ThreadType;
int mtpy_thread_init(PyObject* module);
/* mtpy_spawn — starts fn(*args) (a new reference to the micro_thread object). */
PyObject* mtpy_spawn(PyObject* fn, PyObject* args, const char* name, size_t stack_size, PyObject* in,
                     PyObject* out, int forget);
/* mtpy_thread_wrap — a micro_thread object for a handle (the reference is taken). */
PyObject* mtpy_thread_wrap(mt_thread* t);
/* mtpy_thread_handle — the handle inside a micro_thread object (borrowed). */
mt_thread* mtpy_thread_handle(PyObject* thread_object);
/* mtpy_abort_running — aborts every micro-thread whose body has not returned. */
void mtpy_abort_running(mtpy_run_state* r);
void mtpy_unhandled(void* user, const mt_info* info, void* error, const mt_type* type, const char* message);
struct mtpy_record {
    mtpy_record* prev;   /* the run's list of running bodies */
    mtpy_record* next;
    int linked;
    mt_thread* handle;   /* not counted: valid while the block lives, which outlives the record's link */
    PyObject* fn;
    PyObject* args;
    PyObject* context;   /* a copy of the spawner's, entered by the body */
    PyObject* in;        /* the micro_pipe objects attached as stdin / stdout */
    PyObject* out;
    int forget;          /* start_and_forget */
};

/* ---- pipe.c / deferred.c / io.c -------------------------------------------------------- */

extern PyTypeObject mtpy_PipeType;
int mtpy_pipe_init(PyObject* module);
mt_pipe* mtpy_pipe_handle(PyObject* o);  /* NULL (TypeError) unless a micro_pipe */
/* mtpy_try_get_result — what a pipe's or a queue's try_get returns for the
 * C API's status S and value V: (True, value), (False, DFLT), or it raises
 * StopIteration (end of data) or the status's error. */
PyObject* mtpy_try_get_result(mt_status s, void* v, PyObject* dflt);
/* mtpy_try_put_result — what try_put returns for the status S of putting
 * VALUE (given a reference): True, or False / raises after dropping it. */
PyObject* mtpy_try_put_result(mt_status s, PyObject* value);
int mtpy_deferred_init(PyObject* module);
int mtpy_io_init(PyObject* module);
int mtpy_toolbox_init(PyObject* module);

#endif /* MTPY_H */
