// pipes/select.cpp — one operation out of several.
#include "pipes/select.hpp"

#include <cstdint>
#include <new>
#include <string>

#include "core/detail/control_block.hpp"
#include "core/engine.hpp"
#include "core/errors.hpp"

namespace mt {
namespace detail {
namespace {

const wait_kind select_kind{
    "select",
    [](const void* obj, std::string& out) {
        const auto* g = static_cast<const select_group*>(obj);
        if (g->count == 0) {
            out += "in select with no enabled case";
            return;
        }
        out += "in select on " + std::to_string(g->count) + " pipe operation" + (g->count == 1 ? "" : "s") + " (";
        for (const pipe_waiter* w = g->first; w; w = w->next_case) {
            if (w != g->first) out += ", ";
            out += w->is_put ? "put to " : "get from ";
            w->pipe->append_name(out);
        }
        out += ')';
    },
    [](const void* obj) -> control_block* {
        const auto* g = static_cast<const select_group*>(obj);
        for (const pipe_waiter* w = g->first; w; w = w->next_case)
            if (control_block* b = w->is_put ? w->pipe->reader_ref() : w->pipe->writer_ref()) return b;
        return nullptr;
    },
    [](void* obj, control_block&) { static_cast<select_group*>(obj)->unlink_all(); },
};

// The state of random_below, one per OS thread (0: not seeded yet).
thread_local std::uint64_t random_state = 0;

// random_below — a uniformly distributed index below n (xorshift64*, one
// state per OS thread: the choice among ready cases needs no crypto, only no
// bias and no cost).
std::size_t random_below(std::size_t n) noexcept {
    std::uint64_t& s = random_state;
    if (s == 0) s = reinterpret_cast<std::uintptr_t>(&s) * 0x9E3779B97F4A7C15ull | 1;
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    const std::uint64_t r = s * 0x2545F4914F6CDD1Dull;
    // The top 32 bits scaled to [0, n): a multiply instead of a division;
    // the bias, n / 2^32, is far below measurable for any list of cases.
    return static_cast<std::size_t>(((r >> 32) * static_cast<std::uint64_t>(n)) >> 32);
}

// release_pipes — drops the references a waiting select took on its pipes.
struct release_pipes {
    select_group& g;
    ~release_pipes() {
        for (pipe_waiter* w = g.first; w; w = w->next_case) w->pipe->release();
    }
};

}  // namespace

void seed_select_random(std::uint64_t seed) noexcept { random_state = seed * 0x9E3779B97F4A7C15ull | 1; }

}  // namespace detail

std::optional<std::size_t> select_impl_access(select_case* cases, std::size_t n, const deadline& d) {
    using namespace detail;
    control_block& me = engine::get("select").require_running("select");
    check_deadline(me, d, "select");
    if (pending_raise(me)) raise_pending(me);

    // Which enabled cases can happen at once (remembered, for lists of up to
    // 64 cases, in a bit set, so readiness is looked at once); one of them,
    // chosen uniformly, happens.
    std::size_t ready = 0;
    std::uint64_t ready_bits = 0;
    auto can_happen = [](const select_case& c) { return c.is_put_ ? c.pipe_->can_put() : c.pipe_->can_get(); };
    for (std::size_t i = 0; i < n; ++i) {
        select_case& c = cases[i];
        if (!c.enabled_) continue;
        c.pipe_->check_engine(me, "select");
        if (can_happen(c)) {
            ++ready;
            if (i < 64) ready_bits |= std::uint64_t{1} << i;
        }
    }
    if (ready > 0) {
        std::size_t pick = ready == 1 ? 0 : random_below(ready);
        std::size_t chosen = 0;
        if (n <= 64) {
            std::uint64_t bits = ready_bits;
            while (pick--) bits &= bits - 1;  // drop the lowest set bit `pick` times
            chosen = static_cast<std::size_t>(__builtin_ctzll(bits));
        } else {
            for (chosen = 0;; ++chosen)
                if (cases[chosen].enabled_ && can_happen(cases[chosen]) && pick-- == 0) break;
        }
        select_case& c = cases[chosen];
        if (c.is_put_) {
            if (c.pipe_->try_put(c.value_) == try_result::closed) throw closed_put("pipe", c.pipe_->name());
        } else if (c.pipe_->try_get(c.value_, c.sink_) == try_result::closed) {  // rethrows an error
            c.clear_(c.value_);  // end-of-stream
        }
        return chosen;
    }

    // Nothing can happen now: wait on every enabled case.
    select_group g;
    pipe_waiter** tail = &g.first;
    for (std::size_t i = 0; i < n; ++i) {
        select_case& c = cases[i];
        if (!c.enabled_) continue;
        pipe_waiter& w = *new (c.rec_) pipe_waiter;
        w.cb = &me;
        w.pipe = c.pipe_;
        w.value = c.value_;
        w.sink = c.sink_;
        w.is_put = c.is_put_;
        w.group = &g;
        w.index = i;
        w.pipe->retain();
        *tail = &w;
        tail = &w.next_case;
        ++g.count;
    }
    release_pipes releaser{g};
    begin_wait(me, select_kind, &g);
    for (pipe_waiter* w = g.first; w; w = w->next_case) w->pipe->link(*w);
    g.linked = true;
    if (end_wait(me, d) == wait_end::timed_out) return std::nullopt;  // every case withdrawn

    select_case& c = cases[g.chosen];
    if (c.record().result == pipe_waiter::outcome::done) return g.chosen;
    // closed under it
    if (c.is_put_) throw closed_put("pipe", c.pipe_->name());
    if (c.pipe_->try_get(c.value_, c.sink_) == try_result::closed) c.clear_(c.value_);  // or rethrows
    return g.chosen;
}

}  // namespace mt
