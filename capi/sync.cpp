// capi/sync.cpp — the synchronization toolbox through the C API. Each C
// type is the C++ primitive itself (a queue carries the caller's objects).
#include <memory>
#include <optional>
#include <string>

#include "capi/detail/guard.hpp"
#include "capi/detail/handles.hpp"
#include "core/barrier.hpp"
#include "core/condition_variable.hpp"
#include "core/event.hpp"
#include "core/mutex.hpp"
#include "core/queue.hpp"
#include "core/recursive_mutex.hpp"
#include "core/semaphore.hpp"

using namespace mt::capi;

struct mt_mutex {
    mt_mutex(bool recursive, const char* name) {
        if (recursive) r.emplace(name ? name : "");
        else m.emplace(name ? name : "");
    }
    std::optional<mt::mutex> m;
    std::optional<mt::recursive_mutex> r;
};
struct mt_condition {
    explicit mt_condition(const char* name) : c(name ? name : "") {}
    mt::condition_variable c;
};
struct mt_semaphore {
    explicit mt_semaphore(ptrdiff_t initial, bool bounded_, const char* name) {
        if (bounded_) s = &bounded.emplace(initial, name ? name : "");
        else s = &plain.emplace(initial, name ? name : "");
    }
    std::optional<mt::semaphore> plain;
    std::optional<mt::bounded_semaphore> bounded;
    mt::semaphore* s = nullptr;  // the one in use
};
struct mt_event {
    explicit mt_event(const char* name) : e(name ? name : "") {}
    mt::event e;
};
struct mt_barrier {
    mt_barrier(ptrdiff_t parties, const char* name) : b(parties, name ? name : "") {}
    mt::barrier b;
};
struct mt_queue {
    mt_queue(size_t capacity, bool lifo, const char* name) {
        if (lifo) l = std::make_unique<mt::lifo_queue<c_value>>(capacity, name ? name : "");
        else f = std::make_unique<mt::queue<c_value>>(capacity, name ? name : "");
    }
    template <class F>
    auto with(F&& fn) {
        return f ? fn(*f) : fn(*l);
    }
    std::unique_ptr<mt::queue<c_value>> f;
    std::unique_ptr<mt::lifo_queue<c_value>> l;
};

namespace {

template <class T>
T* made(T*& out, const char* op, auto&& make) {
    guard([&] {
        out = make();
        return MT_OK;
    });
    (void)op;
    return out;
}

template <class T>
T& must(T* p, const char* op) {
    if (!p) throw mt::usage_error(std::string(op) + " with a NULL handle");
    return *p;
}

// hand — a value a get delivered, handed to the C caller.
mt_status hand(std::optional<c_value>& v, void** value, const mt_type** type) {
    if (!v) return MT_END;
    if (type) *type = v->type;
    void* obj = std::exchange(v->obj, nullptr);
    if (value) *value = obj;
    else if (obj && v->type && v->type->release) v->type->release(obj);
    return MT_OK;
}

}  // namespace

extern "C" {

// ---- mutexes and conditions ----------------------------------------------------------------------

mt_mutex* mt_mutex_new(int recursive, const char* name) {
    mt_mutex* out = nullptr;
    return made(out, "mt_mutex_new", [&] { return new mt_mutex(recursive != 0, name); });
}

void mt_mutex_free(mt_mutex* m) { delete m; }

mt_status mt_mutex_lock(mt_mutex* m, int64_t timeout_ns) {
    return guard([&] {
        mt_mutex& mm = must(m, "mt_mutex_lock");
        const mt::deadline d = deadline_of(timeout_ns, "mt_mutex_lock");
        if (mm.m) mm.m->lock(d);
        else mm.r->lock(d);
        return MT_OK;
    });
}

mt_status mt_mutex_try_lock(mt_mutex* m) {
    return guard([&] {
        mt_mutex& mm = must(m, "mt_mutex_try_lock");
        return (mm.m ? mm.m->try_lock() : mm.r->try_lock()) ? MT_OK : MT_WOULD_BLOCK;
    });
}

mt_status mt_mutex_unlock(mt_mutex* m) {
    return guard([&] {
        mt_mutex& mm = must(m, "mt_mutex_unlock");
        if (mm.m) mm.m->unlock();
        else mm.r->unlock();
        return MT_OK;
    });
}

int mt_mutex_locked(mt_mutex* m) {
    if (!m) return -1;
    return (m->m ? m->m->locked() : m->r->locked()) ? 1 : 0;
}

mt_condition* mt_condition_new(const char* name) {
    mt_condition* out = nullptr;
    return made(out, "mt_condition_new", [&] { return new mt_condition(name); });
}

void mt_condition_free(mt_condition* c) { delete c; }

mt_status mt_condition_wait(mt_condition* c, mt_mutex* m, int64_t timeout_ns) {
    return guard([&] {
        mt_condition& cc = must(c, "mt_condition_wait");
        mt_mutex& mm = must(m, "mt_condition_wait");
        if (!mm.m) throw mt::usage_error("mt_condition_wait on a recursive mutex (a condition waits with a plain one)");
        const mt::deadline d = deadline_of(timeout_ns, "mt_condition_wait");
        std::unique_lock<mt::mutex> lk(*mm.m, std::adopt_lock);  // the caller holds it (the wait checks)
        struct keep_held {
            std::unique_lock<mt::mutex>& lk;
            ~keep_held() { lk.release(); }  // the caller's hold stays the caller's
        } keep{lk};
        cc.c.wait(lk, d);
        return MT_OK;
    });
}

mt_status mt_condition_notify(mt_condition* c, int all) {
    return guard([&] {
        mt_condition& cc = must(c, "mt_condition_notify");
        if (all) cc.c.notify_all();
        else cc.c.notify_one();
        return MT_OK;
    });
}

// ---- semaphores ------------------------------------------------------------------------------

mt_semaphore* mt_semaphore_new(ptrdiff_t initial, int bounded, const char* name) {
    mt_semaphore* out = nullptr;
    return made(out, "mt_semaphore_new", [&] { return new mt_semaphore(initial, bounded != 0, name); });
}

void mt_semaphore_free(mt_semaphore* s) { delete s; }

mt_status mt_semaphore_acquire(mt_semaphore* s, int64_t timeout_ns) {
    return guard([&] {
        must(s, "mt_semaphore_acquire").s->acquire(deadline_of(timeout_ns, "mt_semaphore_acquire"));
        return MT_OK;
    });
}

mt_status mt_semaphore_try_acquire(mt_semaphore* s) {
    return guard([&] { return must(s, "mt_semaphore_try_acquire").s->try_acquire() ? MT_OK : MT_WOULD_BLOCK; });
}

mt_status mt_semaphore_release(mt_semaphore* s, ptrdiff_t n) {
    return guard([&] {
        must(s, "mt_semaphore_release").s->release(n);
        return MT_OK;
    });
}

ptrdiff_t mt_semaphore_available(mt_semaphore* s) { return s ? s->s->available() : -1; }

// ---- events ------------------------------------------------------------------------------------

mt_event* mt_event_new(const char* name) {
    mt_event* out = nullptr;
    return made(out, "mt_event_new", [&] { return new mt_event(name); });
}

void mt_event_free(mt_event* e) { delete e; }

mt_status mt_event_set(mt_event* e) {
    return guard([&] {
        must(e, "mt_event_set").e.set();
        return MT_OK;
    });
}

mt_status mt_event_clear(mt_event* e) {
    return guard([&] {
        must(e, "mt_event_clear").e.clear();
        return MT_OK;
    });
}

int mt_event_is_set(mt_event* e) { return e ? (e->e.is_set() ? 1 : 0) : -1; }

mt_status mt_event_wait(mt_event* e, int64_t timeout_ns) {
    return guard([&] {
        must(e, "mt_event_wait").e.wait(deadline_of(timeout_ns, "mt_event_wait"));
        return MT_OK;
    });
}

// ---- barriers --------------------------------------------------------------------------------------

mt_barrier* mt_barrier_new(ptrdiff_t parties, const char* name) {
    mt_barrier* out = nullptr;
    return made(out, "mt_barrier_new", [&] { return new mt_barrier(parties, name); });
}

void mt_barrier_free(mt_barrier* b) { delete b; }

mt_status mt_barrier_wait(mt_barrier* b, int64_t timeout_ns, size_t* index) {
    return guard([&] {
        const std::size_t i = must(b, "mt_barrier_wait").b.arrive_and_wait(deadline_of(timeout_ns, "mt_barrier_wait"));
        if (index) *index = i;
        return MT_OK;
    });
}

mt_status mt_barrier_reset(mt_barrier* b) {
    return guard([&] {
        must(b, "mt_barrier_reset").b.reset();
        return MT_OK;
    });
}

// ---- queues of the caller's objects --------------------------------------------------------------

mt_queue* mt_queue_new(size_t capacity, int lifo, const char* name) {
    mt_queue* out = nullptr;
    return made(out, "mt_queue_new", [&] { return new mt_queue(capacity, lifo != 0, name); });
}

void mt_queue_free(mt_queue* q) { delete q; }

mt_status mt_queue_put(mt_queue* q, void* value, const mt_type* type, int64_t timeout_ns) {
    return guard([&] {
        const mt::deadline d = deadline_of(timeout_ns, "mt_queue_put");
        c_value v(value, type);
        try {
            must(q, "mt_queue_put").with([&](auto& qq) { qq.put(std::move(v), d); });
        } catch (...) {
            v.obj = nullptr;  // not in: the caller still owns it
            throw;
        }
        return MT_OK;
    });
}

mt_status mt_queue_get(mt_queue* q, int64_t timeout_ns, void** value, const mt_type** type) {
    return guard([&] {
        const mt::deadline d = deadline_of(timeout_ns, "mt_queue_get");
        std::optional<c_value> v = must(q, "mt_queue_get").with([&](auto& qq) { return qq.get(d); });
        return hand(v, value, type);
    });
}

mt_status mt_queue_try_put(mt_queue* q, void* value, const mt_type* type) {
    return guard([&] {
        c_value v(value, type);
        bool in = false;
        try {
            in = must(q, "mt_queue_try_put").with([&](auto& qq) { return qq.try_put(std::move(v)); });
        } catch (...) {
            v.obj = nullptr;
            throw;
        }
        if (!in) v.obj = nullptr;
        return in ? MT_OK : MT_WOULD_BLOCK;
    });
}

mt_status mt_queue_try_get(mt_queue* q, void** value, const mt_type** type) {
    return guard([&] {
        mt_queue& qq = must(q, "mt_queue_try_get");
        std::optional<c_value> v = qq.with([&](auto& x) { return x.try_get(); });
        if (!v) return qq.with([](auto& x) { return x.closed(); }) ? MT_END : MT_WOULD_BLOCK;
        return hand(v, value, type);
    });
}

mt_status mt_queue_close(mt_queue* q) {
    return guard([&] {
        must(q, "mt_queue_close").with([](auto& x) { x.close(); });
        return MT_OK;
    });
}

mt_status mt_queue_close_error(mt_queue* q, void* error, const mt_type* type, const char* message) {
    foreign_object obj = foreign_object::adopt(error, type);
    return guard([&] {
        auto e = std::make_exception_ptr(foreign_error(std::move(obj), message ? message : "error"));
        must(q, "mt_queue_close_error").with([&](auto& x) { x.close(e); });
        return MT_OK;
    });
}

ptrdiff_t mt_queue_size(mt_queue* q) {
    return q ? static_cast<ptrdiff_t>(q->with([](auto& x) { return x.size(); })) : -1;
}

}  // extern "C"
