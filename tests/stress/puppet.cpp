// tests/stress/puppet.cpp — puppets: a command loop per scope level, one
// operation per command, everything they see written to their log.
#include "tests/stress/puppet.hpp"

#include <chrono>
#include <functional>
#include <optional>
#include <span>

#include "pipes/select.hpp"

namespace mt_stress {

token::~token() {
    if (l) l->on_destroyed(producer, seq);
}

void ledger::on_destroyed(int producer, int seq) {
    const tok t{producer, seq};
    if (!ended.insert(t).second) problems.push_back("value " + tok_name(producer, seq) + " ended twice (destroyed)");
    destroyed.push_back(t);
}

void ledger::on_delivered(int pipe, token& t) {
    const tok k{t.producer, t.seq};
    t.l = nullptr;
    if (!ended.insert(k).second) problems.push_back("value " + tok_name(k.producer, k.seq) + " delivered twice");
    auto [it, fresh] = last_seq.emplace(std::make_pair(pipe, k.producer), k.seq);
    if (!fresh) {
        if (it->second >= k.seq)
            problems.push_back("p" + std::to_string(pipe) + " delivered " + tok_name(k.producer, k.seq) + " after " +
                               tok_name(k.producer, it->second) + " (out of its producer's order)");
        it->second = k.seq;
    }
}

std::string what_of(std::exception_ptr e) {
    try {
        std::rethrow_exception(e);
    } catch (const test_error& x) {
        return err_name(x.id);
    } catch (const mt::usage_error&) {
        return "usage_error";
    } catch (const mt::timeout_error&) {
        return "timeout";
    } catch (const mt::micro_thread_aborted&) {
        return "mt_aborted";
    } catch (const std::exception& x) {
        return std::string("other: ") + x.what();
    } catch (...) {
        return "unknown";
    }
}

namespace {

// attempt — runs f; any exception but MicroThreadExit is logged as
// "<label> -> <what>".
template <class F>
void attempt(worker_rec* r, const std::string& label, F&& f) {
    try {
        f();
    } catch (const mt::MicroThreadExit&) {
        throw;
    } catch (...) {
        note(r, label + " -> " + what_of(std::current_exception()));
    }
}

mt::deadline to_deadline(const op& o) {
    using namespace std::chrono;
    switch (o.d) {
        case dl::none: return {};
        case dl::zero: return nanoseconds(0);
        case dl::shortish: return microseconds(o.us);
        case dl::longish: return hours(1);
        case dl::negative: return milliseconds(-1);
    }
    return {};
}

// ---- the mailbox -------------------------------------------------------------------------

const mt::detail::wait_kind mailbox_kind{
    "stress command",
    [](const void*, std::string& out) { out += "for its next stress command"; },
    [](const void*) -> mt::detail::control_block* { return nullptr; },
    [](void* obj, mt::detail::control_block&) { static_cast<worker_rec*>(obj)->in_mailbox = false; },
};

const op& next_command(worker_rec* r) {
    mt::detail::control_block& me = *r->cb;
    mt::detail::begin_wait(me, mailbox_kind, r);
    r->in_mailbox = true;
    try {
        mt::detail::end_wait(me, mt::deadline{});
    } catch (...) {
        r->in_mailbox = false;
        throw;
    }
    return *r->cmd;
}

// ---- the deferred's callbacks ----------------------------------------------------------------

void* run_callback(void* value, void* state);

void push_callback(worker_rec* r, int kind, long k) {
    r->cbs.push_back(std::make_unique<cb_state>(cb_state{r, kind, k}));
    mt::this_deferred().push("stress", &run_callback, r->cbs.back().get());
}

void* run_callback(void* value, void* state) {
    auto* s = static_cast<cb_state*>(state);
    const long v = static_cast<long>(reinterpret_cast<std::intptr_t>(value));
    const std::string in = "(" + std::to_string(v) + ")";
    long out = v + s->k;
    switch (s->kind) {
        case cb_add:
            out = (v * 3 + s->k) % 1000003;
            note(s->r, "cb add" + std::to_string(s->k) + in + " -> " + std::to_string(out));
            break;
        case cb_throw: note(s->r, "cb throw" + std::to_string(s->k) + in); throw test_error(s->k);
        case cb_rearm:
            note(s->r, "cb rearm" + std::to_string(s->k) + in + " -> " + std::to_string(out));
            mt::this_deferred().arm();  // defers again: what it pushes runs before what is pending
            push_callback(s->r, cb_add, s->k + 1);
            push_callback(s->r, cb_add, s->k + 2);
            break;
        default:
            mt::yield();
            note(s->r, "cb yield" + std::to_string(s->k) + in + " -> " + std::to_string(out));
            break;
    }
    return reinterpret_cast<void*>(static_cast<std::intptr_t>(out));
}

// ---- operations ---------------------------------------------------------------------------------

struct leave_scope_signal {};

long command_loop(worker_rec* r, int depth);

std::string got_name(const token& t) { return tok_name(t.producer, t.seq); }

void do_get(worker_rec* r, mt::micro_pipe<token> p, int pipe_id, const std::string& label, const op& c) {
    try {
        auto v = p.get(to_deadline(c));
        if (v) {
            note(r, label + " -> " + got_name(*v));
            r->w->led.on_delivered(pipe_id, *v);
        } else {
            note(r, label + " -> eos");
        }
    } catch (const mt::MicroThreadExit&) {
        throw;
    } catch (const test_error& e) {
        note(r, label + " -> " + err_name(e.id));
        if (c.flags & f_propagate) {
            r->failing = true;
            throw;
        }
    } catch (...) {
        note(r, label + " -> " + what_of(std::current_exception()));
    }
}

void do_select(worker_rec* r, const op& c) {
    world& w = *r->w;
    mt::micro_pipe<token> null_pipe(nullptr);
    std::vector<std::optional<token>> outs(c.cases.size());
    std::vector<std::optional<token>> vals(c.cases.size());
    std::vector<mt::select_case> cases;
    for (std::size_t i = 0; i < c.cases.size(); ++i) {
        const sel_case& sc = c.cases[i];
        mt::micro_pipe<token>& p = sc.pipe < 0 ? null_pipe : w.pipes.at(sc.pipe);
        if (sc.put) {
            vals[i].emplace(r->id, r->seq++, &w.led);
            cases.push_back(mt::on_put(p, *vals[i], sc.enabled));
        } else {
            cases.push_back(mt::on_get(p, outs[i], sc.enabled));
        }
    }
    attempt(r, "select", [&] {
        auto i = mt::select(std::span<mt::select_case>(cases), to_deadline(c));
        if (!i) {
            note(r, "select -> timeout");
            return;
        }
        const sel_case& sc = c.cases[*i];
        const std::string head = "select -> " + std::to_string(*i);
        if (sc.put) {
            note(r, head + " put");
        } else if (outs[*i]) {
            note(r, head + " got " + got_name(*outs[*i]));
            w.led.on_delivered(sc.pipe, *outs[*i]);
        } else {
            note(r, head + " eos");
        }
    });
}

void perform(worker_rec* r, const op& c, int depth) {
    world& w = *r->w;
    const std::string wname = "w" + std::to_string(c.target);
    const std::string pname = "p" + std::to_string(c.pipe);
    switch (c.k) {
        case opk::abort:
            if (c.target != r->id) break;
            note(r, "abort " + wname);
            r->cb->eng->abort(*r->cb);  // raises MicroThreadExit here
            return;
        case opk::join: {
            mt::micro_thread<long> h = w.rec(c.target)->h;
            attempt(r, "join " + wname, [&] { note(r, "join " + wname + " -> " + std::to_string(h.wait(to_deadline(c)))); });
            return;
        }
        case opk::open_scope: {
            note(r, "scope open");
            try {
                mt::scope s;
                r->scopes.push_back(&s);
                struct pop {
                    worker_rec* r;
                    ~pop() { r->scopes.pop_back(); }
                } popper{r};
                command_loop(r, depth + 1);
            } catch (const leave_scope_signal&) {
                note(r, "scope left by exception");
                return;
            } catch (const test_error& e) {
                if (r->failing) throw;
                note(r, "scope left -> " + err_name(e.id));  // ~scope rethrew a child's failure
                return;
            }
            note(r, "scope left");
            return;
        }
        case opk::scope_wait:
            attempt(r, "scope wait", [&] {
                r->scopes.back()->wait(to_deadline(c));
                note(r, "scope wait -> ok");
            });
            return;
        case opk::parallel: {
            std::vector<std::function<long()>> fs;
            for (int id : c.children) {
                worker_rec* child = w.make_record(id, false);
                fs.push_back([child] { return puppet_main(child); });
            }
            attempt(r, "parallel", [&] {
                std::string out = "[";
                if (fs.size() == 2) {
                    auto [a, b] = mt::start_in_parallel(fs[0], fs[1]);
                    out += std::to_string(a) + "," + std::to_string(b);
                } else {
                    auto v = mt::start_in_parallel(fs);
                    for (std::size_t i = 0; i < v.size(); ++i) out += (i ? "," : "") + std::to_string(v[i]);
                }
                note(r, "parallel -> " + out + "]");
            });
            return;
        }
        case opk::put:
        case opk::put_out: {
            std::optional<mt::micro_pipe<token>> p;
            if (c.k == opk::put_out) {
                try {
                    p = mt::this_stdout<token>();
                } catch (const mt::usage_error&) {
                    note(r, "put_out -> usage_error");
                    return;
                }
            } else {
                p = w.pipes.at(c.pipe);
            }
            token t(r->id, r->seq++, &w.led);
            const std::string label = (c.k == opk::put ? "put " + pname + " " : std::string("put_out ")) + got_name(t);
            attempt(r, label, [&] {
                p->put(std::move(t), to_deadline(c));
                note(r, label + " -> ok");
            });
            return;
        }
        case opk::get: do_get(r, w.pipes.at(c.pipe), c.pipe, "get " + pname, c); return;
        case opk::get_in: {
            std::optional<mt::micro_pipe<token>> p;
            try {
                p = mt::this_stdin<token>();
            } catch (const mt::usage_error&) {
                note(r, "get_in -> usage_error");
                return;
            }
            const int pipe_id = [&] {
                for (auto& [id, q] : w.pipes)
                    if (q.state() == p->state()) return id;
                return -1;
            }();
            do_get(r, *p, pipe_id, "get_in", c);
            return;
        }
        case opk::select: do_select(r, c); return;
        case opk::arm:
            attempt(r, "arm", [&] {
                mt::this_deferred().arm();
                note(r, "arm -> ok");
            });
            return;
        case opk::push: push_callback(r, c.aux % cbk_count, c.value); return;
        case opk::dwait:
            attempt(r, "dwait", [&] {
                void* v = mt::this_deferred().wait(to_deadline(c));
                note(r, "dwait -> " + std::to_string(static_cast<long>(reinterpret_cast<std::intptr_t>(v))));
            });
            return;
        case opk::dcancel: mt::this_deferred().cancel(); return;
        case opk::yield:
            for (long i = 0; i < c.value; ++i) mt::yield();
            return;
        case opk::sleep:
            mt::sleep_d(std::chrono::microseconds(c.us));
            note(r, "slept");
            return;
        default: break;
    }
    w.perform_shared(r, c);
}

// command_loop — takes commands until told to return (depth 0) or to leave
// the scope this level runs in. A puppet that catches MicroThreadExit does
// so once, at the level where it was raised.
long command_loop(worker_rec* r, int depth) {
    for (;;) {
        try {
            const op& c = next_command(r);
            switch (c.k) {
                case opk::ret: return c.value;
                case opk::leave_scope:
                    if (c.flags & f_by_exception) throw leave_scope_signal{};
                    return 0;
                case opk::fail: r->failing = true; throw test_error(c.value);
                default: perform(r, c, depth);
            }
        } catch (const mt::MicroThreadExit&) {
            if (!r->catches_exit || r->caught_once) throw;
            r->caught_once = true;
            note(r, "caught exit");
        }
    }
}

}  // namespace

long puppet_main(worker_rec* r) {
    r->cb = &mt::this_deferred().owner();
    r->started = true;
    struct exit_mark {
        worker_rec* r;
        ~exit_mark() { r->exited = true; }
    } mark{r};
    note(r, "start");
    return command_loop(r, 0);
}

// ---- the world ------------------------------------------------------------------------------

world::world() { driver.w = this; }

worker_rec* world::make_record(int id, bool catches_exit) {
    auto& slot = recs[id];
    slot = std::make_unique<worker_rec>();
    slot->id = id;
    slot->w = this;
    slot->catches_exit = catches_exit;
    return slot.get();
}

void world::send(int id, const op& o) {
    worker_rec* r = rec(id);
    r->cmd = &o;
    r->in_mailbox = false;
    mt::detail::fire(*r->cb, nullptr);
}

void world::perform_shared(worker_rec* a, const op& c) {
    const std::string wname = "w" + std::to_string(c.target);
    const std::string pname = "p" + std::to_string(c.pipe);
    switch (c.k) {
        case opk::new_pipe: pipes.emplace(c.pipe, mt::micro_pipe<token>(pname)); return;
        case opk::spawn: {
            worker_rec* child = make_record(c.target, (c.flags & f_catches_exit) != 0);
            const std::string name = wname;
            mt::spawn_options o{.name = name};
            if (c.pipe >= 0) o.in = pipes.at(c.pipe);
            if (c.pipe2 >= 0) o.out = pipes.at(c.pipe2);
            if (c.flags & f_detached) {
                mt::start_and_forget(o, puppet_main, child);
            } else {
                child->h = (c.flags & f_in_scope) ? a->scopes.back()->spawn(o, puppet_main, child)
                                                  : mt::spawn(o, puppet_main, child);
                child->cb = &child->h.get_deferred().owner();
                if (c.flags & f_abort_at_once) child->h.abort();
            }
            note(a, "spawned " + wname);
            return;
        }
        case opk::abort: {
            note(a, "abort " + wname);
            worker_rec* t = rec(c.target);
            if (t->h) t->h.abort();
            else t->cb->eng->abort(*t->cb);
            return;
        }
        case opk::fire: {
            worker_rec* t = rec(c.target);
            mt::deferred& d = t->h ? t->h.get_deferred() : t->cb->d;
            attempt(a, "fire " + wname, [&] {
                if (c.flags & f_error) d.errback(std::make_exception_ptr(test_error(c.value)));
                else d.callback(reinterpret_cast<void*>(static_cast<std::intptr_t>(c.value)));
                note(a, "fire " + wname + " -> ok");
            });
            return;
        }
        case opk::drop_handle: {
            worker_rec* t = rec(c.target);
            if (t->h.done()) t->exited = true;  // (it may never have started: remember that it ended)
            t->h = {};
            return;
        }
        case opk::try_put: {
            token t(a->id, a->seq++, &led);
            const std::string label = "try_put " + pname + " " + got_name(t);
            const bool ok = pipes.at(c.pipe).try_put(t);  // MicroThreadExit when closed
            note(a, label + (ok ? " -> ok" : " -> full"));
            return;
        }
        case opk::try_get:
            attempt(a, "try_get " + pname, [&] {
                auto& p = pipes.at(c.pipe);
                auto v = p.try_get();
                if (v) {
                    note(a, "try_get " + pname + " -> " + got_name(*v));
                    led.on_delivered(c.pipe, *v);
                } else {
                    note(a, "try_get " + pname + (p.closed() ? " -> eos" : " -> none"));
                }
            });
            return;
        case opk::close:
            note(a, "close " + pname);
            pipes.at(c.pipe).close();
            return;
        case opk::close_err:
            note(a, "close " + pname + " " + err_name(c.value));
            pipes.at(c.pipe).close(std::make_exception_ptr(test_error(c.value)));
            return;
        case opk::close_reader:
            note(a, "close_reader " + pname);
            pipes.at(c.pipe).close_reader();
            return;
        default: return;
    }
}

}  // namespace mt_stress
