// capi/detail/handles.hpp — what the C API's opaque types are on the C++
// side, and the checks every entry point makes on them.
//
//   mt_thread*  the micro-thread's control block (a result_block of a
//               foreign_object), counted by its handle count;
//   mt_pipe*    the pipe's state (a micro_pipe<c_value>), counted by its
//               reference count;
//   mt_engine*  an engine with the C hooks it calls.
#pragma once

#include <cstdint>
#include <utility>

#include "capi/detail/guard.hpp"
#include "core/deadline.hpp"
#include "core/engine.hpp"
#include "core/micro_thread.hpp"
#include "pipes/micro_pipe.hpp"

struct mt_engine {
    mt::engine e;
    mt_switch_hook hook = nullptr;
    void* hook_user = nullptr;
    mt_unhandled_hook unhandled = nullptr;  // NULL: the default report
    void* unhandled_user = nullptr;
    explicit mt_engine(const mt::engine_options& o) : e(o) {}
};

namespace mt::capi {

using thread_block = detail::result_block<foreign_object>;

thread_block* block_of(mt_thread* t);
mt_thread* handle_of(thread_block* b);
// checked — t's block; usage_error for NULL or another engine's micro-thread.
thread_block& checked(mt_thread* t, const char* op);
// running — the running micro-thread; usage_error outside one.
detail::control_block& running(const char* op);
// deadline_of — MT_FOREVER: none; 0: poll; other negatives: usage_error.
deadline deadline_of(int64_t timeout_ns, const char* op);

// c_value — a value in a C pipe: one reference of the caller's object.
struct c_value {
    void* obj = nullptr;
    const mt_type* type = nullptr;

    c_value() noexcept = default;
    c_value(void* o, const mt_type* t) noexcept : obj(o), type(t) {}
    c_value(c_value&& o) noexcept : obj(std::exchange(o.obj, nullptr)), type(o.type) {}
    c_value& operator=(c_value&& o) noexcept {
        std::swap(obj, o.obj);
        std::swap(type, o.type);
        return *this;
    }
    ~c_value() {
        if (obj && type && type->release) type->release(obj);
    }
};

using c_pipe = micro_pipe<c_value>;

// pipe_of — the state behind an mt_pipe; usage_error for NULL.
detail::pipe_state& pipe_of(mt_pipe* p, const char* op);
// pipe_attachment — p as a micro-thread's stdin or stdout.
detail::io_attachment pipe_attachment(mt_pipe* p, const char* op);

}  // namespace mt::capi
