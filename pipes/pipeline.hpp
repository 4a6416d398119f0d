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
// or take none and reach them with this_stdin<T>() / this_stdout<T>(); a
// stage of any other signature is a compile error with one static_assert
// saying which signatures its place allows (tests/compile_fail/).
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

// call_stage — stage(in, out) / stage(out) / stage(in) if it takes its
// pipes (by value or by reference: they are lvalues), else stage().
template <class F, class In, class Out>
auto call_stage(F& f, In* in, Out* out) {
    if constexpr (!std::is_same_v<In, void> && !std::is_same_v<Out, void>) {
        if constexpr (std::is_invocable_v<F&, In&, Out&>) return f(*in, *out);
        else return f();
    } else if constexpr (!std::is_same_v<Out, void>) {
        if constexpr (std::is_invocable_v<F&, Out&>) return f(*out);
        else return f();
    } else if constexpr (!std::is_same_v<In, void>) {
        if constexpr (std::is_invocable_v<F&, In&>) return f(*in);
        else return f();
    } else {
        return f();
    }
}

// stage_callable — whether call_stage can call F with these pipes.
template <class F, class In, class Out>
constexpr bool stage_callable() {
    if constexpr (std::is_invocable_v<F&>) return true;
    else if constexpr (!std::is_void_v<In> && !std::is_void_v<Out>) return std::is_invocable_v<F&, In&, Out&>;
    else if constexpr (!std::is_void_v<Out>) return std::is_invocable_v<F&, Out&>;
    else if constexpr (!std::is_void_v<In>) return std::is_invocable_v<F&, In&>;
    else return false;
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

// pipeline_stage<N, Place, Ok> — one static_assert per stage of the wrong
// signature, saying which signatures its place allows; its number N (from
// 1) shows in the compiler's "In instantiation of 'pipeline_stage<2, ...>'"
// line, since a static_assert's text cannot be computed in C++20.
enum class stage_place { first, middle, last };

template <std::size_t N, stage_place Place, bool Ok>
struct pipeline_stage {
    static_assert(Ok || Place != stage_place::first,
                  "pipeline: the first stage must be callable as f() or f(micro_pipe<L1>& out)");
    static_assert(Ok || Place != stage_place::middle,
                  "pipeline: a middle stage K must be callable as f() or "
                  "f(micro_pipe<LK-1>& in, micro_pipe<LK>& out)");
    static_assert(Ok || Place != stage_place::last,
                  "pipeline: the last stage must be callable as f() or f(micro_pipe<Ln-1>& in)");
};

// stage_ok — whether stage K (from 0) can be called (no assertion: a pure
// trait, so that a bad stage leaves pipeline()'s `if constexpr` valid).
template <std::size_t K, class Pipes, class F>
inline constexpr bool stage_ok =
    stage_callable<std::decay_t<F>, typename stage_pipes<K, Pipes>::in, typename stage_pipes<K, Pipes>::out>();

// assert_stage — instantiates pipeline_stage<K + 1, ...>: its static_assert
// fires for a bad stage. pipeline() goes no further then, so the compiler
// stops at that one message instead of going on to a page of errors from
// inside the call.
template <std::size_t K, class Pipes, class F>
constexpr void assert_stage() {
    using In = typename stage_pipes<K, Pipes>::in;
    using Out = typename stage_pipes<K, Pipes>::out;
    constexpr stage_place place =
        std::is_void_v<In> ? stage_place::first : std::is_void_v<Out> ? stage_place::last : stage_place::middle;
    (void)sizeof(pipeline_stage<K + 1, place, stage_ok<K, Pipes, F>>);
}

// bad_pipeline — what pipeline() returns after a static_assert, converting
// to whatever the caller expects, so that no second error follows the first.
struct bad_pipeline {
    template <class T>
    operator T() const;
};

template <class Pipes, class StagesTuple, std::size_t... I>
auto run_pipeline(Pipes& pipes, StagesTuple& stages, std::index_sequence<I...>) {
    constexpr std::size_t n = sizeof...(I);
    scope s(scope::on_failure::abort_others);
    auto handles = std::tuple{spawn_stage<I>(s, pipes, std::move(std::get<I>(stages)))...};
    s.wait();
    return std::get<n - 1>(handles).result();
}

template <class... Links, class... Stages>
auto run_checked_pipeline(Stages&&... stages) {
    std::tuple<micro_pipe<Links>...> pipes;
    [&]<std::size_t... I>(std::index_sequence<I...>) {
        ((std::get<I>(pipes) = micro_pipe<Links>("pipeline link " + std::to_string(I + 1))), ...);
    }(std::index_sequence_for<Links...>{});
    std::tuple<std::decay_t<Stages>...> st{std::forward<Stages>(stages)...};
    return run_pipeline(pipes, st, std::index_sequence_for<Stages...>{});
}


}  // namespace detail

// pipeline<L1, ..., Ln-1>(stage1, ..., stageN) — see above.
template <class... Links, class... Stages>
auto pipeline(Stages&&... stages) {
    static_assert(sizeof...(Stages) >= 2, "a pipeline has at least two stages");
    static_assert(sizeof...(Links) + 1 == sizeof...(Stages),
                  "give one element type per link: pipeline<L1, ..., Ln-1>(stage1, ..., stageN)");
    if constexpr (sizeof...(Stages) >= 2 && sizeof...(Links) + 1 == sizeof...(Stages)) {
        using pipes_t = std::tuple<micro_pipe<Links>...>;
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            (detail::assert_stage<I, pipes_t, Stages>(), ...);
        }(std::index_sequence_for<Stages...>{});
        constexpr bool stages_ok = []<std::size_t... I>(std::index_sequence<I...>) {
            return (detail::stage_ok<I, pipes_t, Stages> && ...);
        }(std::index_sequence_for<Stages...>{});
        if constexpr (stages_ok) return detail::run_checked_pipeline<Links...>(std::forward<Stages>(stages)...);
        else return detail::bad_pipeline{};
    } else {
        return detail::bad_pipeline{};
    }
}

}  // namespace mt
