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
class xpipe {
    struct state {
        std::mutex mu;
        std::deque<T> buf;
        std::size_t capacity;
        bool closed = false;
        std::exception_ptr error;
        detail::cross_list getters, putters;
        std::string name;
        static void describe_get(const void* o, std::string& out) {
            out += "to get from xpipe '" + static_cast<const state*>(o)->name + "'";
        }
        static void describe_put(const void* o, std::string& out) {
            out += "to put to xpipe '" + static_cast<const state*>(o)->name + "'";
        }
    };

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

}  // namespace mt
