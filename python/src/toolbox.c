/* python/src/toolbox.c — the synchronization toolbox (docs/design/sync.md) for
 * Python, over the C API's primitives: Semaphore (and a bounded one), Event,
 * Barrier, Queue. Each suspends only the calling micro-thread, is FIFO-fair,
 * takes a timeout on every wait (Timeout), raises MicroThreadExit when its
 * waiter is aborted, and belongs to the engine of the run that first uses it
 * (a use from another run is UsageError). A primitive's Python object owns
 * it: it is freed with the object, which nobody can be waiting on then (a
 * waiter holds a reference to it while it waits).
 *
 * Mutex (recursive too) and Condition complete it: a lock wait that would
 * close a cycle of micro-threads waiting for each other's locks raises
 * DeadlockError at once, naming the cycle. */
#include "mtpy.h"

static PyObject* status_or_none(mt_status s) {
    if (s != MT_OK) return mtpy_raise_status(s);
    Py_RETURN_NONE;
}

static int parse_timeout(PyObject* args, PyObject* kwargs, const char* fmt, int64_t* ns, const char* op) {
    static char* kw[] = {"timeout", NULL};
    PyObject* timeout = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, fmt, kw, &timeout)) return -1;
    if (mtpy_timeout_ns(timeout, ns) < 0) return -1;
    return mtpy_require_engine(op) ? 0 : -1;
}

static const char* name_arg(PyObject* name) {
    if (!name || name == Py_None) return "";
    if (!PyUnicode_Check(name)) {
        PyErr_SetString(PyExc_TypeError, "a name is a str");
        return NULL;
    }
    return PyUnicode_AsUTF8(name);
}

/* ---- Semaphore ------------------------------------------------------------------------------------ */

typedef struct {
    PyObject_HEAD
    mt_semaphore* s;
} SemaphoreObject;

static PyObject* sem_new(PyTypeObject* type, PyObject* args, PyObject* kwargs) {
    static char* kw[] = {"value", "bounded", "name", NULL};
    Py_ssize_t value = 1;
    int bounded = 0;
    PyObject* name = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|npO:Semaphore", kw, &value, &bounded, &name)) return NULL;
    const char* n = name_arg(name);
    if (!n) return NULL;
    if (value < 0) {
        PyErr_SetString(PyExc_ValueError, "a semaphore's initial value must be >= 0");
        return NULL;
    }
    SemaphoreObject* self = (SemaphoreObject*)type->tp_alloc(type, 0);
    if (!self) return NULL;
    self->s = mt_semaphore_new(value, bounded, n);
    if (!self->s) {
        Py_DECREF(self);
        return mtpy_raise_status(mt_last_error_kind());
    }
    return (PyObject*)self;
}

static void sem_dealloc(SemaphoreObject* self) {
    if (self->s) mt_semaphore_free(self->s);
    Py_TYPE(self)->tp_free((PyObject*)self);
}

static PyObject* sem_acquire(SemaphoreObject* self, PyObject* args, PyObject* kwargs) {
    int64_t ns;
    if (parse_timeout(args, kwargs, "|O:acquire", &ns, "Semaphore.acquire") < 0) return NULL;
    return status_or_none(mt_semaphore_acquire(self->s, ns));
}

static PyObject* sem_try_acquire(SemaphoreObject* self, PyObject* unused) {
    (void)unused;
    mt_status s = mt_semaphore_try_acquire(self->s);
    if (s == MT_OK) Py_RETURN_TRUE;
    if (s == MT_WOULD_BLOCK) Py_RETURN_FALSE;
    return mtpy_raise_status(s);
}

static PyObject* sem_release(SemaphoreObject* self, PyObject* args) {
    Py_ssize_t n = 1;
    if (!PyArg_ParseTuple(args, "|n:release", &n)) return NULL;
    return status_or_none(mt_semaphore_release(self->s, n));
}

static PyObject* sem_enter(SemaphoreObject* self, PyObject* unused) {
    (void)unused;
    if (!mtpy_require_engine("Semaphore.__enter__")) return NULL;
    mt_status s = mt_semaphore_acquire(self->s, MT_FOREVER);
    if (s != MT_OK) return mtpy_raise_status(s);
    return Py_NewRef(self);
}

static PyObject* sem_exit(SemaphoreObject* self, PyObject* args) {
    (void)args;
    return status_or_none(mt_semaphore_release(self->s, 1));
}

static PyObject* sem_available(SemaphoreObject* self, void* c) {
    (void)c;
    ptrdiff_t n = mt_semaphore_available(self->s);
    if (n < 0) return mtpy_raise_status(mt_last_error_kind());
    return PyLong_FromSsize_t(n);
}

static PyMethodDef sem_methods[] = {
    {"acquire", (PyCFunction)(void (*)(void))sem_acquire, METH_VARARGS | METH_KEYWORDS,
     "acquire(timeout=None): takes a permit, waiting (first come, first served) for one."},
    {"try_acquire", (PyCFunction)sem_try_acquire, METH_NOARGS, "try_acquire() -> True if a permit was taken; never waits."},
    {"release", (PyCFunction)sem_release, METH_VARARGS,
     "release(n=1): gives permits back (UsageError past the initial value of a bounded one)."},
    {"__enter__", (PyCFunction)sem_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)sem_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef sem_getset[] = {
    {"available", (getter)sem_available, NULL, "free permits", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject SemaphoreType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "micro_threading.Semaphore",
    .tp_basicsize = sizeof(SemaphoreObject),
    .tp_dealloc = (destructor)sem_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Semaphore(value=1, bounded=False, name=None): a counting semaphore of micro-threads;\n"
              "a context manager (acquire/release).",
    .tp_methods = sem_methods,
    .tp_getset = sem_getset,
    .tp_new = sem_new,
};

/* ---- Event ------------------------------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    mt_event* e;
} EventObject;

static PyObject* event_new(PyTypeObject* type, PyObject* args, PyObject* kwargs) {
    static char* kw[] = {"name", NULL};
    PyObject* name = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|O:Event", kw, &name)) return NULL;
    const char* n = name_arg(name);
    if (!n) return NULL;
    EventObject* self = (EventObject*)type->tp_alloc(type, 0);
    if (!self) return NULL;
    self->e = mt_event_new(n);
    if (!self->e) {
        Py_DECREF(self);
        return mtpy_raise_status(mt_last_error_kind());
    }
    return (PyObject*)self;
}

static void event_dealloc(EventObject* self) {
    if (self->e) mt_event_free(self->e);
    Py_TYPE(self)->tp_free((PyObject*)self);
}

static PyObject* event_set(EventObject* self, PyObject* u) {
    (void)u;
    return status_or_none(mt_event_set(self->e));
}

static PyObject* event_clear(EventObject* self, PyObject* u) {
    (void)u;
    return status_or_none(mt_event_clear(self->e));
}

static PyObject* event_is_set(EventObject* self, PyObject* u) {
    (void)u;
    int r = mt_event_is_set(self->e);
    if (r < 0) return mtpy_raise_status(mt_last_error_kind());
    return PyBool_FromLong(r);
}

static PyObject* event_wait(EventObject* self, PyObject* args, PyObject* kwargs) {
    int64_t ns;
    if (parse_timeout(args, kwargs, "|O:wait", &ns, "Event.wait") < 0) return NULL;
    return status_or_none(mt_event_wait(self->e, ns));
}

static PyMethodDef event_methods[] = {
    {"set", (PyCFunction)event_set, METH_NOARGS, "set(): wakes every waiter; later waits return at once."},
    {"clear", (PyCFunction)event_clear, METH_NOARGS, "clear(): later waits wait again."},
    {"is_set", (PyCFunction)event_is_set, METH_NOARGS, "is_set() -> bool"},
    {"wait", (PyCFunction)(void (*)(void))event_wait, METH_VARARGS | METH_KEYWORDS,
     "wait(timeout=None): until it is set (Timeout when the timeout passes first)."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject EventType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "micro_threading.Event",
    .tp_basicsize = sizeof(EventObject),
    .tp_dealloc = (destructor)event_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Event(name=None): a flag micro-threads wait for.",
    .tp_methods = event_methods,
    .tp_new = event_new,
};

/* ---- Barrier -------------------------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    mt_barrier* b;
} BarrierObject;

static PyObject* barrier_new(PyTypeObject* type, PyObject* args, PyObject* kwargs) {
    static char* kw[] = {"parties", "name", NULL};
    Py_ssize_t parties;
    PyObject* name = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "n|O:Barrier", kw, &parties, &name)) return NULL;
    const char* n = name_arg(name);
    if (!n) return NULL;
    if (parties < 1) {
        PyErr_SetString(PyExc_ValueError, "a barrier needs at least one party");
        return NULL;
    }
    BarrierObject* self = (BarrierObject*)type->tp_alloc(type, 0);
    if (!self) return NULL;
    self->b = mt_barrier_new(parties, n);
    if (!self->b) {
        Py_DECREF(self);
        return mtpy_raise_status(mt_last_error_kind());
    }
    return (PyObject*)self;
}

static void barrier_dealloc(BarrierObject* self) {
    if (self->b) mt_barrier_free(self->b);
    Py_TYPE(self)->tp_free((PyObject*)self);
}

static PyObject* barrier_wait(BarrierObject* self, PyObject* args, PyObject* kwargs) {
    int64_t ns;
    if (parse_timeout(args, kwargs, "|O:wait", &ns, "Barrier.wait") < 0) return NULL;
    size_t index = 0;
    mt_status s = mt_barrier_wait(self->b, ns, &index);
    if (s != MT_OK) return mtpy_raise_status(s);
    return PyLong_FromSize_t(index);
}

static PyObject* barrier_reset(BarrierObject* self, PyObject* u) {
    (void)u;
    return status_or_none(mt_barrier_reset(self->b));
}

static PyMethodDef barrier_methods[] = {
    {"wait", (PyCFunction)(void (*)(void))barrier_wait, METH_VARARGS | METH_KEYWORDS,
     "wait(timeout=None) -> index (0 .. parties-1): until `parties` micro-threads wait."},
    {"reset", (PyCFunction)barrier_reset, METH_NOARGS, "reset(): breaks the waits under way."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject BarrierType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "micro_threading.Barrier",
    .tp_basicsize = sizeof(BarrierObject),
    .tp_dealloc = (destructor)barrier_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Barrier(parties, name=None): micro-threads wait until `parties` of them do.",
    .tp_methods = barrier_methods,
    .tp_new = barrier_new,
};

/* ---- Queue ---------------------------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    mt_queue* q;
} QueueObject;

static PyObject* queue_new(PyTypeObject* type, PyObject* args, PyObject* kwargs) {
    static char* kw[] = {"capacity", "lifo", "name", NULL};
    Py_ssize_t capacity = 1;
    int lifo = 0;
    PyObject* name = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|npO:Queue", kw, &capacity, &lifo, &name)) return NULL;
    const char* n = name_arg(name);
    if (!n) return NULL;
    if (capacity < 0) {
        PyErr_SetString(PyExc_ValueError, "a queue's capacity must be >= 0");
        return NULL;
    }
    QueueObject* self = (QueueObject*)type->tp_alloc(type, 0);
    if (!self) return NULL;
    self->q = mt_queue_new((size_t)capacity, lifo, n);
    if (!self->q) {
        Py_DECREF(self);
        return mtpy_raise_status(mt_last_error_kind());
    }
    return (PyObject*)self;
}

static void queue_dealloc(QueueObject* self) {
    if (self->q) mt_queue_free(self->q); /* releases what it still holds */
    Py_TYPE(self)->tp_free((PyObject*)self);
}

static PyObject* queue_put(QueueObject* self, PyObject* args, PyObject* kwargs) {
    static char* kw[] = {"value", "timeout", NULL};
    PyObject *value, *timeout = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|O:put", kw, &value, &timeout)) return NULL;
    int64_t ns;
    if (mtpy_timeout_ns(timeout, &ns) < 0 || !mtpy_require_engine("Queue.put")) return NULL;
    Py_INCREF(value);
    mt_status s = mt_queue_put(self->q, value, &mtpy_object_type, ns);
    if (s != MT_OK) Py_DECREF(value); /* not delivered: still ours */
    return status_or_none(s);
}

static PyObject* queue_get_value(QueueObject* self, int64_t ns) {
    void* v = NULL;
    const mt_type* t = NULL;
    mt_status s = mt_queue_get(self->q, ns, &v, &t);
    if (s == MT_OK) return v ? (PyObject*)v : Py_NewRef(Py_None);
    if (s == MT_END) return NULL;
    return mtpy_raise_status(s);
}

static PyObject* queue_get(QueueObject* self, PyObject* args, PyObject* kwargs) {
    static char* kw[] = {"timeout", "default", NULL};
    PyObject *timeout = Py_None, *dflt = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|OO:get", kw, &timeout, &dflt)) return NULL;
    int64_t ns;
    if (mtpy_timeout_ns(timeout, &ns) < 0 || !mtpy_require_engine("Queue.get")) return NULL;
    PyObject* v = queue_get_value(self, ns);
    if (v || PyErr_Occurred()) return v;
    if (dflt) return Py_NewRef(dflt);
    PyErr_SetNone(PyExc_StopIteration);
    return NULL;
}

static PyObject* queue_next(QueueObject* self) {
    if (!mtpy_require_engine("Queue.__next__")) return NULL;
    return queue_get_value(self, MT_FOREVER);
}

static PyObject* queue_try_put(QueueObject* self, PyObject* value) {
    Py_INCREF(value);
    return mtpy_try_put_result(mt_queue_try_put(self->q, value, &mtpy_object_type), value);
}

static PyObject* queue_try_get(QueueObject* self, PyObject* args) {
    PyObject* dflt = Py_None;
    if (!PyArg_ParseTuple(args, "|O:try_get", &dflt)) return NULL;
    void* v = NULL;
    const mt_type* t = NULL;
    mt_status s = mt_queue_try_get(self->q, &v, &t);
    return mtpy_try_get_result(s, v, dflt);
}

static PyObject* queue_close(QueueObject* self, PyObject* args) {
    PyObject* exc = NULL;
    if (!PyArg_ParseTuple(args, "|O:close", &exc)) return NULL;
    if (!exc || exc == Py_None) return status_or_none(mt_queue_close(self->q));
    exc = mtpy_exception_arg(exc, "close(exc)");
    if (!exc) return NULL;
    PyObject* text;
    const char* m = mtpy_error_message(exc, &text, "error");
    mt_status s = mt_queue_close_error(self->q, exc, &mtpy_object_type, m); /* takes exc */
    Py_XDECREF(text);
    return status_or_none(s);
}

static Py_ssize_t queue_len(QueueObject* self) {
    ptrdiff_t n = mt_queue_size(self->q);
    if (n < 0) mtpy_raise_status(mt_last_error_kind());
    return n;
}

static PyMethodDef queue_methods[] = {
    {"put", (PyCFunction)(void (*)(void))queue_put, METH_VARARGS | METH_KEYWORDS,
     "put(value, timeout=None): waits while it is full; MicroThreadExit when closed."},
    {"get", (PyCFunction)(void (*)(void))queue_get, METH_VARARGS | METH_KEYWORDS,
     "get(timeout=None[, default]) -> the next value (FIFO, or LIFO); StopIteration (or default)\n"
     "once closed and empty; the exception it was closed with."},
    {"try_put", (PyCFunction)queue_try_put, METH_O, "try_put(value) -> True if stored; never waits."},
    {"try_get", (PyCFunction)queue_try_get, METH_VARARGS, "try_get(default=None) -> (True, value) or (False, default)."},
    {"close", (PyCFunction)queue_close, METH_VARARGS,
     "close(exc=None): no more puts; what it holds is still got, then end-of-stream (or exc)."},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods queue_as_sequence = {.sq_length = (lenfunc)queue_len};

static PyTypeObject QueueType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "micro_threading.Queue",
    .tp_basicsize = sizeof(QueueObject),
    .tp_dealloc = (destructor)queue_dealloc,
    .tp_as_sequence = &queue_as_sequence,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Queue(capacity=1, lifo=False, name=None): a queue of micro-threads holding up to\n"
              "`capacity` values (0: unbuffered, a put waits for a getter); closable like a pipe;\n"
              "iterating gets until it is closed and empty.",
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)queue_next,
    .tp_methods = queue_methods,
    .tp_new = queue_new,
};

/* ---- Mutex --------------------------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    mt_mutex* m;
    int recursive;
} MutexObject;

static PyObject* mutex_new(PyTypeObject* type, PyObject* args, PyObject* kwargs) {
    static char* kw[] = {"recursive", "name", NULL};
    int recursive = 0;
    PyObject* name = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|pO:Mutex", kw, &recursive, &name)) return NULL;
    const char* n = name_arg(name);
    if (!n) return NULL;
    MutexObject* self = (MutexObject*)type->tp_alloc(type, 0);
    if (!self) return NULL;
    self->recursive = recursive;
    self->m = mt_mutex_new(recursive, n);
    if (!self->m) {
        Py_DECREF(self);
        return mtpy_raise_status(mt_last_error_kind());
    }
    return (PyObject*)self;
}

static void mutex_dealloc(MutexObject* self) {
    if (self->m) mt_mutex_free(self->m);
    Py_TYPE(self)->tp_free((PyObject*)self);
}

static PyObject* mutex_acquire(MutexObject* self, PyObject* args, PyObject* kwargs) {
    int64_t ns;
    if (parse_timeout(args, kwargs, "|O:acquire", &ns, "Mutex.acquire") < 0) return NULL;
    return status_or_none(mt_mutex_lock(self->m, ns));
}

static PyObject* mutex_try_acquire(MutexObject* self, PyObject* u) {
    (void)u;
    mt_status s = mt_mutex_try_lock(self->m);
    if (s == MT_OK) Py_RETURN_TRUE;
    if (s == MT_WOULD_BLOCK) Py_RETURN_FALSE;
    return mtpy_raise_status(s);
}

static PyObject* mutex_release(MutexObject* self, PyObject* u) {
    (void)u;
    return status_or_none(mt_mutex_unlock(self->m));
}

static PyObject* mutex_enter(MutexObject* self, PyObject* u) {
    (void)u;
    if (!mtpy_require_engine("Mutex.__enter__")) return NULL;
    mt_status s = mt_mutex_lock(self->m, MT_FOREVER);
    if (s != MT_OK) return mtpy_raise_status(s);
    return Py_NewRef(self);
}

static PyObject* mutex_exit(MutexObject* self, PyObject* args) {
    (void)args;
    return status_or_none(mt_mutex_unlock(self->m));
}

static PyObject* mutex_locked(MutexObject* self, PyObject* u) {
    (void)u;
    int r = mt_mutex_locked(self->m);
    if (r < 0) return mtpy_raise_status(mt_last_error_kind());
    return PyBool_FromLong(r);
}

static PyMethodDef mutex_methods[] = {
    {"acquire", (PyCFunction)(void (*)(void))mutex_acquire, METH_VARARGS | METH_KEYWORDS,
     "acquire(timeout=None): holds it, waiting first come first served. DeadlockError at once when\n"
     "the wait would close a cycle of lock waits (or a plain mutex is locked twice)."},
    {"try_acquire", (PyCFunction)mutex_try_acquire, METH_NOARGS, "try_acquire() -> True if it is held now; never waits."},
    {"release", (PyCFunction)mutex_release, METH_NOARGS, "release(): UsageError when the caller does not hold it."},
    {"locked", (PyCFunction)mutex_locked, METH_NOARGS, "locked() -> True while someone holds it."},
    {"__enter__", (PyCFunction)mutex_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)mutex_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject MutexType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "micro_threading.Mutex",
    .tp_basicsize = sizeof(MutexObject),
    .tp_dealloc = (destructor)mutex_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Mutex(recursive=False, name=None): a lock of micro-threads (FIFO handoff); a context\n"
              "manager. A micro-thread that ends holding it releases it.",
    .tp_methods = mutex_methods,
    .tp_new = mutex_new,
};

/* ---- Condition -------------------------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    mt_condition* c;
    MutexObject* mutex; /* a reference */
} ConditionObject;

static PyObject* condition_new(PyTypeObject* type, PyObject* args, PyObject* kwargs) {
    static char* kw[] = {"mutex", "name", NULL};
    PyObject* mutex = NULL;
    PyObject* name = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|OO:Condition", kw, &mutex, &name)) return NULL;
    const char* n = name_arg(name);
    if (!n) return NULL;
    if (mutex && mutex != Py_None) {
        if (!PyObject_TypeCheck(mutex, &MutexType) || ((MutexObject*)mutex)->recursive) {
            PyErr_SetString(PyExc_TypeError, "Condition(mutex): a non-recursive micro_threading.Mutex");
            return NULL;
        }
        Py_INCREF(mutex);
    } else {
        mutex = PyObject_CallNoArgs((PyObject*)&MutexType);
        if (!mutex) return NULL;
    }
    ConditionObject* self = (ConditionObject*)type->tp_alloc(type, 0);
    if (!self) {
        Py_DECREF(mutex);
        return NULL;
    }
    self->mutex = (MutexObject*)mutex;
    self->c = mt_condition_new(n);
    if (!self->c) {
        Py_DECREF(self);
        return mtpy_raise_status(mt_last_error_kind());
    }
    return (PyObject*)self;
}

static void condition_dealloc(ConditionObject* self) {
    if (self->c) mt_condition_free(self->c);
    Py_XDECREF(self->mutex);
    Py_TYPE(self)->tp_free((PyObject*)self);
}

static PyObject* condition_wait(ConditionObject* self, PyObject* args, PyObject* kwargs) {
    int64_t ns;
    if (parse_timeout(args, kwargs, "|O:wait", &ns, "Condition.wait") < 0) return NULL;
    return status_or_none(mt_condition_wait(self->c, self->mutex->m, ns));
}

static PyObject* condition_notify(ConditionObject* self, PyObject* u) {
    (void)u;
    return status_or_none(mt_condition_notify(self->c, 0));
}

static PyObject* condition_notify_all(ConditionObject* self, PyObject* u) {
    (void)u;
    return status_or_none(mt_condition_notify(self->c, 1));
}

static PyObject* condition_enter(ConditionObject* self, PyObject* u) {
    PyObject* r = mutex_enter(self->mutex, u);
    if (!r) return NULL;
    Py_DECREF(r);
    return Py_NewRef(self);
}

static PyObject* condition_exit(ConditionObject* self, PyObject* args) { return mutex_exit(self->mutex, args); }

static PyObject* condition_get_mutex(ConditionObject* self, void* c) {
    (void)c;
    return Py_NewRef(self->mutex);
}

static PyMethodDef condition_methods[] = {
    {"wait", (PyCFunction)(void (*)(void))condition_wait, METH_VARARGS | METH_KEYWORDS,
     "wait(timeout=None): releases the mutex (the caller holds it), waits for a notify, and holds\n"
     "the mutex again when it returns or raises (Timeout, MicroThreadExit)."},
    {"notify", (PyCFunction)condition_notify, METH_NOARGS, "notify(): wakes the first waiter."},
    {"notify_all", (PyCFunction)condition_notify_all, METH_NOARGS, "notify_all(): wakes every waiter."},
    {"__enter__", (PyCFunction)condition_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)condition_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef condition_getset[] = {
    {"mutex", (getter)condition_get_mutex, NULL, "its Mutex", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject ConditionType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "micro_threading.Condition",
    .tp_basicsize = sizeof(ConditionObject),
    .tp_dealloc = (destructor)condition_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Condition(mutex=None, name=None): a condition variable over a Mutex (a new one if none);\n"
              "a context manager holding the mutex.",
    .tp_methods = condition_methods,
    .tp_getset = condition_getset,
    .tp_new = condition_new,
};

int mtpy_toolbox_init(PyObject* module) {
    PyTypeObject* types[] = {&SemaphoreType, &EventType, &BarrierType, &QueueType, &MutexType, &ConditionType};
    const char* names[] = {"Semaphore", "Event", "Barrier", "Queue", "Mutex", "Condition"};
    for (int i = 0; i < 6; ++i) {
        if (PyType_Ready(types[i]) < 0) return -1;
        if (PyModule_AddObjectRef(module, names[i], (PyObject*)types[i]) < 0) return -1;
    }
    return 0;
}
