// core/engine_group.hpp — engines on many OS threads: N engines, each on its
// own OS thread, working together.
//
//   mt::engine_group g({.threads = 4});
//   int r = g.run([&] {                                   // 'main' on engine 0
//       auto h = mt::spawn_on(1, [] { return heavy(); });  // a micro-thread on engine 1
//       auto v = mt::parallel_map(inputs, [](int x) { return f(x); });
//       return h.wait();                                   // suspends only 'main'
//   });
//
// run() blocks the calling OS thread (which must have no engine) until the
// group's work has ended — 'main' and every micro-thread started through the
// group (spawn_on, on_every, spawn_on_least_loaded) — and every engine's
// own micro-threads have ended; it returns main's result or rethrows the
// first failure: main's exception, the exception of a group micro-thread
// whose handle was dropped unjoined, an error of an engine itself,
// deadlock_error when the group waits on itself forever, or Ctrl-C's
// interrupted_error (both below). The first failure aborts every engine's
// micro-threads.
//
// What crosses engines (docs/design/multicore.md): a remote_thread handle
// (join, abort, from any engine or plain OS thread), an xpipe (pipes/), the
// functions and arguments handed to spawn_on (moved to the other engine's
// thread; they must not share unsynchronised state), and values (moved).
// Everything else — micro_thread handles, micro_pipes, mutexes, deferreds —
// stays on its engine: using it from another engine is a usage_error naming
// the operation (engine_binding.hpp, engine::require_here).
//
// Invariants (of the group's shared core, guarded by its mutex):
//   * outstanding counts the group micro-threads posted and not yet ended
//     (a posted task that never ran counts until it is destroyed); when it
//     reaches 0, stopping is set and every engine's anchor is woken;
//   * failure holds the first failure, set once;
//   * interrupted is set once a Ctrl-C was passed on to 'main'.
//
// Ctrl-C (SIGINT) reaches the group's 'main': whichever engine's notifier
// owns SIGINT interrupts its own anchor, which passes interrupted_error on
// to 'main' on engine 0 through engine 0's mailbox. 'main' may catch it and
// end cleanly; uncaught, it fails the group (every engine's micro-threads
// are aborted, on_every's servers too; run rethrows it). A second Ctrl-C
// in the same run — main is handling the first — fails the group at once
// with interrupted_error, as does a Ctrl-C when 'main' has ended.
//
// Deadlocks across the group: an engine whose micro-threads only wait on
// the group (cross waits: xpipes, remote joins) sleeps quiescent instead of
// reporting a deadlock itself; when every engine is quiescent and no OS
// thread outside the group is alive that could still put, close or abort,
// the thread blocked in run() fails the group with deadlock_error listing
// every engine's waiting micro-threads ("engine 1: #3 'worker' waits to get
// from xpipe 'b'"). The census and its argument: core/detail/group_census.hpp.
// Caveat: any OS thread it does not know (not an engine of this group, not
// the run() caller, not blocked in an xpipe or remote join without a
// deadline, not an idle worker_pool thread) keeps it from reporting, so a
// deadlock then hangs (docs/caveats.md). The dump is group_dump().
#pragma once

#include <atomic>
#include <cstddef>
#include <exception>
#include <functional>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "deadline.hpp"
#include "detail/cross_wait.hpp"
#include "detail/mailbox.hpp"
#include "engine.hpp"
#include "errors.hpp"
#include "micro_thread.hpp"

namespace mt {

// group_options — how to start an engine group.
struct group_options {
    // threads — how many engines (each on its own OS thread). Unset: the
    // available cores (default_engine_count). 0 or more than
    // max_group_engines: usage_error.
    std::optional<std::size_t> threads;
    // pin — engine i's OS thread is pinned to the i-th CPU of the process's
    // affinity mask (modulo its size).
    bool pin = false;
    // engine — the options of every engine.
    engine_options engine{};
};

inline constexpr std::size_t max_group_engines = 1024;

// default_engine_count — the cores this process may use: the CPUs of its
// affinity mask (sched_getaffinity), bounded by the cgroup's CPU quota
// (cgroup v2 cpu.max, or v1 cpu.cfs_quota_us / cpu.cfs_period_us), at
// least 1.
std::size_t default_engine_count();

namespace detail {

struct group_core;

// group_task_count — owned by a group micro-thread's function from the
// moment it is posted: its end (or its destruction unrun) is counted once.
struct group_task_count {
    std::shared_ptr<group_core> core;
    std::size_t index = 0;
    group_task_count() = default;
    // counts a new task on engine i; throws usage_error once the group stops.
    group_task_count(std::shared_ptr<group_core> c, std::size_t i, const char* op);
    group_task_count(group_task_count&& o) noexcept : core(std::move(o.core)), index(o.index) {}
    group_task_count& operator=(group_task_count&&) = delete;
    ~group_task_count();
};

// remote_state_base — what a remote_thread and the micro-thread it names
// share (guarded by mu).
struct remote_state_base : std::enable_shared_from_this<remote_state_base> {
    std::mutex mu;
    cross_list joiners;
    std::shared_ptr<group_core> core;
    std::size_t index = 0;  // the engine it runs on
    std::string name;
    control_block* self = nullptr;  // while spawned and not ended (engine index's thread only)
    bool done = false;
    bool aborted = false;
    bool abort_requested = false;
    bool observed = false;  // a join saw the outcome
    bool is_main = false;  // its failure fails the group at once
    std::exception_ptr error;

    ~remote_state_base();
    // finish — the micro-thread ended (engine thread): wakes the joiners.
    void finish(std::exception_ptr e, bool was_aborted) noexcept;
    // join — waits for the end, then throws its error or abort (op named).
    void join(const deadline& d, const char* op);
    // request_abort — any thread: posts the abort to the engine.
    void request_abort();
    static void describe(const void* obj, std::string& out);
};

template <class R>
struct remote_state : remote_state_base {
    std::optional<R> value;
};
template <>
struct remote_state<void> : remote_state_base {};

// post_to — hands `fn` (run on the root of engine `index`'s thread; must
// not suspend or throw) to that engine. Throws usage_error when the group
// has stopped, or the index is out of range.
void post_to(group_core& core, std::size_t index, std::unique_ptr<remote_task> task, const char* op);
std::shared_ptr<group_core> current_group(const char* op);
// set_main_state — `st` is the group's 'main' (Ctrl-C goes to it).
void set_main_state(group_core& core, const std::shared_ptr<remote_state_base>& st);
std::size_t group_size(const group_core& core) noexcept;
std::size_t least_loaded(const group_core& core) noexcept;
void check_index(const group_core& core, std::size_t index, const char* op);

template <class Fn>
struct fn_task final : remote_task {
    Fn fn;
    explicit fn_task(Fn f) : fn(std::move(f)) {}
    void run(engine& e) noexcept override { fn(e); }
};
template <class Fn>
std::unique_ptr<remote_task> make_task(Fn fn) {
    return std::make_unique<fn_task<Fn>>(std::move(fn));
}

}  // namespace detail

// remote_thread<R> — a handle to a micro-thread on another engine of the
// group. Copies share it; any OS thread may hold, join and abort it.
template <class R>
class remote_thread {
public:
    remote_thread() = default;
    explicit remote_thread(std::shared_ptr<detail::remote_state<R>> st) noexcept : st_(std::move(st)) {}

    // wait — suspends the calling micro-thread (or blocks a plain OS thread)
    // until it has ended; returns its result or rethrows its exception.
    // Throws micro_thread_aborted if it was aborted, timeout_error when `d`
    // passes first, usage_error on an engine's root context or when a
    // move-only result was already taken, MicroThreadExit when the caller is
    // aborted meanwhile.
    R wait(deadline d = {}) {
        auto& s = state();
        s.join(d, "remote_thread::wait");
        if constexpr (!std::is_void_v<R>) {
            std::lock_guard<std::mutex> lock(s.mu);
            if (!s.value) throw usage_error("the result of micro-thread '" + s.name + "' on engine " +
                                            std::to_string(s.index) + " was already moved out by an earlier wait()");
            if constexpr (std::is_copy_constructible_v<R>) {
                return *s.value;
            } else {
                R out(std::move(*s.value));
                s.value.reset();
                return out;
            }
        }
    }
    // abort — raises MicroThreadExit in it on its engine, through that
    // engine's mailbox (any OS thread; never blocks). Does nothing once it
    // has ended; a micro-thread not yet started never runs its body.
    void abort() { state().request_abort(); }
    bool done() const {
        auto& s = state();
        std::lock_guard<std::mutex> lock(s.mu);
        return s.done;
    }
    std::size_t engine_index() const { return state().index; }
    explicit operator bool() const noexcept { return st_ != nullptr; }

private:
    detail::remote_state<R>& state() const {
        if (!st_) throw usage_error("operation on an empty remote_thread handle");
        return *st_;
    }
    std::shared_ptr<detail::remote_state<R>> st_;
};

namespace detail {

// remote_body — the function of a group micro-thread: runs fn and reports
// its outcome to the shared state; destroyed unrun (the engine ended before
// running it, or it was aborted before it started), it reports an abort.
// It carries the group's count of the task, released with it.
template <class R, class Fn>
struct remote_body {
    std::shared_ptr<remote_state<R>> st;
    group_task_count count;
    Fn fn;
    bool ran = false;
    remote_body(std::shared_ptr<remote_state<R>> s, group_task_count&& c, Fn&& f)
        : st(std::move(s)), count(std::move(c)), fn(std::move(f)) {}
    remote_body(remote_body&& o) noexcept : st(std::move(o.st)), count(std::move(o.count)), fn(std::move(o.fn)), ran(o.ran) {
        o.ran = true;
    }
    remote_body& operator=(remote_body&&) = delete;
    ~remote_body() {
        if (!ran && st) st->finish(nullptr, true);
    }
    void operator()() {
        ran = true;
        bool stop;
        {
            std::lock_guard<std::mutex> lock(st->mu);
            stop = st->abort_requested;
        }
        try {
            if (stop) throw MicroThreadExit{};
            if constexpr (std::is_void_v<R>) {
                fn();
            } else {
                R v = fn();
                std::lock_guard<std::mutex> lock(st->mu);
                st->value.emplace(std::move(v));
            }
            st->finish(nullptr, false);
        } catch (const MicroThreadExit&) {
            st->finish(nullptr, true);
        } catch (...) {
            st->finish(std::current_exception(), false);
        }
    }
};

template <class F>
auto spawn_in(const std::shared_ptr<group_core>& core, std::size_t index, std::string name, F&& f, const char* op,
              bool is_main = false) {
    using Fn = std::decay_t<F>;
    using R = std::invoke_result_t<Fn&>;
    check_index(*core, index, op);
    auto st = std::make_shared<remote_state<R>>();
    st->core = core;
    st->index = index;
    st->is_main = is_main;
    st->name = name.empty() ? std::string("remote") : std::move(name);
    if (is_main) set_main_state(*core, st);
    remote_body<R, Fn> body(st, group_task_count(core, index, op), Fn(std::forward<F>(f)));
    auto task = make_task([body = std::move(body)](engine&) mutable noexcept {
        auto s = body.st;
        try {
            auto h = spawn(spawn_options{s->name}, std::move(body));
            std::lock_guard<std::mutex> lock(s->mu);
            if (!s->done) s->self = &h.get_deferred().owner();
        } catch (...) {
            s->finish(std::current_exception(), false);
        }
    });
    post_to(*core, index, std::move(task), op);
    return remote_thread<R>(std::move(st));
}

}  // namespace detail

// spawn_on — starts f() as a micro-thread on engine `index` of the calling
// engine's group and returns its handle. Any micro-thread of a group
// engine may call it (it never suspends). `f` is moved to that engine's OS
// thread. Throws usage_error outside a group, for an index out of range,
// or once the group has stopped.
template <class F>
auto spawn_on(std::size_t index, F&& f) {
    auto core = detail::current_group("spawn_on");
    return detail::spawn_in(core, index, {}, std::forward<F>(f), "spawn_on");
}
template <class F>
auto spawn_on(std::size_t index, std::string name, F&& f) {
    auto core = detail::current_group("spawn_on");
    return detail::spawn_in(core, index, std::move(name), std::forward<F>(f), "spawn_on");
}

// spawn_on_least_loaded — spawn_on the engine with the fewest group
// micro-threads running (ties: the lowest index).
template <class F>
auto spawn_on_least_loaded(F&& f) {
    auto core = detail::current_group("spawn_on_least_loaded");
    return detail::spawn_in(core, detail::least_loaded(*core), {}, std::forward<F>(f), "spawn_on_least_loaded");
}

// on_every — f(i) as a micro-thread on every engine i; the handles in
// engine order.
template <class F>
auto on_every(F f) {
    auto core = detail::current_group("on_every");
    using R = std::invoke_result_t<F&, std::size_t>;
    std::vector<remote_thread<R>> hs;
    for (std::size_t i = 0; i < detail::group_size(*core); ++i)
        hs.push_back(detail::spawn_in(core, i, "every", [f, i]() mutable { return f(i); }, "on_every"));
    return hs;
}

// group_engines — how many engines the calling engine's group has;
// this_engine_index — which one the caller runs on. usage_error outside a group.
std::size_t group_engines();
std::size_t this_engine_index();

// join_all — waits for every handle in order; the first failure aborts the
// others, waits for them, and is rethrown. Returns the results in order.
template <class R>
auto join_all(std::vector<remote_thread<R>>& hs) {
    std::exception_ptr first;
    std::size_t i = 0;
    if constexpr (std::is_void_v<R>) {
        for (; i < hs.size(); ++i) {
            try {
                hs[i].wait();
            } catch (const MicroThreadExit&) {
                for (auto& h : hs) h.abort();
                throw;
            } catch (...) {
                first = std::current_exception();
                break;
            }
        }
    } else {
        std::vector<R> out;
        out.reserve(hs.size());
        for (; i < hs.size(); ++i) {
            try {
                out.push_back(hs[i].wait());
            } catch (const MicroThreadExit&) {
                for (auto& h : hs) h.abort();
                throw;
            } catch (...) {
                first = std::current_exception();
                break;
            }
        }
        if (!first) return out;
    }
    if (first) {
        for (auto& h : hs) h.abort();
        for (auto& h : hs) {
            try {
                h.wait();
            } catch (...) {
            }
        }
        std::rethrow_exception(first);
    }
    if constexpr (!std::is_void_v<R>) return std::vector<R>{};
}

// parallel_map — fn(x) for every x of `items` (a sized range), split in
// contiguous chunks over the group's engines; the results in order. The
// items are copied to the engines; fn is copied to each. The first failure
// aborts the rest and is rethrown (after they have ended). Called from a
// micro-thread of a group engine; suspends it only.
template <class Range, class Fn>
auto parallel_map(const Range& items, Fn fn) {
    using T = std::decay_t<decltype(*std::begin(items))>;
    using R = std::invoke_result_t<Fn&, const T&>;
    auto core = detail::current_group("parallel_map");
    const std::size_t n = static_cast<std::size_t>(std::distance(std::begin(items), std::end(items)));
    const std::size_t engines = detail::group_size(*core);
    const std::size_t chunks = n < engines ? n : engines;
    std::vector<remote_thread<std::vector<R>>> hs;
    auto it = std::begin(items);
    for (std::size_t c = 0; c < chunks; ++c) {
        const std::size_t len = n / chunks + (c < n % chunks ? 1 : 0);
        std::vector<T> part;
        part.reserve(len);
        for (std::size_t k = 0; k < len; ++k, ++it) part.push_back(*it);
        hs.push_back(detail::spawn_in(core, (this_engine_index() + c) % engines, "parallel_map",
                                      [part = std::move(part), fn]() mutable {
                                          std::vector<R> out;
                                          out.reserve(part.size());
                                          for (const T& x : part) out.push_back(fn(x));
                                          return out;
                                      },
                                      "parallel_map"));
    }
    std::vector<R> out;
    out.reserve(n);
    for (auto& part : join_all(hs))
        for (auto& r : part) out.push_back(std::move(r));
    return out;
}

// engine_group — see the top of this file.
class engine_group {
public:
    // Throws usage_error for 0 or more than max_group_engines threads.
    explicit engine_group(group_options opts = {});
    ~engine_group();
    engine_group(const engine_group&) = delete;
    engine_group& operator=(const engine_group&) = delete;

    std::size_t size() const noexcept { return size_; }

    // run — runs main() as micro-thread 'main' on engine 0 and everything
    // started through the group; returns main's result or rethrows the first
    // failure (deadlock_error for a deadlock across the engines). Blocks
    // the calling OS thread, which must have no engine (usage_error
    // otherwise) and which meanwhile watches the group's census. Once per
    // group (usage_error after).
    template <class F>
    auto run(F&& main) {
        using R = std::invoke_result_t<std::decay_t<F>&>;
        std::shared_ptr<detail::remote_state<R>> st;
        remote_thread<R> h;
        start([&](const std::shared_ptr<detail::group_core>& core) {
            h = detail::spawn_in(core, 0, "main", std::forward<F>(main), "engine_group::run", true);
        });
        join_threads();  // rethrows the first failure
        return h.wait();
    }

private:
    void start(const std::function<void(const std::shared_ptr<detail::group_core>&)>& spawn_main);
    void join_threads();
    void watch();
    void report_deadlock() noexcept;

    std::size_t size_ = 0;
    group_options opts_;
    std::shared_ptr<detail::group_core> core_;
    std::vector<std::thread> threads_;
    bool ran_ = false;
};

}  // namespace mt
