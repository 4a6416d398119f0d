// pipes/select.hpp — wait on several pipe operations at once; exactly one
// happens. The cases may be local micro_pipes and thread-safe xpipes
// (xpipe.hpp), mixed in one select.
//
//   std::optional<int> a;  std::string msg = "hi";
//   auto i = mt::select(mt::on_get(p1, a), mt::on_put(p2, msg));       // waits
//   auto j = mt::select(100ms, mt::on_get(p1, a), mt::on_get(x3, b));  // or times out; x3 an xpipe
//
//   std::vector<mt::select_case> cases;                                  // a run-time list
//   for (auto& p : inputs) cases.push_back(mt::on_get(p, out));
//   std::size_t k = mt::select(cases);
//
// Among the cases that can happen at once, one is chosen uniformly at random
// (so a busy case cannot starve the others) and happens. Otherwise the
// micro-thread waits on all of them, and the first to become possible (first
// come, first served among each pipe's waiters) happens; the others are
// withdrawn before anything else can touch them. Cases that name one pipe in
// the same direction become possible together: one of them, chosen
// uniformly, happens. Returns the index of the case that happened, or
// nullopt when the deadline passed first (a zero timeout polls).
//
// A case can be disabled at run time — on_get(p, out, false), or a null pipe
// handle (an empty xpipe handle) — and is then never chosen, like Go's nil
// channel. With no enabled case, select waits for its deadline, or, with
// none, until it is aborted (like Go's `select {}`; the deadlock report
// names it when nothing else can run).
//
// A get case at end-of-stream happens with its optional left empty (and
// rethrows the pipe's error if it was closed with one); a put case whose pipe
// is closed raises MicroThreadExit, as put does. A put case's value is moved
// only if that case happens. A select_case owns the record its wait needs, so
// a select allocates nothing.
//
// xpipe cases: a wake-up from another OS thread only says "look": the select
// then withdraws from every pipe, looks at every case again, and either one
// happens or it waits again (another getter may have taken the value
// first). A wake-up it got for a case that did not happen is passed to that
// xpipe's next waiter when the case could still happen, so none is lost.
// Whether an xpipe case can happen is looked at under that xpipe's mutex,
// one xpipe at a time: "ready at once" means ready when looked at. Every
// case is withdrawn from every pipe before select returns or throws. select
// runs only in a micro-thread, also with xpipe cases only: on a plain OS
// thread it is a usage_error naming select (use xpipe::get / put there).
// Memory ordering: docs/design/multicore.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <type_traits>
#include <utility>

#include "../core/deadline.hpp"
#include "../core/detail/cross_wait.hpp"
#include "micro_pipe.hpp"
#include "xpipe.hpp"

namespace mt {

class select_case;
template <class T>
select_case on_get(micro_pipe<T>& p, std::optional<T>& out, bool enabled = true);
template <class T>
select_case on_put(micro_pipe<T>& p, T& value, bool enabled = true);
template <class T>
select_case on_get(xpipe<T>& p, std::optional<T>& out, bool enabled = true);
template <class T>
select_case on_put(xpipe<T>& p, T& value, bool enabled = true);

namespace detail {
struct select_access;
}

class select_case {
public:
    select_case() = default;
    // Copies carry the description of the case, never a wait's record (only
    // the array a select waits on holds live records).
    select_case(const select_case& o) noexcept : xpipe_(o.xpipe_) { describe_as(o); }
    select_case& operator=(const select_case& o) noexcept {
        describe_as(o);
        xpipe_ = o.xpipe_;
        return *this;
    }
    select_case(select_case&& o) noexcept {
        describe_as(o);
        xpipe_ = std::move(o.xpipe_);
    }
    select_case& operator=(select_case&& o) noexcept {
        describe_as(o);
        xpipe_ = std::move(o.xpipe_);
        return *this;
    }
    bool enabled() const noexcept { return enabled_; }

private:
    template <class T>
    friend select_case on_get(micro_pipe<T>& p, std::optional<T>& out, bool enabled);
    template <class T>
    friend select_case on_put(micro_pipe<T>& p, T& value, bool enabled);
    template <class T>
    friend select_case on_get(xpipe<T>& p, std::optional<T>& out, bool enabled);
    template <class T>
    friend select_case on_put(xpipe<T>& p, T& value, bool enabled);
    friend struct detail::select_access;
    friend std::optional<std::size_t> select_impl_access(select_case* cases, std::size_t n, const deadline& d);

    void describe_as(const select_case& o) noexcept {
        pipe_ = o.pipe_;
        value_ = o.value_;
        sink_ = o.sink_;
        clear_ = o.clear_;
        is_put_ = o.is_put_;
        enabled_ = o.enabled_;
        xops_ = o.xops_;
    }
    detail::pipe_waiter& record() noexcept { return *std::launder(reinterpret_cast<detail::pipe_waiter*>(rec_)); }
    detail::cross_waiter& xrecord() noexcept { return *std::launder(reinterpret_cast<detail::cross_waiter*>(rec_)); }

    detail::pipe_state* pipe_ = nullptr;
    void* value_ = nullptr;                           // put: the value; get: the std::optional<T> to fill
    detail::sink_fn sink_ = nullptr;                  // get: how to fill it
    void (*clear_)(void* target) noexcept = nullptr;  // get: empties the optional at end-of-stream
    // An xpipe case: its pipe (held while the case exists, so it outlives
    // the select) and its typed operations; pipe_ is then nullptr.
    std::shared_ptr<detail::xpipe_base> xpipe_;
    const detail::xpipe_select_ops* xops_ = nullptr;
    bool is_put_ = false;
    bool enabled_ = false;
    bool woke_ = false;  // an xpipe case: a waker woke its record in this select (select.cpp only)
    // The record of this case's wait, made only when the select waits (so a
    // select that finds a case ready writes and copies none of it): a
    // pipe_waiter for a micro_pipe case, a cross_waiter for an xpipe case.
    static constexpr std::size_t rec_size =
        sizeof(detail::pipe_waiter) > sizeof(detail::cross_waiter) ? sizeof(detail::pipe_waiter) : sizeof(detail::cross_waiter);
    alignas(detail::pipe_waiter) alignas(detail::cross_waiter) unsigned char rec_[rec_size];
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

// on_get — a case that gets the next value of the xpipe `p` into `out` (left
// empty at end-of-stream). Disabled when `enabled` is false or `p` is an
// empty handle.
template <class T>
select_case on_get(xpipe<T>& p, std::optional<T>& out, bool enabled) {
    select_case c;
    c.xpipe_ = detail::xpipe_access<T>::base(p);
    c.xops_ = &detail::xpipe_access<T>::ops;
    c.value_ = &out;
    c.clear_ = &detail::typed_ops<T>::reset;
    c.enabled_ = enabled && c.xpipe_ != nullptr;
    return c;
}

// on_put — a case that puts `value` into the xpipe `p` (moved from only if
// this case happens).
template <class T>
select_case on_put(xpipe<T>& p, T& value, bool enabled) {
    select_case c;
    c.xpipe_ = detail::xpipe_access<T>::base(p);
    c.xops_ = &detail::xpipe_access<T>::ops;
    c.value_ = &value;
    c.is_put_ = true;
    c.enabled_ = enabled && c.xpipe_ != nullptr;
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
// run in a micro-thread (with xpipe cases too). Throws MicroThreadExit on
// abort (no case happens then, and no xpipe value is taken), usage_error
// outside a micro-thread or for a micro_pipe of another engine.
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
