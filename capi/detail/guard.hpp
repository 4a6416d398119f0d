// capi/detail/guard.hpp — the wall: one guard per entry point of the C API
// turns every C++ exception into a status and remembers it as this OS
// thread's last error; the other way round, a status returned by C code
// becomes the exception it stands for.
//
// The last error keeps the exception itself, so C code that gets a status
// from one call and returns it from its mt_func (or callback, or work
// function) makes the engine see the original exception: a timeout stays a
// timeout_error with its text, an interpreter's exception object stays that
// object.
#pragma once

#include <exception>
#include <string>

#include "core/errors.hpp"
#include "core/microthreading.h"

namespace mt::capi {

// foreign_object — one counted reference to a C caller's object.
class foreign_object {
public:
    foreign_object() noexcept = default;
    // adopt — takes over one reference the caller gave.
    static foreign_object adopt(void* obj, const mt_type* type) noexcept {
        foreign_object o;
        o.obj_ = obj;
        o.type_ = type;
        return o;
    }
    foreign_object(const foreign_object& o) noexcept : obj_(o.obj_), type_(o.type_) { retain(); }
    foreign_object(foreign_object&& o) noexcept : obj_(o.obj_), type_(o.type_) { o.obj_ = nullptr; }
    foreign_object& operator=(foreign_object o) noexcept {
        std::swap(obj_, o.obj_);
        std::swap(type_, o.type_);
        return *this;
    }
    ~foreign_object() {
        if (obj_ && type_ && type_->release) type_->release(obj_);
    }
    // hand_out — a new reference for the C caller (the object itself when
    // its type has no counts).
    void* hand_out() const noexcept {
        retain();
        return obj_;
    }
    // release_to_caller — gives this reference to the caller.
    void* release_to_caller() noexcept {
        void* o = obj_;
        obj_ = nullptr;
        return o;
    }
    void* get() const noexcept { return obj_; }
    const mt_type* type() const noexcept { return type_; }

private:
    void retain() const noexcept {
        if (obj_ && type_ && type_->retain) type_->retain(obj_);
    }
    void* obj_ = nullptr;
    const mt_type* type_ = nullptr;
};

// foreign_error — a failure carrying a C caller's error object.
class foreign_error : public mt::error {
public:
    foreign_error(foreign_object obj, const std::string& message) : error(message), obj_(std::move(obj)) {}
    const foreign_object& object() const noexcept { return obj_; }

private:
    foreign_object obj_;
};

// status_of — what the current exception stands for; records it as the
// last error. Called from a catch block.
mt_status status_of_current() noexcept;

// record_ok — clears nothing (the last error stays until the next failure).
// guard — runs f() (returning mt_status) behind the wall.
template <class F>
mt_status guard(F&& f) noexcept {
    try {
        return f();
    } catch (...) {
        return status_of_current();
    }
}

// settle_status — C code `who` (an mt_func, mt_callback or mt_work) returned
// s: MT_OK returns; MT_FAILED after its own mt_set_error throws a
// foreign_error with that object; any other status throws what it stands
// for (throw_status). An mt_set_error of this micro-thread (of this OS thread
// outside one) that s does not report is dropped here, its object released,
// so that it never reaches a later, unrelated failure.
void settle_status(mt_status s, const char* who);

// throw_status — the exception a status stands for: the last error if it has
// that status, else a named error saying which status it was. MT_EXIT
// throws MicroThreadExit.
[[noreturn]] void throw_status(mt_status s, const char* who);

// fail — records a usage error (for entry points returning pointers).
void record_usage(const std::string& message) noexcept;

}  // namespace mt::capi
