// capi/threads.cpp — micro-threads and the deferred through the C API.
//
// An mt_thread* is the micro-thread's control block itself (a
// result_block<foreign_object>), counted by the same handle count the C++
// handles use: a handle costs no allocation of its own.
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <utility>

#include "capi/detail/guard.hpp"
#include "capi/detail/handles.hpp"
#include "core/microthreading.hpp"
#include "pipes/micro_pipe.hpp"

using mt::capi::foreign_object;
using mt::capi::guard;

namespace mt::capi {

thread_block* block_of(mt_thread* t) { return reinterpret_cast<thread_block*>(t); }
mt_thread* handle_of(thread_block* b) { return reinterpret_cast<mt_thread*>(b); }

thread_block& checked(mt_thread* t, const char* op) {
    if (!t) throw usage_error(std::string(op) + " with a NULL mt_thread");
    engine::require_here(*block_of(t), op);
    return *block_of(t);
}

detail::control_block& running(const char* op) { return engine::get(op).require_running(op); }

deadline deadline_of(int64_t timeout_ns, const char* op) {
    if (timeout_ns == MT_FOREVER) return deadline{};
    if (timeout_ns < 0) throw usage_error(std::string(op) + ": a negative timeout other than MT_FOREVER");
    return deadline(std::chrono::nanoseconds(timeout_ns));
}

namespace {

mt_info info_of(const detail::control_block* cb) {
    thread_local std::string name;
    mt_info out{};
    if (!cb) {
        out.id = 0;
        name = "root";
        out.state = static_cast<int>(mt::state::running);
    } else {
        out.id = cb->id;
        name = detail::name_of(*cb);
        out.state = static_cast<int>(cb->st);
    }
    out.name = name.c_str();
    return out;
}

// c_callback — a C continuation queued on a deferred, with its disposer.
struct c_callback {
    mt_callback fn;
    void* state;
    void (*dispose)(void*);
};

void* run_c_callback(void* value, void* state) {
    auto* cb = static_cast<c_callback*>(state);
    const mt_callback fn = cb->fn;
    void* user = cb->state;
    delete cb;  // it runs: its state is the callback's from now on
    void* out = nullptr;
    const mt_status s = fn(value, user, &out);
    settle_status(s, "an mt_callback");
    return out;
}

// arg_owner — calls mt_spawn_options.arg_dispose once, when the body
// holding it is destroyed, in the micro-thread: as its body returns, or,
// aborted before it started, when drop_body destroys it unrun.
struct arg_owner {
    void (*dispose)(void*) = nullptr;
    void* arg = nullptr;
    arg_owner(void (*d)(void*), void* a) noexcept : dispose(d), arg(a) {}
    arg_owner(arg_owner&& o) noexcept : dispose(std::exchange(o.dispose, nullptr)), arg(o.arg) {}
    arg_owner(const arg_owner&) = delete;
    ~arg_owner() {
        if (dispose) dispose(arg);
    }
};

// c_body — the body of a micro-thread spawned from C: fn(arg), its result
// an object of rtype; `owner` disposes of arg with the body.
struct c_body {
    mt_func fn;
    void* arg;
    const mt_type* rtype;
    arg_owner owner;
    foreign_object operator()() {
        void* result = nullptr;
        const mt_status s = fn(arg, &result);
        settle_status(s, "an mt_func");
        return foreign_object::adopt(result, rtype);
    }
};

void dispose_c_callback(void* state) noexcept {
    auto* cb = static_cast<c_callback*>(state);
    if (cb->dispose) cb->dispose(cb->state);
    delete cb;
}

}  // namespace
}  // namespace mt::capi

using namespace mt::capi;

extern "C" {

void mt_spawn_options_init(mt_spawn_options* o) {
    if (o) std::memset(o, 0, sizeof *o);
}

mt_thread* mt_spawn(const mt_spawn_options* options, mt_func fn, void* arg) {
    mt_thread* out = nullptr;
    guard([&] {
        if (!fn) throw mt::usage_error("mt_spawn with a NULL function");
        mt_spawn_options none{};
        const mt_spawn_options& o = options ? *options : none;
        mt::spawn_options so;
        if (o.name) so.name = o.name;
        so.stack_size = o.stack_size;
        if (o.stdin_pipe) so.in = pipe_attachment(o.stdin_pipe, "mt_spawn");
        if (o.stdout_pipe) so.out = pipe_attachment(o.stdout_pipe, "mt_spawn");
        // The body's argument is disposed of with the body, in the
        // micro-thread: after it ran, or unrun when the micro-thread was
        // aborted before it started (core/micro_thread.hpp, drop_body). The
        // owner is armed only once the spawn succeeded: a spawn that fails
        // leaves the argument the caller's (arg_dispose is not called).
        auto h = mt::spawn(so, c_body{fn, arg, o.result_type, arg_owner{nullptr, arg}});
        static_cast<mt::detail::task_block<foreign_object, c_body>&>(h.get_deferred().owner()).fn().owner.dispose =
            o.arg_dispose;
        auto* b = static_cast<thread_block*>(&h.get_deferred().owner());
        ++b->handles;  // the C caller's reference; `h` drops its own
        out = handle_of(b);
        return MT_OK;
    });
    return out;
}

void mt_thread_retain(mt_thread* t) {
    if (t) ++block_of(t)->handles;
}

void mt_thread_release(mt_thread* t) {
    if (t) mt::engine::drop_handle(*block_of(t));
}

mt_status mt_join(mt_thread* t, int64_t timeout_ns, void** result) {
    return guard([&] {
        thread_block& b = checked(t, "mt_join");
        mt::detail::join(b, deadline_of(timeout_ns, "mt_join"));
        mt::detail::check_outcome(b, "mt_join");
        if (result) *result = b.has_value ? b.value.hand_out() : nullptr;
        return MT_OK;
    });
}

mt_status mt_thread_result(mt_thread* t, void** result) {
    return guard([&] {
        thread_block& b = checked(t, "mt_thread_result");
        mt::detail::check_outcome(b, "mt_thread_result");
        if (result) *result = b.has_value ? b.value.hand_out() : nullptr;
        return MT_OK;
    });
}

mt_status mt_abort(mt_thread* t) {
    return guard([&] {
        thread_block& b = checked(t, "mt_abort");
        b.eng->abort(b);
        return MT_OK;
    });
}

mt_status mt_interrupt(mt_thread* t, void* error, const mt_type* type, const char* message) {
    foreign_object obj = foreign_object::adopt(error, type);  // taken even if refused
    return guard([&] {
        thread_block& b = checked(t, "mt_interrupt");
        b.eng->interrupt(b, std::make_exception_ptr(foreign_error(std::move(obj), message ? message : "interrupted")));
        return MT_OK;
    });
}

mt_status mt_yield(void) {
    return guard([] {
        mt::yield();
        return MT_OK;
    });
}

mt_status mt_current(mt_info* info) {
    return guard([&] {
        mt::engine& e = mt::engine::get("mt_current");
        if (info) *info = info_of(e.running());
        return MT_OK;
    });
}

mt_status mt_thread_info(mt_thread* t, mt_info* info) {
    return guard([&] {
        thread_block& b = checked(t, "mt_thread_info");
        if (info) *info = info_of(&b);
        return MT_OK;
    });
}

mt_thread* mt_current_thread(void) {
    mt::engine* e = mt::engine::current();
    mt::detail::control_block* cb = e ? e->running() : nullptr;
    if (!cb) return nullptr;
    ++cb->handles;
    return handle_of(static_cast<thread_block*>(cb));
}

char* mt_dump(void) {
    char* out = nullptr;
    guard([&] {
        const std::string d = mt::dump();
        out = static_cast<char*>(std::malloc(d.size() + 1));
        if (!out) throw std::bad_alloc();
        std::memcpy(out, d.c_str(), d.size() + 1);
        return MT_OK;
    });
    return out;
}

void* mt_state(void) {
    mt::engine* e = mt::engine::current();
    return e ? e->embedder_state(e->running()) : nullptr;
}

void* mt_thread_state(mt_thread* t) { return t ? block_of(t)->embedder_state : nullptr; }

// ---- the deferred ------------------------------------------------------------------------

mt_status mt_deferred_arm(void) {
    return guard([] {
        running("mt_deferred_arm").d.arm();
        return MT_OK;
    });
}

mt_status mt_deferred_callback(mt_thread* t, void* value) {
    return guard([&] {
        mt::detail::control_block& owner = t ? checked(t, "mt_deferred_callback") : running("mt_deferred_callback");
        owner.d.callback(value);
        return MT_OK;
    });
}

mt_status mt_deferred_errback(mt_thread* t, void* error, const mt_type* type, const char* message) {
    foreign_object obj = foreign_object::adopt(error, type);  // taken even if the fire is refused
    return guard([&] {
        mt::detail::control_block& owner = t ? checked(t, "mt_deferred_errback") : running("mt_deferred_errback");
        owner.d.errback(std::make_exception_ptr(foreign_error(std::move(obj), message ? message : "error")));
        return MT_OK;
    });
}

mt_status mt_deferred_wait(int64_t timeout_ns, void** value) {
    return guard([&] {
        mt::detail::control_block& me = running("mt_deferred_wait");
        void* v = me.d.wait(deadline_of(timeout_ns, "mt_deferred_wait"));
        if (value) *value = v;
        return MT_OK;
    });
}

mt_status mt_deferred_cancel(void) {
    return guard([] {
        running("mt_deferred_cancel").d.cancel();
        return MT_OK;
    });
}

mt_status mt_deferred_push(const char* name, mt_callback fn, void* state, void (*dispose)(void* state)) {
    return guard([&] {
        if (!fn) throw mt::usage_error("mt_deferred_push with a NULL callback");
        mt::detail::control_block& me = running("mt_deferred_push");
        auto* cb = new c_callback{fn, state, dispose};
        try {
            me.d.push(name ? name : "callback", run_c_callback, cb, dispose_c_callback);
        } catch (...) {
            delete cb;
            throw;
        }
        return MT_OK;
    });
}

}  // extern "C"
