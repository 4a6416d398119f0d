// core/micro_thread.hpp — starting micro-threads and the handle that joins them.
//
//   auto h = mt::spawn([](int x) { return x * 2; }, 21);   // queued, not yet run
//   int r = h.wait();                                      // suspends until it ends
//
// A micro-thread runs on its own pooled stack. spawn() allocates its control
// block and takes a stack from the pool; nothing else. Handles are cheap to
// copy (a reference count, not thread-safe: a handle stays on its engine's OS
// thread). A handle may outlive its engine: it can still be destroyed and its
// outcome read (result(), done(), id()), while wait() and abort() on it are
// then a usage_error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include "detail/control_block.hpp"
#include "engine.hpp"
#include "errors.hpp"
#include "state.hpp"

namespace mt {

// spawn_options — how to start a micro-thread.
struct spawn_options {
    std::string_view name = {};  // shown in errors, dumps and deadlock reports (47 chars kept)
    std::size_t stack_size = 0;  // usable bytes, rounded up to pages; 0: the engine's default (64 KiB)
    detail::io_attachment in = {};   // its stdin: a micro_pipe converts to this (pipes/)
    detail::io_attachment out = {};  // its stdout
    // eager — the new micro-thread runs at once, before the caller goes on:
    // the caller waits at the front of the run queue until the new one first
    // suspends (or ends), then it is the next to run. Like a call, not a
    // yield: micro-threads queued before get no turn from it (a loop of
    // eager spawns runs as long as a loop that never suspends would). A
    // tree of micro-threads spawned this way unfolds depth-first, so few of
    // them are alive at once (Go runs a new goroutine next in much the same
    // way). From the root context (no micro-thread running) it is ignored:
    // queued as usual.
    bool eager = false;
};

namespace detail {

template <class R>
struct result_block : control_block {
    union {
        R value;  // constructed iff has_value
    };
    bool has_value = false;
    result_block() {}
    ~result_block() override {
        if (has_value) value.~R();
    }
};

template <>
struct result_block<void> : control_block {};

// task_block — a micro-thread that runs fn(args...). The function and its
// arguments are destroyed as the body ends (returns or throws), on the
// micro-thread's own stack while it still runs: a destructor of what the
// function captured may suspend (flush, join, put a last value) like any
// destructor of the body's own. A micro-thread aborted before it started
// still runs, only to destroy them there (drop_body). The result of a detached
// micro-thread (no handle refers to it as its body returns) is destroyed
// there too, for the same reason: nobody can read it.
template <class R, class F, class... A>
struct task_block final : result_block<R> {
    template <class FF, class... AA>
    explicit task_block(FF&& f, AA&&... a) {
        ::new (static_cast<void*>(&parts)) body{F(std::forward<FF>(f)), std::tuple<A...>(std::forward<AA>(a)...)};
        alive = true;
    }
    ~task_block() override { drop(); }

    void run_body() override {
        struct drop_at_end {
            task_block& t;
            ~drop_at_end() { t.drop(); }
        } at_end{*this};
        if constexpr (std::is_void_v<R>) {
            std::apply(parts.fn, std::move(parts.args));
        } else {
            new (&this->value) R(std::apply(parts.fn, std::move(parts.args)));
            this->has_value = true;
            if (this->handles == 0) {  // detached
                this->has_value = false;
                this->value.~R();
            }
        }
    }

    void drop_body() noexcept override { drop(); }

    // fn — the function, until the body has ended.
    F& fn() noexcept { return parts.fn; }

private:
    struct body {
        F fn;
        std::tuple<A...> args;
    };
    void drop() noexcept {
        if (!alive) return;
        alive = false;
        parts.~body();
    }
    union {
        body parts;
    };
    bool alive = false;
};

template <class F, class... A>
using result_of_t = std::decay_t<std::invoke_result_t<std::decay_t<F>, std::decay_t<A>&&...>>;

// join — suspends the running micro-thread until `target` has ended or `d`
// passes. Throws usage_error when called outside a micro-thread, on itself,
// or on a micro-thread of another OS thread's engine; timeout_error when `d`
// passes first; MicroThreadExit when the caller is aborted meanwhile.
void join(control_block& target, const deadline& d);

// check_outcome — returns if `target` finished; rethrows its exception if it
// failed; throws micro_thread_aborted if it ended by MicroThreadExit;
// usage_error naming `op` if it has not ended.
void check_outcome(control_block& target, const char* op);

// throw_empty_handle — usage_error: micro_thread::`op`() on an empty handle
// (default-constructed or moved from), naming the caller.
[[noreturn]] void throw_empty_handle(const char* op);

// abort_from_handle — abort() of a handle: checks the block's engine is
// this OS thread's (a named usage_error otherwise, also once it ended).
void abort_from_handle(control_block& cb);

// admit — registers a new block with the engine of this OS thread. Returns
// true when the block is not queued because it must start now
// (opts.eager, called from a micro-thread): then the caller calls start_now.
bool admit(control_block& cb, const spawn_options& opts);
// start_now — switches from the running micro-thread to `cb`, admitted
// eagerly (see spawn_options::eager); returns when the caller runs again.
void start_now(control_block& cb) noexcept;

}  // namespace detail

// micro_thread<R> — a handle to a micro-thread whose body returns R.
template <class R>
class micro_thread {
public:
    micro_thread() = default;
    explicit micro_thread(detail::result_block<R>* cb) noexcept : cb_(cb) {
        if (cb_) ++cb_->handles;
    }
    micro_thread(const micro_thread& o) noexcept : micro_thread(o.cb_) {}
    micro_thread(micro_thread&& o) noexcept : cb_(std::exchange(o.cb_, nullptr)) {}
    micro_thread& operator=(micro_thread o) noexcept {
        std::swap(cb_, o.cb_);
        return *this;
    }
    ~micro_thread() {
        if (cb_) engine::drop_handle(*cb_);
    }

    // wait — joins: suspends the calling micro-thread until this one has
    // ended; returns its result or rethrows its exception. With a deadline
    // (mt::deadline: a duration from now or a point in time), throws
    // timeout_error when it passes first (this micro-thread runs on). Throws
    // micro_thread_aborted if it was aborted, usage_error when joining
    // yourself, from another OS thread's engine, or outside a micro-thread,
    // MicroThreadExit if the caller is aborted while it waits. A move-only
    // result is handed out once.
    R wait(deadline d = {}) {
        detail::join(block("wait"), d);
        return result("wait");
    }

    // result — the outcome of an ended micro-thread, without suspending.
    R result() { return result("result"); }

    // abort — raises MicroThreadExit in it at its suspension point (at once if
    // it is the caller, unless the caller is unwinding from an exception: a
    // destructor that aborts its own micro-thread would end the program in
    // std::terminate, so the abort waits for its next suspension point).
    // Does nothing once it has ended.
    // usage_error from another OS thread's engine, or once its engine ended.
    void abort() { detail::abort_from_handle(block("abort")); }

    // The accessors (and everything above) throw usage_error naming the
    // operation and the caller on an empty handle.
    std::uint64_t id() const { return block("id").id; }
    std::string name() const { return detail::name_of(block("name")); }
    mt::state state() const { return block("state").st; }
    bool done() const { return has_ended(block("done").st); }
    micro_thread_info info() const {
        auto& b = block("info");
        return {b.id, detail::name_of(b), b.st};
    }
    // get_deferred — its deferred, to arm/fire it from elsewhere.
    deferred& get_deferred() const { return block("get_deferred").d; }
    explicit operator bool() const noexcept { return cb_ != nullptr; }

private:
    R result(const char* op) {
        auto& b = block(op);
        detail::check_outcome(b, "result()");
        if constexpr (!std::is_void_v<R>) {
            if (!b.has_value) {
                throw usage_error("the result of micro-thread " + detail::describe(b) +
                                  " was already moved out by an earlier wait()");
            }
            if constexpr (std::is_copy_constructible_v<R>) {
                return b.value;
            } else {
                b.has_value = false;
                R out(std::move(b.value));
                b.value.~R();
                return out;
            }
        }
    }
    detail::result_block<R>& block(const char* op) const {
        if (!cb_) [[unlikely]]
            detail::throw_empty_handle(op);
        return *cb_;
    }
    detail::result_block<R>* cb_ = nullptr;
};

// spawn — starts f(args...) in a new micro-thread (queued behind what is
// runnable; the caller keeps running — or, with opts.eager, the new one runs
// first until it suspends, see spawn_options). Must be called on an OS
// thread with an engine (inside mt::run). Throws stack_allocation_error when
// no stack with a guard page can be mapped (it names vm.max_map_count when
// the kernel's limit on mappings may be why). Never waits: an eager spawn
// switches away and back, but is no wait (no deadline, no abort raised in
// the caller: an abort that arrives meanwhile is raised at its next wait).
template <class F, class... A>
auto spawn(const spawn_options& opts, F&& f, A&&... args) {
    using R = detail::result_of_t<F, A...>;
    auto blk = std::make_unique<detail::task_block<R, std::decay_t<F>, std::decay_t<A>...>>(
        std::forward<F>(f), std::forward<A>(args)...);
    const bool now = detail::admit(*blk, opts);
    auto* raw = blk.release();
    micro_thread<R> h(raw);
    if (now) detail::start_now(*raw);
    return h;
}

template <class F, class... A>
    requires(!std::is_same_v<std::decay_t<F>, spawn_options>)
auto spawn(F&& f, A&&... args) {
    return spawn(spawn_options{}, std::forward<F>(f), std::forward<A>(args)...);
}

// start_and_forget — the PEP's detached micro-thread. Its uncaught exception
// (anything but MicroThreadExit) goes to the engine's unhandled-exception
// handler; the default prints the name, id and message to stderr.
template <class F, class... A>
void start_and_forget(const spawn_options& opts, F&& f, A&&... args) {
    auto h = spawn(opts, std::forward<F>(f), std::forward<A>(args)...);
    // Dropping the only handle detaches it: no one will join it.
}

template <class F, class... A>
    requires(!std::is_same_v<std::decay_t<F>, spawn_options>)
void start_and_forget(F&& f, A&&... args) {
    start_and_forget(spawn_options{}, std::forward<F>(f), std::forward<A>(args)...);
}

// yield — lets every other runnable micro-thread run once. Throws
// MicroThreadExit if the caller was aborted; usage_error outside a micro-thread.
inline void yield() { engine::get("yield()").yield_running(); }

// current — id, name and state of the running micro-thread (id 0, "root",
// when called on the engine's root context).
micro_thread_info current();

// this_deferred — the running micro-thread's own deferred.
deferred& this_deferred();

// dump — every live micro-thread of this OS thread's engine, one per line.
std::string dump();

// set_unhandled_exception_handler — replaces the engine's handler.
void set_unhandled_exception_handler(unhandled_handler h);

// run — starts an engine on this OS thread, runs main() as micro-thread #1
// 'main' and everything it starts, and returns main's result (or rethrows its
// exception) once every micro-thread has ended. Throws deadlock_error when
// micro-threads wait and nothing can wake them, micro_thread_aborted when
// main itself ended by MicroThreadExit (it was aborted, or put to a closed
// pipe), usage_error when an engine already runs on this OS thread.
template <class F>
auto run(F&& main, engine_options opts = {}) {
    engine e(opts);
    auto h = spawn(spawn_options{"main"}, std::forward<F>(main));
    e.set_main(h.get_deferred().owner());
    e.loop();
    return h.result();
}

}  // namespace mt
