// pipes/micro_pipe.hpp — the PEP's micro_pipe: one slot, many putters and
// getters served first come first served, end-of-stream as a value.
//
//   mt::micro_pipe<int> p("numbers");
//   mt::spawn([p]() mutable { for (int i = 0; i < 3; ++i) p.put(i); p.close(); });
//   for (int v : p) use(v);          // ends at end-of-stream
//
// This table is the contract (docs/reference/pipes.md):
//
//   op      | slot empty, open       | slot full, open             | closed          | closed with E
//   put(v)  | stores v, wakes reader | suspends until it is taken  | MicroThreadExit | MicroThreadExit
//   get()   | suspends               | takes it, wakes a writer    | rest, then EOS  | rest, then E
//
// Every suspending operation takes an optional deadline (a duration from now
// or a point in time, core/deadline.hpp) and throws timeout_error when it
// passes first; try_put / try_get never suspend.
//
// A handle is a reference-counted pointer to the pipe (copy it freely within
// one engine's OS thread). put, get and select from another engine's OS
// thread, or after the engine that first used the pipe ended, are a usage
// error; try_put, try_get and close are not checked (they need no
// micro-thread, and a close after the engine ended is allowed), so keep a
// pipe on its engine's OS thread. A null handle (micro_pipe<T>(nullptr)) is a select case that is
// never chosen, like Go's nil channel. A micro_pipe converts to what
// spawn_options::in / ::out take, to attach it as a micro-thread's stdin or
// stdout.
#pragma once

#include <cstddef>
#include <exception>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <typeinfo>
#include <utility>

#include "../core/deadline.hpp"
#include "../core/detail/control_block.hpp"
#include "../core/detail/get_iterator.hpp"
#include "../core/engine.hpp"
#include "../core/errors.hpp"
#include "detail/pipe_state.hpp"

namespace mt {

namespace detail {

template <class T>
struct typed_ops {
    static void move_construct(void* dst, void* src) noexcept {
        static_assert(std::is_nothrow_move_constructible_v<T>, "pipe values must be nothrow-movable");
        ::new (dst) T(std::move(*static_cast<T*>(src)));
    }
    static void destroy(void* p) noexcept { static_cast<T*>(p)->~T(); }
    // emplace_into — a sink: moves *src into the std::optional<T> at target.
    static void emplace_into(void* target, void* src) noexcept {
        static_cast<std::optional<T>*>(target)->emplace(std::move(*static_cast<T*>(src)));
    }
    static void reset(void* target) noexcept { static_cast<std::optional<T>*>(target)->reset(); }
    static constexpr value_ops ops{&typeid(T), &move_construct, &destroy};
};

// throw_null_pipe — usage_error: `op` on a null micro_pipe handle.
[[noreturn]] void throw_null_pipe(const char* op);

template <class T>
class typed_pipe_state final : public pipe_state {
public:
    explicit typed_pipe_state(std::string_view name) : pipe_state(typed_ops<T>::ops, &storage_, name) {}
    ~typed_pipe_state() override = default;

private:
    alignas(T) unsigned char storage_[sizeof(T)];
};

}  // namespace detail

template <class T>
class micro_pipe {
public:
    using value_type = T;

    // micro_pipe — a new open, empty pipe; `name` shows in dumps and deadlock reports.
    explicit micro_pipe(std::string_view name = {}) : st_(new detail::typed_pipe_state<T>(name)) {}
    // micro_pipe(nullptr) — a null handle: no pipe (a disabled select case).
    micro_pipe(std::nullptr_t) noexcept : st_(nullptr) {}
    // adopt — a handle on an existing state (this_stdin/this_stdout); takes a reference.
    static micro_pipe adopt(detail::pipe_state* st) noexcept {
        st->retain();
        return micro_pipe(st, 0);
    }
    micro_pipe(const micro_pipe& o) noexcept : st_(o.st_) {
        if (st_) st_->retain();
    }
    micro_pipe(micro_pipe&& o) noexcept : st_(std::exchange(o.st_, nullptr)) {}
    micro_pipe& operator=(micro_pipe o) noexcept {
        std::swap(st_, o.st_);
        return *this;
    }
    ~micro_pipe() {
        if (st_) st_->release();
    }

    // put — see the table. Suspends while the slot is full. Throws
    // MicroThreadExit when the pipe is (or gets) closed: a writer whose reader
    // is gone ends silently, its destructors run. Throws timeout_error when
    // `d` passes first (the value is dropped with the argument). Must run in
    // a micro-thread.
    void put(T v, deadline d = {}) { state_or_throw("put")->put(&v, d); }

    // get — the next value, or an empty optional at end-of-stream. Suspends
    // while the slot is empty and the pipe open. Rethrows the exception the
    // pipe was closed with (after what was left in the slot). Throws
    // timeout_error when `d` passes first. An aborted get never swallows a
    // value.
    std::optional<T> get(deadline d = {}) {
        alignas(T) unsigned char buf[sizeof(T)];
        if (!state_or_throw("get")->get(buf, d)) return std::nullopt;
        T* v = std::launder(reinterpret_cast<T*>(buf));
        std::optional<T> out(std::move(*v));
        v->~T();
        return out;
    }

    // try_put — stores v (moving from it) if that can happen at once and
    // returns true; returns false (v untouched) when the slot is full. Raises
    // MicroThreadExit on a closed pipe, as put does. Never suspends.
    bool try_put(T& v) {
        switch (state_or_throw("try_put")->try_put(&v)) {
            case detail::try_result::done: return true;
            case detail::try_result::closed: throw closed_put("pipe", st_->name());
            default: return false;
        }
    }

    // try_get — the next value if one is there now; an empty optional when
    // none is (then closed() tells end-of-stream from "not yet"). Rethrows
    // the pipe's error once it is empty. Never suspends.
    std::optional<T> try_get() {
        std::optional<T> out;
        state_or_throw("try_get")->try_get(&out, &detail::typed_ops<T>::emplace_into);
        return out;
    }

    // close — the writer's end of data (optionally with an error E that every
    // later get rethrows once the slot is empty). Wakes every waiter at once.
    void close() { state_or_throw("close")->close(); }
    void close(std::exception_ptr error) { state_or_throw("close")->close(std::move(error)); }
    // close_reader — the reader wants no more: a value left in the slot is
    // destroyed; pending and later puts raise MicroThreadExit in their writers.
    void close_reader() { state_or_throw("close_reader")->close_reader(); }

    bool closed() const { return state_or_throw("closed")->closed(); }
    const std::string& name() const { return state_or_throw("name")->name(); }
    detail::pipe_state* state() const noexcept { return st_; }
    explicit operator bool() const noexcept { return st_ != nullptr; }

    // as stdin / stdout in spawn_options{.in = p, .out = q}
    operator detail::io_attachment() const noexcept { return {st_, &detail::pipe_state::attachment_ops}; }

    // range-for: takes values until end-of-stream.
    using iterator = detail::get_iterator<micro_pipe, T>;
    iterator begin() { return iterator(this); }
    iterator end() { return iterator(); }

private:
    micro_pipe(detail::pipe_state* st, int) noexcept : st_(st) {}
    detail::pipe_state* state_or_throw(const char* op) const {
        if (!st_) [[unlikely]]
            detail::throw_null_pipe(op);
        return st_;
    }
    detail::pipe_state* st_;
};

namespace detail {
[[noreturn]] void throw_stdio_misuse(const char* which, const char* why, const std::type_info* want,
                                     const std::type_info* have);
}

namespace detail {
// stdio_pipe — the running micro-thread's attached pipe `role` as a micro_pipe<T>.
template <class T>
micro_pipe<T> stdio_pipe(io_role role, const char* op) {
    control_block& me = engine::get(op).require_running(op);
    const char* which = role == io_role::in ? "stdin" : "stdout";
    auto* st = static_cast<pipe_state*>(me.io[static_cast<int>(role)].obj);
    if (!st) throw_stdio_misuse(which, "none attached", nullptr, nullptr);
    if (st->type() != typeid(T)) throw_stdio_misuse(which, "wrong type", &typeid(T), &st->type());
    return micro_pipe<T>::adopt(st);
}
}  // namespace detail

// this_stdin / this_stdout — the running micro-thread's attached pipes.
// Throw usage_error when none is attached or its element type is not T.
template <class T>
micro_pipe<T> this_stdin() {
    return detail::stdio_pipe<T>(detail::io_role::in, "this_stdin");
}

template <class T>
micro_pipe<T> this_stdout() {
    return detail::stdio_pipe<T>(detail::io_role::out, "this_stdout");
}

}  // namespace mt
