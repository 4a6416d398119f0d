// pipes/pipeline.hpp — the PEP's pipelines of micro-threads.
//
//   // link types first, then the stages; each stage in its own micro-thread
//   int total = mt::pipeline<int, int>(
//       [](mt::micro_pipe<int> out) { for (int i = 0; i < 10; ++i) out.put(i); },
//       [](mt::micro_pipe<int> in, mt::micro_pipe<int> out) { for (int v : in) out.put(v * v); },
//       [](mt::micro_pipe<int> in) { int s = 0; for (int v : in) s += v; return s; });
//
// Stage i's stdout is stage i+1's stdin (attached, so deaths travel along the
// chain: docs/reference/pipes.md). A stage may take its pipes as parameters, as above,
// or take none and reach them with this_stdin<T>() / this_stdout<T>().
// pipeline() waits for every stage and returns the last stage's result. When
// a stage fails, the other stages are aborted at once (they do not wait to
// reach their next put or get) and pipeline() rethrows that original
// exception (a stage ended by MicroThreadExit because its reader went away
// is not a failure).
#pragma once

#include <cstddef>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "../core/scope.hpp"
#include "micro_pipe.hpp"

namespace mt {

namespace detail {

template <class P, int Role>
auto make_stdio() {
    if constexpr (std::is_void_v<P>) {
        return char{};
    } else if constexpr (Role == 0) {
        return this_stdin<typename P::value_type>();
    } else {
        return this_stdout<typename P::value_type>();
    }
}

// call_stage — stage(in?, out?) if it takes its pipes, else stage().
template <class F, class In, class Out>
auto call_stage(F& f, In* in, Out* out) {
    if constexpr (!std::is_same_v<In, void> && !std::is_same_v<Out, void>) {
        if constexpr (std::is_invocable_v<F&, In, Out>) return f(*in, *out);
        else return f();
    } else if constexpr (!std::is_same_v<Out, void>) {
        if constexpr (std::is_invocable_v<F&, Out>) return f(*out);
        else return f();
    } else if constexpr (!std::is_same_v<In, void>) {
        if constexpr (std::is_invocable_v<F&, In>) return f(*in);
        else return f();
    } else {
        return f();
    }
}

// stage_pipes — the element pipes of stage K of a pipeline with links Pipes.
template <std::size_t K, class Pipes>
struct stage_pipes {
    static constexpr std::size_t links = std::tuple_size_v<Pipes>;
    using in = std::conditional_t<(K > 0), std::tuple_element_t<(K > 0 ? K - 1 : 0), Pipes>, void>;
    using out = std::conditional_t<(K < links), std::tuple_element_t<(K < links ? K : 0), Pipes>, void>;
};

template <std::size_t K, class Pipes, class F>
auto spawn_stage(scope& s, Pipes& pipes, F f) {
    using In = typename stage_pipes<K, Pipes>::in;
    using Out = typename stage_pipes<K, Pipes>::out;
    spawn_options opts;
    const std::string name = "stage " + std::to_string(K + 1);
    opts.name = name;
    if constexpr (!std::is_void_v<In>) opts.in = std::get<K - 1>(pipes);
    if constexpr (!std::is_void_v<Out>) opts.out = std::get<K>(pipes);
    return s.spawn(opts, [f = std::move(f)]() mutable {
        auto in_pipe = make_stdio<In, 0>();
        auto out_pipe = make_stdio<Out, 1>();
        In* in = nullptr;
        Out* out = nullptr;
        if constexpr (!std::is_void_v<In>) in = &in_pipe;
        if constexpr (!std::is_void_v<Out>) out = &out_pipe;
        return call_stage(f, in, out);
    });
}

template <class Pipes, class StagesTuple, std::size_t... I>
auto run_pipeline(Pipes& pipes, StagesTuple& stages, std::index_sequence<I...>) {
    constexpr std::size_t n = sizeof...(I);
    scope s(scope::on_failure::abort_others);
    auto handles = std::tuple{spawn_stage<I>(s, pipes, std::move(std::get<I>(stages)))...};
    s.wait();
    return std::get<n - 1>(handles).result();
}

}  // namespace detail

// pipeline<L1, ..., Ln-1>(stage1, ..., stageN) — see above.
template <class... Links, class... Stages>
auto pipeline(Stages&&... stages) {
    static_assert(sizeof...(Stages) >= 2, "a pipeline has at least two stages");
    static_assert(sizeof...(Links) + 1 == sizeof...(Stages),
                  "give one element type per link: pipeline<L1, ..., Ln-1>(stage1, ..., stageN)");
    std::tuple<micro_pipe<Links>...> pipes;
    [&]<std::size_t... I>(std::index_sequence<I...>) {
        ((std::get<I>(pipes) = micro_pipe<Links>("pipeline link " + std::to_string(I + 1))), ...);
    }(std::index_sequence_for<Links...>{});
    std::tuple<std::decay_t<Stages>...> st{std::forward<Stages>(stages)...};
    return detail::run_pipeline(pipes, st, std::index_sequence_for<Stages...>{});
}

}  // namespace mt
