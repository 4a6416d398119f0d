/* tests/c/test_capi.c — the C API driven from C (compiled as C11): every
 * entry point, the objects it hands over counted, its errors named.
 *
 * Each test runs in a child process (a crash costs one test) inside a fresh
 * engine; the summary line has the form doctest prints, so ./test.sh counts
 * it the same way. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/microthreading.h"

/* ---- a tiny harness -------------------------------------------------------------------- */

static int failures;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: CHECK(%s) failed (last error: %s: %s)\n", __FILE__, \
                    __LINE__, #cond, mt_status_name(mt_last_error_kind()),            \
                    mt_last_error_message());                                         \
            ++failures;                                                              \
        }                                                                            \
    } while (0)

#define CHECK_STATUS(expr, want) CHECK((expr) == (want))
#define MS(n) ((int64_t)(n) * 1000000)

/* ---- a counted object, as an interpreter's would be ------------------------------------ */

typedef struct counted {
    int refs;
    int value;
} counted;

static int live_objects;

static counted* counted_new(int value) {
    counted* c = malloc(sizeof *c);
    c->refs = 1;
    c->value = value;
    ++live_objects;
    return c;
}
static void counted_retain(void* p) { ++((counted*)p)->refs; }
static void counted_release(void* p) {
    counted* c = p;
    if (--c->refs == 0) {
        --live_objects;
        free(c);
    }
}
static const mt_type counted_type = {counted_retain, counted_release};

/* run_main — runs fn as the main micro-thread of a fresh engine and returns
 * the loop's status. */
static mt_status run_main(mt_func fn, void* arg) {
    mt_engine* e = mt_engine_new(NULL);
    CHECK(e != NULL);
    mt_spawn_options o;
    mt_spawn_options_init(&o);
    o.name = "main";
    mt_thread* t = mt_spawn(&o, fn, arg);
    CHECK(t != NULL);
    mt_status s = mt_engine_loop(e);
    if (s == MT_OK) s = mt_thread_result(t, NULL);
    mt_thread_release(t);
    mt_engine_free(e);
    return s;
}

/* ---- micro-threads ---------------------------------------------------------------------- */

static mt_status returns_object(void* arg, void** result) {
    *result = counted_new((int)(intptr_t)arg);
    return MT_OK;
}

static mt_status fails_with_object(void* arg, void** result) {
    (void)arg;
    (void)result;
    counted* err = counted_new(99);
    mt_set_error(err, &counted_type, "it failed on purpose");
    return MT_FAILED;
}

static mt_status sleeps_forever(void* arg, void** result) {
    (void)arg;
    (void)result;
    mt_status s = mt_sleep(MS(60000));
    CHECK(s == MT_EXIT);
    return s; /* unwinds as MicroThreadExit */
}

/* sleeps_until_interrupted — its sleep ends with the error object mt_interrupt gave. */
static mt_status sleeps_until_interrupted(void* arg, void** result) {
    (void)arg;
    CHECK_STATUS(mt_sleep(MS(60000)), MT_FAILED);
    CHECK(strstr(mt_last_error_message(), "wake up") != NULL);
    void* err = NULL;
    const mt_type* type = NULL;
    CHECK_STATUS(mt_take_error(&err, &type), MT_OK);
    CHECK(type == &counted_type && err != NULL && ((counted*)err)->value == 3);
    counted_release(err);
    CHECK_STATUS(mt_sleep(MS(1)), MT_OK); /* once: the next wait is not interrupted */
    *result = (void*)1;
    return MT_OK;
}

static mt_status test_interrupt(void* arg, void** result) {
    (void)arg;
    (void)result;
    mt_thread* t = mt_spawn(NULL, sleeps_until_interrupted, NULL);
    CHECK_STATUS(mt_yield(), MT_OK); /* it sleeps now */
    CHECK_STATUS(mt_interrupt(t, counted_new(3), &counted_type, "wake up"), MT_OK);
    void* r = NULL;
    CHECK_STATUS(mt_join(t, MT_FOREVER, &r), MT_OK);
    CHECK(r == (void*)1);
    /* an ended micro-thread: the error is released, nothing happens */
    CHECK_STATUS(mt_interrupt(t, counted_new(4), &counted_type, "too late"), MT_OK);
    mt_thread_release(t);
    /* the caller itself: raised at its next suspension */
    mt_thread* me = mt_current_thread();
    CHECK_STATUS(mt_interrupt(me, counted_new(5), &counted_type, "self"), MT_OK);
    CHECK_STATUS(mt_yield(), MT_FAILED);
    void* err = NULL;
    const mt_type* type = NULL;
    CHECK_STATUS(mt_take_error(&err, &type), MT_OK);
    CHECK(err != NULL && ((counted*)err)->value == 5);
    counted_release(err);
    mt_thread_release(me);
    CHECK_STATUS(mt_interrupt(NULL, counted_new(6), &counted_type, "no one"), MT_USAGE); /* taken even so */
    return MT_OK;
}

static mt_status test_spawn_join(void* arg, void** result) {
    (void)arg;
    (void)result;
    mt_spawn_options o;
    mt_spawn_options_init(&o);
    o.name = "worker";
    o.result_type = &counted_type;
    mt_thread* t = mt_spawn(&o, returns_object, (void*)(intptr_t)7);
    CHECK(t != NULL);
    mt_info info;
    CHECK_STATUS(mt_thread_info(t, &info), MT_OK);
    CHECK(strcmp(info.name, "worker") == 0);
    void* r = NULL;
    CHECK_STATUS(mt_join(t, MT_FOREVER, &r), MT_OK);
    CHECK(r != NULL && ((counted*)r)->value == 7);
    void* again = NULL;
    CHECK_STATUS(mt_join(t, MT_FOREVER, &again), MT_OK); /* a new reference each time */
    CHECK(again == r);
    counted_release(r);
    counted_release(again);
    mt_thread_release(t);

    /* a failure carries its error object to the joiner */
    mt_thread* f = mt_spawn(NULL, fails_with_object, NULL);
    CHECK_STATUS(mt_join(f, MT_FOREVER, NULL), MT_FAILED);
    CHECK(strstr(mt_last_error_message(), "it failed on purpose") != NULL);
    void* err = NULL;
    const mt_type* type = NULL;
    CHECK_STATUS(mt_take_error(&err, &type), MT_OK);
    CHECK(type == &counted_type && err != NULL && ((counted*)err)->value == 99);
    counted_release(err);
    mt_thread_release(f);

    /* join with a deadline; abort; aborted */
    mt_thread* s = mt_spawn(NULL, sleeps_forever, NULL);
    CHECK_STATUS(mt_join(s, MS(5), NULL), MT_TIMEOUT);
    CHECK(strstr(mt_last_error_message(), "timed out after 0.005 s") != NULL);
    CHECK_STATUS(mt_abort(s), MT_OK);
    CHECK_STATUS(mt_join(s, MT_FOREVER, NULL), MT_ABORTED);
    mt_thread_release(s);

    /* joining yourself; negative timeouts */
    mt_thread* me = mt_current_thread();
    CHECK(me != NULL);
    CHECK_STATUS(mt_join(me, MT_FOREVER, NULL), MT_USAGE);
    CHECK(strstr(mt_last_error_message(), "joining yourself") != NULL);
    CHECK_STATUS(mt_join(me, -5, NULL), MT_USAGE);
    mt_thread_release(me);
    return MT_OK;
}

static mt_status aborts_itself(void* arg, void** result) {
    (void)arg;
    (void)result;
    mt_thread* me = mt_current_thread();
    mt_status s = mt_abort(me);
    mt_thread_release(me);
    CHECK(s == MT_EXIT);
    CHECK(mt_yield() == MT_EXIT); /* sticky */
    return MT_EXIT;
}

static mt_status test_abort_self(void* arg, void** result) {
    (void)arg;
    (void)result;
    mt_thread* t = mt_spawn(NULL, aborts_itself, NULL);
    CHECK_STATUS(mt_join(t, MT_FOREVER, NULL), MT_ABORTED);
    mt_thread_release(t);
    return MT_OK;
}

static int order[8];
static int order_len;

static mt_status records(void* arg, void** result) {
    (void)result;
    for (int i = 0; i < 2; ++i) {
        order[order_len++] = (int)(intptr_t)arg;
        CHECK_STATUS(mt_yield(), MT_OK);
    }
    return MT_OK;
}

static mt_status test_yield_order(void* arg, void** result) {
    (void)arg;
    (void)result;
    mt_thread* a = mt_spawn(NULL, records, (void*)1);
    mt_thread* b = mt_spawn(NULL, records, (void*)2);
    CHECK_STATUS(mt_join(a, MT_FOREVER, NULL), MT_OK);
    CHECK_STATUS(mt_join(b, MT_FOREVER, NULL), MT_OK);
    CHECK(order_len == 4 && order[0] == 1 && order[1] == 2 && order[2] == 1 && order[3] == 2);
    mt_thread_release(a);
    mt_thread_release(b);
    char* d = mt_dump();
    CHECK(d != NULL && strstr(d, "'main' running") != NULL);
    mt_free(d);
    mt_info info;
    CHECK_STATUS(mt_current(&info), MT_OK);
    CHECK(info.id == 1 && strcmp(info.name, "main") == 0 && info.state == 2);
    return MT_OK;
}

/* ---- the deferred and its callback queue -------------------------------------------------- */

static char trail[64];

static mt_status cont(void* value, void* state, void** out) {
    strcat(trail, (const char*)state);
    *out = (void*)((intptr_t)value + 1);
    return MT_OK;
}

static mt_status fires(void* arg, void** result) {
    (void)result;
    CHECK_STATUS(mt_deferred_callback((mt_thread*)arg, (void*)10), MT_OK);
    return MT_OK;
}

static int disposed;
static void count_dispose(void* state) {
    (void)state;
    ++disposed;
}

static mt_status failing_cont(void* value, void* state, void** out) {
    (void)value;
    (void)state;
    (void)out;
    mt_set_error(NULL, NULL, "a callback failed");
    return MT_FAILED;
}

static mt_status test_deferred(void* arg, void** result) {
    (void)arg;
    (void)result;
    void* v = NULL;
    CHECK_STATUS(mt_deferred_wait(MT_FOREVER, &v), MT_USAGE); /* nothing armed it */
    CHECK_STATUS(mt_deferred_arm(), MT_OK);
    CHECK_STATUS(mt_deferred_push("D'", cont, "D", NULL), MT_OK);
    CHECK_STATUS(mt_deferred_push("C'", cont, "C", NULL), MT_OK);
    CHECK_STATUS(mt_deferred_push("B'", cont, "B", NULL), MT_OK);
    CHECK_STATUS(mt_deferred_push("A'", cont, "A", NULL), MT_OK);
    mt_thread* me = mt_current_thread();
    mt_thread* firer = mt_spawn(NULL, fires, me);
    CHECK_STATUS(mt_deferred_wait(MT_FOREVER, &v), MT_OK);
    CHECK((intptr_t)v == 14);
    CHECK(strcmp(trail, "DCBA") == 0);
    CHECK_STATUS(mt_join(firer, MT_FOREVER, NULL), MT_OK);
    mt_thread_release(firer);

    /* a failing callback discards the rest (disposed), and wait fails */
    CHECK_STATUS(mt_deferred_arm(), MT_OK);
    CHECK_STATUS(mt_deferred_push("bad", failing_cont, NULL, count_dispose), MT_OK);
    CHECK_STATUS(mt_deferred_push("never", cont, "X", count_dispose), MT_OK);
    CHECK_STATUS(mt_deferred_callback(NULL, NULL), MT_OK);
    CHECK_STATUS(mt_deferred_wait(MT_FOREVER, &v), MT_FAILED);
    CHECK(strstr(mt_last_error_message(), "a callback failed") != NULL);
    CHECK(disposed == 1);

    /* errback with an object; a timed-out wait keeps it armed; cancel */
    CHECK_STATUS(mt_deferred_arm(), MT_OK);
    CHECK_STATUS(mt_deferred_wait(MS(2), &v), MT_TIMEOUT);
    CHECK_STATUS(mt_deferred_errback(me, counted_new(5), &counted_type, "bad news"), MT_OK);
    CHECK_STATUS(mt_deferred_wait(MT_FOREVER, &v), MT_FAILED);
    void* err = NULL;
    const mt_type* type = NULL;
    CHECK_STATUS(mt_take_error(&err, &type), MT_OK);
    CHECK(err && ((counted*)err)->value == 5);
    counted_release(err);
    CHECK_STATUS(mt_deferred_callback(NULL, NULL), MT_USAGE); /* nobody armed it */
    CHECK_STATUS(mt_deferred_arm(), MT_OK);
    CHECK_STATUS(mt_deferred_cancel(), MT_OK);
    mt_thread_release(me);
    return MT_OK;
}

/* ---- pipes --------------------------------------------------------------------------------- */

static mt_status producer(void* arg, void** result) {
    (void)result;
    mt_pipe* p = arg;
    for (int i = 1; i <= 3; ++i) {
        counted* c = counted_new(i);
        mt_status s = mt_pipe_put(p, c, &counted_type, MT_FOREVER);
        if (s != MT_OK) {
            counted_release(c); /* not delivered: still ours */
            return s;
        }
    }
    return mt_pipe_close(p);
}

static mt_status stage_doubler(void* arg, void** result) {
    (void)arg;
    (void)result;
    mt_pipe* in = mt_stdin();
    mt_pipe* out = mt_stdout();
    CHECK(in != NULL && out != NULL);
    void* v;
    const mt_type* t;
    mt_status s;
    while ((s = mt_pipe_get(in, MT_FOREVER, &v, &t)) == MT_OK) {
        ((counted*)v)->value *= 2;
        s = mt_pipe_put(out, v, t, MT_FOREVER);
        if (s != MT_OK) {
            counted_release(v);
            break;
        }
    }
    mt_pipe_release(in);
    mt_pipe_release(out);
    return s == MT_END ? MT_OK : s;
}

static mt_status test_pipes(void* arg, void** result) {
    (void)arg;
    (void)result;
    mt_pipe* p = mt_pipe_new("numbers");
    mt_thread* prod = mt_spawn(NULL, producer, p);
    int sum = 0;
    void* v;
    const mt_type* t;
    mt_status s;
    while ((s = mt_pipe_get(p, MT_FOREVER, &v, &t)) == MT_OK) {
        CHECK(t == &counted_type);
        sum += ((counted*)v)->value;
        counted_release(v);
    }
    CHECK(s == MT_END);
    CHECK(sum == 6);
    CHECK(mt_pipe_closed(p) == 1);
    CHECK_STATUS(mt_join(prod, MT_FOREVER, NULL), MT_OK);
    mt_thread_release(prod);
    mt_pipe_release(p);

    /* timeouts, try forms, close with an error, close_reader releases the slot */
    mt_pipe* q = mt_pipe_new("q");
    CHECK_STATUS(mt_pipe_get(q, MS(2), &v, &t), MT_TIMEOUT);
    CHECK_STATUS(mt_pipe_try_get(q, &v, &t), MT_WOULD_BLOCK);
    counted* one = counted_new(1);
    CHECK_STATUS(mt_pipe_try_put(q, one, &counted_type), MT_OK);
    counted* two = counted_new(2);
    CHECK_STATUS(mt_pipe_try_put(q, two, &counted_type), MT_WOULD_BLOCK); /* still ours */
    CHECK_STATUS(mt_pipe_put(q, two, &counted_type, MS(2)), MT_TIMEOUT);   /* still ours */
    counted_release(two);
    CHECK_STATUS(mt_pipe_close_reader(q), MT_OK); /* releases `one` in the slot */
    CHECK(live_objects == 0);
    counted* three = counted_new(3);
    CHECK_STATUS(mt_pipe_put(q, three, &counted_type, MT_FOREVER), MT_EXIT); /* closed: still ours */
    counted_release(three);
    mt_pipe_release(q);

    mt_pipe* r = mt_pipe_new("r");
    CHECK_STATUS(mt_pipe_close_error(r, counted_new(42), &counted_type, "producer failed"), MT_OK);
    CHECK_STATUS(mt_pipe_get(r, MT_FOREVER, &v, &t), MT_FAILED);
    void* err;
    const mt_type* et;
    CHECK_STATUS(mt_take_error(&err, &et), MT_OK);
    CHECK(err && ((counted*)err)->value == 42);
    counted_release(err);
    mt_pipe_release(r);

    /* stdin/stdout attachment: a stage between two pipes */
    mt_pipe* in = mt_pipe_new("in");
    mt_pipe* out = mt_pipe_new("out");
    mt_spawn_options o;
    mt_spawn_options_init(&o);
    o.name = "doubler";
    o.stdin_pipe = in;
    o.stdout_pipe = out;
    mt_thread* stage = mt_spawn(&o, stage_doubler, NULL);
    mt_thread* feed = mt_spawn(NULL, producer, in);
    sum = 0;
    while ((s = mt_pipe_get(out, MT_FOREVER, &v, &t)) == MT_OK) {
        sum += ((counted*)v)->value;
        counted_release(v);
    }
    CHECK(s == MT_END); /* the stage ended: its stdout closed */
    CHECK(sum == 12);
    CHECK_STATUS(mt_join(stage, MT_FOREVER, NULL), MT_OK);
    CHECK_STATUS(mt_join(feed, MT_FOREVER, NULL), MT_OK);
    mt_thread_release(stage);
    mt_thread_release(feed);
    mt_pipe_release(in);
    mt_pipe_release(out);
    CHECK(mt_stdin() == NULL);
    CHECK(live_objects == 0);
    return MT_OK;
}

/* ---- the outside world -------------------------------------------------------------------- */

static mt_status work_double(void* arg, void** result) {
    *result = (void*)((intptr_t)arg * 2);
    return MT_OK;
}

static mt_status work_fails(void* arg, void** result) {
    (void)arg;
    (void)result;
    mt_set_error(counted_new(13), &counted_type, "the job failed");
    return MT_FAILED;
}

static mt_status test_outside_world(void* arg, void** result) {
    (void)arg;
    (void)result;
    int sp[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sp) == 0);
    CHECK_STATUS(mt_wait_fd(sp[0], 0, MS(2)), MT_TIMEOUT);
    CHECK_STATUS(mt_wait_fd(sp[0], 1, MT_FOREVER), MT_OK);
    CHECK(write(sp[1], "x", 1) == 1);
    CHECK_STATUS(mt_wait_fd(sp[0], 0, MT_FOREVER), MT_OK);
    CHECK(mt_close_fd(sp[0]) == 0);
    CHECK(mt_close_fd(sp[1]) == 0);
    CHECK_STATUS(mt_wait_fd(sp[0], 0, MT_FOREVER), MT_SYSTEM);
    CHECK(mt_last_errno() == EBADF);

    CHECK_STATUS(mt_sleep(MS(1)), MT_OK);
    CHECK_STATUS(mt_sleep(-1), MT_USAGE);
    CHECK_STATUS(mt_wait_signal(SIGUSR1, MS(1)), MT_TIMEOUT);

    pid_t pid = fork();
    if (pid == 0) _exit(3);
    int status = 0;
    CHECK_STATUS(mt_wait_child(pid, MT_FOREVER, &status), MT_OK);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 3);

    void* r = NULL;
    CHECK_STATUS(mt_submit(work_double, (void*)21, MT_FOREVER, &r), MT_OK);
    CHECK((intptr_t)r == 42);
    CHECK_STATUS(mt_submit(work_fails, NULL, MT_FOREVER, &r), MT_FAILED);
    void* err;
    const mt_type* et;
    CHECK_STATUS(mt_take_error(&err, &et), MT_OK);
    CHECK(err && ((counted*)err)->value == 13);
    counted_release(err);
    CHECK(live_objects == 0);
    return MT_OK;
}

/* ---- embedding: state blocks, hooks, the host loop ------------------------------------------ */

typedef struct py_like_state {
    int owner;  /* set by its micro-thread */
    int entered;
} py_like_state;

static int switches;

static void on_switch(void* user, void* from, void* to) {
    (void)user;
    (void)from;
    ++((py_like_state*)to)->entered;
    ++switches;
}

static int blocked_before, blocked_after;
static void before(void* u) {
    (void)u;
    ++blocked_before;
}
static void after(void* u) {
    (void)u;
    ++blocked_after;
}

static mt_status state_owner(void* arg, void** result) {
    (void)result;
    py_like_state* s = mt_state();
    CHECK(s != NULL && s->owner == 0);
    s->owner = (int)(intptr_t)arg;
    CHECK_STATUS(mt_sleep(MS(2)), MT_OK);
    CHECK(((py_like_state*)mt_state())->owner == (int)(intptr_t)arg);
    CHECK(((py_like_state*)mt_state())->entered >= 2);
    return MT_OK;
}

static int test_embedding(void) {
    mt_engine_options eo;
    mt_engine_options_init(&eo);
    eo.state_size = sizeof(py_like_state);
    mt_engine* e = mt_engine_new(&eo);
    CHECK(mt_engine_new(&eo) == NULL); /* one engine per OS thread */
    CHECK(mt_last_error_kind() == MT_USAGE);
    CHECK_STATUS(mt_set_switch_hook(e, on_switch, NULL), MT_OK);
    CHECK_STATUS(mt_set_block_hooks(e, before, after, NULL), MT_OK);
    mt_thread* a = mt_spawn(NULL, state_owner, (void*)1);
    mt_thread* b = mt_spawn(NULL, state_owner, (void*)2);
    CHECK(mt_thread_state(a) != mt_thread_state(b));
    /* a host loop: run_once, then poll the notifier's fd for its timeout */
    int alive = 1, rounds = 0;
    while (alive) {
        CHECK_STATUS(mt_engine_run_once(e, &alive), MT_OK);
        if (!alive) break;
        struct pollfd pfd = {mt_notifier_fd(e), POLLIN, 0};
        const int timeout = mt_notifier_timeout_ms(e);
        CHECK(timeout >= 0 && timeout <= 3);
        poll(&pfd, 1, timeout);
        if (++rounds > 1000) break;
    }
    CHECK(switches >= 4);
    CHECK(((py_like_state*)mt_thread_state(a))->owner == 1);
    CHECK_STATUS(mt_thread_result(a, NULL), MT_OK);
    CHECK_STATUS(mt_join(a, 0, NULL), MT_USAGE); /* joining is for micro-threads */
    mt_thread_release(a);
    mt_thread_release(b);
    CHECK_STATUS(mt_sleep(1), MT_USAGE); /* outside a micro-thread */
    CHECK(strstr(mt_last_error_message(), "outside a micro-thread") != NULL);
    mt_engine_free(e);
    CHECK_STATUS(mt_yield(), MT_USAGE); /* no engine */
    return 0;
}

static mt_status deadlocked(void* arg, void** result) {
    (void)arg;
    (void)result;
    mt_pipe* p = mt_pipe_new("never written");
    void* v;
    const mt_type* t;
    mt_status s = mt_pipe_get(p, MT_FOREVER, &v, &t);
    mt_pipe_release(p);
    return s;
}

static int test_deadlock(void) {
    mt_status s = run_main(deadlocked, NULL);
    CHECK(s == MT_DEADLOCK);
    CHECK(strstr(mt_last_error_message(), "#1 'main' waits to get from pipe 'never written'") != NULL);
    return 0;
}

static int test_misuse(void) {
    CHECK_STATUS(mt_join(NULL, MT_FOREVER, NULL), MT_USAGE);
    CHECK_STATUS(mt_pipe_put(NULL, NULL, NULL, 0), MT_USAGE);
    CHECK(mt_pipe_closed(NULL) == -1);
    void* o;
    const mt_type* t;
    CHECK_STATUS(mt_take_error(&o, &t), MT_USAGE);
    CHECK(strstr(mt_last_error_message(), "mt_take_error: the last call did not fail with MT_FAILED") != NULL);
    CHECK_STATUS(mt_pipe_put(NULL, NULL, NULL, 0), MT_USAGE);
    CHECK_STATUS(mt_take_error(NULL, NULL), MT_USAGE); /* says so itself, not the last call's message */
    CHECK(strcmp(mt_last_error_message(), "mt_take_error with a NULL obj or type") == 0);
    CHECK(mt_last_error_kind() == MT_USAGE);
    CHECK(mt_version() == MT_VERSION_NUMBER);
    CHECK(strcmp(mt_status_name(MT_TIMEOUT), "MT_TIMEOUT") == 0);
    return 0;
}

/* ---- additions of 0.3: main, the unhandled hook, handles past their engine, typed work ---- */

static int test_handle_outlives_engine(void) {
    mt_engine* e = mt_engine_new(NULL);
    mt_spawn_options o;
    mt_spawn_options_init(&o);
    o.result_type = &counted_type;
    mt_thread* t = mt_spawn(&o, returns_object, (void*)(intptr_t)3);
    CHECK_STATUS(mt_engine_loop(e), MT_OK);
    mt_engine_free(e);
    CHECK(live_objects == 1); /* the result, kept for the handle */
    CHECK_STATUS(mt_thread_result(t, NULL), MT_USAGE);
    CHECK(strstr(mt_last_error_message(), "whose engine has ended") != NULL);
    CHECK_STATUS(mt_abort(t), MT_USAGE);
    mt_thread_retain(t);
    mt_thread_release(t);
    mt_thread_release(t); /* the last reference frees it and its result */
    CHECK(live_objects == 0);

    /* a new engine (maybe at the same address) does not adopt old handles */
    e = mt_engine_new(NULL);
    mt_thread* u = mt_spawn(&o, returns_object, (void*)(intptr_t)4);
    CHECK_STATUS(mt_engine_loop(e), MT_OK);
    mt_engine_free(e);
    e = mt_engine_new(NULL);
    CHECK_STATUS(mt_thread_result(u, NULL), MT_USAGE);
    mt_thread_release(u);
    mt_engine_free(e);
    CHECK(live_objects == 0);
    return 0;
}

static mt_status kills_me(void* arg, void** result) {
    (void)arg;
    (void)result;
    CHECK_STATUS(mt_sleep(MS(5)), MT_OK);
    kill(getpid(), SIGINT);
    return MT_OK;
}

static mt_status main_sleeps(void* arg, void** result) {
    (void)arg;
    (void)result;
    mt_thread* k = mt_spawn(NULL, kills_me, NULL);
    mt_status s = mt_sleep(MS(60000));
    CHECK(s == MT_INTERRUPTED);
    CHECK(strstr(mt_last_error_message(), "SIGINT") != NULL);
    CHECK_STATUS(mt_join(k, MT_FOREVER, NULL), MT_OK);
    mt_thread_release(k);
    return MT_OK;
}

static int test_set_main(void) {
    mt_engine* e = mt_engine_new(NULL);
    mt_thread* m = mt_spawn(NULL, main_sleeps, NULL);
    CHECK_STATUS(mt_set_main(e, m), MT_OK);
    CHECK_STATUS(mt_set_main(NULL, m), MT_USAGE);
    CHECK_STATUS(mt_engine_loop(e), MT_OK);
    CHECK_STATUS(mt_thread_result(m, NULL), MT_OK);
    CHECK_STATUS(mt_set_main(e, m), MT_USAGE); /* it has ended */
    mt_thread_release(m);
    mt_engine_free(e);
    return 0;
}

static volatile sig_atomic_t host_sigints;
static void host_sigint_handler(int signo) {
    (void)signo;
    host_sigints = host_sigints + 1;
}

static mt_status main_kills_itself(void* arg, void** result) {
    (void)arg;
    (void)result;
    CHECK_STATUS(mt_sleep(MS(1)), MT_OK); /* the notifier runs */
    kill(getpid(), SIGINT);
    CHECK_STATUS(mt_sleep(MS(20)), MT_OK); /* not interrupted: SIGINT is the host's */
    CHECK(host_sigints == 1);
    return MT_OK;
}

static int test_ctrl_c_off(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = host_sigint_handler;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    mt_engine_options o;
    mt_engine_options_init(&o);
    CHECK(o.ctrl_c == 1);
    o.ctrl_c = 0;
    mt_engine* e = mt_engine_new(&o);
    mt_thread* m = mt_spawn(NULL, main_kills_itself, NULL);
    CHECK_STATUS(mt_set_main(e, m), MT_OK);
    CHECK_STATUS(mt_engine_loop(e), MT_OK);
    CHECK_STATUS(mt_thread_result(m, NULL), MT_OK);
    mt_thread_release(m);
    mt_engine_free(e);
    struct sigaction now;
    sigaction(SIGINT, NULL, &now);
    CHECK(now.sa_handler == host_sigint_handler);
    return 0;
}

static int unhandled_calls;
static void on_unhandled(void* user, const mt_info* info, void* error, const mt_type* type, const char* message) {
    CHECK(user == (void*)&unhandled_calls);
    CHECK(strcmp(info->name, "doomed") == 0 && info->id >= 1);
    CHECK(type == &counted_type && error && ((counted*)error)->value == 99);
    CHECK(strstr(message, "it failed on purpose") != NULL);
    ++unhandled_calls;
}

static int test_unhandled_hook(void) {
    mt_engine* e = mt_engine_new(NULL);
    CHECK_STATUS(mt_set_unhandled_hook(e, on_unhandled, &unhandled_calls), MT_OK);
    mt_spawn_options o;
    mt_spawn_options_init(&o);
    o.name = "doomed";
    mt_thread_release(mt_spawn(&o, fails_with_object, NULL)); /* forgotten before it fails */
    mt_thread* t = mt_spawn(&o, fails_with_object, NULL);    /* released after it failed */
    CHECK_STATUS(mt_engine_loop(e), MT_OK);
    CHECK(unhandled_calls == 1);
    mt_thread_release(t);
    CHECK(unhandled_calls == 2);
    mt_engine_free(e);
    CHECK(live_objects == 0);
    return 0;
}

static int disposed_args;
static uint64_t disposed_in; /* the id of the micro-thread the last dispose_arg ran in */

static void dispose_arg(void* arg) {
    mt_info me;
    disposed_in = mt_current(&me) == MT_OK ? me.id : (uint64_t)-1;
    counted_release(arg);
    ++disposed_args;
}

static mt_status work_reads_arg(void* arg, void** result) {
    *result = counted_new(((counted*)arg)->value);
    return MT_OK;
}

static mt_status slow_object(void* arg, void** result) {
    usleep((useconds_t)(intptr_t)arg);
    *result = counted_new(8);
    return MT_OK;
}

static mt_status submits_then_is_aborted(void* arg, void** result) {
    (void)arg;
    (void)result;
    void* r = NULL;
    return mt_submit_object(slow_object, (void*)(intptr_t)50000, NULL, &counted_type, MT_FOREVER, &r);
}

/* ---- wake-ups from other OS threads ---------------------------------------------------- */

typedef struct {
    mt_remote* token;
    int delay_ms;
    void* value;
} remote_job;

static void* fire_later(void* arg) {
    remote_job* j = arg;
    usleep((useconds_t)j->delay_ms * 1000);
    CHECK_STATUS(mt_remote_callback(j->token, j->value), MT_OK);
    CHECK_STATUS(mt_remote_callback(j->token, j->value), MT_USAGE); /* once */
    mt_remote_release(j->token);
    return NULL;
}

static pthread_t fire_from_thread(mt_remote* token, int delay_ms, void* value, remote_job* j) {
    j->token = token;
    j->delay_ms = delay_ms;
    j->value = value;
    mt_remote_retain(token); /* the thread's reference */
    pthread_t th;
    CHECK(pthread_create(&th, NULL, fire_later, j) == 0);
    return th;
}

static mt_status test_remote(void* arg, void** result) {
    (void)arg;
    (void)result;
    void* v = NULL;
    remote_job j;
    /* another OS thread fires the deferred */
    mt_remote* r = mt_remote_arm();
    CHECK(r != NULL);
    CHECK(mt_remote_arm() == NULL); /* armed already */
    CHECK(mt_last_error_kind() == MT_USAGE);
    pthread_t th = fire_from_thread(r, 20, (void*)42, &j);
    CHECK_STATUS(mt_deferred_wait(MS(10000), &v), MT_OK);
    CHECK(v == (void*)42);
    mt_remote_release(r);
    pthread_join(th, NULL);

    /* a fire from the engine's own thread withdraws the token: its later fire is dropped */
    r = mt_remote_arm();
    th = fire_from_thread(r, 20, (void*)1, &j);
    CHECK_STATUS(mt_deferred_callback(NULL, (void*)2), MT_OK);
    CHECK_STATUS(mt_deferred_wait(MT_FOREVER, &v), MT_OK);
    CHECK(v == (void*)2);
    mt_remote_release(r);
    pthread_join(th, NULL);
    CHECK_STATUS(mt_sleep(MS(20)), MT_OK); /* the dropped wake-up comes and goes */
    CHECK_STATUS(mt_deferred_wait(MS(1), &v), MT_USAGE); /* nothing armed it again */

    /* a timed-out wait cancelled: the late fire finds nothing */
    r = mt_remote_arm();
    CHECK_STATUS(mt_deferred_wait(MS(1), &v), MT_TIMEOUT);
    CHECK_STATUS(mt_deferred_cancel(), MT_OK);
    th = fire_from_thread(r, 1, (void*)3, &j);
    mt_remote_release(r);
    pthread_join(th, NULL);
    CHECK_STATUS(mt_sleep(MS(20)), MT_OK);
    CHECK_STATUS(mt_deferred_arm(), MT_OK); /* idle: it can be armed again */
    CHECK_STATUS(mt_deferred_cancel(), MT_OK);

    /* misuse */
    CHECK_STATUS(mt_remote_callback(NULL, NULL), MT_USAGE);
    mt_remote_release(NULL);
    return MT_OK;
}

static int test_remote_outside(void) {
    CHECK(mt_remote_arm() == NULL); /* no engine */
    CHECK(mt_last_error_kind() == MT_USAGE);
    return 0;
}

static mt_status test_submit_object(void* arg, void** result) {
    (void)arg;
    (void)result;
    void* r = NULL;
    CHECK_STATUS(mt_submit_object(slow_object, (void*)0, NULL, &counted_type, MT_FOREVER, &r), MT_OK);
    CHECK(r && ((counted*)r)->value == 8);
    counted_release(r);
    /* the caller is aborted while the job runs: the result is released */
    mt_thread* t = mt_spawn(NULL, submits_then_is_aborted, NULL);
    CHECK_STATUS(mt_sleep(MS(10)), MT_OK);
    CHECK_STATUS(mt_abort(t), MT_OK);
    CHECK_STATUS(mt_join(t, MT_FOREVER, NULL), MT_ABORTED);
    mt_thread_release(t);
    for (int i = 0; i < 200 && live_objects > 0; ++i) mt_sleep(MS(5));
    CHECK(live_objects == 0);
    CHECK_STATUS(mt_submit_object(NULL, counted_new(1), dispose_arg, &counted_type, MT_FOREVER, &r), MT_USAGE);
    CHECK(disposed_args == 1); /* never posted: disposed of at once */
    /* the argument is disposed of after the job ran */
    CHECK_STATUS(mt_submit_object(work_reads_arg, counted_new(6), dispose_arg, &counted_type, MT_FOREVER, &r), MT_OK);
    for (int i = 0; i < 200 && disposed_args < 2; ++i) mt_sleep(MS(5));
    CHECK(disposed_args == 2);
    counted_release(r);
    return MT_OK;
}

static mt_status reads_arg(void* arg, void** result) {
    (void)result;
    CHECK(((counted*)arg)->value == 6);
    return MT_OK;
}

static mt_status test_arg_dispose(void* arg, void** result) {
    (void)arg;
    (void)result;
    mt_spawn_options o;
    mt_spawn_options_init(&o);
    o.arg_dispose = dispose_arg;
    disposed_args = 0;
    mt_thread* ran = mt_spawn(&o, reads_arg, counted_new(6));
    mt_thread* never = mt_spawn(&o, reads_arg, counted_new(6));
    mt_info never_info;
    CHECK_STATUS(mt_thread_info(never, &never_info), MT_OK);
    CHECK_STATUS(mt_abort(never), MT_OK); /* before it started: its body never runs */
    CHECK_STATUS(mt_join(ran, MT_FOREVER, NULL), MT_OK);
    CHECK_STATUS(mt_join(never, MT_FOREVER, NULL), MT_ABORTED);
    /* both in their own micro-threads as they ended: ran's as its body
     * returned, never's unrun, though its handle still keeps the block */
    CHECK(disposed_args == 2);
    CHECK(disposed_in == never_info.id);
    mt_thread_release(ran);
    mt_thread_release(never);
    CHECK(disposed_args == 2);
    mt_thread_release(mt_spawn(&o, reads_arg, counted_new(6)));
    CHECK_STATUS(mt_yield(), MT_OK);
    CHECK(disposed_args == 3);
    CHECK(live_objects == 0);
    return MT_OK;
}

/* a spawn that fails leaves its argument with the caller: arg_dispose is
 * not called (here: no engine on this OS thread) */
static int test_failed_spawn_keeps_arg(void) {
    mt_spawn_options o;
    mt_spawn_options_init(&o);
    o.arg_dispose = dispose_arg;
    disposed_args = 0;
    counted* c = counted_new(6);
    CHECK(mt_spawn(&o, reads_arg, c) == NULL);
    CHECK(mt_last_error_kind() == MT_USAGE);
    CHECK(disposed_args == 0);
    counted_release(c);
    return 0;
}

/* an fd closed with close(2) after its waits ended (an interpreter's socket
 * objects do that) leaves nothing behind: its number, reused, is waited on
 * afresh, and libev never meets the closed fd */
static mt_status test_fd_closed_behind_the_engine(void* arg, void** result) {
    (void)arg;
    (void)result;
    for (int round = 0; round < 20; ++round) {
        int sp[2];
        CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sp) == 0);
        CHECK_STATUS(mt_wait_fd(sp[0], 1, MT_FOREVER), MT_OK); /* its write direction */
        CHECK(write(sp[1], "x", 1) == 1);
        /* the poll that ends this wait also sees it writable, with nobody waiting for that */
        CHECK_STATUS(mt_wait_fd(sp[0], 0, MT_FOREVER), MT_OK);
        close(sp[0]); /* behind the engine's back, before its next poll */
        CHECK_STATUS(mt_wait_fd(sp[1], 0, MS(100)), MT_OK); /* polls: the peer closed */
        close(sp[1]);
        CHECK_STATUS(mt_sleep(MS(1)), MT_OK);
        int again[2];
        CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, again) == 0); /* the same numbers */
        CHECK(write(again[1], "z", 1) == 1);
        CHECK_STATUS(mt_wait_fd(again[0], 0, MS(2000)), MT_OK); /* watched afresh: no hang */
        CHECK_STATUS(mt_wait_fd(again[0], 1, MS(2000)), MT_OK);
        close(again[0]);
        close(again[1]);
    }
    return MT_OK;
}

/* ---- select and the toolbox -------------------------------------------------------------------- */

static mt_status puts_later(void* arg, void** result) {
    (void)result;
    CHECK_STATUS(mt_sleep(MS(2)), MT_OK);
    counted* c = counted_new(5);
    mt_status s = mt_pipe_put((mt_pipe*)arg, c, &counted_type, MT_FOREVER);
    if (s != MT_OK) counted_release(c);
    return s;
}

static mt_status test_select(void* arg, void** result) {
    (void)arg;
    (void)result;
    mt_pipe* a = mt_pipe_new("a");
    mt_pipe* b = mt_pipe_new("b");
    mt_select_case cases[3];
    memset(cases, 0, sizeof cases);
    cases[0].pipe = a;
    cases[0].enabled = 1;
    cases[1].pipe = b;
    cases[1].enabled = 1;
    cases[2].pipe = NULL; /* disabled: a nil channel */
    size_t chosen = 99;
    CHECK_STATUS(mt_select(cases, SIZE_MAX, MS(2), &chosen), MT_USAGE); /* a bad count, not a big select */
    CHECK(strstr(mt_last_error_message(), "mt_select with 18446744073709551615 cases: more than any array") != NULL);
    CHECK_STATUS(mt_select(cases, 3, MS(2), &chosen), MT_TIMEOUT);
    CHECK(strstr(mt_last_error_message(), "mt_select in micro-thread #1 'main' timed out after 0.002 s waiting for one of 3 cases") != NULL);

    mt_thread* w = mt_spawn(NULL, puts_later, b);
    CHECK_STATUS(mt_select(cases, 3, MT_FOREVER, &chosen), MT_OK);
    CHECK(chosen == 1 && cases[1].got && ((counted*)cases[1].got)->value == 5 && cases[1].type == &counted_type);
    counted_release(cases[1].got);
    CHECK_STATUS(mt_join(w, MT_FOREVER, NULL), MT_OK);
    mt_thread_release(w);

    /* a put case: moves its value only if chosen; a closed pipe's put is MT_EXIT */
    mt_select_case put[2];
    memset(put, 0, sizeof put);
    counted* v = counted_new(8);
    put[0].pipe = a;
    put[0].enabled = 1;
    put[0].is_put = 1;
    put[0].value = v;
    put[0].type = &counted_type;
    CHECK_STATUS(mt_select(put, 1, MT_FOREVER, &chosen), MT_OK); /* the slot was free */
    void* got;
    const mt_type* t;
    CHECK_STATUS(mt_pipe_get(a, MT_FOREVER, &got, &t), MT_OK);
    CHECK(got == v);
    counted_release(got);
    CHECK_STATUS(mt_pipe_close(b), MT_OK);
    counted* w2 = counted_new(9);
    put[0].pipe = b;
    put[0].value = w2;
    CHECK_STATUS(mt_select(put, 1, MT_FOREVER, &chosen), MT_EXIT);
    counted_release(w2); /* still ours */
    /* a get at end-of-stream */
    CHECK_STATUS(mt_select(cases + 1, 1, MT_FOREVER, &chosen), MT_OK);
    CHECK(cases[1].end == 1 && cases[1].got == NULL);
    mt_pipe_release(a);
    mt_pipe_release(b);
    return MT_OK;
}

static mt_status releases_later(void* arg, void** result) {
    (void)result;
    CHECK_STATUS(mt_sleep(MS(1)), MT_OK);
    return mt_semaphore_release((mt_semaphore*)arg, 1);
}

static mt_status arrives(void* arg, void** result) {
    size_t index = 99;
    mt_status s = mt_barrier_wait((mt_barrier*)arg, MT_FOREVER, &index);
    *result = (void*)index;
    return s;
}

static mt_status test_toolbox(void* arg, void** result) {
    (void)arg;
    (void)result;
    mt_semaphore* s = mt_semaphore_new(1, 1, "downloads");
    CHECK_STATUS(mt_semaphore_acquire(s, MT_FOREVER), MT_OK);
    CHECK_STATUS(mt_semaphore_try_acquire(s), MT_WOULD_BLOCK);
    CHECK_STATUS(mt_semaphore_acquire(s, MS(1)), MT_TIMEOUT);
    CHECK(strstr(mt_last_error_message(), "semaphore 'downloads'") != NULL);
    mt_thread* r = mt_spawn(NULL, releases_later, s);
    CHECK_STATUS(mt_semaphore_acquire(s, MT_FOREVER), MT_OK);
    CHECK_STATUS(mt_join(r, MT_FOREVER, NULL), MT_OK);
    mt_thread_release(r);
    CHECK_STATUS(mt_semaphore_release(s, 1), MT_OK);
    CHECK_STATUS(mt_semaphore_release(s, 1), MT_USAGE); /* bounded: past its start value */
    CHECK(mt_semaphore_available(s) == 1);
    mt_semaphore_free(s);

    mt_event* e = mt_event_new("start");
    CHECK(mt_event_is_set(e) == 0);
    CHECK_STATUS(mt_event_wait(e, MS(1)), MT_TIMEOUT);
    CHECK_STATUS(mt_event_set(e), MT_OK);
    CHECK_STATUS(mt_event_wait(e, MT_FOREVER), MT_OK);
    CHECK(mt_event_is_set(e) == 1);
    mt_event_free(e);

    mt_barrier* b = mt_barrier_new(3, "phase");
    mt_thread* x = mt_spawn(NULL, arrives, b);
    mt_thread* y = mt_spawn(NULL, arrives, b);
    size_t index = 99;
    CHECK_STATUS(mt_barrier_wait(b, MT_FOREVER, &index), MT_OK);
    CHECK(index < 3); /* its place in the order of arrival */
    CHECK_STATUS(mt_join(x, MT_FOREVER, NULL), MT_OK);
    CHECK_STATUS(mt_join(y, MT_FOREVER, NULL), MT_OK);
    mt_thread_release(x);
    mt_thread_release(y);
    mt_barrier_free(b);

    mt_queue* q = mt_queue_new(2, 0, "jobs");
    mt_queue* l = mt_queue_new(2, 1, "stack");
    for (int i = 1; i <= 2; ++i) {
        CHECK_STATUS(mt_queue_put(q, counted_new(i), &counted_type, MT_FOREVER), MT_OK);
        CHECK_STATUS(mt_queue_put(l, counted_new(i), &counted_type, MT_FOREVER), MT_OK);
    }
    CHECK(mt_queue_size(q) == 2);
    counted* extra = counted_new(3);
    CHECK_STATUS(mt_queue_try_put(q, extra, &counted_type), MT_WOULD_BLOCK);
    CHECK_STATUS(mt_queue_put(q, extra, &counted_type, MS(1)), MT_TIMEOUT);
    counted_release(extra);
    void* v;
    const mt_type* t;
    CHECK_STATUS(mt_queue_get(q, MT_FOREVER, &v, &t), MT_OK);
    CHECK(((counted*)v)->value == 1); /* FIFO */
    counted_release(v);
    CHECK_STATUS(mt_queue_get(l, MT_FOREVER, &v, &t), MT_OK);
    CHECK(((counted*)v)->value == 2); /* LIFO */
    counted_release(v);
    CHECK_STATUS(mt_queue_close_error(q, counted_new(77), &counted_type, "no more jobs"), MT_OK);
    CHECK_STATUS(mt_queue_get(q, MT_FOREVER, &v, &t), MT_OK); /* what is left, then the error */
    counted_release(v);
    CHECK_STATUS(mt_queue_get(q, MT_FOREVER, &v, &t), MT_FAILED);
    void* err;
    const mt_type* et;
    CHECK_STATUS(mt_take_error(&err, &et), MT_OK);
    CHECK(err && ((counted*)err)->value == 77);
    counted_release(err);
    CHECK_STATUS(mt_queue_close(l), MT_OK);
    CHECK_STATUS(mt_queue_try_get(l, &v, &t), MT_OK);
    counted_release(v);
    CHECK_STATUS(mt_queue_try_get(l, &v, &t), MT_END);
    mt_queue_free(q);
    mt_queue_free(l);
    CHECK(live_objects == 0);
    return MT_OK;
}


static mt_mutex* shared_m;
static mt_condition* shared_c;
static int flag;

static mt_status holds_a_while(void* arg, void** result) {
    (void)arg;
    (void)result;
    CHECK_STATUS(mt_mutex_lock(shared_m, MT_FOREVER), MT_OK);
    CHECK_STATUS(mt_sleep(MS(2)), MT_OK);
    flag = 1;
    CHECK_STATUS(mt_condition_notify(shared_c, 1), MT_OK);
    return mt_mutex_unlock(shared_m);
}

static mt_status test_locks(void* arg, void** result) {
    (void)arg;
    (void)result;
    shared_m = mt_mutex_new(0, "accounts");
    shared_c = mt_condition_new("changed");
    CHECK_STATUS(mt_mutex_unlock(shared_m), MT_USAGE); /* not held */
    CHECK_STATUS(mt_mutex_lock(shared_m, MT_FOREVER), MT_OK);
    CHECK(mt_mutex_locked(shared_m) == 1);
    CHECK_STATUS(mt_mutex_lock(shared_m, MT_FOREVER), MT_DEADLOCK); /* locked twice: a cycle of one */
    CHECK_STATUS(mt_mutex_unlock(shared_m), MT_OK);

    mt_thread* h = mt_spawn(NULL, holds_a_while, NULL);
    CHECK_STATUS(mt_yield(), MT_OK); /* h holds it now */
    CHECK_STATUS(mt_mutex_try_lock(shared_m), MT_WOULD_BLOCK);
    CHECK_STATUS(mt_mutex_lock(shared_m, MS(1)), MT_TIMEOUT);
    CHECK_STATUS(mt_mutex_lock(shared_m, MT_FOREVER), MT_OK);
    while (!flag) CHECK_STATUS(mt_condition_wait(shared_c, shared_m, MT_FOREVER), MT_OK);
    CHECK_STATUS(mt_condition_wait(shared_c, shared_m, MS(1)), MT_TIMEOUT);
    CHECK(mt_mutex_locked(shared_m) == 1); /* held again after the timeout */
    CHECK_STATUS(mt_mutex_unlock(shared_m), MT_OK);
    CHECK_STATUS(mt_join(h, MT_FOREVER, NULL), MT_OK);
    mt_thread_release(h);

    mt_mutex* r = mt_mutex_new(1, "re-entrant");
    CHECK_STATUS(mt_mutex_lock(r, MT_FOREVER), MT_OK);
    CHECK_STATUS(mt_mutex_lock(r, MT_FOREVER), MT_OK);
    CHECK_STATUS(mt_mutex_unlock(r), MT_OK);
    CHECK(mt_mutex_locked(r) == 1);
    CHECK_STATUS(mt_mutex_unlock(r), MT_OK);
    CHECK(mt_mutex_locked(r) == 0);
    CHECK_STATUS(mt_condition_wait(shared_c, r, MS(1)), MT_USAGE);
    mt_mutex_free(r);
    mt_condition_free(shared_c);
    mt_mutex_free(shared_m);
    return MT_OK;
}

/* ---- the runner ------------------------------------------------------------------------------ */

typedef struct test_case {
    const char* name;
    mt_func in_engine; /* run as main of a fresh engine, or */
    int (*plain)(void);
} test_case;

/* ---- mt_set_error belongs to the micro-thread that set it -------------------------------- */

/* sets_error_then_sleeps — sets its error, suspends while another sets and
 * returns its own, then fails with the one it set. */
static mt_status sets_error_then_sleeps(void* arg, void** result) {
    (void)result;
    mt_set_error(counted_new((int)(intptr_t)arg), &counted_type, "the sleeper's own error");
    CHECK_STATUS(mt_sleep(MS(20)), MT_OK);
    return MT_FAILED;
}

/* sets_error_then_succeeds — sets an error, then returns MT_OK: it is dropped. */
static mt_status sets_error_then_succeeds(void* arg, void** result) {
    (void)arg;
    mt_set_error(counted_new(5), &counted_type, "set, then not returned");
    *result = NULL;
    return MT_OK;
}

/* fails_without_set_error — MT_FAILED with no mt_set_error of its own. */
static mt_status fails_without_set_error(void* arg, void** result) {
    (void)arg;
    (void)result;
    return MT_FAILED;
}

static int joined_error_value(mt_thread* t) {
    void* err = NULL;
    const mt_type* type = NULL;
    if (mt_join(t, MT_FOREVER, NULL) != MT_FAILED) return -1;
    if (mt_take_error(&err, &type) != MT_OK || !err) return -2;
    const int v = ((counted*)err)->value;
    counted_release(err);
    return v;
}

static mt_status test_set_error_per_micro_thread(void* arg, void** result) {
    (void)arg;
    (void)result;
    /* two set their errors, suspend, and each fails with its own */
    mt_thread* a = mt_spawn(NULL, sets_error_then_sleeps, (void*)(intptr_t)1);
    mt_thread* b = mt_spawn(NULL, sets_error_then_sleeps, (void*)(intptr_t)2);
    CHECK(joined_error_value(b) == 2);
    CHECK(joined_error_value(a) == 1);
    mt_thread_release(a);
    mt_thread_release(b);

    /* an error set and then not returned is dropped: it neither leaks nor
     * reaches a later MT_FAILED without mt_set_error, which is MT_USAGE */
    mt_thread* ok = mt_spawn(NULL, sets_error_then_succeeds, NULL);
    CHECK_STATUS(mt_join(ok, MT_FOREVER, NULL), MT_OK);
    mt_thread_release(ok);
    CHECK(live_objects == 0);
    mt_thread* bad = mt_spawn(NULL, fails_without_set_error, NULL);
    CHECK_STATUS(mt_join(bad, MT_FOREVER, NULL), MT_USAGE);
    CHECK(strstr(mt_last_error_message(), "without mt_set_error") != NULL);
    mt_thread_release(bad);
    return MT_OK;
}

static const test_case tests[] = {
    {"spawn, join with results and errors as objects, join timeout, abort", test_spawn_join, NULL},
    {"a micro-thread that aborts itself gets MT_EXIT, sticky", test_abort_self, NULL},
    {"yield alternates; current, dump", test_yield_order, NULL},
    {"the deferred: callback queue, errback objects, timeouts, disposal", test_deferred, NULL},
    {"pipes: objects counted, timeouts, try forms, close with an error, stdin/stdout", test_pipes, NULL},
    {"fd waits, sleep, signals, children, the worker pool", test_outside_world, NULL},
    {"select over pipes: timeouts, waits, put cases, closed pipes, end-of-stream", test_select, NULL},
    {"the toolbox: semaphores, events, barriers, queues of objects", test_toolbox, NULL},
    {"mutexes (plain and recursive) and conditions: timeouts, cycles, misuse", test_locks, NULL},
    {"embedding: state blocks, switch and block hooks, a host loop", NULL, test_embedding},
    {"mt_interrupt raises an error object once in a micro-thread's wait", test_interrupt, NULL},
    {"a deadlock is MT_DEADLOCK with the chain", NULL, test_deadlock},
    {"misuse is MT_USAGE, never a crash", NULL, test_misuse},
    {"a handle outlives its engine: MT_USAGE, and its release frees it", NULL, test_handle_outlives_engine},
    {"mt_set_main: Ctrl-C is MT_INTERRUPTED in main", NULL, test_set_main},
    {"mt_engine_options.ctrl_c off: SIGINT stays with the host's handler", NULL, test_ctrl_c_off},
    {"the unhandled hook gets an unjoined failure's object", NULL, test_unhandled_hook},
    {"mt_submit_object: a dropped result is released", test_submit_object, NULL},
    {"mt_remote: another OS thread fires a deferred once; a late or withdrawn fire is dropped", test_remote, NULL},
    {"mt_remote_arm outside a micro-thread is MT_USAGE", NULL, test_remote_outside},
    {"arg_dispose: the argument is disposed of, run or not", test_arg_dispose, NULL},
    {"a spawn that fails leaves its argument with the caller", NULL, test_failed_spawn_keeps_arg},
    {"an fd closed with close(2) after its waits leaves no watcher behind", test_fd_closed_behind_the_engine, NULL},
    {"mt_set_error belongs to its micro-thread, and is dropped unless MT_FAILED follows",
     test_set_error_per_micro_thread, NULL},
};

int main(void) {
    const int n = (int)(sizeof tests / sizeof tests[0]);
    int passed = 0, failed = 0;
    for (int i = 0; i < n; ++i) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            failures = 0;
            if (tests[i].in_engine) {
                mt_status s = run_main(tests[i].in_engine, NULL);
                CHECK(s == MT_OK);
            } else {
                tests[i].plain();
            }
            CHECK(live_objects == 0);
            _exit(failures ? 1 : 0);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        const int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        printf("%s %s\n", ok ? "ok  " : "FAIL", tests[i].name);
        if (!ok && WIFSIGNALED(status)) printf("     (killed by signal %d)\n", WTERMSIG(status));
        ok ? ++passed : ++failed;
    }
    printf("[doctest] test cases: %d | %d passed | %d failed | 0 skipped\n", n, passed, failed);
    return failed ? 1 : 0;
}
