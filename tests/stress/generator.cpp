// tests/stress/generator.cpp — the operation generator and its profiles.
#include "tests/stress/generator.hpp"

#include <vector>

namespace mt_stress {

std::uint32_t rng_choices::below(std::uint32_t n) {
    s_ += 0x9E3779B97F4A7C15ull;
    std::uint64_t z = s_;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return static_cast<std::uint32_t>(z % n);
}

std::uint32_t byte_choices::below(std::uint32_t n) {
    std::uint32_t v = 0;
    const int bytes = n > 256 ? 2 : 1;
    for (int i = 0; i < bytes && p_ != end_; ++i) v = v << 8 | *p_++;
    return v % n;
}

namespace {

// weights, in opk order:
//  new_pipe spawn ret fail abort join open_scope scope_wait leave_scope parallel
//  put get try_put try_get close close_err close_reader put_out get_in select
//  arm push fire dwait dcancel yield sleep drop_handle tick
const profile profiles[] = {
    {"mixed", {2, 14, 5, 3, 4, 6, 3, 3, 3, 2, 8, 8, 3, 3, 2, 2, 2, 4, 4, 6, 3, 3, 4, 3, 1, 2, 2, 1, 2}},
    // few pipes: several getters and putters queue on each (FIFO order shows)
    {"pipes", {3, 10, 3, 2, 3, 2, 1, 1, 1, 0, 12, 12, 4, 4, 3, 2, 2, 8, 8, 10, 0, 0, 0, 0, 0, 2, 1, 0, 2}, 1500, 40, 3},
    {"scopes", {1, 16, 6, 5, 6, 8, 6, 5, 5, 5, 2, 2, 0, 0, 1, 1, 0, 1, 2, 1, 1, 1, 2, 1, 0, 2, 2, 2, 2}},
    {"deferred", {1, 8, 4, 1, 3, 2, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 10, 10, 12, 10, 2, 2, 1, 0, 2}},
    {"select", {3, 8, 3, 1, 3, 1, 0, 0, 0, 0, 8, 8, 2, 2, 3, 2, 2, 2, 2, 20, 0, 0, 0, 0, 0, 1, 1, 0, 2}},
};

}  // namespace

const profile* find_profile(const std::string& name) {
    for (const profile& p : profiles)
        if (name == p.name) return &p;
    return nullptr;
}

const profile& mixed_profile() { return profiles[0]; }

int generator::pick_idle() {
    std::vector<int> idle;
    for (const auto& [id, w] : m_.workers())
        if (id > 0 && w.st == ms::idle && !m_.woke_early(id)) idle.push_back(id);
    return idle.empty() ? -1 : idle[c_.below(static_cast<std::uint32_t>(idle.size()))];
}

int generator::pick_target(bool need_handle) {
    std::vector<int> live, any;
    for (const auto& [id, w] : m_.workers()) {
        if (id == 0 || (need_handle && !w.has_handle) || !m_.accessible(id)) continue;
        any.push_back(id);
        if (w.st != ms::ended) live.push_back(id);
    }
    const auto& from = (!live.empty() && chance(85)) || any.empty() ? live : any;
    return from.empty() ? -1 : from[c_.below(static_cast<std::uint32_t>(from.size()))];
}

int generator::pick_pipe() {
    std::vector<int> open, any;
    for (const auto& [id, p] : m_.pipes()) {
        any.push_back(id);
        if (!p.closed) open.push_back(id);
    }
    const auto& from = (!open.empty() && chance(80)) || any.empty() ? open : any;
    return from.empty() ? -1 : from[c_.below(static_cast<std::uint32_t>(from.size()))];
}

int generator::open_pipes() const {
    int n = 0;
    for (const auto& [id, p] : m_.pipes()) n += !p.closed;
    return n;
}

dl generator::pick_deadline(op& o) {
    const int r = static_cast<int>(c_.below(100));
    if (r < 40) return dl::none;
    if (r < 60) return dl::zero;
    if (r < 72) {
        o.us = 200 + static_cast<int>(c_.below(static_cast<std::uint32_t>(p_.max_short_us - 199)));
        return dl::shortish;
    }
    if (r < 95) return dl::longish;
    return dl::negative;
}

op generator::make(opk k) {
    op o;
    o.k = k;
    const int idle = pick_idle();
    if (worker_only(k)) {
        o.actor = idle;
    } else {
        o.actor = (idle < 0 || chance(35)) ? 0 : idle;
    }
    switch (k) {
        case opk::new_pipe:
            o.actor = 0;
            o.pipe = next_pipe_;
            break;
        case opk::spawn:
            o.target = next_worker_;
            if (o.actor > 0 && m_.innermost_scope(o.actor) >= 0 && chance(50)) o.flags |= f_in_scope;
            else if (chance(10)) o.flags |= f_detached;
            if (!(o.flags & f_detached) && chance(6)) o.flags |= f_abort_at_once;
            if (chance(15)) o.flags |= f_catches_exit;
            if (chance(25)) o.pipe = pick_pipe();
            if (chance(25)) o.pipe2 = pick_pipe();
            break;
        case opk::ret: o.value = c_.below(1000); break;
        case opk::fail: o.value = next_err_; break;
        case opk::abort: o.target = (o.actor > 0 && chance(5)) ? o.actor : pick_target(false); break;
        case opk::join:
            o.target = (o.actor > 0 && chance(3)) ? o.actor : pick_target(true);
            o.d = pick_deadline(o);
            break;
        case opk::scope_wait: o.d = pick_deadline(o); break;
        case opk::leave_scope:
            if (chance(40)) o.flags |= f_by_exception;
            break;
        case opk::parallel: {
            const int n = 1 + static_cast<int>(c_.below(3));
            for (int i = 0; i < n; ++i) o.children.push_back(next_worker_ + i);
            break;
        }
        case opk::put:
        case opk::get:
            o.pipe = pick_pipe();
            o.d = pick_deadline(o);
            break;
        case opk::try_put:
        case opk::try_get:
        case opk::close:
        case opk::close_reader: o.pipe = pick_pipe(); break;
        case opk::close_err:
            o.pipe = pick_pipe();
            o.value = next_err_;
            break;
        case opk::put_out: o.d = pick_deadline(o); break;
        case opk::get_in:
            o.d = pick_deadline(o);
            if (chance(40)) o.flags |= f_propagate;
            break;
        case opk::select: {
            const int n = chance(5) ? 0 : 1 + static_cast<int>(c_.below(4));
            for (int i = 0; i < n; ++i) {
                sel_case c;
                c.put = chance(40);
                c.pipe = chance(10) ? -1 : pick_pipe();
                c.enabled = chance(85);
                o.cases.push_back(c);
            }
            o.d = pick_deadline(o);
            if (n == 0 && o.d == dl::none) o.d = dl::zero;  // would wait until aborted: rarely wanted
            break;
        }
        case opk::push: {
            const int r = static_cast<int>(c_.below(100));
            o.aux = r < 50 ? cb_add : r < 60 ? cb_throw : r < 80 ? cb_rearm : cb_yield;
            o.value = o.aux == cb_throw ? next_err_ : static_cast<long>(c_.below(50));
            break;
        }
        case opk::fire:
            o.target = (o.actor > 0 && chance(5)) ? o.actor : pick_target(false);
            if (chance(20)) {
                o.flags |= f_error;
                o.value = next_err_;
            } else {
                o.value = c_.below(100);
            }
            break;
        case opk::dwait: o.d = pick_deadline(o); break;
        case opk::yield: o.value = 1 + c_.below(3); break;
        case opk::sleep:
            o.us = chance(30) ? 0 : 200 + static_cast<int>(c_.below(static_cast<std::uint32_t>(p_.max_short_us - 199)));
            break;
        case opk::drop_handle:
            o.actor = 0;
            o.target = pick_target(true);
            break;
        case opk::tick: o.actor = 0; break;
        default: break;
    }
    return o;
}

std::optional<op> generator::next() {
    if (steps_ >= p_.steps || c_.exhausted()) return std::nullopt;
    int idle = 0, live = 0;
    for (const auto& [id, w] : m_.workers()) {
        if (id == 0) continue;
        if (w.st == ms::idle && !m_.woke_early(id)) ++idle;
        if (w.st != ms::ended) ++live;
    }
    for (int attempt = 0; attempt < 30; ++attempt) {
        opk k;
        if (open_pipes() < 2 && attempt == 0) {
            k = opk::new_pipe;
        } else if (live < p_.max_live && (idle == 0 || (idle < 3 && chance(30))) && attempt < 2) {
            k = opk::spawn;
        } else {
            int total = 0;
            for (int w : p_.weight) total += w;
            int r = static_cast<int>(c_.below(static_cast<std::uint32_t>(total)));
            int i = 0;
            while (r >= p_.weight[i]) r -= p_.weight[i++];
            k = static_cast<opk>(i);
        }
        if ((k == opk::spawn || k == opk::parallel) && live >= p_.max_live) continue;
        if (k == opk::new_pipe && open_pipes() >= p_.max_pipes) continue;
        op o = make(k);
        if (!m_.valid(o)) continue;
        if (k == opk::spawn) ++next_worker_;
        if (k == opk::parallel) next_worker_ += static_cast<int>(o.children.size());
        if (k == opk::new_pipe) ++next_pipe_;
        if (k == opk::fail || k == opk::close_err || (k == opk::fire && (o.flags & f_error)) ||
            (k == opk::push && o.aux == cb_throw))
            ++next_err_;
        ++steps_;
        return o;
    }
    ++steps_;
    op t;
    t.k = opk::tick;  // nothing else fits: let time pass
    return t;
}

}  // namespace mt_stress
