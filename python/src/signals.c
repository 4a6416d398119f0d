/* python/src/signals.c — which micro-thread CPython takes for its main
 * thread: the one that runs Python's signal handlers.
 *
 * CPython runs signal handlers (and Py_AddPendingCall's calls) only in its
 * main thread: the eval loop of any other thread leaves them pending, and
 * signal.signal() and signal.set_wakeup_fd() refuse to run there. It tells
 * its main thread by the OS thread's ident (_PyRuntime.main_thread), and
 * every micro-thread of a run on the main OS thread has that ident. So while
 * such a run is active, this file makes _PyRuntime.main_thread the OS
 * thread's ident only while the main micro-thread or the root (run()'s
 * caller, between micro-threads) runs, and 0, which no OS thread has, while
 * any other micro-thread runs. Ctrl-C (SIGINT, left to Python's handler:
 * module.c starts the engine with ctrl_c off) and every other signal then
 * reach main as in CPython: its handler runs in main at main's next
 * bytecode, or, while main waits, when the engine's wait for events returns
 * (pystate.c's after-block hook), and an exception it raises ends main's
 * wait. Code in other micro-threads is never interrupted by a handler.
 *
 * The eval loop notices pending signals through one flag, eval_breaker,
 * which CPython computes from what is pending and whether the current
 * thread may handle it (COMPUTE_EVAL_BREAKER, ceval.c). It is computed when
 * a signal arrives, so a switch that changes which code may handle signals
 * computes it again, the same way, for the code entered.
 *
 * The one file that includes CPython's internal headers: 3.11's layout
 * (python/meson.build refuses other versions).
 *
 * Invariant, while a run on the main OS thread of the main interpreter is
 * active: _PyRuntime.main_thread is that OS thread's ident exactly when main
 * or the root runs (or a block hook runs handlers).
 *
 * Threading: the engine's OS thread, with the GIL. */
#define Py_BUILD_CORE
#include "mtpy.h"

#include "internal/pycore_interp.h"
#include "internal/pycore_runtime.h"

/* NO_THREAD — an ident no OS thread has (glibc's pthread_t is an address). */
#define NO_THREAD 0UL

void mtpy_signals_begin(mtpy_run_state* r) {
    r->os_ident = PyThread_get_thread_ident();
    r->routes_signals = _PyRuntime.main_thread == r->os_ident &&
                        PyThreadState_GetInterpreter(r->tstate) == PyInterpreterState_Main();
}

/* eval_breaker_for — what COMPUTE_EVAL_BREAKER makes of the flags for code
 * that may (handles) or may not handle signals and pending calls. */
static int eval_breaker_for(PyInterpreterState* interp, int handles) {
    struct _ceval_state* ceval = &interp->ceval;
    return _Py_atomic_load_relaxed(&ceval->gil_drop_request) |
           (handles && _Py_atomic_load_relaxed(&_PyRuntime.ceval.signals_pending)) |
           (handles && _Py_atomic_load_relaxed(&ceval->pending.calls_to_do)) | ceval->pending.async_exc;
}

/* hand_signals_to — makes the code about to run CPython's main thread (or
 * not), and recomputes eval_breaker for it. A signal that arrives in
 * between computes eval_breaker itself with the ident already set; the second
 * look catches one that arrived after the first look and before the store. */
static void hand_signals_to(mtpy_run_state* r, int handles) {
    _PyRuntime.main_thread = handles ? r->os_ident : NO_THREAD;
    PyInterpreterState* interp = PyThreadState_GetInterpreter(r->tstate);
    _Py_atomic_store_relaxed(&interp->ceval.eval_breaker, eval_breaker_for(interp, handles));
    if (eval_breaker_for(interp, handles)) _Py_atomic_store_relaxed(&interp->ceval.eval_breaker, 1);
}

void mtpy_signals_enter(mtpy_run_state* r, int handles) {
    if (!r->routes_signals) return;
    if ((_PyRuntime.main_thread == r->os_ident) == (handles != 0)) return; /* the usual switch: nothing changes */
    hand_signals_to(r, handles);
}

int mtpy_signals_check(mtpy_run_state* r) {
    if (!r->routes_signals) return PyErr_CheckSignals();
    const int was_main = _PyRuntime.main_thread == r->os_ident;
    if (!was_main) _PyRuntime.main_thread = r->os_ident;
    const int rc = PyErr_CheckSignals();
    if (!was_main) hand_signals_to(r, 0);
    return rc;
}

void mtpy_signals_end(mtpy_run_state* r) {
    if (!r->routes_signals) return;
    hand_signals_to(r, 1);
    r->routes_signals = 0;
}
