// nonblocking_io/subprocess_call.hpp — run a function in another process.
//
//   auto call = mt::call_in_subprocess(count_primes, 0L, 10'000'000L);  // forks now
//   ...                                   // the engine runs everything else meanwhile
//   long n = call.result();               // suspends this micro-thread until the child answers
//
// The child is a fork of the parent: the callable and its arguments are
// already in its memory, whatever they are. It runs the function on a fresh
// stack (8 MiB by default) with no engine, writes the result — or the
// exception's type name and what() — to a pipe and exits. The parent reads
// that pipe with read_d and learns of the exit through wait_child, in a
// collector micro-thread per call, so every engine of the process can run
// calls, and each child's exit reaches the engine that started it. Results
// cross as bytes (nonblocking_io/subprocess_codec.hpp). A pool bounds how
// many run at once: nonblocking_io/process_pool.hpp. What a function run
// this way may do, and what it must not: docs/design/subprocess_calls.md ("What a
// function may do").
//
// States of a call:
//
//   pending --(a pool place)--> running --(the child ended, reaped)--> done
//      +------(abort(), the handle dropped, the pool destroyed)------> done
//
//   pending: queued in a process_pool, no process yet (call_in_subprocess
//            starts running);
//   running: a child exists (perhaps already exited, not yet reaped);
//   done:    the outcome is known and the child is reaped: no process, no fd.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "../core/deadline.hpp"
#include "../core/errors.hpp"
#include "detail/subprocess_child.hpp"
#include "subprocess_codec.hpp"

namespace mt {

// subprocess_error — a call in a subprocess that did not produce its value.
// why() says how; what() names the call, its pid and the details:
//   "subprocess call 'parse' (pid 4242) raised std::invalid_argument: bad digit"
//   "subprocess call 'crash' (pid 4243) was killed by signal 11 (SIGSEGV: Segmentation fault)"
//   "subprocess call 'quit' (pid 4244) exited with status 3 without answering"
//   "subprocess call 'garble' (pid 4245) sent a bad answer (its first bytes are not an answer's mark) and was killed"
//   "subprocess call 'slow' (pid 4246) was aborted"
class subprocess_error : public error {
public:
    enum class reason : unsigned char {
        raised,      // the function threw: exception_type(), exception_what()
        signaled,    // the child was killed by signal(): a crash, or a kill from outside
        exited,      // the child exited with exit_status() before answering (_exit, exit)
        bad_answer,  // what came back is not an answer (garbage, cut short, undecodable)
        aborted,     // abort(), or the handle or the pool went away before the end
    };

    subprocess_error(const std::string& what, reason why, pid_t pid, int status, std::string type = {},
                     std::string exception_what = {})
        : error(what), why_(why), pid_(pid), status_(status), type_(std::move(type)), what_(std::move(exception_what)) {}

    reason why() const noexcept { return why_; }
    pid_t pid() const noexcept { return pid_; }  // -1 when it never started
    // status — as waitpid() reported it; -1 when not reaped (never started).
    int status() const noexcept { return status_; }
    int signal() const noexcept;       // the signal that ended the child, or 0
    int exit_status() const noexcept;  // its exit status if it exited, or -1
    const std::string& exception_type() const noexcept { return type_; }  // raised: e.g. "std::runtime_error"
    const std::string& exception_what() const noexcept { return what_; }  // raised: its what()

private:
    reason why_;
    pid_t pid_;
    int status_;
    std::string type_;
    std::string what_;
};

// subprocess_options — how to run one call.
struct subprocess_options {
    std::string_view name = {};  // in errors and dumps; default "call" (in a pool: "<pool>#<n>")
    std::size_t stack_size = 8 * 1024 * 1024;  // the child's fresh stack (usable bytes)
    // keep_fds — fds the child keeps besides 0, 1 and 2; it closes every other one.
    std::vector<int> keep_fds = {};
};

class process_pool;

namespace detail {

struct subprocess_state;

// subprocess_ref — the untyped handle behind subprocess_call<R>: one owner
// of one call. Engine thread only.
class subprocess_ref {
public:
    subprocess_ref() noexcept;
    explicit subprocess_ref(std::shared_ptr<subprocess_state> s) noexcept;
    subprocess_ref(subprocess_ref&&) noexcept;
    subprocess_ref& operator=(subprocess_ref&&) noexcept;
    ~subprocess_ref();

    bool pending() const noexcept;
    bool running() const noexcept;
    bool done() const noexcept;
    pid_t pid() const noexcept;
    std::string name() const;
    // answer — waits until done; the value's bytes, or throws the failure.
    const std::string& answer(const deadline& d, const char* op);
    void abort(std::chrono::nanoseconds grace);
    // bad_value — throws the subprocess_error of a value its codec refused.
    [[noreturn]] void bad_value(const char* why) const;

private:
    void drop() noexcept;
    std::shared_ptr<subprocess_state> s_;
};

// make_subprocess — a pending call of `job`, made in (and bound to) the
// running micro-thread's engine. usage_error outside a micro-thread.
std::shared_ptr<subprocess_state> make_subprocess(std::unique_ptr<child_job> job, const subprocess_options& opts,
                                                  const char* op);
// start_subprocess — forks it now (pending -> running). Throws
// std::system_error when the pipe, the fork or its collector cannot be had
// (the call is then done, with that error as its outcome).
void start_subprocess(const std::shared_ptr<subprocess_state>& s);

template <class R, class F, class... A>
struct call_job final : child_job {
    template <class FF, class... AA>
    explicit call_job(FF&& f, AA&&... a) : fn(std::forward<FF>(f)), args(std::forward<AA>(a)...) {}
    std::string run() override {
        if constexpr (std::is_void_v<R>) {
            std::apply(fn, args);
            return {};
        } else {
            return subprocess_codec<R>::encode(std::apply(fn, args));
        }
    }
    F fn;
    std::tuple<A...> args;
};

template <class F, class... A>
using subprocess_result_t = std::decay_t<std::invoke_result_t<std::decay_t<F>&, std::decay_t<A>&...>>;

template <class F, class... A>
std::unique_ptr<child_job> make_job(F&& f, A&&... args) {
    using R = subprocess_result_t<F, A...>;
    static_assert(has_subprocess_codec<R>,
                  "the function's result cannot cross back from a subprocess: return std::string, "
                  "std::vector<std::byte>, void or a trivially copyable value, or specialize "
                  "mt::subprocess_codec<R> (nonblocking_io/subprocess_codec.hpp)");
    return std::make_unique<call_job<R, std::decay_t<F>, std::decay_t<A>...>>(std::forward<F>(f),
                                                                              std::forward<A>(args)...);
}

}  // namespace detail

// subprocess_call<R> — the handle of one call; move-only. Must stay on the
// OS thread of the engine that made it.
template <class R>
class subprocess_call {
public:
    subprocess_call() = default;  // empty: result() and abort() are usage errors
    subprocess_call(subprocess_call&&) noexcept = default;
    subprocess_call& operator=(subprocess_call&&) noexcept = default;  // drops the call it held (see below)
    // ~subprocess_call — a call not done is dropped: a pending one never
    // starts; a running child is killed (SIGKILL) at once and reaped by its
    // collector as soon as the engine runs it. Never suspends, never throws.
    ~subprocess_call() = default;

    bool pending() const noexcept { return ref_.pending(); }  // queued in a pool, not started
    bool running() const noexcept { return ref_.running(); }  // its child exists and is not reaped
    bool done() const noexcept { return ref_.done(); }        // finished, failed or aborted
    pid_t pid() const noexcept { return ref_.pid(); }         // -1 until it starts
    std::string name() const { return ref_.name(); }

    // result — suspends the running micro-thread until the call is done,
    // then returns its value (a copy: result() may be called again, and
    // answers the same). Throws subprocess_error when the function threw,
    // the child died or exited without answering, the answer was bad or the
    // call was aborted (each time it is called); std::system_error when the
    // child could not be started (pool calls; call_in_subprocess throws
    // that at once); timeout_error when `d` passes first (the call goes on:
    // wait again, abort() it or drop the handle); MicroThreadExit when the
    // caller is aborted meanwhile; usage_error outside a micro-thread, from
    // another engine, for a negative timeout or on an empty handle.
    R result(deadline d = {}) {
        const std::string& bytes = ref_.answer(d, "subprocess_call::result");
        if constexpr (std::is_void_v<R>) {
            if (!bytes.empty()) ref_.bad_value("a void function's answer is not empty");
        } else {
            try {
                return subprocess_codec<R>::decode(bytes);
            } catch (const std::exception& e) {
                ref_.bad_value(e.what());
            }
        }
    }

    // abort — ends the call unless it is done. A pending call is dropped
    // (never starts). A running child gets SIGTERM; if it has not ended
    // after `grace`, SIGKILL. Suspends the running micro-thread until the
    // child is reaped; if the caller is aborted meanwhile, the child gets
    // SIGKILL and its collector reaps it. Afterwards result() raises
    // subprocess_error (aborted). Does nothing to a call that is done.
    // usage_error as result().
    void abort(std::chrono::nanoseconds grace = std::chrono::seconds(1)) { ref_.abort(grace); }

private:
    template <class F, class... A>
    friend auto call_in_subprocess(const subprocess_options& opts, F&& f, A&&... args);
    friend class process_pool;
    explicit subprocess_call(detail::subprocess_ref r) noexcept : ref_(std::move(r)) {}
    detail::subprocess_ref ref_;
};

// call_in_subprocess — forks a child that runs f(args...) and returns its
// handle at once (running). Never suspends. Not bounded: use a process_pool
// to bound how many run at once. Throws usage_error outside a micro-thread,
// std::system_error when the child cannot be started (fork's EAGAIN at the
// process limit, no fds for the pipe).
template <class F, class... A>
auto call_in_subprocess(const subprocess_options& opts, F&& f, A&&... args) {
    using R = detail::subprocess_result_t<F, A...>;
    auto job = detail::make_job(std::forward<F>(f), std::forward<A>(args)...);
    auto s = detail::make_subprocess(std::move(job), opts, "call_in_subprocess");
    detail::subprocess_ref ref(s);  // from here on the call is dropped on every path
    detail::start_subprocess(s);
    return subprocess_call<R>(std::move(ref));
}

template <class F, class... A>
    requires(!std::is_same_v<std::decay_t<F>, subprocess_options>)
auto call_in_subprocess(F&& f, A&&... args) {
    return call_in_subprocess(subprocess_options{}, std::forward<F>(f), std::forward<A>(args)...);
}

}  // namespace mt
