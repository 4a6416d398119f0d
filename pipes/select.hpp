// pipes/select.hpp — wait on several pipe operations at once; exactly one
// happens.
//
//   std::optional<int> a;  std::string msg = "hi";
//   auto i = mt::select(mt::on_get(p1, a), mt::on_put(p2, msg));       // waits
//   auto j = mt::select(100ms, mt::on_get(p1, a), mt::on_get(p3, b));  // or times out
//
//   std::vector<mt::select_case> cases;                                  // a run-time list
//   for (auto& p : inputs) cases.push_back(mt::on_get(p, out));
//   std::size_t k = mt::select(cases);
//
// Among the cases that can happen at once, one is chosen uniformly at random
// (so a busy case cannot starve the others) and happens. Otherwise the
// micro-thread waits on all of them, and the first to become possible (first
// come, first served among each pipe's waiters) happens; the others are
// withdrawn before anything else can touch them. Returns the index of the
// case that happened, or nullopt when the deadline passed first (a zero
// timeout polls).
//
// A case can be disabled at run time — on_get(p, out, false), or a null pipe
// handle — and is then never chosen, like Go's nil channel. With no enabled
// case, select waits for its deadline, or, with none, until it is aborted
// (like Go's `select {}`; the deadlock report names it when nothing else can
// run).
//
// A get case at end-of-stream happens with its optional left empty (and
// rethrows the pipe's error if it was closed with one); a put case whose pipe
// is closed raises MicroThreadExit, as put does. A put case's value is moved
// only if that case happens. A select_case owns the record its wait needs, so
// a select allocates nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <optional>
#include <span>
#include <type_traits>
#include <utility>

#include "../core/deadline.hpp"
#include "micro_pipe.hpp"

namespace mt {

class select_case;
template <class T>
select_case on_get(micro_pipe<T>& p, std::optional<T>& out, bool enabled = true);
template <class T>
select_case on_put(micro_pipe<T>& p, T& value, bool enabled = true);

class select_case {
public:
    select_case() = default;
    // Copies carry the description of the case, never a wait's record (only
    // the array a select waits on holds live records).
    select_case(const select_case& o) noexcept { describe_as(o); }
    select_case& operator=(const select_case& o) noexcept {
        describe_as(o);
        return *this;
    }
    bool enabled() const noexcept { return enabled_; }

private:
    template <class T>
    friend select_case on_get(micro_pipe<T>& p, std::optional<T>& out, bool enabled);
    template <class T>
    friend select_case on_put(micro_pipe<T>& p, T& value, bool enabled);
    friend std::optional<std::size_t> select_impl_access(select_case* cases, std::size_t n, const deadline& d);

    void describe_as(const select_case& o) noexcept {
        pipe_ = o.pipe_;
        value_ = o.value_;
        sink_ = o.sink_;
        clear_ = o.clear_;
        is_put_ = o.is_put_;
        enabled_ = o.enabled_;
    }
    detail::pipe_waiter& record() noexcept { return *std::launder(reinterpret_cast<detail::pipe_waiter*>(rec_)); }

    detail::pipe_state* pipe_ = nullptr;
    void* value_ = nullptr;                           // put: the value; get: the std::optional<T> to fill
    detail::sink_fn sink_ = nullptr;                  // get: how to fill it
    void (*clear_)(void* target) noexcept = nullptr;  // get: empties the optional at end-of-stream
    bool is_put_ = false;
    bool enabled_ = false;
    // The record of this case's wait, made only when the select waits (so a
    // select that finds a case ready writes and copies none of it).
    alignas(detail::pipe_waiter) unsigned char rec_[sizeof(detail::pipe_waiter)];
};

// on_get — a case that gets the next value of `p` into `out` (left empty at
// end-of-stream). Disabled when `enabled` is false or `p` is null.
template <class T>
select_case on_get(micro_pipe<T>& p, std::optional<T>& out, bool enabled) {
    select_case c;
    c.pipe_ = p.state();
    c.value_ = &out;
    c.sink_ = &detail::typed_ops<T>::emplace_into;
    c.clear_ = &detail::typed_ops<T>::reset;
    c.enabled_ = enabled && p.state() != nullptr;
    return c;
}

// on_put — a case that puts `value` (moved from only if this case happens).
template <class T>
select_case on_put(micro_pipe<T>& p, T& value, bool enabled) {
    select_case c;
    c.pipe_ = p.state();
    c.value_ = &value;
    c.is_put_ = true;
    c.enabled_ = enabled && p.state() != nullptr;
    return c;
}

namespace detail {
// seed_select_random — seeds this OS thread's choice among ready cases
// (by default seeded from an address, so it differs from run to run): a
// test that must replay a run exactly (tests/stress/) seeds it first.
void seed_select_random(std::uint64_t seed) noexcept;
}  // namespace detail

// select_impl_access — the untyped select over the `n` cases at `cases`
// (n may be 0: then it waits for `d`, or until aborted, as select(d) does).
std::optional<std::size_t> select_impl_access(select_case* cases, std::size_t n, const deadline& d);

// select — waits until one case happens (see above); returns its index. Must
// run in a micro-thread. Throws MicroThreadExit on abort (no case happens
// then), usage_error outside a micro-thread.
template <class... C>
    requires(sizeof...(C) > 0 && (std::is_same_v<std::decay_t<C>, select_case> && ...))
std::size_t select(C&&... cs) {
    select_case cases[] = {std::forward<C>(cs)...};
    return *select_impl_access(cases, sizeof...(C), deadline{});
}

// select with a deadline — nullopt when it passed first.
template <class... C>
    requires((std::is_same_v<std::decay_t<C>, select_case> && ...))
std::optional<std::size_t> select(deadline d, C&&... cs) {
    if constexpr (sizeof...(C) == 0) {
        return select_impl_access(nullptr, 0, d);
    } else {
        select_case cases[] = {std::forward<C>(cs)...};
        return select_impl_access(cases, sizeof...(C), d);
    }
}

// select over a run-time list of cases.
inline std::size_t select(std::span<select_case> cases) {
    return *select_impl_access(cases.data(), cases.size(), deadline{});
}
inline std::optional<std::size_t> select(std::span<select_case> cases, deadline d) {
    return select_impl_access(cases.data(), cases.size(), d);
}

}  // namespace mt
