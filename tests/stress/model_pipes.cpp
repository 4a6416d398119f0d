// tests/stress/model_pipes.cpp — the reference model's pipes: the table of
// docs/reference/pipes.md, first come first served waiters, a handoff that runs the
// getter next, closing that wakes every waiter, and select.
#include <algorithm>
#include <cstdio>

#include "tests/stress/model.hpp"

namespace mt_stress {

namespace {
// chosen_in_log — the case index the run's select logged ("select -> 2 ..."), or -1.
int chosen_in_log(const std::vector<std::string>& seen, std::size_t pos) {
    int i = -1;
    if (pos < seen.size() && std::sscanf(seen[pos].c_str(), "select -> %d", &i) == 1) return i;
    return -1;
}
}  // namespace

// front_waiter — the waiter queue `q` serves next: its head; but when the
// head is a select with several cases in a row there (one pipe named twice
// in the same direction), they became possible at once and the engine chose
// one uniformly, so the model learns which from the run's log, as for a
// select's ready cases. A choice that logs no index (a put to a closed
// pipe, a get of a close error) ends alike for each of them: the head then
// stands for them all.
mwaiter model::front_waiter(const std::deque<mwaiter>& q) const {
    const mwaiter& head = q.front();
    if (head.case_index < 0 || !obs_) return head;
    std::size_t run = 1;
    while (run < q.size() && q[run].worker == head.worker) ++run;
    if (run == 1) return head;
    auto it = logs.find(head.worker);
    const int seen = chosen_in_log(obs_->events(head.worker), it == logs.end() ? 0 : it->second.size());
    for (std::size_t i = 0; i < run; ++i)
        if (q[i].case_index == seen) return q[i];
    return head;
}

bool model::can_put(int p) const {
    const mpipe& q = pipes_.at(p);
    return q.closed || !q.getters.empty() || !q.full;
}

bool model::can_get(int p) const {
    const mpipe& q = pipes_.at(p);
    return q.full || q.closed;
}

// complete — a waiter's operation happened (or its pipe closed): out of its
// queue (a select: out of every queue), and its wait is settled.
void model::complete(int p, mwaiter wt, bool closed, bool next) {
    mpipe& q = pipes_.at(p);
    auto& queue = wt.is_put ? q.putters : q.getters;
    queue.erase(std::find_if(queue.begin(), queue.end(),
                             [&](const mwaiter& w) { return w.worker == wt.worker && w.case_index == wt.case_index; }));
    mworker& x = W(wt.worker);
    if (wt.case_index >= 0) {
        x.w.chosen = wt.case_index;
        unlink_cases(x);
    }
    x.w.closed = closed;
    settle(wt.worker, settled::fired, next);
}

void model::unlink_cases(mworker& x) {
    for (const sel_case& c : x.w.cases) {
        if (c.pipe < 0) continue;
        mpipe& q = pipes_.at(c.pipe);
        for (auto* queue : {&q.getters, &q.putters})
            queue->erase(std::remove_if(queue->begin(), queue->end(), [&](const mwaiter& w) { return w.worker == x.id; }),
                         queue->end());
    }
}

model::tr model::try_put(int p, tok t) {
    mpipe& q = pipes_.at(p);
    if (q.closed) return tr::closed;
    if (!q.getters.empty()) {  // the handoff: the getter runs next
        const mwaiter g = front_waiter(q.getters);
        mworker& x = W(g.worker);
        x.w.has_val = true;
        x.w.got = t;
        complete(p, g, false, true);
        return tr::done;
    }
    if (q.full) return tr::would_block;
    q.slot = t;
    q.full = true;
    return tr::done;
}

model::tr model::try_get(int p, tok& out) {
    mpipe& q = pipes_.at(p);
    if (q.full) {
        out = q.slot;
        q.full = false;
        if (!q.closed && !q.putters.empty()) {  // the first waiting putter's value goes in
            const mwaiter w = front_waiter(q.putters);
            q.slot = w.t;
            q.full = true;
            complete(p, w, false, false);
        }
        return tr::done;
    }
    return q.closed ? tr::closed : tr::would_block;
}

void model::close(int p, long err) {
    mpipe& q = pipes_.at(p);
    if (q.closed) return;  // the first close wins
    q.closed = true;
    q.err = err;
    while (!q.getters.empty()) complete(p, front_waiter(q.getters), true, false);
    while (!q.putters.empty()) complete(p, front_waiter(q.putters), true, false);
}

void model::close_reader(int p) {
    mpipe& q = pipes_.at(p);
    q.closed = true;
    q.reader_closed = true;
    if (q.full) {  // never delivered, never delivered twice
        destroyed.push_back(q.slot);
        q.full = false;
    }
    while (!q.getters.empty()) complete(p, front_waiter(q.getters), true, false);
    while (!q.putters.empty()) complete(p, front_waiter(q.putters), true, false);
}

void model::do_put(mworker& a, int p, tok t, dl d, const std::string& label) {
    if (d == dl::negative) {
        destroyed.push_back(t);
        log(a.id, label + " -> usage_error");
        go_idle(a);
        return;
    }
    switch (try_put(p, t)) {
        case tr::done:
            log(a.id, label + " -> ok");
            go_idle(a);
            return;
        case tr::closed:
            destroyed.push_back(t);
            raise_exit(a);  // a put to a closed pipe ends the writer silently
            return;
        case tr::would_block: break;
    }
    if (d == dl::zero) {
        destroyed.push_back(t);
        log(a.id, label + " -> timeout");
        go_idle(a);
        return;
    }
    a.w = mwait{};
    a.w.pipe = p;
    a.w.t = t;
    a.w.label = label;
    pipes_.at(p).putters.push_back(mwaiter{a.id, true, -1, t});
    block(a, wk::put, d);
}

void model::get_closed(mworker& a, int p, const std::string& label, bool propagate) {
    const long e = pipes_.at(p).err;
    if (!e) {
        log(a.id, label + " -> eos");
        go_idle(a);
        return;
    }
    log(a.id, label + " -> " + ev::what(e));
    if (propagate) raise_fail(a, e);
    else go_idle(a);
}

void model::do_get(mworker& a, int p, dl d, const std::string& label, bool propagate) {
    if (d == dl::negative) {
        log(a.id, label + " -> usage_error");
        go_idle(a);
        return;
    }
    tok t;
    switch (try_get(p, t)) {
        case tr::done:
            log(a.id, label + " -> " + tok_name(t.producer, t.seq));
            go_idle(a);
            return;
        case tr::closed: get_closed(a, p, label, propagate); return;
        case tr::would_block: break;
    }
    if (d == dl::zero) {
        log(a.id, label + " -> timeout");
        go_idle(a);
        return;
    }
    a.w = mwait{};
    a.w.pipe = p;
    a.w.label = label;
    a.w.propagate = propagate;
    pipes_.at(p).getters.push_back(mwaiter{a.id, false, -1, {}});
    block(a, wk::get, d);
}

// ---- select -----------------------------------------------------------------------------------

void model::do_select(mworker& a, const op& o, const observed& obs) {
    a.w = mwait{};
    a.w.label = "select";
    a.w.cases = o.cases;
    for (const sel_case& c : o.cases) a.w.case_toks.push_back(c.put ? tok{a.id, a.seq++} : tok{});
    auto drop_values = [&](int except) {
        for (std::size_t i = 0; i < a.w.cases.size(); ++i)
            if (a.w.cases[i].put && static_cast<int>(i) != except) destroyed.push_back(a.w.case_toks[i]);
    };
    if (o.d == dl::negative) {
        drop_values(-1);
        log(a.id, "select -> usage_error");
        go_idle(a);
        return;
    }
    std::vector<int> ready;
    for (std::size_t i = 0; i < o.cases.size(); ++i) {
        const sel_case& c = o.cases[i];
        if (c.enabled && c.pipe >= 0 && (c.put ? can_put(c.pipe) : can_get(c.pipe))) ready.push_back(static_cast<int>(i));
    }
    if (!ready.empty()) {
        // The contract: uniformly random among the ready cases; the run says which.
        int i = ready.front();
        if (ready.size() > 1) {
            auto it = logs.find(a.id);
            const int seen = chosen_in_log(obs.events(a.id), it == logs.end() ? 0 : it->second.size());
            if (std::find(ready.begin(), ready.end(), seen) != ready.end()) {
                i = seen;
            } else {
                // No index in the log: the chosen case threw. "select -> E5"
                // is a get from a pipe closed with E5; nothing at all is a put
                // to a closed pipe (MicroThreadExit). Such choices end alike.
                auto it2 = logs.find(a.id);
                const auto& seen_log = obs.events(a.id);
                const std::size_t pos = it2 == logs.end() ? 0 : it2->second.size();
                const std::string next = pos < seen_log.size() ? seen_log[pos] : std::string();
                for (int r : ready) {
                    const sel_case& rc = o.cases[static_cast<std::size_t>(r)];
                    const mpipe& q = pipes_.at(rc.pipe);
                    const bool fits = rc.put ? q.closed && next.rfind("select -> ", 0) != 0
                                             : !q.full && q.err && next == "select -> " + ev::what(q.err);
                    if (fits) {
                        i = r;
                        break;
                    }
                }
            }
        }
        const sel_case& c = o.cases[static_cast<std::size_t>(i)];
        const std::string head = "select -> " + std::to_string(i);
        if (c.put) {
            if (try_put(c.pipe, a.w.case_toks[static_cast<std::size_t>(i)]) == tr::closed) {
                drop_values(-1);
                raise_exit(a);
                return;
            }
            drop_values(i);
            log(a.id, head + " put");
        } else {
            drop_values(-1);
            tok t;
            if (try_get(c.pipe, t) == tr::done) log(a.id, head + " got " + tok_name(t.producer, t.seq));
            else if (const long e = pipes_.at(c.pipe).err) log(a.id, "select -> " + ev::what(e));
            else log(a.id, head + " eos");
        }
        go_idle(a);
        return;
    }
    if (o.d == dl::zero) {
        drop_values(-1);
        log(a.id, "select -> timeout");
        go_idle(a);
        return;
    }
    for (std::size_t i = 0; i < o.cases.size(); ++i) {
        const sel_case& c = o.cases[i];
        if (!c.enabled || c.pipe < 0) continue;
        mpipe& q = pipes_.at(c.pipe);
        (c.put ? q.putters : q.getters).push_back(mwaiter{a.id, c.put, static_cast<int>(i), a.w.case_toks[i]});
    }
    block(a, wk::select, o.d);
}

void model::finish_select(mworker& a) {
    const mwait wt = a.w;
    auto drop_values = [&](int except) {
        for (std::size_t i = 0; i < wt.cases.size(); ++i)
            if (wt.cases[i].put && static_cast<int>(i) != except) destroyed.push_back(wt.case_toks[i]);
    };
    if (wt.how == settled::timed_out) {
        drop_values(-1);
        log(a.id, "select -> timeout");
        go_idle(a);
        return;
    }
    if (wt.how == settled::cancelled) {
        drop_values(-1);
        raise_exit(a);
        return;
    }
    const sel_case& c = wt.cases[static_cast<std::size_t>(wt.chosen)];
    const std::string head = "select -> " + std::to_string(wt.chosen);
    if (!wt.closed) {
        drop_values(c.put ? wt.chosen : -1);
        log(a.id, c.put ? head + " put" : head + " got " + tok_name(wt.got.producer, wt.got.seq));
        go_idle(a);
        return;
    }
    drop_values(-1);
    if (c.put) {
        raise_exit(a);  // a select whose chosen put goes to a closed pipe raises MicroThreadExit
        return;
    }
    if (const long e = pipes_.at(c.pipe).err) log(a.id, "select -> " + ev::what(e));
    else log(a.id, head + " eos");
    go_idle(a);
}

}  // namespace mt_stress
