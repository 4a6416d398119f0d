// pipes/select.cpp — one operation out of several.
#include "pipes/select.hpp"

#include <string>

#include "core/detail/control_block.hpp"
#include "core/errors.hpp"
#include "pipes/detail/select_timer.hpp"

namespace mt::detail {
namespace {

const wait_kind select_kind{
    "select",
    [](const void* obj, std::string& out) {
        const auto* g = static_cast<const select_group*>(obj);
        out += "in select on " + std::to_string(g->count) + " pipe operation" + (g->count == 1 ? "" : "s") + " (";
        for (std::size_t i = 0; i < g->count; ++i) {
            if (i) out += ", ";
            out += g->cases[i].is_put ? "put to " : "get from ";
            g->cases[i].pipe->append_name(out);
        }
        out += ')';
    },
    [](const void* obj) -> control_block* {
        const auto* g = static_cast<const select_group*>(obj);
        for (std::size_t i = 0; i < g->count; ++i) {
            const pipe_waiter& w = g->cases[i];
            if (control_block* b = w.is_put ? w.pipe->reader_ref() : w.pipe->writer_ref()) return b;
        }
        return nullptr;
    },
    [](void* obj, control_block& me) {
        auto* g = static_cast<select_group*>(obj);
        g->unlink_all();
        if (g->timer) stop_select_timer(me, g->timer);
        g->timer = nullptr;
    },
    false,
};

void on_timeout(void* arg) noexcept {
    auto* g = static_cast<select_group*>(arg);
    g->timer = nullptr;  // the reactor already freed it
    g->unlink_all();
    g->chosen = SIZE_MAX;
    try {
        g->cases[0].cb->d.callback(nullptr);
    } catch (...) {
    }
}

}  // namespace

select_outcome select_impl(pipe_waiter* cases, std::size_t n, double timeout) {
    engine& e = engine::get("select");
    control_block& me = e.require_running("select");
    if (pending_raise(me)) raise_pending(me);

    // First pass: the first case that can happen at once, in order.
    for (std::size_t i = 0; i < n; ++i) {
        pipe_waiter& w = cases[i];
        if (w.is_put) {
            const try_result r = w.pipe->try_put(w.value);
            if (r == try_result::closed) throw MicroThreadExit{};
            if (r == try_result::done) return {i, false};
        } else {
            const try_result r = w.pipe->try_get(w.value);  // rethrows a pipe's error
            if (r != try_result::would_block) return {i, r == try_result::done};
        }
    }
    if (timeout == 0) return {};

    // Wait on all of them.
    select_group g;
    g.cases = cases;
    g.count = n;
    for (std::size_t i = 0; i < n; ++i) {
        cases[i].cb = &me;
        cases[i].group = &g;
        cases[i].index = i;
        cases[i].pipe->retain();
    }
    struct release_all {
        pipe_waiter* cases;
        std::size_t n;
        ~release_all() {
            for (std::size_t i = 0; i < n; ++i) cases[i].pipe->release();
        }
    } releaser{cases, n};
    // The timer first: it may throw (no libev reactor, no memory), and then
    // nothing may be left armed or linked.
    if (timeout > 0) g.timer = start_select_timer(me, timeout, on_timeout, &g);
    try {
        me.d.arm(select_kind, &g);
    } catch (...) {
        if (g.timer) stop_select_timer(me, g.timer);
        throw;
    }
    for (std::size_t i = 0; i < n; ++i) cases[i].pipe->link(cases[i]);
    g.linked = true;
    me.d.wait();  // an abort withdraws every case (select_kind.cancel)

    if (g.chosen == SIZE_MAX) return {};  // timed out
    pipe_waiter& w = cases[g.chosen];
    if (w.result == pipe_waiter::outcome::done) return {g.chosen, !w.is_put};
    // closed under it
    if (w.is_put) throw MicroThreadExit{};
    const try_result r = w.pipe->try_get(w.value);  // end-of-stream, or rethrows the error
    return {g.chosen, r == try_result::done};
}

}  // namespace mt::detail
