// pipes/select.hpp — wait on several pipe operations at once; exactly one
// happens.
//
//   std::optional<int> a;  std::string msg = "hi";
//   auto i = mt::select(mt::on_get(p1, a), mt::on_put(p2, msg));       // waits
//   auto j = mt::select(100ms, mt::on_get(p1, a), mt::on_get(p3, b));  // or times out
//
// The cases are tried in order; the first that can happen at once happens.
// Otherwise the micro-thread waits on all of them, and the first to become
// possible (first come, first served among each pipe's waiters) happens; the
// others are withdrawn before anything else can touch them. Returns the index
// of the case that happened, or nullopt when the timeout passed first. A get
// case at end-of-stream happens with its optional left empty (and rethrows
// the pipe's error if it was closed with one); a put case whose pipe is closed
// raises MicroThreadExit, as put does. A put case's value is moved only if
// that case happens.
#pragma once

#include <cstddef>
#include <new>
#include <optional>
#include <tuple>
#include <utility>

#include "notifier/notifier.hpp"
#include "pipes/micro_pipe.hpp"

namespace mt {

namespace detail {

struct select_outcome {
    std::size_t index = SIZE_MAX;  // SIZE_MAX: timed out
    bool got_value = false;        // a get case received a value (not end-of-stream)
};

// select_impl — cases[i].pipe/.is_put/.value are set by the typed layer
// (get cases: raw storage for one value). timeout < 0: none.
select_outcome select_impl(pipe_waiter* cases, std::size_t n, double timeout);

template <class T>
struct get_case {
    micro_pipe<T>& pipe;
    std::optional<T>& out;
    alignas(T) unsigned char buf[sizeof(T)];

    void fill(pipe_waiter& w) {
        w.pipe = pipe.state();
        w.is_put = false;
        w.value = buf;
    }
    void finish(bool got_value) {
        if (!got_value) {
            out.reset();
            return;
        }
        T* v = std::launder(reinterpret_cast<T*>(buf));
        out.emplace(std::move(*v));
        v->~T();
    }
};

template <class T>
struct put_case {
    micro_pipe<T>& pipe;
    T& value;

    void fill(pipe_waiter& w) {
        w.pipe = pipe.state();
        w.is_put = true;
        w.value = &value;
    }
    void finish(bool) {}
};

template <class... C>
std::optional<std::size_t> select_cases(double timeout, C&&... cs) {
    pipe_waiter w[sizeof...(C)];
    std::size_t i = 0;
    (cs.fill(w[i++]), ...);
    const select_outcome r = select_impl(w, sizeof...(C), timeout);
    if (r.index == SIZE_MAX) return std::nullopt;
    i = 0;
    ((i++ == r.index ? cs.finish(r.got_value) : void()), ...);
    return r.index;
}

}  // namespace detail

template <class T>
detail::get_case<T> on_get(micro_pipe<T>& p, std::optional<T>& out) {
    return {p, out, {}};
}

template <class T>
detail::put_case<T> on_put(micro_pipe<T>& p, T& value) {
    return {p, value};
}

// select — waits until one case happens (see above). Must run in a
// micro-thread. Throws MicroThreadExit on abort (no case happens then).
template <class... C>
std::size_t select(C&&... cs) {
    return *detail::select_cases(-1.0, std::forward<C>(cs)...);
}

// select with a timeout — nullopt when it passed first (a zero timeout polls).
template <class Rep, class Period, class... C>
std::optional<std::size_t> select(std::chrono::duration<Rep, Period> timeout, C&&... cs) {
    const double s = std::chrono::duration<double>(timeout).count();
    return detail::select_cases(s < 0 ? 0 : s, std::forward<C>(cs)...);
}

}  // namespace mt
