// core/introspection.cpp — the dump of live micro-threads and the deadlock
// report's wait-for chains.
#include <fmt/format.h>

#include <string>
#include <vector>

#include "core/detail/control_block.hpp"
#include "core/engine.hpp"

namespace mt {
namespace {

void append_wait(std::string& out, const detail::control_block& cb) {
    detail::describe_wait(cb, out);
    const deferred& d = cb.d;
    if (d.fired() && !d.waiting()) out += " (its deferred fired: kept for its next wait)";
    if (d.pending_callbacks()) out += fmt::format(" ({} callbacks pending)", d.pending_callbacks());
}

double kib(std::size_t bytes) { return static_cast<double>(bytes) / 1024.0; }

}  // namespace

// append_activity — "; cpu 1.234 ms, 345 switches" (the CPU time only
// while it is measured, or once it was).
void engine::append_activity(std::string& out, const detail::control_block& cb) const {
    const std::uint64_t n = cb.switches;
    const char* s = n == 1 ? "" : "es";
    if (cpu_time_measured() || cb.cpu_ticks) {
        const double ms = static_cast<double>(cpu_time(&cb).count()) / 1e6;
        out += fmt::format("; cpu {:.3f} ms, {} switch{}", ms, n, s);
    } else {
        out += fmt::format("; {} switch{}", n, s);
    }
}

std::string engine::dump() const {
    std::vector<const detail::control_block*> all;
    for (auto* cb = live_.front(); cb; cb = decltype(live_)::next(*cb)) all.push_back(cb);
    std::string out = fmt::format("{} live micro-thread{}\n", all.size(), all.size() == 1 ? "" : "s");
    for (const detail::control_block* p : all) {  // oldest first
        const detail::control_block& cb = *p;
        out += "  ";
        detail::append_ref(out, cb);
        out += ' ';
        out += to_string(cb.st);
        if (cb.abort_requested) out += " (abort requested)";
        if (cb.shield_depth) out += " (shielded)";
        if (cb.st == state::waiting) {
            out += ": ";
            append_wait(out, cb);
        }
        if (!cb.held.empty()) {
            out += "; holds ";
            detail::append_held_locks(out, cb);
        }
        if (cb.stk) {
            out += fmt::format("; stack {:.1f} KiB {}, high-water {:.1f} KiB", kib(cb.stk.size),
                           detail::kind_name(cb.stk.kind), kib(detail::stack_pool::high_water(cb.stk)));
        }
        append_activity(out, cb);
        out += '\n';
    }
    return out;
}

// deadlock_report — one chain per group: starting from a waiting micro-thread
// nobody else waits behind (or the oldest, for a pure cycle), follow each
// wait's blocker until the chain ends or comes back on itself.
std::string engine::deadlock_report() const {
    std::string chains;
    const std::size_t n = append_chains(chains, "\n  ", nullptr);
    std::string out = n == 1 ? std::string("deadlock: 1 micro-thread waits and nothing can wake it")
                             : fmt::format("deadlock: {} micro-threads wait and nothing can wake them", n);
    return out + chains;
}

std::size_t engine::append_chains(std::string& out, std::string_view line_start, const detail::control_block* skip) const {
    std::vector<const detail::control_block*> waiting;
    for (auto* cb = live_.front(); cb; cb = decltype(live_)::next(*cb))
        if (cb->st == state::waiting && cb != skip) waiting.push_back(cb);
    const std::vector<const detail::control_block*>& oldest_first = waiting;

    auto blocker_of = [](const detail::control_block* cb) -> const detail::control_block* {
        return cb->w.kind ? cb->w.kind->blocker(cb->w.obj) : nullptr;
    };
    std::vector<const detail::control_block*> seen;
    auto was_seen = [&](const detail::control_block* cb) {
        for (auto* s : seen)
            if (s == cb) return true;
        return false;
    };
    // Heads first: waiting micro-threads that no other waiter is blocked on.
    std::vector<const detail::control_block*> starts;
    for (auto* cb : oldest_first) {
        bool blocks_someone = false;
        for (auto* other : oldest_first)
            if (blocker_of(other) == cb) blocks_someone = true;
        if (!blocks_someone) starts.push_back(cb);
    }
    for (auto* cb : oldest_first) starts.push_back(cb);

    for (auto* start : starts) {
        if (was_seen(start)) continue;
        out += line_start;
        detail::append_ref(out, *start);
        out += ' ';
        std::vector<const detail::control_block*> chain;
        for (const detail::control_block* cb = start; cb;) {
            append_wait(out, *cb);
            seen.push_back(cb);
            chain.push_back(cb);
            const detail::control_block* next = blocker_of(cb);
            if (!next || next->st != state::waiting) break;
            bool cycle = false;
            for (auto* c : chain)
                if (c == next) cycle = true;
            const char* role = cb->w.kind->blocker_role;
            if (cycle || was_seen(next)) {
                if (role) {  // the description did not name the blocker: name it
                    out += ", whose ";
                    out += role;
                    out += ' ';
                    detail::append_ref(out, *next);
                }
                out += cycle ? " (a cycle)" : " (see above)";
                break;
            }
            if (role) {
                out += ", whose ";
                out += role;
                out += ' ';
                detail::append_ref(out, *next);
                out += ' ';
            } else {
                out += ", which ";
            }
            cb = next;
        }
    }
    return waiting.size();
}

}  // namespace mt
