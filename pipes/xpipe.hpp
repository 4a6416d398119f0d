// pipes/xpipe.hpp — a thread-safe pipe: between micro-threads of different
// engines, and between a micro-thread and a plain OS thread.
//
//   mt::xpipe<std::string> p("lines", 64);      // capacity 64 (default 1)
//   p.put(std::move(s));    // from a micro-thread on any engine, or a plain OS thread
//   while (auto v = p.get()) use(*v);            // end-of-stream: std::nullopt
//
// The table of micro_pipe (docs/reference/pipes.md), with N slots:
//   put(v): room -> stores v (moved), wakes a getter; full -> waits for room;
//           closed (by either side, with or without an error) -> MicroThreadExit.
//   get():  a value -> takes the oldest, wakes a putter; empty and open -> waits;
//           closed -> takes what is left, then std::nullopt (closed with E:
//           rethrows E on that and every later get).
// A micro-thread that waits suspends only itself (its engine runs the
// others); a plain OS thread blocks. Waiters are served first come, first
// served, and woken through the waiting engine's thread-safe mailbox: a
// waker posts only when someone waits, and an engine that is busy is not
// signalled at all (it drains its mailbox on its own), so a stream costs a
// post per wait, not per value, and a system call only when the engine sleeps.
//
// mt::select takes xpipe cases, mixed with micro_pipe cases (select.hpp).
//
// Copies of an xpipe share one pipe; each copy may be handed to another OS
// thread (the handle is a shared_ptr). An empty (moved-from) handle is a
// usage_error. On an engine's root context a put or get that would wait is
// a usage_error (it would block every micro-thread of that engine).
//
// Invariants (guarded by mu): buf.size() <= capacity; getters wait only
// while buf is empty and the pipe open, putters only while it is full and
// open; after close nobody is left waiting (every waiter is woken).
// Memory ordering: cross_wait.hpp (the mutex orders every value's move).
#pragma once

#include <cstddef>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "../core/deadline.hpp"
#include "../core/detail/cross_wait.hpp"
#include "../core/errors.hpp"

namespace mt {

template <class T>
class xpipe;

namespace detail {

// xpipe_base — the untyped part of an xpipe's state, what a select over
// xpipes (pipes/select.cpp) works with; every member but name and capacity
// (set once, before the state is shared) is guarded by mu.
struct xpipe_base {
    std::mutex mu;
    std::size_t capacity = 1;
    bool closed = false;
    std::exception_ptr error;
    cross_list getters, putters;
    std::string name;
};

// xpipe_select_ops — the typed operations a select case needs: size() the
// values buffered; take() moves the oldest into the std::optional<T> at
// `out` and drops it; store() appends *(T*)value, moved (may throw
// std::bad_alloc, then the value stays with the caller). All under mu.
struct xpipe_select_ops {
    std::size_t (*size)(const xpipe_base& b) noexcept;
    void (*take)(xpipe_base& b, void* out);
    void (*store)(xpipe_base& b, void* value);
};

// xpipe_access — select's way to an xpipe's state (pipes/select.hpp).
template <class T>
struct xpipe_access;

}  // namespace detail

template <class T>
class xpipe {
    struct state : detail::xpipe_base {
        std::deque<T> buf;
        static void describe_get(const void* o, std::string& out) {
            out += "to get from xpipe '" + static_cast<const state*>(o)->name + "'";
        }
        static void describe_put(const void* o, std::string& out) {
            out += "to put to xpipe '" + static_cast<const state*>(o)->name + "'";
        }
    };
    friend struct detail::xpipe_access<T>;

public:
    // Throws usage_error for a capacity of 0.
    explicit xpipe(std::string name = "xpipe", std::size_t capacity = 1) : st_(std::make_shared<state>()) {
        if (capacity == 0) throw usage_error("xpipe '" + name + "' made with capacity 0 (it takes 1 or more)");
        st_->capacity = capacity;
        st_->name = std::move(name);
    }

    // put — see the table above. Throws MicroThreadExit when the pipe is
    // closed (before or while waiting), timeout_error when `d` passes,
    // usage_error on an engine's root. The value is moved in only when
    // stored: on a throw the caller keeps it.
    void put(T v, deadline d = {}) {
        state& s = st();
        check(d, "xpipe::put");
        std::unique_lock<std::mutex> lock(s.mu);
        for (;;) {
            if (s.closed) throw MicroThreadExit{};
            if (s.buf.size() < s.capacity) break;
            detail::cross_wait(lock, s.putters, d, &state::describe_put, &s, "xpipe::put");
        }
        s.buf.push_back(std::move(v));
        detail::wake_one(s.getters);
        if (s.buf.size() < s.capacity) detail::wake_one(s.putters);  // room left: pass it on
    }

    // get — see the table above. Throws the close error, timeout_error when
    // `d` passes, MicroThreadExit when the caller is aborted (no value is
    // lost: it stays for the next getter), usage_error on an engine's root.
    std::optional<T> get(deadline d = {}) {
        state& s = st();
        check(d, "xpipe::get");
        std::unique_lock<std::mutex> lock(s.mu);
        for (;;) {
            if (!s.buf.empty()) break;
            if (s.closed) {
                if (s.error) std::rethrow_exception(s.error);
                return std::nullopt;
            }
            detail::cross_wait(lock, s.getters, d, &state::describe_get, &s, "xpipe::get");
        }
        std::optional<T> v(std::move(s.buf.front()));
        s.buf.pop_front();
        detail::wake_one(s.putters);
        if (!s.buf.empty()) detail::wake_one(s.getters);  // more left: pass it on
        return v;
    }

    // try_put / try_get — never wait: false / std::nullopt when they would.
    // try_put throws MicroThreadExit on a closed pipe; try_get the close error.
    bool try_put(T& v) {
        state& s = st();
        std::lock_guard<std::mutex> lock(s.mu);
        if (s.closed) throw MicroThreadExit{};
        if (s.buf.size() >= s.capacity) return false;
        s.buf.push_back(std::move(v));
        detail::wake_one(s.getters);
        return true;
    }
    std::optional<T> try_get() {
        state& s = st();
        std::lock_guard<std::mutex> lock(s.mu);
        if (s.buf.empty()) {
            if (s.closed && s.error) std::rethrow_exception(s.error);
            return std::nullopt;
        }
        std::optional<T> v(std::move(s.buf.front()));
        s.buf.pop_front();
        detail::wake_one(s.putters);
        return v;
    }

    // close — end of data (writer) or no more wanted (reader): every waiter
    // wakes at once. Values still buffered are delivered to getters. Any
    // thread; idempotent (the first close's error stays). Never blocks.
    void close() { close_with(nullptr); }
    // close_with — close; every get after the buffered values rethrows `e`.
    void close_with(std::exception_ptr e) {
        state& s = st();
        std::lock_guard<std::mutex> lock(s.mu);
        if (s.closed) return;
        s.closed = true;
        s.error = std::move(e);
        detail::wake_all(s.getters);
        detail::wake_all(s.putters);
    }

    bool closed() const {
        state& s = st();
        std::lock_guard<std::mutex> lock(s.mu);
        return s.closed;
    }
    std::size_t capacity() const { return st().capacity; }
    const std::string& name() const { return st().name; }

private:
    void check(const deadline& d, const char* op) const {
        if (d.negative()) throw usage_error(std::string(op) + " on xpipe '" + st_->name + "' with a negative timeout");
    }
    state& st() const {
        if (!st_) throw usage_error("operation on an empty (moved-from) xpipe handle");
        return *st_;
    }
    std::shared_ptr<state> st_;
};

namespace detail {

template <class T>
struct xpipe_access {
    using state = typename xpipe<T>::state;
    // base — the shared state of `p` (nullptr for an empty handle).
    static std::shared_ptr<xpipe_base> base(const xpipe<T>& p) noexcept { return p.st_; }
    static constexpr xpipe_select_ops ops{
        [](const xpipe_base& b) noexcept { return static_cast<const state&>(b).buf.size(); },
        [](xpipe_base& b, void* out) {
            auto& buf = static_cast<state&>(b).buf;
            static_cast<std::optional<T>*>(out)->emplace(std::move(buf.front()));
            buf.pop_front();
        },
        [](xpipe_base& b, void* value) { static_cast<state&>(b).buf.push_back(std::move(*static_cast<T*>(value))); },
    };
};

}  // namespace detail
}  // namespace mt
