/* core/microthreading.h — the C API of microthreading: the wall through which
 * an interpreter (or any C program) embeds the engine.
 *
 * Compiles as C11 and as C++. Every function returns a status (or a value
 * whose absence is NULL / -1) and never lets a C++ exception cross it: one
 * guard per entry point turns each kind of error into a status, and
 * mt_last_error_kind() / mt_last_error_message() / mt_last_errno() say more
 * (valid on the calling OS thread until its next call into the API).
 *
 * Lifetimes: objects made here (mt_thread, mt_pipe, mt_mutex, ...) are
 * reference counted by the C caller (mt_*_retain / mt_*_release) and belong
 * to the engine of the OS thread that made them; a use from another engine,
 * or after that engine ended, is MT_USAGE. Releasing a handle after its
 * engine ended is allowed (its last reference frees it).
 *
 * Values and errors that cross the API are the caller's objects: a pointer
 * plus an mt_type that says how to retain and release it (an interpreter
 * passes its objects with their reference counts). A pipe or a join hands
 * the receiver one reference; a value left unclaimed (in a pipe's slot when
 * the reader closes, a result nobody joins) is released by the engine.
 *
 * Timeouts are int64_t nanoseconds: MT_FOREVER (-1) for none, 0 to poll;
 * any other negative value is MT_USAGE.
 *
 * MT_EXIT is the C form of MicroThreadExit: the calling micro-thread was
 * aborted (or put to a closed pipe). It must unwind: release what it holds
 * and return MT_EXIT from its mt_func. Every later suspending call returns
 * MT_EXIT again (aborts are sticky).
 *
 * Threading: the engine's OS thread, except mt_version, mt_status_name,
 * mt_remote_callback, mt_remote_retain and mt_remote_release, which any OS
 * thread may call; the last error is per OS thread; an mt_work function and
 * an mt_type's release may run on a worker OS thread. */
#ifndef MICROTHREADING_H
#define MICROTHREADING_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MT_VERSION_MAJOR 0
#define MT_VERSION_MINOR 3
#define MT_VERSION_PATCH 0
#define MT_VERSION_NUMBER (MT_VERSION_MAJOR * 10000 + MT_VERSION_MINOR * 100 + MT_VERSION_PATCH)

/* mt_version — MT_VERSION_NUMBER of the library linked (compare with the header's). */
int mt_version(void);

#define MT_FOREVER ((int64_t)-1)

typedef enum mt_status {
    MT_OK = 0,
    MT_END = 1,             /* end-of-stream (a pipe or queue get): not an error */
    MT_WOULD_BLOCK = 2,     /* a try_ form could not complete at once */
    MT_TIMEOUT = -1,        /* the deadline passed first */
    MT_EXIT = -2,           /* MicroThreadExit: unwind and return MT_EXIT (see above) */
    MT_ABORTED = -3,        /* the joined micro-thread was aborted */
    MT_FAILED = -4,         /* an error object or a foreign exception: mt_take_error() */
    MT_USAGE = -5,          /* the API was used against its contract */
    MT_DEADLOCK = -6,       /* nothing can ever run again (or a lock cycle) */
    MT_INTERRUPTED = -7,    /* Ctrl-C, raised in the main micro-thread */
    MT_SYSTEM = -8,         /* the kernel refused: mt_last_errno() */
    MT_NOMEM = -9           /* out of memory (or a stack could not be mapped) */
} mt_status;

/* mt_status_name — "MT_OK", "MT_TIMEOUT", ... (static storage). */
const char* mt_status_name(mt_status s);

/* ---- the last error of this OS thread ---------------------------------------------- */

/* mt_last_error_kind — the status of the last failed call (MT_OK if none). */
mt_status mt_last_error_kind(void);
/* mt_last_error_message — its text, naming the micro-thread and the operation. */
const char* mt_last_error_message(void);
/* mt_last_errno — the errno of the last MT_SYSTEM (0 otherwise). */
int mt_last_errno(void);

/* ---- objects that cross the API ------------------------------------------------------ */

typedef struct mt_type {
    void (*retain)(void* obj);   /* one more reference; may be NULL for objects without counts */
    void (*release)(void* obj);  /* drops one; may be NULL */
} mt_type;

/* mt_take_error — after MT_FAILED: the error object (one reference for the
 * caller, with its type) and its message, and forgets them. *obj is NULL
 * when the failure was not an error object (a C++ exception: the message
 * says what it was). Returns MT_OK, or MT_USAGE when there is none. */
mt_status mt_take_error(void** obj, const mt_type** type);

/* mt_set_error — what the calling mt_func / callback / work function fails
 * with when it returns MT_FAILED: `obj` (the engine takes one reference)
 * with `type`, and `message` (copied; the failure's text, e.g. str(exc)). */
void mt_set_error(void* obj, const mt_type* type, const char* message);

/* mt_free — frees a string the API returned (mt_dump). */
void mt_free(void* p);

/* ---- engines and the host loop ------------------------------------------------------- */

typedef struct mt_engine_options {
    size_t default_stack_size;   /* 0: the engine's default (64 KiB) */
    size_t state_size;           /* bytes of embedder state per micro-thread (and the root), zeroed; 0: none */
    int default_notifier;        /* nonzero: start the libev notifier with the engine (Ctrl-C, SIGPIPE) */
    int ctrl_c;                  /* nonzero: the notifier takes SIGINT (see mt_set_main); 0: SIGINT
                                    keeps the host's disposition (an interpreter's own handler) */
} mt_engine_options;

/* mt_engine_options_init — the defaults: default stack, no state, notifier
 * on, Ctrl-C to main. */
void mt_engine_options_init(mt_engine_options* o);

typedef struct mt_engine mt_engine;
typedef struct mt_thread mt_thread;
typedef struct mt_pipe mt_pipe;

/* mt_engine_new — an engine on the calling OS thread (one per OS thread).
 * NULL on failure (mt_last_error_*). */
mt_engine* mt_engine_new(const mt_engine_options* options);
/* mt_engine_free — ends it: micro-threads still alive are aborted and run
 * to their ends first. From the root only. */
void mt_engine_free(mt_engine* e);
/* mt_engine_loop — runs micro-threads until every one has ended (root only).
 * MT_DEADLOCK (with the chains in the message) when they are stuck. */
mt_status mt_engine_loop(mt_engine* e);
/* mt_engine_run_once — for a host loop: polls without blocking, runs each
 * runnable micro-thread once; *alive is nonzero while micro-threads live. */
mt_status mt_engine_run_once(mt_engine* e, int* alive);
/* mt_set_main — makes t the engine's main micro-thread (as mt::run does for
 * its #1): Ctrl-C (SIGINT) while the engine runs raises MT_INTERRUPTED in t
 * at its suspension point, and once t has ended a Ctrl-C aborts the rest so
 * the loop returns. Without a main a Ctrl-C aborts every micro-thread.
 * MT_USAGE when t has ended or belongs to another engine. */
mt_status mt_set_main(mt_engine* e, mt_thread* t);
/* mt_notifier_fd — an fd that becomes readable when the engine has events. */
int mt_notifier_fd(mt_engine* e);
/* mt_notifier_timeout_ms — how long the host may block in poll() on it: 0
 * when micro-threads are runnable, -1 when only an event can wake it, else
 * the time to the next deadline. Hands new watchers to the kernel first. */
int mt_notifier_timeout_ms(mt_engine* e);

/* ---- micro-threads -------------------------------------------------------------------- */

/* mt_func — a micro-thread's body. Returns MT_OK with *result (one
 * reference of result_type's object, or NULL), MT_FAILED after
 * mt_set_error, or MT_EXIT when an API call returned it. */
typedef mt_status (*mt_func)(void* arg, void** result);

typedef struct mt_spawn_options {
    const char* name;       /* shown in errors, dumps and deadlock reports; NULL: unnamed */
    size_t stack_size;      /* 0: the engine's default */
    mt_pipe* stdin_pipe;    /* attached as its stdin (the death rules of docs/reference/pipes.md), or NULL */
    mt_pipe* stdout_pipe;   /* attached as its stdout, or NULL */
    const mt_type* result_type;  /* how to release a result nobody joins; NULL: results are not objects */
    void (*arg_dispose)(void* arg);  /* called once with arg, in the micro-thread: as its body
                                        returns, or, when it was aborted before it started and its
                                        body never ran, as it ends; never when mt_spawn fails (arg
                                        is then still the caller's); NULL: none */
} mt_spawn_options;

void mt_spawn_options_init(mt_spawn_options* o);

/* mt_spawn — starts fn(arg) in a new micro-thread (queued; never suspends).
 * Returns a handle (one reference), or NULL (mt_last_error_*). */
mt_thread* mt_spawn(const mt_spawn_options* options, mt_func fn, void* arg);
void mt_thread_retain(mt_thread* t);
void mt_thread_release(mt_thread* t);

/* mt_join — suspends until t has ended; MT_OK with *result (a new reference
 * for every join; NULL when the body gave none), MT_FAILED (its error:
 * mt_take_error), MT_ABORTED, MT_TIMEOUT, MT_EXIT, MT_USAGE (joining
 * yourself, outside a micro-thread). */
mt_status mt_join(mt_thread* t, int64_t timeout_ns, void** result);
/* mt_thread_result — the outcome of an ended micro-thread without
 * suspending (the root may ask): as mt_join, or MT_USAGE when it has not
 * ended. */
mt_status mt_thread_result(mt_thread* t, void** result);
/* mt_abort — raises MicroThreadExit in t at its suspension point (MT_EXIT
 * at once when t is the caller). Nothing when it has ended. */
mt_status mt_abort(mt_thread* t);
/* mt_interrupt — raises an error object once in t at its next suspension
 * point: a t that waits is woken for it (unless its wait is shielded or not
 * interruptible), and the call that suspends returns MT_FAILED with the
 * object (mt_take_error). One reference of error is taken, even when refused;
 * released when t has ended. May be called on the root (a block hook). */
mt_status mt_interrupt(mt_thread* t, void* error, const mt_type* type, const char* message);
/* mt_yield — lets every other runnable micro-thread run once. */
mt_status mt_yield(void);

typedef struct mt_info {
    uint64_t id;        /* 0: the root */
    const char* name;   /* valid until the next call into the API */
    int state;          /* 0 created, 1 runnable, 2 running, 3 waiting, 4 finished, 5 failed, 6 aborted */
} mt_info;

/* mt_current — the running micro-thread (id 0, "root", on the root). */
mt_status mt_current(mt_info* info);
/* mt_thread_info — a handle's micro-thread. */
mt_status mt_thread_info(mt_thread* t, mt_info* info);
/* mt_current_thread — a new reference to the running micro-thread, or NULL on the root. */
mt_thread* mt_current_thread(void);
/* mt_dump — every live micro-thread, one per line (free with mt_free), or NULL. */
char* mt_dump(void);
/* mt_state — the embedder state block of the running micro-thread (the
 * root's on the root), or NULL when state_size is 0. */
void* mt_state(void);
/* mt_thread_state — the state block of t's micro-thread. */
void* mt_thread_state(mt_thread* t);

/* ---- the deferred (docs/reference/deferred.md) --------------------------------------------- */

/* mt_deferred_arm — arms the running micro-thread's deferred. */
mt_status mt_deferred_arm(void);
/* mt_deferred_callback / mt_deferred_errback — fire t's deferred (NULL: the
 * caller's) with a value, or with an error object (one reference taken). */
mt_status mt_deferred_callback(mt_thread* t, void* value);
mt_status mt_deferred_errback(mt_thread* t, void* error, const mt_type* type, const char* message);
/* mt_deferred_wait — suspends until the caller's deferred fires; runs its
 * callback queue; MT_OK with *value, MT_FAILED, MT_TIMEOUT (it stays armed),
 * MT_EXIT, MT_USAGE (nothing armed it). */
mt_status mt_deferred_wait(int64_t timeout_ns, void** value);
/* mt_deferred_cancel — disarms the caller's deferred. */
mt_status mt_deferred_cancel(void);

/* mt_callback — a continuation of the PEP's callback queue: gets the
 * previous result, returns MT_OK with *out, or MT_FAILED (mt_set_error),
 * which discards the rest of the queue. */
typedef mt_status (*mt_callback)(void* value, void* state, void** out);
/* mt_remote_arm — arms the running micro-thread's deferred (as
 * mt_deferred_arm) so that any OS thread may fire it, once, through the
 * token returned (one reference; NULL on failure). The owner then waits with
 * mt_deferred_wait as usual; a fire through the token is dropped when the
 * deferred was fired otherwise first (mt_deferred_callback from the engine's
 * thread, which is allowed and withdraws the token), cancelled, or its owner
 * aborted, or when the engine has ended. While armed this way the wait counts
 * as one that something outside the engine may end: it is never reported as
 * a deadlock. */
typedef struct mt_remote mt_remote;
mt_remote* mt_remote_arm(void);
/* mt_remote_callback — fires the token's deferred with `value` (an untyped
 * pointer, not an object: nothing is retained or released). Any OS thread;
 * never blocks. MT_OK when the wake-up was posted (it may still be dropped
 * as above), MT_USAGE for a NULL token or a second fire. */
mt_status mt_remote_callback(mt_remote* r, void* value);
/* mt_remote_retain / mt_remote_release — the token's reference count; any OS thread. */
void mt_remote_retain(mt_remote* r);
void mt_remote_release(mt_remote* r);

/* mt_deferred_push — adds a continuation to the caller's deferred.
 * `dispose` (may be NULL) is called with `state` if the continuation is
 * discarded without running (an earlier one failed, the wait was aborted). */
mt_status mt_deferred_push(const char* name, mt_callback fn, void* state, void (*dispose)(void* state));

/* ---- pipes (docs/reference/pipes.md): the untyped pipe, values are objects ---------------- */

/* mt_pipe_new — an open, empty pipe (one reference), or NULL. */
mt_pipe* mt_pipe_new(const char* name);
void mt_pipe_retain(mt_pipe* p);
void mt_pipe_release(mt_pipe* p);
/* mt_pipe_put — moves one reference of `value` into the pipe (MT_OK); on any
 * other status the caller still owns it. MT_EXIT when the pipe is closed. */
mt_status mt_pipe_put(mt_pipe* p, void* value, const mt_type* type, int64_t timeout_ns);
/* mt_pipe_get — MT_OK with *value (one reference) and *type, MT_END at
 * end-of-stream, MT_FAILED when it was closed with an error, MT_TIMEOUT, MT_EXIT. */
mt_status mt_pipe_get(mt_pipe* p, int64_t timeout_ns, void** value, const mt_type** type);
/* mt_pipe_try_put / mt_pipe_try_get — never suspend: MT_WOULD_BLOCK. */
mt_status mt_pipe_try_put(mt_pipe* p, void* value, const mt_type* type);
mt_status mt_pipe_try_get(mt_pipe* p, void** value, const mt_type** type);
/* mt_pipe_close — end of data; mt_pipe_close_error — with an error object
 * (one reference taken) that every later get fails with. */
mt_status mt_pipe_close(mt_pipe* p);
mt_status mt_pipe_close_error(mt_pipe* p, void* error, const mt_type* type, const char* message);
/* mt_pipe_close_reader — no more wanted: a value left in the slot is released. */
mt_status mt_pipe_close_reader(mt_pipe* p);
/* mt_pipe_closed — 1 if closed, 0 if open, -1 on error. */
int mt_pipe_closed(mt_pipe* p);
/* mt_stdin / mt_stdout — new references to the running micro-thread's
 * attached pipes, or NULL when none is attached. */
mt_pipe* mt_stdin(void);
mt_pipe* mt_stdout(void);

/* ---- waiting for the outside world --------------------------------------------------------- */

/* mt_wait_fd — until fd is readable (write == 0) or writable. MT_SYSTEM
 * (EBADF) for a closed fd. */
mt_status mt_wait_fd(int fd, int write, int64_t timeout_ns);
/* mt_close_fd — closes fd after ending every wait on it (those get EBADF). */
int mt_close_fd(int fd);
/* mt_sleep — suspends the caller for ns nanoseconds (0: yields). */
mt_status mt_sleep(int64_t ns);
/* mt_wait_signal — until POSIX signal signo arrives. */
mt_status mt_wait_signal(int signo, int64_t timeout_ns);
/* mt_wait_child — until child pid exits; *status gets its waitpid() status. */
mt_status mt_wait_child(int pid, int64_t timeout_ns, int* status);

/* mt_work — a function for the worker pool: runs on a worker OS thread
 * (it must not call the engine's functions); MT_OK with *result, or
 * MT_FAILED after mt_set_error (on that thread). */
typedef mt_status (*mt_work)(void* arg, void** result);
/* mt_submit — runs fn(arg) on the worker pool and suspends the caller until
 * it is done. If the caller is aborted or times out before the job started,
 * the job is dropped unrun; a job already running runs to its end and its
 * result is dropped (use mt_submit_object when the result is an object). */
mt_status mt_submit(mt_work fn, void* arg, int64_t timeout_ns, void** result);
/* mt_submit_object — as mt_submit, for a job whose argument and result are
 * owned: `arg_dispose` (may be NULL) is called once with arg after fn ran,
 * or when the job is dropped unrun; the result is an object of result_type,
 * one reference handed to the caller, or released when the caller is gone
 * (aborted or timed out while the job ran). Both may happen on a worker OS
 * thread. */
mt_status mt_submit_object(mt_work fn, void* arg, void (*arg_dispose)(void* arg), const mt_type* result_type,
                           int64_t timeout_ns, void** result);

/* ---- select over pipes ---------------------------------------------------------------------- */

typedef struct mt_select_case {
    mt_pipe* pipe;          /* NULL, or enabled == 0: never chosen (Go's nil channel) */
    int enabled;
    int is_put;
    void* value;            /* put: the value; one reference moves in only if this case is chosen */
    const mt_type* type;    /* put: its type; get: the type of what was got */
    void* got;              /* get: what was got (one reference for the caller), NULL at end-of-stream */
    int end;                /* get: 1 when the chosen get found end-of-stream */
} mt_select_case;

/* mt_select — one of the enabled cases happens (uniformly at random among
 * those ready at once; otherwise the first to become possible): MT_OK and
 * *chosen. MT_TIMEOUT when the deadline passes first; MT_FAILED when the
 * chosen get's pipe was closed with an error; MT_EXIT when the chosen put's
 * pipe is closed (its value stays with the caller). With no enabled case it
 * waits for its deadline (or an abort). */
mt_status mt_select(mt_select_case* cases, size_t n, int64_t timeout_ns, size_t* chosen);

/* ---- the synchronization toolbox (docs/reference/locks.md, sync.md, queue.md) -------------- */
/* Each primitive belongs to the engine of the OS thread that first uses it;
 * freeing one while micro-threads wait on it ends their waits with MT_USAGE. */

typedef struct mt_mutex mt_mutex;
/* mt_mutex_new — a mutex (recursive != 0: the holder may lock it again,
 * unlocking as often). FIFO: an unlock hands it to the first waiter. */
mt_mutex* mt_mutex_new(int recursive, const char* name);
void mt_mutex_free(mt_mutex* m);
/* mt_mutex_lock — MT_OK holding it, MT_TIMEOUT, MT_DEADLOCK when the wait
 * would close a cycle of micro-threads waiting for each other's locks (or a
 * non-recursive mutex is locked twice), MT_EXIT when aborted meanwhile. */
mt_status mt_mutex_lock(mt_mutex* m, int64_t timeout_ns);
mt_status mt_mutex_try_lock(mt_mutex* m);  /* MT_OK or MT_WOULD_BLOCK */
/* mt_mutex_unlock — MT_USAGE when the caller does not hold it. */
mt_status mt_mutex_unlock(mt_mutex* m);
/* mt_mutex_locked — 1 if someone holds it, 0 if not, -1 on error. */
int mt_mutex_locked(mt_mutex* m);

typedef struct mt_condition mt_condition;
mt_condition* mt_condition_new(const char* name);
void mt_condition_free(mt_condition* c);
/* mt_condition_wait — releases m (a non-recursive mt_mutex the caller
 * holds), waits for a notify, and holds m again when it returns, whatever
 * the status: MT_OK, MT_TIMEOUT, MT_EXIT (aborted). */
mt_status mt_condition_wait(mt_condition* c, mt_mutex* m, int64_t timeout_ns);
/* mt_condition_notify — wakes the first waiter (all != 0: every waiter). */
mt_status mt_condition_notify(mt_condition* c, int all);

typedef struct mt_semaphore mt_semaphore;
/* mt_semaphore_new — a counting semaphore; bounded: releases past `initial`
 * are refused (MT_USAGE). NULL on failure. */
mt_semaphore* mt_semaphore_new(ptrdiff_t initial, int bounded, const char* name);
void mt_semaphore_free(mt_semaphore* s);
mt_status mt_semaphore_acquire(mt_semaphore* s, int64_t timeout_ns);
/* mt_semaphore_try_acquire — MT_OK or MT_WOULD_BLOCK, never suspends. */
mt_status mt_semaphore_try_acquire(mt_semaphore* s);
mt_status mt_semaphore_release(mt_semaphore* s, ptrdiff_t n);
/* mt_semaphore_available — free permits, or -1 on error. */
ptrdiff_t mt_semaphore_available(mt_semaphore* s);

typedef struct mt_event mt_event;
mt_event* mt_event_new(const char* name);
void mt_event_free(mt_event* e);
mt_status mt_event_set(mt_event* e);
mt_status mt_event_clear(mt_event* e);
/* mt_event_is_set — 1, 0, or -1 on error. */
int mt_event_is_set(mt_event* e);
mt_status mt_event_wait(mt_event* e, int64_t timeout_ns);

typedef struct mt_barrier mt_barrier;
mt_barrier* mt_barrier_new(ptrdiff_t parties, const char* name);
void mt_barrier_free(mt_barrier* b);
/* mt_barrier_wait — MT_OK and *index (0 .. parties-1); a barrier broken by
 * a timeout or an abort fails every waiter (MT_FAILED, message says so) until
 * mt_barrier_reset. */
mt_status mt_barrier_wait(mt_barrier* b, int64_t timeout_ns, size_t* index);
mt_status mt_barrier_reset(mt_barrier* b);

typedef struct mt_queue mt_queue;
/* mt_queue_new — a queue of the caller's objects holding up to `capacity`
 * (0: unbuffered, a rendezvous); lifo != 0: last in, first out. */
mt_queue* mt_queue_new(size_t capacity, int lifo, const char* name);
void mt_queue_free(mt_queue* q);
/* As the pipe functions: put moves one reference in on MT_OK only. */
mt_status mt_queue_put(mt_queue* q, void* value, const mt_type* type, int64_t timeout_ns);
mt_status mt_queue_get(mt_queue* q, int64_t timeout_ns, void** value, const mt_type** type);
mt_status mt_queue_try_put(mt_queue* q, void* value, const mt_type* type);
mt_status mt_queue_try_get(mt_queue* q, void** value, const mt_type** type);
mt_status mt_queue_close(mt_queue* q);
mt_status mt_queue_close_error(mt_queue* q, void* error, const mt_type* type, const char* message);
/* mt_queue_size — values held, or -1 on error. */
ptrdiff_t mt_queue_size(mt_queue* q);

/* ---- hooks for an embedder (docs/embedding.md) ----------------------------------------------- */

/* mt_switch_hook — called on every switch, before the switch: `from` and
 * `to` are the state blocks of the micro-threads left and entered (the
 * root's block for the root). An interpreter saves its per-thread state into
 * from_state and restores to_state's. Must not call the API. A micro-thread
 * aborted before it started is still entered once (its body does not run;
 * its arg_dispose does): what the hook sets up on a first entry must be let
 * go of there too, not only at the end of a body. */
typedef void (*mt_switch_hook)(void* user, void* from_state, void* to_state);
mt_status mt_set_switch_hook(mt_engine* e, mt_switch_hook hook, void* user);

/* mt_block_hook — called just before and just after the engine blocks
 * waiting for events (an interpreter releases and retakes its lock). */
typedef void (*mt_block_hook)(void* user);
mt_status mt_set_block_hooks(mt_engine* e, mt_block_hook before, mt_block_hook after, void* user);

/* mt_unhandled_hook — receives the failure of a micro-thread nobody will join
 * (every handle was released, before or after it failed): its info, its error
 * object (borrowed: retain it to keep it; NULL when the failure was a C++
 * exception) with its type, and its message. Called on the engine's OS
 * thread, on the ending micro-thread's stack or where its last handle is
 * released; must not suspend. */
typedef void (*mt_unhandled_hook)(void* user, const mt_info* info, void* error, const mt_type* type,
                                  const char* message);
/* mt_set_unhandled_hook — replaces the engine's handler (NULL: the default,
 * which prints the micro-thread's id, name and message to stderr). */
mt_status mt_set_unhandled_hook(mt_engine* e, mt_unhandled_hook hook, void* user);

#ifdef __cplusplus
}
#endif

#endif /* MICROTHREADING_H */
