/* python/src/pystate.c — CPython 3.11's per-thread interpreter state, saved
 * and restored on every switch between micro-threads, and the GIL released
 * while the engine blocks.
 *
 * CPython keeps, per OS thread (PyThreadState), the state of the one Python
 * stack it assumes that thread runs. Every micro-thread runs its own Python
 * stack on its own C stack, so on every switch the engine calls on_switch,
 * which saves the leaving micro-thread's part of PyThreadState into its
 * state block and restores the entering one's:
 *
 *   cframe            the _PyCFrame of the innermost _PyEval_EvalFrameDefault
 *                     on that micro-thread's C stack (it stays valid while the
 *                     micro-thread is suspended: its stack is untouched), its
 *                     current_frame, and use_tracing, recomputed on entry from
 *                     the OS thread's trace/profile functions (sys.settrace
 *                     applies to the whole OS thread, as in CPython);
 *   recursion depth   saved as a depth (limit - remaining), so a
 *                     sys.setrecursionlimit() made meanwhile applies; and the
 *                     headroom (RecursionError handling) and `tracing`
 *                     (nonzero while a trace function runs);
 *   data stack        datastack_chunk/top/limit: where 3.11 keeps the frames
 *                     of Python functions; each micro-thread has its own chain
 *                     of chunks (a new one starts empty: CPython allocates its
 *                     root chunk on the first call);
 *   trash nesting     trash_delete_nesting (deallocation depth);
 *   context           the contextvars context (a reference), context_ver
 *                     bumped so cached ContextVar lookups are not reused;
 *   exception state   exc_info: the top of the stack of exceptions being
 *                     handled (sys.exc_info(), bare `raise`); each micro-thread's
 *                     stack ends in its own base item in its state block.
 *
 * The thread's pending error (curexc_*) is not switched: no switch happens
 * with one set (every switch is inside a module function that is about to
 * set its own result). The trace/profile functions, thread-local dicts and
 * asyncgen hooks stay per OS thread.
 *
 * The root (the C stack of run()'s caller) has a block too; the first switch
 * is always away from it, so its block is always saved before it is
 * restored. A new micro-thread's block is zeroed: the first switch to it
 * initializes it instead of restoring.
 *
 * A micro-thread aborted before it started is entered once all the same,
 * to dispose of its spawn record (thread.c, record_dispose), which ends
 * its block the way a body's end does.
 *
 * When a body has returned (mtpy_body_end) its frames are gone; the switch
 * away from it frees its data-stack chunks (CPython never frees a root chunk
 * itself) and anything the end of its life left in the state (buried, to be
 * dropped where Python code may run).
 *
 * Invariants:
 *   * the block of the running micro-thread (or the root) holds nothing
 *     live: its state is in PyThreadState; the others hold theirs;
 *   * a suspended block's cframe points into its own C stack or its
 *     base_cframe; its exc_info chain ends at its base_exc;
 *   * `context`, `deferred_value` and `coop.dict` are owned references;
 *     `coop.dict` is NULL once the body has returned. */
#include "mtpy.h"

#include <string.h>

struct mtpy_state {
    int initialized;            /* entered (or, for the root, left) at least once */
    int ended;                  /* its body returned: free the data stack when leaving */
    _PyCFrame* cframe;
    struct _PyInterpreterFrame* current_frame;
    int recursion_depth;
    int recursion_headroom;
    int tracing;
    int trash_delete_nesting;
    PyObject* context;          /* owned while suspended */
    _PyErr_StackItem* exc_info;
    _PyStackChunk* datastack_chunk;
    PyObject** datastack_top;
    PyObject** datastack_limit;
    _PyCFrame base_cframe;      /* the bottom of a micro-thread's cframe chain */
    _PyErr_StackItem base_exc;  /* the bottom of its exception stack */
    /* the module's per-micro-thread data */
    mtpy_record* record;        /* its spawn record while its body runs */
    PyObject* deferred_value;   /* the deferred's value in flight (owned), deferred.c */
    uint64_t deferred_fires;    /* fires of its deferred, deferred.c */
    mtpy_coop coop;             /* the cooperative mode's: identity and thread-locals, coop.c */
};

size_t mtpy_state_size(void) { return sizeof(mtpy_state); }

mtpy_coop* mtpy_coop_state(void) {
    if (!mtpy_run) return NULL;
    mtpy_state* s = mt_state();
    return s && s->record ? &s->coop : NULL;
}

mtpy_coop* mtpy_coop_of(mt_thread* t) {
    mtpy_state* s = t ? mt_thread_state(t) : NULL;
    return s ? &s->coop : NULL;
}

PyObject** mtpy_deferred_slot(void* block) { return &((mtpy_state*)block)->deferred_value; }
uint64_t* mtpy_deferred_fires(void* block) { return &((mtpy_state*)block)->deferred_fires; }

/* The data stack's root chunks, kept for the next micro-threads. CPython
 * allocates a thread's first chunk (its "root", which it never frees: a frame
 * pushed there starts one slot in, so popping it never empties the chunk)
 * with the object arena allocator (an mmap); a micro-thread that ends would
 * give it back and the next one map another: two system calls per
 * micro-thread. Up to CHUNK_CACHE ended micro-threads' root chunks are kept
 * here and handed to new ones laid out exactly as CPython lays out a root
 * chunk, so CPython cannot tell the difference. The cache belongs to the run
 * (one per OS thread) and is emptied when the run ends. */
#define CHUNK_CACHE 64
#define CHUNK_SIZE (16 * 1024) /* CPython 3.11's DATA_STACK_CHUNK_SIZE */

static _Thread_local _PyStackChunk* chunk_cache[CHUNK_CACHE];
static _Thread_local int chunk_cached;

static void arena_free(_PyStackChunk* chunk) {
    PyObjectArenaAllocator alloc;
    PyObject_GetArenaAllocator(&alloc);
    if (alloc.free) alloc.free(alloc.ctx, chunk, chunk->size);
}

/* free_chunks — an ended micro-thread's chunks: its root one to the cache
 * (when it has the usual size and there is room), the others (none, unless
 * it ended inside a deep call) back to the arena allocator. */
static void free_chunks(_PyStackChunk* chunk) {
    while (chunk) {
        _PyStackChunk* prev = chunk->previous;
        if (!prev && chunk->size == CHUNK_SIZE && chunk_cached < CHUNK_CACHE) {
            chunk_cache[chunk_cached++] = chunk;
        } else {
            arena_free(chunk);
        }
        chunk = prev;
    }
}

/* give_root_chunk — a cached root chunk for a new micro-thread's tstate, or
 * NULLs (CPython then allocates one at its first call). */
static inline void give_root_chunk(PyThreadState* ts) {
    if (chunk_cached == 0) {
        ts->datastack_chunk = NULL;
        ts->datastack_top = NULL;
        ts->datastack_limit = NULL;
        return;
    }
    _PyStackChunk* c = chunk_cache[--chunk_cached];
    c->previous = NULL;
    c->top = 0;
    ts->datastack_chunk = c;
    ts->datastack_top = &c->data[1]; /* as push_chunk lays out a root chunk */
    ts->datastack_limit = (PyObject**)((char*)c + c->size);
}

void mtpy_drop_chunk_cache(void) {
    while (chunk_cached > 0) arena_free(chunk_cache[--chunk_cached]);
}

static inline void save(mtpy_state* s, PyThreadState* ts) {
    if (s->ended) {
        /* The body returned: nothing will run on this stack again. */
        free_chunks(ts->datastack_chunk);
        s->datastack_chunk = NULL;
        s->datastack_top = NULL;
        s->datastack_limit = NULL;
        if (ts->context) mtpy_bury(ts->context);
        s->context = NULL;
        if (s->base_exc.exc_value) mtpy_bury(s->base_exc.exc_value);
        s->base_exc.exc_value = NULL;
        s->exc_info = &s->base_exc;
        s->cframe = &s->base_cframe;
        s->current_frame = NULL;
        s->recursion_depth = 0;
        s->recursion_headroom = 0;
        s->tracing = 0;
        s->trash_delete_nesting = 0;
        return;
    }
    s->initialized = 1;
    s->cframe = ts->cframe;
    s->current_frame = ts->cframe->current_frame;
    s->recursion_depth = ts->recursion_limit - ts->recursion_remaining;
    s->recursion_headroom = ts->recursion_headroom;
    s->tracing = ts->tracing;
    s->trash_delete_nesting = ts->trash_delete_nesting;
    s->context = ts->context; /* the reference moves into the block */
    s->exc_info = ts->exc_info;
    s->datastack_chunk = ts->datastack_chunk;
    s->datastack_top = ts->datastack_top;
    s->datastack_limit = ts->datastack_limit;
}

static inline void restore(mtpy_state* s, PyThreadState* ts) {
    if (!s->initialized) {
        /* A new micro-thread: an empty Python stack of its own. */
        s->initialized = 1;
        s->base_cframe.use_tracing = 0;
        s->base_cframe.current_frame = NULL;
        s->base_cframe.previous = NULL;
        s->base_exc.exc_value = NULL;
        s->base_exc.previous_item = NULL;
        ts->cframe = &s->base_cframe;
        ts->recursion_remaining = ts->recursion_limit;
        ts->recursion_headroom = 0;
        ts->tracing = 0;
        ts->trash_delete_nesting = 0;
        ts->context = NULL;
        ts->exc_info = &s->base_exc;
        give_root_chunk(ts);
    } else {
        ts->cframe = s->cframe;
        ts->cframe->current_frame = s->current_frame;
        ts->recursion_remaining = ts->recursion_limit - s->recursion_depth;
        ts->recursion_headroom = s->recursion_headroom;
        ts->tracing = s->tracing;
        ts->trash_delete_nesting = s->trash_delete_nesting;
        ts->context = s->context; /* the reference moves back */
        s->context = NULL;
        ts->exc_info = s->exc_info;
        ts->datastack_chunk = s->datastack_chunk;
        ts->datastack_top = s->datastack_top;
        ts->datastack_limit = s->datastack_limit;
    }
    ts->context_ver++;
    ts->cframe->use_tracing = (ts->tracing == 0 && (ts->c_tracefunc || ts->c_profilefunc)) ? 255 : 0;
}

/* on_switch — the engine's switch hook: `from` is left, `to` entered (the
 * root's block for the root). Runs with the GIL, on the leaving context's
 * stack, before the jump. Runs no Python code: it saves and restores the
 * interpreter's state, and tells CPython whether the code entered is its
 * main thread (signals.c). */
static void on_switch(void* user, void* from, void* to) {
    mtpy_run_state* r = user;
    PyThreadState* ts = r->tstate;
    save((mtpy_state*)from, ts);
    restore((mtpy_state*)to, ts);
    mtpy_signals_enter(r, to == r->root_block || ((mtpy_state*)to)->coop.is_main);
}

/* before_block / after_block — around the engine's blocking wait in the
 * notifier (epoll): other Python threads (and submit_work's workers) run. */
static void before_block(void* user) {
    mtpy_run_state* r = user;
    r->released = PyEval_SaveThread();
}

/* run_signal_handlers — a signal that arrived since the last poll has its
 * Python handler run now (unless main ran it already at a bytecode), as
 * CPython runs one when a blocking call of its main thread is interrupted
 * (PEP 475): a handler that returns lets the waits go on; an exception it
 * raises is raised in main, in the wait main is in (or at its next
 * suspension). Once main has ended, a KeyboardInterrupt or SystemExit ends
 * the run (the others are aborted and run() raises it); any other exception
 * is reported as unraisable. Only on the main OS thread (CPython's rule,
 * signals.c). The handler runs inside the engine's poll:
 * on the root when every micro-thread waits, or inside the yield or wait of
 * the micro-thread whose turn it was to poll (never in the middle of that
 * micro-thread's own code, and its exception never goes there). */
static void run_signal_handlers(mtpy_run_state* r) {
    if (mtpy_signals_check(r) == 0) return;
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb && value) PyException_SetTraceback(value, tb);
    Py_XDECREF(type);
    Py_XDECREF(tb);
    if (!value) return;
    mt_info info;
    if (r->main && mt_thread_info(r->main, &info) == MT_OK && info.state < 4) {
        mt_interrupt(r->main, value, &mtpy_object_type, "a signal handler raised"); /* the reference moves */
        return;
    }
    /* main has ended: nobody to raise it in */
    if (r->main && !r->fatal &&
        (PyErr_GivenExceptionMatches(value, PyExc_KeyboardInterrupt) ||
         PyErr_GivenExceptionMatches(value, PyExc_SystemExit))) {
        r->fatal = value; /* the reference moves: run() raises it */
        mtpy_abort_running(r);
        return;
    }
    PyErr_Restore(Py_NewRef((PyObject*)Py_TYPE(value)), value, NULL);
    PyErr_WriteUnraisable(NULL);
}

static void after_block(void* user) {
    mtpy_run_state* r = user;
    PyEval_RestoreThread(r->released);
    r->released = NULL;
    run_signal_handlers(r);
}

void mtpy_install_hooks(mt_engine* e) {
    mt_set_switch_hook(e, on_switch, mtpy_run);
    mt_set_block_hooks(e, before_block, after_block, mtpy_run);
}

void mtpy_body_begin(PyObject* context, mtpy_record* record) {
    PyThreadState* ts = PyThreadState_Get();
    mtpy_state* s = mt_state();
    s->record = record;
    s->coop.is_main = mtpy_run && record && record->handle == mtpy_run->main;
    if (s->coop.is_main) mtpy_signals_enter(mtpy_run, 1);
    Py_XSETREF(ts->context, context);
    ts->context_ver++;
}

void mtpy_body_end(void) {
    PyThreadState* ts = PyThreadState_Get();
    mtpy_state* s = mt_state();
    Py_CLEAR(s->coop.dict); /* its thread-locals go first: their finalizers still run as this micro-thread */
    s->record = NULL;
    Py_CLEAR(s->deferred_value);
    PyObject* ctx = ts->context;
    ts->context = NULL;
    ts->context_ver++;
    Py_XDECREF(ctx);
    s->ended = 1;
}

mtpy_record* mtpy_current_record(void) {
    mtpy_state* s = mt_state();
    return s ? s->record : NULL;
}

void mtpy_bury(PyObject* o) {
    mtpy_run_state* r = mtpy_run;
    if (r && r->graveyard && PyList_Append(r->graveyard, o) == 0) {
        Py_DECREF(o); /* the list holds it now */
        return;
    }
    /* no graveyard (or no memory for it): leak rather than run code here */
}

void mtpy_flush_graveyard(void) {
    mtpy_run_state* r = mtpy_run;
    if (!r || !r->graveyard || PyList_GET_SIZE(r->graveyard) == 0) return;
    PyObject* err_type, *err_value, *err_tb;
    PyErr_Fetch(&err_type, &err_value, &err_tb);
    PyList_SetSlice(r->graveyard, 0, PyList_GET_SIZE(r->graveyard), NULL);
    PyErr_Restore(err_type, err_value, err_tb);
}
