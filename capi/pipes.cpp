// capi/pipes.cpp — the untyped pipe through the C API: the table of
// docs/reference/pipes.md, with the caller's objects as values.
#include <new>
#include <string>
#include <typeinfo>

#include "capi/detail/guard.hpp"
#include "capi/detail/handles.hpp"

using namespace mt::capi;

namespace mt::capi {

detail::pipe_state& pipe_of(mt_pipe* p, const char* op) {
    if (!p) throw usage_error(std::string(op) + " with a NULL mt_pipe");
    return *reinterpret_cast<detail::pipe_state*>(p);
}

detail::io_attachment pipe_attachment(mt_pipe* p, const char* op) {
    detail::pipe_state& st = pipe_of(p, op);
    return {&st, &detail::pipe_state::attachment_ops};
}

namespace {

mt_pipe* handle_of(detail::pipe_state* st) { return reinterpret_cast<mt_pipe*>(st); }

// take — moves the value a get delivered into raw storage out to the caller.
void take(unsigned char* buf, void** value, const mt_type** type) {
    auto* v = std::launder(reinterpret_cast<c_value*>(buf));
    if (value) *value = std::exchange(v->obj, nullptr);
    if (type) *type = v->type;
    v->~c_value();  // releases the object if the caller did not want it
}

mt_pipe* stdio(detail::io_role role, const char* op) {
    mt_pipe* out = nullptr;
    guard([&] {
        detail::control_block& me = running(op);
        auto* st = static_cast<detail::pipe_state*>(me.io[static_cast<int>(role)].obj);
        if (!st) return MT_OK;
        if (st->type() != typeid(c_value))
            throw usage_error(std::string(op) + ": the attached pipe carries " + st->type().name() +
                              ", not the C API's values");
        st->retain();
        out = handle_of(st);
        return MT_OK;
    });
    return out;
}

}  // namespace
}  // namespace mt::capi

extern "C" {

mt_pipe* mt_pipe_new(const char* name) {
    mt_pipe* out = nullptr;
    guard([&] {
        c_pipe p(name ? name : "");
        p.state()->retain();  // the C caller's reference; `p` drops its own
        out = reinterpret_cast<mt_pipe*>(p.state());
        return MT_OK;
    });
    return out;
}

void mt_pipe_retain(mt_pipe* p) {
    if (p) reinterpret_cast<mt::detail::pipe_state*>(p)->retain();
}

void mt_pipe_release(mt_pipe* p) {
    if (p) reinterpret_cast<mt::detail::pipe_state*>(p)->release();
}

mt_status mt_pipe_put(mt_pipe* p, void* value, const mt_type* type, int64_t timeout_ns) {
    return guard([&] {
        mt::detail::pipe_state& st = pipe_of(p, "mt_pipe_put");
        c_value v(value, type);
        try {
            st.put(&v, deadline_of(timeout_ns, "mt_pipe_put"));
        } catch (...) {
            v.obj = nullptr;  // not delivered: the caller still owns it
            throw;
        }
        return MT_OK;
    });
}

mt_status mt_pipe_get(mt_pipe* p, int64_t timeout_ns, void** value, const mt_type** type) {
    return guard([&] {
        mt::detail::pipe_state& st = pipe_of(p, "mt_pipe_get");
        alignas(c_value) unsigned char buf[sizeof(c_value)];
        if (!st.get(buf, deadline_of(timeout_ns, "mt_pipe_get"))) return MT_END;
        take(buf, value, type);
        return MT_OK;
    });
}

mt_status mt_pipe_try_put(mt_pipe* p, void* value, const mt_type* type) {
    return guard([&] {
        mt::detail::pipe_state& st = pipe_of(p, "mt_pipe_try_put");
        c_value v(value, type);
        mt::detail::try_result r;
        try {
            r = st.try_put(&v);
        } catch (...) {
            v.obj = nullptr;
            throw;
        }
        if (r == mt::detail::try_result::done) return MT_OK;
        v.obj = nullptr;
        if (r == mt::detail::try_result::closed) throw mt::MicroThreadExit{};
        return MT_WOULD_BLOCK;
    });
}

mt_status mt_pipe_try_get(mt_pipe* p, void** value, const mt_type** type) {
    return guard([&] {
        mt::detail::pipe_state& st = pipe_of(p, "mt_pipe_try_get");
        alignas(c_value) unsigned char buf[sizeof(c_value)];
        switch (st.try_get(buf)) {  // rethrows the pipe's error
            case mt::detail::try_result::done: take(buf, value, type); return MT_OK;
            case mt::detail::try_result::closed: return MT_END;
            default: return MT_WOULD_BLOCK;
        }
    });
}

mt_status mt_pipe_close(mt_pipe* p) {
    return guard([&] {
        pipe_of(p, "mt_pipe_close").close();
        return MT_OK;
    });
}

mt_status mt_pipe_close_error(mt_pipe* p, void* error, const mt_type* type, const char* message) {
    foreign_object obj = foreign_object::adopt(error, type);
    return guard([&] {
        pipe_of(p, "mt_pipe_close_error")
            .close(std::make_exception_ptr(foreign_error(std::move(obj), message ? message : "error")));
        return MT_OK;
    });
}

mt_status mt_pipe_close_reader(mt_pipe* p) {
    return guard([&] {
        pipe_of(p, "mt_pipe_close_reader").close_reader();
        return MT_OK;
    });
}

int mt_pipe_closed(mt_pipe* p) {
    int out = -1;
    guard([&] {
        out = pipe_of(p, "mt_pipe_closed").closed() ? 1 : 0;
        return MT_OK;
    });
    return out;
}

mt_pipe* mt_stdin(void) { return stdio(mt::detail::io_role::in, "mt_stdin"); }
mt_pipe* mt_stdout(void) { return stdio(mt::detail::io_role::out, "mt_stdout"); }

}  // extern "C"
