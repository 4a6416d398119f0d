// tests/stress/model.cpp — the reference model: workers, scopes, joins,
// aborts, deferreds and the run queue. Pipes and select: model_pipes.cpp.
// What it models and what it leaves out: docs/reliability.md.
#include "tests/stress/model.hpp"

#include <algorithm>
#include <utility>
#include <cstdio>

namespace mt_stress {

std::string ev::what(long err) { return err_name(err); }

model::model() {
    mworker& d = workers_[0];
    d.id = 0;
    d.st = ms::running;  // the driver: never blocks, never ends while operations run
}

void model::clear_step() {
    logs.clear();
    destroyed.clear();
    unhandled.clear();
    touched.clear();
}

const mworker* model::worker(int id) const {
    auto it = workers_.find(id);
    return it == workers_.end() ? nullptr : &it->second;
}

const mpipe* model::pipe(int id) const {
    auto it = pipes_.find(id);
    return it == pipes_.end() ? nullptr : &it->second;
}

bool model::has_frozen() const { return !frozen_.empty(); }

bool model::accessible(int id) const {
    const mworker* w = worker(id);
    return w && id > 0 && (w->has_handle || w->st != ms::ended);
}

bool model::idle(int id) const {
    const mworker* w = worker(id);
    return w && id > 0 && w->st == ms::idle;
}

int model::innermost_scope(int id) const {
    const mworker* w = worker(id);
    if (!w || w->scopes.empty()) return -1;
    const int s = w->scopes.back();
    return scopes_.at(s).transient ? -1 : s;
}

std::vector<tok> model::held_tokens() const {
    std::vector<tok> out;
    for (const auto& [id, p] : pipes_) {
        if (p.full) out.push_back(p.slot);
        for (const mwaiter& w : p.putters) out.push_back(w.t);
    }
    return out;
}

void model::log(int w, std::string e) {
    logs[w].push_back(std::move(e));
    touched.push_back(w);
}

int model::handles(const mworker& w) const {
    int h = w.has_handle ? 1 : 0;
    if (w.scope >= 0 && !scopes_.at(w.scope).released) ++h;
    return h + static_cast<int>(w.joiners.size());  // a joiner holds a copy while it waits
}

// ---- validity ------------------------------------------------------------------

bool model::valid(const op& o) const {
    const mworker* a = worker(o.actor);
    if (!a) return false;
    if (o.actor == 0) {
        if (worker_only(o.k)) return false;
    } else if (a->st != ms::idle) {
        return false;
    }
    auto pipe_ok = [&](int p) { return pipes_.count(p) > 0; };
    auto target_ok = [&] { return o.target > 0 && worker(o.target) != nullptr; };
    switch (o.k) {
        case opk::new_pipe: return o.actor == 0 && o.pipe >= 0 && !pipe_ok(o.pipe);
        case opk::spawn:
            if (o.target <= 0 || worker(o.target)) return false;
            if ((o.pipe >= 0 && !pipe_ok(o.pipe)) || (o.pipe2 >= 0 && !pipe_ok(o.pipe2))) return false;
            if ((o.flags & f_in_scope) && innermost_scope(o.actor) < 0) return false;
            if ((o.flags & f_detached) && (o.flags & (f_in_scope | f_abort_at_once))) return false;
            return true;
        case opk::ret: return a->scopes.empty();
        case opk::open_scope: return a->scopes.size() < max_scope_depth;
        case opk::abort: return target_ok() && accessible(o.target);
        case opk::join: return target_ok() && worker(o.target)->has_handle;
        case opk::scope_wait:
        case opk::leave_scope: return innermost_scope(o.actor) >= 0;
        case opk::parallel: {
            if (o.children.empty()) return false;
            for (std::size_t i = 0; i < o.children.size(); ++i) {
                if (o.children[i] <= 0 || worker(o.children[i])) return false;
                for (std::size_t j = 0; j < i; ++j)
                    if (o.children[j] == o.children[i]) return false;
            }
            return true;
        }
        case opk::put:
        case opk::get:
        case opk::try_get:
        case opk::close:
        case opk::close_err:
        case opk::close_reader: return pipe_ok(o.pipe);
        case opk::try_put:  // the driver must not be the one a closed pipe ends
            return pipe_ok(o.pipe) && (o.actor != 0 || !pipes_.at(o.pipe).closed);
        case opk::select:
            for (const sel_case& c : o.cases)
                if (c.pipe >= 0 && !pipe_ok(c.pipe)) return false;
            return true;
        case opk::fire: return target_ok() && accessible(o.target);
        case opk::drop_handle: return o.actor == 0 && target_ok() && worker(o.target)->has_handle;
        case opk::tick: return o.actor == 0;
        default: return true;
    }
}

// ---- the run queue ---------------------------------------------------------------

void model::settle(int id, settled how, bool next) {
    mworker& x = W(id);
    x.w.how = how;
    x.st = ms::runnable;
    frozen_.erase(id);
    if (next) runq_.push_front(id);
    else runq_.push_back(id);
}

void model::drain() {
    while (!runq_.empty()) {
        const int id = runq_.front();
        runq_.pop_front();
        run(id);
    }
}

void model::run(int id) {
    mworker& x = W(id);
    const int prev = running_;
    running_ = id;
    touched.push_back(id);
    if (x.st == ms::unstarted) {
        if (x.abort_req) {
            end_worker(x, mend::aborted, 0);  // aborted before it ever ran: its body never runs
        } else {
            x.st = ms::running;
            log(id, "start");
            go_idle(x);
        }
    } else {
        x.st = ms::running;
        resume(x);
    }
    running_ = prev;
}

void model::block(mworker& x, wk kind, dl d, bool interruptible) {
    x.w.kind = kind;
    x.w.d = d;
    x.w.interruptible = interruptible;
    x.w.frozen = d == dl::shortish || kind == wk::sleep;
    x.w.how = settled::none;
    x.st = ms::blocked;
    if (x.w.frozen) frozen_.insert(x.id);
}

void model::go_idle(mworker& x) {
    if (x.abort_req) {  // the mailbox wait raises the (sticky) abort at once
        raise_exit(x);
        return;
    }
    x.w = mwait{};
    x.w.kind = wk::mailbox;
    x.st = ms::idle;
}

// ---- timeouts ------------------------------------------------------------------------

std::string model::timeout_event(const mworker& x) const {
    return x.w.kind == wk::sleep ? std::string("slept") : x.w.label + " -> timeout";
}

void model::time_out(int id) {
    cancel_hook(W(id));
    settle(id, settled::timed_out);
}

void model::apply_observed_timeouts(const observed& obs, bool at_front) {
    for (bool again = true; again;) {
        again = false;
        for (int id : std::vector<int>(frozen_.begin(), frozen_.end())) {
            const mworker& x = W(id);
            if (x.st != ms::blocked || !x.w.frozen) continue;
            auto it = logs.find(id);
            const std::size_t pos = it == logs.end() ? 0 : it->second.size();
            if (at_front && pos != 0) continue;
            const auto& seen = obs.events(id);
            if (pos < seen.size() && seen[pos] == timeout_event(x)) {
                early_.insert(id);
                time_out(id);
                drain();
                again = true;
            }
        }
    }
}

void model::finish_timeouts(const observed& obs) {
    apply_observed_timeouts(obs, true);
    for (int id : std::vector<int>(frozen_.begin(), frozen_.end())) time_out(id);
    drain();
    early_.clear();
}

void model::apply(const op& o, const observed& obs) {
    obs_ = &obs;
    apply_observed_timeouts(obs, true);  // short deadlines that passed before this operation
    if (o.k == opk::tick) {
        finish_timeouts(obs);
    } else if (o.actor == 0) {
        running_ = 0;
        perform_shared(0, o);
        running_ = -1;
        drain();
    } else {
        cmd_ = &o;
        settle(o.actor, settled::fired);  // the command reaches its mailbox
        drain();
    }
    apply_observed_timeouts(obs, false);  // and those that passed after it
}

// ---- waits withdrawn, aborts ------------------------------------------------------------------

void model::cancel_hook(mworker& x) {
    switch (x.w.kind) {
        case wk::get:
        case wk::put: {
            mpipe& p = pipes_.at(x.w.pipe);
            auto& q = x.w.kind == wk::put ? p.putters : p.getters;
            q.erase(std::remove_if(q.begin(), q.end(), [&](const mwaiter& w) { return w.worker == x.id; }), q.end());
            break;
        }
        case wk::select: unlink_cases(x); break;
        case wk::join: {
            auto& js = W(x.w.target).joiners;
            js.erase(std::remove(js.begin(), js.end(), x.id), js.end());
            break;
        }
        case wk::scope_wait:
        case wk::scope_dtor:
        case wk::parallel: scopes_.at(x.w.scope).owner_waiting = false; break;
        default: break;
    }
}

void model::engine_abort(int id) {
    mworker& t = W(id);
    if (t.st == ms::ended) return;
    t.abort_req = true;
    touched.push_back(id);
    if (id == running_) return;  // raises at its next suspension point
    if ((t.st == ms::idle || t.st == ms::blocked) && t.w.interruptible) {
        cancel_hook(t);
        settle(id, settled::cancelled);
    }
}

void model::abort_children(int s) {
    for (int c : std::vector<int>(scopes_.at(s).children))
        if (W(c).st != ms::ended && c != running_) engine_abort(c);
}

// ---- operations ------------------------------------------------------------------------------

void model::perform(mworker& a, const op& o) {
    const std::string wname = "w" + std::to_string(o.target);
    switch (o.k) {
        case opk::ret: end_worker(a, mend::finished, o.value); return;
        case opk::fail: raise_fail(a, o.value); return;
        case opk::abort:
            if (o.target != a.id) break;
            log(a.id, "abort " + wname);
            a.abort_req = true;
            raise_exit(a);
            return;
        case opk::join: {
            mworker& t = W(o.target);
            a.w.label = "join " + wname;
            if (t.id == a.id || o.d == dl::negative) {
                log(a.id, a.w.label + " -> usage_error");
            } else if (t.st == ms::ended) {
                std::string out;
                if (t.end == mend::finished) out = std::to_string(t.result);
                else if (t.end == mend::failed) out = ev::what(t.err), t.observed_outcome = true;
                else out = "mt_aborted";
                log(a.id, a.w.label + " -> " + out);
            } else if (o.d == dl::zero) {
                log(a.id, a.w.label + " -> timeout");
            } else {
                a.w.target = t.id;
                t.joiners.push_back(a.id);
                block(a, wk::join, o.d);
                return;
            }
            go_idle(a);
            return;
        }
        case opk::open_scope: {
            const int s = next_scope_++;
            scopes_[s].owner = a.id;
            a.scopes.push_back(s);
            log(a.id, "scope open");
            go_idle(a);
            return;
        }
        case opk::scope_wait: {
            const int s = innermost_scope(a.id);
            mscope& sc = scopes_.at(s);
            a.w.label = "scope wait";
            if (o.d == dl::negative) {
                log(a.id, "scope wait -> usage_error");
            } else if (sc.running > 0 && o.d == dl::zero) {
                log(a.id, "scope wait -> timeout");
            } else if (sc.running > 0) {
                a.w.scope = s;
                sc.owner_waiting = true;
                block(a, wk::scope_wait, o.d);
                return;
            } else if (sc.failure) {
                sc.thrown = true;
                log(a.id, "scope wait -> " + ev::what(sc.failure));
            } else {
                log(a.id, "scope wait -> ok");
            }
            go_idle(a);
            return;
        }
        case opk::leave_scope:
            a.unwinding = (o.flags & f_by_exception) ? why::leave_exc : why::leave_normal;
            continue_unwind(a);
            return;
        case opk::parallel: {
            const int s = next_scope_++;
            mscope& sc = scopes_[s];
            sc.owner = a.id;
            sc.transient = true;
            a.scopes.push_back(s);
            for (int c : o.children) {
                mworker& ch = workers_[c];
                ch.id = c;
                ch.parallel_child = true;
                ch.scope = s;
                sc.children.push_back(c);
                ++sc.running;
                ++live_;
                live_ids_.insert(c);
                runq_.push_back(c);
            }
            a.w.scope = s;
            sc.owner_waiting = true;
            block(a, wk::parallel, dl::none);
            return;
        }
        case opk::put: {
            const tok t{a.id, a.seq++};
            do_put(a, o.pipe, t, o.d, "put p" + std::to_string(o.pipe) + " " + tok_name(t.producer, t.seq));
            return;
        }
        case opk::get: do_get(a, o.pipe, o.d, "get p" + std::to_string(o.pipe), false); return;
        case opk::put_out: {
            if (a.out < 0) {
                log(a.id, "put_out -> usage_error");
                go_idle(a);
                return;
            }
            const tok t{a.id, a.seq++};
            do_put(a, a.out, t, o.d, "put_out " + tok_name(t.producer, t.seq));
            return;
        }
        case opk::get_in:
            if (a.in < 0) {
                log(a.id, "get_in -> usage_error");
                go_idle(a);
                return;
            }
            do_get(a, a.in, o.d, "get_in", (o.flags & f_propagate) != 0);
            return;
        case opk::select: do_select(a, o, *obs_); return;
        case opk::arm:
            if (a.dp != dph::idle) {
                log(a.id, "arm -> usage_error");
            } else {
                a.dp = dph::armed;
                log(a.id, "arm -> ok");
            }
            go_idle(a);
            return;
        case opk::push: {
            const cbent e{o.aux % cbk_count, o.value};
            if (a.insert_at == SIZE_MAX) a.dq.push_back(e);
            else a.dq.insert(a.dq.begin() + static_cast<std::ptrdiff_t>(a.insert_at++), e);
            go_idle(a);
            return;
        }
        case opk::dwait:
            if (o.d == dl::negative) {
                log(a.id, "dwait -> usage_error");
                go_idle(a);
                return;
            }
            a.dwait_d = o.d;
            dwait_loop(a);
            return;
        case opk::dcancel:
            if (a.dp == dph::armed) a.dp = dph::idle;
            go_idle(a);
            return;
        case opk::yield: go_idle(a); return;
        case opk::sleep:
            if (o.us == 0) {
                log(a.id, "slept");  // sleep_d(0) yields once
                go_idle(a);
                return;
            }
            a.w.label = "sleep";
            block(a, wk::sleep, dl::shortish);
            return;
        default: break;
    }
    if (!perform_shared(a.id, o)) go_idle(a);
}

// perform_shared — what the driver may do as well as a worker. Returns true
// when it raised MicroThreadExit in its (worker) actor.
bool model::perform_shared(int actor, const op& o) {
    const std::string wname = "w" + std::to_string(o.target);
    const std::string pname = "p" + std::to_string(o.pipe);
    mworker& a = W(actor);
    switch (o.k) {
        case opk::new_pipe: pipes_[o.pipe]; return false;
        case opk::spawn: {
            mworker& c = workers_[o.target];
            c.id = o.target;
            c.has_handle = !(o.flags & f_detached);
            c.detached = (o.flags & f_detached) != 0;
            c.catches_exit = (o.flags & f_catches_exit) != 0;
            c.in = o.pipe;
            c.out = o.pipe2;
            if (c.in >= 0) ++pipes_.at(c.in).readers;
            if (c.out >= 0) ++pipes_.at(c.out).writers;
            if (o.flags & f_in_scope) {
                c.scope = innermost_scope(actor);
                mscope& sc = scopes_.at(c.scope);
                sc.children.push_back(c.id);
                ++sc.running;
            }
            ++live_;
            live_ids_.insert(c.id);
            runq_.push_back(c.id);
            if (o.flags & f_abort_at_once) c.abort_req = true;
            log(actor, "spawned " + wname);
            return false;
        }
        case opk::abort:
            log(actor, "abort " + wname);
            engine_abort(o.target);
            return false;
        case opk::fire: fire(actor, o.target, o.value, (o.flags & f_error) != 0); return false;
        case opk::drop_handle: {
            mworker& t = W(o.target);
            t.has_handle = false;
            if (t.st == ms::ended && t.end == mend::failed && !t.observed_outcome && handles(t) == 0) {
                t.observed_outcome = true;
                unhandled.emplace_back(t.id, t.err);
            }
            touched.push_back(t.id);
            return false;
        }
        case opk::try_put: {
            const tok t{actor, a.seq++};
            const std::string label = "try_put " + pname + " " + tok_name(t.producer, t.seq);
            switch (try_put(o.pipe, t)) {
                case tr::done: log(actor, label + " -> ok"); return false;
                case tr::would_block:
                    destroyed.push_back(t);
                    log(actor, label + " -> full");
                    return false;
                case tr::closed:
                    destroyed.push_back(t);
                    raise_exit(a);
                    return true;
            }
            return false;
        }
        case opk::try_get: {
            tok t;
            const std::string label = "try_get " + pname;
            switch (try_get(o.pipe, t)) {
                case tr::done: log(actor, label + " -> " + tok_name(t.producer, t.seq)); break;
                case tr::would_block: log(actor, label + " -> none"); break;
                case tr::closed: {
                    const long e = pipes_.at(o.pipe).err;
                    log(actor, label + " -> " + (e ? ev::what(e) : std::string("eos")));
                    break;
                }
            }
            return false;
        }
        case opk::close:
            log(actor, "close " + pname);
            close(o.pipe, 0);
            return false;
        case opk::close_err:
            log(actor, "close " + pname + " " + ev::what(o.value));
            close(o.pipe, o.value);
            return false;
        case opk::close_reader:
            log(actor, "close_reader " + pname);
            close_reader(o.pipe);
            return false;
        default: return false;
    }
}

}  // namespace mt_stress
