// nonblocking_io/worker_pool.hpp — a bounded pool of OS threads for what
// cannot be polled: regular files, getaddrinfo, CPU-heavy functions.
//
//   long n = mt::submit_work(count_primes, 1'000'000);   // the caller's micro-thread waits;
//                                                       // the engine runs everything else
//
// The calling micro-thread is suspended in an internal wait (woken through
// the engine's thread-safe mailbox) and resumed with the result or the
// exception. If it is aborted or times out while it waits, it goes on at
// once: a job that has not started is dropped, one that has runs to its end
// on its worker thread and its result is dropped.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "../core/deadline.hpp"
#include "../core/detail/thread_census.hpp"
#include "../core/micro_thread.hpp"
#include "../notifier/notifier.hpp"

namespace mt {

// Its idle workers count as parked for an engine group's deadlock census
// (core/detail/thread_census.hpp) while its queue is empty: they act only
// when someone posts.
class worker_pool : private detail::park_source {
public:
    // worker_pool — `threads` worker OS threads (started on demand, at most that many).
    explicit worker_pool(std::size_t threads);
    // ~worker_pool — runs the queued jobs, then joins the threads.
    ~worker_pool();
    worker_pool(const worker_pool&) = delete;
    worker_pool& operator=(const worker_pool&) = delete;

    // post — queues a job. Any OS thread. Never blocks.
    void post(std::function<void()> job);

    std::size_t threads() const noexcept { return max_threads_; }
    std::size_t pending() const;

    // shared — the process-wide pool: max(4, 2 x hardware threads).
    static worker_pool& shared();

private:
    void work();
    void append_parked(std::vector<pid_t>& out) const noexcept override;

    const std::size_t max_threads_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> queue_;  // guarded by mu_
    std::size_t idle_ = 0;                     // guarded by mu_
    std::vector<pid_t> idle_tids_;             // guarded by mu_: the idle workers' thread ids
    bool stopping_ = false;                    // guarded by mu_
    std::vector<std::thread> threads_;         // guarded by mu_
};

namespace detail {
template <class R>
struct job_result {
    std::optional<std::conditional_t<std::is_void_v<R>, char, R>> value;
    std::exception_ptr error;
    // Set when the caller stopped waiting (aborted, timed out) before the job
    // started: the job is dropped unrun (a long queue of abandoned jobs must
    // not hold up the pool, nor the program's exit).
    std::atomic<bool> abandoned{false};
};

// remote_wait — an internal wait of the running micro-thread on a wake-up
// from another OS thread (the engine's mailbox, core/detail/mailbox.hpp).
// Made by begin(), ended by end() or, when setting up the job failed,
// abandon().
struct remote_wait {
    control_block* me;
    std::shared_ptr<mailbox> box;
    std::uint32_t slot;
    std::uint32_t generation;

    static remote_wait begin(const char* op);
    void post() const noexcept;  // from any OS thread, once: ends the wait
    void end(const deadline& d, const char* op) const;
    void abandon() const noexcept;
};
}  // namespace detail

// submit_work_until / submit_work_on / submit_work — run f(args...) on a
// worker thread and suspend the calling micro-thread until it is done;
// return its result or rethrow its exception. Must run in a micro-thread.
// With a deadline, throws timeout_error when it passes first. If the caller
// is aborted or times out before the job started, the job is dropped unrun;
// one already running runs to its end and its result is dropped.
template <class F, class... A>
auto submit_work_until(worker_pool& pool, deadline d, F&& f, A&&... args) {
    using R = std::invoke_result_t<std::decay_t<F>, std::decay_t<A>&...>;
    auto state = std::make_shared<detail::job_result<R>>();
    auto wake = detail::remote_wait::begin("submit_work");
    try {
        pool.post([state, wake, fn = std::forward<F>(f),
                   tup = std::make_tuple(std::forward<A>(args)...)]() mutable {
            if (state->abandoned.load(std::memory_order_acquire)) return;
            try {
                if constexpr (std::is_void_v<R>) {
                    std::apply(fn, tup);
                    state->value.emplace('x');
                } else {
                    state->value.emplace(std::apply(fn, tup));
                }
            } catch (...) {
                state->error = std::current_exception();
            }
            wake.post();
        });
    } catch (...) {
        wake.abandon();
        throw;
    }
    try {
        wake.end(d, "submit_work");
    } catch (...) {
        state->abandoned.store(true, std::memory_order_release);
        throw;
    }
    // Moved out: the job (and its copy of the state) may be destroyed later on
    // the worker thread, and what the result or the error owns must be
    // released here, on the engine's thread.
    if (state->error) std::rethrow_exception(std::exchange(state->error, nullptr));
    if constexpr (!std::is_void_v<R>) return std::move(*state->value);
}

template <class F, class... A>
auto submit_work_on(worker_pool& pool, F&& f, A&&... args) {
    return submit_work_until(pool, deadline{}, std::forward<F>(f), std::forward<A>(args)...);
}

template <class F, class... A>
auto submit_work(F&& f, A&&... args) {
    return submit_work_until(worker_pool::shared(), deadline{}, std::forward<F>(f), std::forward<A>(args)...);
}

// submit_work_then — the PEP discussion's callback/errback form: returns at
// once; a micro-thread waits for the job and then calls on_result(result)
// or on_error(exception_ptr) on the engine's thread.
template <class F, class OnResult, class OnError>
void submit_work_then(F f, OnResult on_result, OnError on_error) {
    start_and_forget(spawn_options{"submit_work_then"},
                     [f = std::move(f), on_result = std::move(on_result), on_error = std::move(on_error)]() mutable {
                         using R = std::invoke_result_t<F&>;
                         std::exception_ptr err;
                         if constexpr (std::is_void_v<R>) {
                             try {
                                 submit_work(f);
                             } catch (const MicroThreadExit&) {
                                 throw;
                             } catch (...) {
                                 err = std::current_exception();
                             }
                             if (err) on_error(err);
                             else on_result();
                         } else {
                             std::optional<R> r;
                             try {
                                 r.emplace(submit_work(f));
                             } catch (const MicroThreadExit&) {
                                 throw;
                             } catch (...) {
                                 err = std::current_exception();
                             }
                             if (err) on_error(err);
                             else on_result(std::move(*r));
                         }
                     });
}

// read_file / write_file — a regular file, read or written on the pool.
std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& data);

}  // namespace mt
