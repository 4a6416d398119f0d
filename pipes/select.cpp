// pipes/select.cpp — one operation out of several, over micro_pipes and
// xpipes (docs/design/multicore.md, "A select over local pipes and xpipes").
//
// Invariants of one select (asserted where its wait ends):
//   * its wait is armed <=> its micro_pipe records are linked and, with
//     xpipe cases, its remote slot is in use at g.slot_generation; every way
//     the wait ends runs select_group::unlink_all first;
//   * an xpipe record is linked only from x_link to the withdraw right after
//     the wait ends (or is abandoned), and only under its xpipe's mutex;
//   * select returns or throws with no record linked anywhere;
//   * a wake-up an xpipe record got is used (its case happened) or passed
//     to the next waiter of that xpipe while the case can still happen.
#include "pipes/select.hpp"

#include <cstdint>
#include <exception>
#include <mutex>
#include <new>
#include <string>

#include "core/detail/assert.hpp"
#include "core/detail/control_block.hpp"
#include "core/detail/remote_slots.hpp"
#include "core/engine.hpp"
#include "core/errors.hpp"

namespace mt {
namespace detail {

// select_access — select's side of select_case: everything below that needs
// a case's fields.
struct select_access {
    static const select_case* cases(const select_group& g) { return static_cast<const select_case*>(g.cases); }

    static void describe(const void* obj, std::string& out);

    static bool is_x(const select_case& c) noexcept { return c.enabled_ && c.xops_ != nullptr; }
    // took_wake — xpipe case `c` got a wake-up in this select.
    static bool took_wake(const select_case& c) noexcept { return is_x(c) && c.woke_; }

    // x_list — the list an xpipe case's record waits in.
    static cross_list& x_list(const select_case& c) noexcept {
        return c.is_put_ ? c.xpipe_->putters : c.xpipe_->getters;
    }
    // x_ready — could xpipe case `c` happen now? Under its mutex.
    static bool x_ready(const select_case& c) noexcept {
        const xpipe_base& b = *c.xpipe_;
        if (b.closed) return true;
        const std::size_t size = c.xops_->size(b);
        return c.is_put_ ? size < b.capacity : size > 0;
    }
    static bool can_happen(const select_case& c) {
        if (c.xops_) {
            std::lock_guard<std::mutex> lock(c.xpipe_->mu);
            return x_ready(c);
        }
        return c.is_put_ ? c.pipe_->can_put() : c.pipe_->can_get();
    }

    // perform_local — micro_pipe case `c`, which can happen, happens.
    static void perform_local(select_case& c) {
        if (c.is_put_) {
            if (c.pipe_->try_put(c.value_) == try_result::closed) throw closed_put("pipe", c.pipe_->name());
        } else if (c.pipe_->try_get(c.value_, c.sink_) == try_result::closed) {  // rethrows an error
            c.clear_(c.value_);  // end-of-stream
        }
    }

    // perform_x — xpipe case `c` happens, as xpipe::get / put would, under
    // its mutex; false (nothing done) when it can no longer happen (another
    // OS thread was faster since it was looked at). Throws as select does.
    static bool perform_x(select_case& c) {
        xpipe_base& b = *c.xpipe_;
        std::lock_guard<std::mutex> lock(b.mu);
        if (!x_ready(c)) return false;
        if (c.is_put_) {
            if (b.closed) throw closed_put("xpipe", b.name);
            c.xops_->store(b, c.value_);
            wake_one(b.getters);
            if (c.xops_->size(b) < b.capacity) wake_one(b.putters);  // room left: pass it on
        } else if (c.xops_->size(b) > 0) {
            c.xops_->take(b, c.value_);
            wake_one(b.putters);
            if (c.xops_->size(b) > 0) wake_one(b.getters);  // more left: pass it on
        } else {  // closed and drained: end-of-stream, or the close error
            if (b.error) std::rethrow_exception(b.error);
            c.clear_(c.value_);
        }
        return true;
    }

    // x_link — links xpipe case `c`'s record (made by the caller) unless
    // the case can happen already: then returns false, nothing linked.
    static bool x_link(select_case& c) {
        std::lock_guard<std::mutex> lock(c.xpipe_->mu);
        if (x_ready(c)) return false;
        x_list(c).push(c.xrecord());
        return true;
    }

    // x_withdraw — the record of xpipe case `c` leaves its list; a wake-up
    // a waker gave it is remembered in woke_.
    static void x_withdraw(select_case& c) noexcept {
        std::lock_guard<std::mutex> lock(c.xpipe_->mu);
        cross_waiter& w = c.xrecord();
        if (w.linked) x_list(c).unlink(w);
        else if (w.woken) c.woke_ = true;
    }

    // x_pass_on — xpipe case `c` got a wake-up but did not happen: when it
    // could still happen, the wake-up goes to the next waiter of its list
    // (as cross_wait's cancel does). Only while the case can happen, so two
    // selects never hand one stale wake-up back and forth.
    static void x_pass_on(select_case& c) noexcept {
        std::lock_guard<std::mutex> lock(c.xpipe_->mu);
        if (x_ready(c)) wake_one(x_list(c));
    }

    static std::optional<std::size_t> run(select_case* cases, std::size_t n, const deadline& d);
};

namespace {

const wait_kind select_kind{
    "select",
    select_access::describe,
    [](const void* obj) -> control_block* {
        const auto* g = static_cast<const select_group*>(obj);
        for (const pipe_waiter* w = g->first; w; w = w->next_case)
            if (control_block* b = w->is_put ? w->pipe->reader_ref() : w->pipe->writer_ref()) return b;
        return nullptr;
    },
    [](void* obj, control_block&) { static_cast<select_group*>(obj)->unlink_all(); },
};

// select_woken — the drain's call for a wake-up through the select's slot
// (an xpipe said "look"): the slot is given back already; the micro_pipe
// records leave their queues, so nothing else can end this wait, and it
// fires with no case chosen.
void select_woken(void* ctx) noexcept {
    auto& g = *static_cast<select_group*>(ctx);
    g.slot = nullptr;
    g.unlink_all();
    fire(*g.cb, nullptr);
}

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

// x_cleanup — on every way out of a select with xpipe cases: records still
// made are withdrawn, and wake-ups got by cases that did not happen are
// passed on.
struct x_cleanup {
    select_case* cases;
    std::size_t n;
    bool records = false;             // the xpipe records are made (maybe linked)
    std::size_t chosen = SIZE_MAX;    // the case that happened, if any
    void withdraw() noexcept {
        if (!records) return;
        records = false;
        for (std::size_t i = 0; i < n; ++i)
            if (select_access::is_x(cases[i])) select_access::x_withdraw(cases[i]);
    }
    // (x_withdraw leaves no record linked: it unlinks under the mutex every
    // record a waker has not unlinked already.)
    ~x_cleanup();
};

}  // namespace

void select_access::describe(const void* obj, std::string& out) {
    const auto* g = static_cast<const select_group*>(obj);
    if (g->count == 0) {
        out += "in select with no enabled case";
        return;
    }
    out += "in select on " + std::to_string(g->count) + " pipe operation" + (g->count == 1 ? "" : "s") + " (";
    bool first = true;
    const select_case* cs = cases(*g);
    for (std::size_t i = 0; i < g->n; ++i) {
        const select_case& c = cs[i];
        if (!c.enabled_) continue;
        if (!first) out += ", ";
        first = false;
        out += c.is_put_ ? "put to " : "get from ";
        if (c.xops_) {
            out += "xpipe '";
            out += c.xpipe_->name;  // set before the pipe was shared, never written again
            out += '\'';
        } else {
            c.pipe_->append_name(out);
        }
    }
    out += ')';
}

namespace {

x_cleanup::~x_cleanup() {
    withdraw();
    for (std::size_t i = 0; i < n; ++i) {
        select_case& c = cases[i];
        if (i != chosen && select_access::took_wake(c)) select_access::x_pass_on(c);
    }
}

}  // namespace

void seed_select_random(std::uint64_t seed) noexcept { random_state = seed * 0x9E3779B97F4A7C15ull | 1; }

std::size_t select_random_below(std::size_t n) noexcept { return random_below(n); }

std::optional<std::size_t> select_access::run(select_case* cases, std::size_t n, const deadline& d) {
    control_block& me = engine::get("select").require_running("select");
    check_deadline(me, d, "select");
    if (pending_raise(me)) raise_pending(me);

    bool any_x = false;
    for (std::size_t i = 0; i < n; ++i) {
        select_case& c = cases[i];
        c.woke_ = false;
        if (!c.enabled_) continue;
        if (c.xops_) any_x = true;
        else c.pipe_->check_engine(me, "select");
    }
    x_cleanup cleanup{cases, any_x ? n : 0};

    for (;;) {
        // Which enabled cases can happen at once (remembered, for lists of
        // up to 64 cases, in a bit set, so readiness is looked at once); one
        // of them, chosen uniformly, happens.
        std::size_t ready = 0;
        std::uint64_t ready_bits = 0;
        for (std::size_t i = 0; i < n; ++i) {
            select_case& c = cases[i];
            if (c.enabled_ && can_happen(c)) {
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
                // Looked at again: an xpipe case may have stopped being
                // possible since (then, past the end, look again).
                for (chosen = 0; chosen < n; ++chosen)
                    if (cases[chosen].enabled_ && can_happen(cases[chosen]) && pick-- == 0) break;
                if (chosen == n) continue;
            }
            select_case& c = cases[chosen];
            cleanup.chosen = chosen;  // its own wake-up, if any, is its own (perform_x passes on what is left)
            if (!c.xops_) {
                perform_local(c);
                return chosen;
            }
            if (perform_x(c)) return chosen;
            cleanup.chosen = SIZE_MAX;  // another OS thread was faster: look again
            continue;
        }

        // Nothing can happen now: wait on every enabled case.
        select_group g;
        g.cb = &me;
        g.cases = cases;
        g.n = n;
        pipe_waiter** tail = &g.first;
        for (std::size_t i = 0; i < n; ++i) {
            select_case& c = cases[i];
            if (!c.enabled_) continue;
            ++g.count;
            if (c.xops_) continue;
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
        }
        release_pipes releaser{g};
        if (any_x) {
            // One slot for every xpipe case: the first wake-up that the
            // drain finds ends the wait, later ones name a given-back slot.
            remote_slot* slot = &me.eng->remote_slots().take(me, remote_use::part, false);
            slot->on_wake = select_woken;
            slot->ctx = &g;
            g.slot = slot;
            g.slot_generation = slot->generation;
            for (std::size_t i = 0; i < n; ++i) {
                select_case& c = cases[i];
                if (!c.enabled_ || !c.xops_) continue;
                cross_waiter& w = *new (c.rec_) cross_waiter;
                w.box = &me.eng->mailbox();
                w.slot = slot->index;
                w.generation = slot->generation;
                w.list = &x_list(c);
                w.mu = &c.xpipe_->mu;
            }
            cleanup.records = true;
        }
        begin_wait(me, select_kind, &g);
        for (pipe_waiter* w = g.first; w; w = w->next_case) w->pipe->link(*w);
        g.linked = true;
        bool raced = false;
        for (std::size_t i = 0; i < n && any_x; ++i) {
            select_case& c = cases[i];
            if (!c.enabled_ || !c.xops_) continue;
            // Linked under the mutex it was found not ready under: a change
            // after this finds the record (or an earlier waiter, which passes
            // the wake-up on when it does not use it).
            if (!x_link(c)) {
                raced = true;  // it became possible since it was looked at
                break;
            }
        }
        if (raced) {
            abandon_wait(me);  // unlink_all: the micro_pipe records and the slot
            cleanup.withdraw();
            continue;
        }
        const wait_end r = end_wait(me, d);  // on abort, the cleanup withdraws the xpipe records
        MT_ASSERT(!g.linked && g.slot == nullptr, "a select's wait ended with a case still registered");
        cleanup.withdraw();
        if (r == wait_end::timed_out) return std::nullopt;  // every case withdrawn
        if (g.chosen == SIZE_MAX) continue;                // an xpipe said "look": look again

        select_case& c = cases[g.chosen];
        cleanup.chosen = g.chosen;
        if (c.record().result == pipe_waiter::outcome::done) return g.chosen;
        // closed under it
        if (c.is_put_) throw closed_put("pipe", c.pipe_->name());
        if (c.pipe_->try_get(c.value_, c.sink_) == try_result::closed) c.clear_(c.value_);  // or rethrows
        return g.chosen;
    }
}

}  // namespace detail

std::optional<std::size_t> select_impl_access(select_case* cases, std::size_t n, const deadline& d) {
    return detail::select_access::run(cases, n, d);
}

}  // namespace mt
