// nonblocking_io/process_pool.hpp — functions run in subprocesses, at most
// max_processes at a time, the rest waiting in line.
//
//   mt::process_pool pool(4, "primes");
//   std::vector<mt::subprocess_call<long>> calls;
//   for (long lo = 0; lo < 100'000'000; lo += 1'000'000)
//       calls.push_back(pool.submit(count_primes, lo, lo + 1'000'000));  // never suspends
//   long total = 0;
//   for (auto& c : calls) total += c.result();
//
// submit() starts the call at once when fewer than max_processes of the
// pool's calls have a child, and queues it otherwise; a place is given back
// when a child has been reaped (not when it merely answered), so the pool
// never has more than max_processes children alive, and queued calls start
// in the order they were submitted. Calls are subprocess_call handles
// (nonblocking_io/subprocess_call.hpp); a handle dropped while its call
// waits in line takes it out of the line.
//
// Separate from set_max_processes() (nonblocking_io/process.hpp), which
// bounds process::start: a pool is an object with its own bound, and
// several may live side by side.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "subprocess_call.hpp"

namespace mt {

namespace detail {
struct pool_core;
}

class process_pool {
public:
    // process_pool — a pool of at most max_processes children at once
    // (usage_error for 0). `name` names its calls "<name>#<n>" in errors
    // and dumps. Never suspends; may be made outside a micro-thread, and
    // belongs to the engine of its first submit().
    explicit process_pool(std::size_t max_processes, std::string_view name = "process_pool");
    process_pool(const process_pool&) = delete;
    process_pool& operator=(const process_pool&) = delete;
    // ~process_pool — calls still in line are dropped (result() raises
    // subprocess_error, aborted); running children are killed (SIGKILL) and
    // reaped by their collectors; both count as aborted. Never suspends,
    // never throws. The handles stay valid.
    ~process_pool();

    // submit — a call of f(args...) in a subprocess of this pool (see
    // call_in_subprocess for what crosses and how); starts at once or
    // queues. Never suspends. Throws usage_error outside a micro-thread or
    // from another engine than the pool's. A call that cannot be started
    // (fork's EAGAIN) fails: its result() throws that std::system_error.
    template <class F, class... A>
    auto submit(F&& f, A&&... args) {
        using R = detail::subprocess_result_t<F, A...>;
        return subprocess_call<R>(submit_job(detail::make_job(std::forward<F>(f), std::forward<A>(args)...)));
    }

    std::size_t max_processes() const noexcept;
    std::size_t running() const noexcept;  // calls of this pool with a child alive (or not yet reaped)
    std::size_t pending() const noexcept;  // calls waiting in line
    const std::string& name() const noexcept;

private:
    detail::subprocess_ref submit_job(std::unique_ptr<detail::child_job> job);
    std::unique_ptr<detail::pool_core> core_;
};

}  // namespace mt
