// core/scope.hpp — structured concurrency: a scope, and the PEP's
// start_in_parallel built on it.
//
//   mt::scope s;
//   s.spawn(fetch, a);
//   s.spawn(fetch, b);
//   s.wait();          // or let the destructor wait
//
// Invariants:
//   * running_ == number of children that have not ended.
//   * failure_ is the first child failure (in time), set once.
//   * owner_waiting_ => the owner's deferred is armed with scope_wait and the
//     owner is woken exactly when running_ drops to 0.
#pragma once

#include <cstddef>
#include <exception>
#include <iterator>
#include <ranges>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "micro_thread.hpp"

namespace mt {

// none — the result of a void function in start_in_parallel's results.
struct none {
    bool operator==(const none&) const = default;
};

class scope : private detail::scope_base {
public:
    // What the first failing child does to its siblings.
    enum class on_failure {
        abort_others,  // structured concurrency: the rest is aborted (the default)
        keep_running,  // the rest runs on (pipelines: the failure travels down the pipes)
    };

    // scope — must be made inside a micro-thread (its owner), which alone may
    // spawn into it and wait for it.
    explicit scope(on_failure policy = on_failure::abort_others);
    // ~scope — waits for every child. If the scope is left by an exception (or
    // the owner was aborted), the children are aborted first and the waiting
    // cannot be interrupted. Otherwise a child's failure not yet rethrown by
    // wait() is thrown from here.
    ~scope() noexcept(false);
    scope(const scope&) = delete;
    scope& operator=(const scope&) = delete;

    // spawn — as mt::spawn, but the child belongs to this scope: the first
    // child that fails aborts the others. Never suspends.
    template <class F, class... A>
    auto spawn(const spawn_options& opts, F&& f, A&&... args) {
        check_owner();
        auto h = mt::spawn(opts, std::forward<F>(f), std::forward<A>(args)...);
        adopt(h.get_deferred().owner());
        return h;
    }
    template <class F, class... A>
        requires(!std::is_same_v<std::decay_t<F>, spawn_options>)
    auto spawn(F&& f, A&&... args) {
        return spawn(spawn_options{}, std::forward<F>(f), std::forward<A>(args)...);
    }

    // wait — suspends the owner until every child has ended, then rethrows the
    // first failure (MicroThreadExit endings are not failures). Throws
    // timeout_error when `d` passes first (the children run on),
    // MicroThreadExit if the owner is aborted meanwhile (the destructor then
    // aborts and joins the children), usage_error from another micro-thread.
    void wait(deadline d = {});

    // abort — aborts every child that has not ended. Never suspends.
    void abort();

    std::size_t running() const noexcept { return running_; }

private:
    void check_owner();
    void adopt(detail::control_block& cb) noexcept;
    void release_children() noexcept;
    void child_ended(detail::control_block& cb) noexcept override;
    void wait_for_children(bool interruptible, const deadline& d);
    static const detail::wait_kind scope_wait;

    detail::control_block* owner_;
    on_failure policy_;
    std::vector<detail::control_block*> children_;  // each holds a handle reference
    std::size_t running_ = 0;
    std::exception_ptr failure_;
    bool failure_thrown_ = false;
    bool owner_waiting_ = false;
    int uncaught_ = std::uncaught_exceptions();
};

namespace detail {
template <class R>
auto result_or_none(micro_thread<R>& h) {
    if constexpr (std::is_void_v<R>) {
        h.result();
        return none{};
    } else {
        return h.result();
    }
}
}  // namespace detail

// start_in_parallel — runs f1(), f2(), ... each in its own micro-thread and
// returns their results in order (mt::none for void). If one raises, the
// others are aborted and waited for, and the first exception is rethrown.
template <class... F>
    requires(sizeof...(F) > 0 && (std::is_invocable_v<std::decay_t<F>> && ...))
auto start_in_parallel(F&&... fs) {
    scope s;
    std::tuple<decltype(s.spawn(std::forward<F>(fs)))...> hs{s.spawn(std::forward<F>(fs))...};
    s.wait();
    return std::apply([](auto&... h) { return std::tuple{detail::result_or_none(h)...}; }, hs);
}

// start_in_parallel — the same over a range of callables; results in a vector.
template <std::ranges::input_range Rg>
    requires(std::is_invocable_v<std::ranges::range_value_t<Rg>>)
auto start_in_parallel(Rg&& callables) {
    using Fn = std::ranges::range_value_t<Rg>;
    using R = detail::result_of_t<Fn>;
    scope s;
    std::vector<micro_thread<R>> hs;
    for (auto&& f : callables) hs.push_back(s.spawn(std::forward<decltype(f)>(f)));
    s.wait();
    std::vector<std::conditional_t<std::is_void_v<R>, none, R>> out;
    out.reserve(hs.size());
    for (auto& h : hs) out.push_back(detail::result_or_none(h));
    return out;
}

}  // namespace mt
