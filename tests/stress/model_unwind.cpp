// tests/stress/model_unwind.cpp — the reference model: aborts raised,
// exceptions unwinding through scopes (~scope aborts and waits), a worker's
// end (stdin, stdout, joiners, scope, the unhandled-exception handler), and
// a worker resuming from a settled wait.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

#include "tests/stress/model.hpp"

namespace mt_stress {

// ---- unwinding -------------------------------------------------------------------------------

void model::raise_exit(mworker& x) {
    x.unwinding = why::exit_op;
    continue_unwind(x);
}

void model::raise_fail(mworker& x, long err) {
    x.unwinding = why::fail;
    x.err = err;
    continue_unwind(x);
}

// close_scope — ~scope of x's innermost scope: the children are aborted when
// it is left by an exception (or x was aborted), then waited for without
// interruption. Returns false while x waits.
bool model::close_scope(mworker& x) {
    const int s = x.scopes.back();
    mscope& sc = scopes_.at(s);
    if (!sc.dtor_started) {
        sc.dtor_started = true;
        const bool unwinding = x.unwinding != why::leave_normal;
        if (sc.running > 0 && (unwinding || x.abort_req)) abort_children(s);
    }
    if (sc.running > 0) {
        x.w = mwait{};
        x.w.scope = s;
        sc.owner_waiting = true;
        block(x, wk::scope_dtor, dl::none, false);
        return false;
    }
    sc.released = true;
    x.scopes.pop_back();
    return true;
}

void model::continue_unwind(mworker& x) {
    for (;;) {
        if (x.unwinding == why::exit_op) {
            // inside an operation: first a start_in_parallel's scope, then the
            // command loop's catch of a puppet that catches MicroThreadExit once
            if (!x.scopes.empty() && scopes_.at(x.scopes.back()).transient) {
                if (!close_scope(x)) return;
                continue;
            }
            if (x.catches_exit && !x.caught_once) {
                x.caught_once = true;
                x.unwinding = why::none;
                log(x.id, "caught exit");
                go_idle(x);
                return;
            }
            x.unwinding = why::exit;
        }
        if (x.scopes.empty()) {
            const why how = x.unwinding;
            x.unwinding = why::none;
            end_worker(x, how == why::fail ? mend::failed : mend::aborted, x.err);
            return;
        }
        const int s = x.scopes.back();
        if (!close_scope(x)) return;
        const mscope& sc = scopes_.at(s);
        if (x.unwinding == why::leave_normal) {
            x.unwinding = why::none;
            if (sc.failure && !sc.thrown) {
                scopes_.at(s).thrown = true;
                log(x.id, "scope left -> " + ev::what(sc.failure));
            } else {
                log(x.id, "scope left");
            }
            go_idle(x);
            return;
        }
        if (x.unwinding == why::leave_exc) {
            x.unwinding = why::none;
            log(x.id, "scope left by exception");
            go_idle(x);
            return;
        }
    }
}

// end_worker — engine::end(): stdin, stdout, joiners, scope, then the
// unhandled-exception handler.
void model::end_worker(mworker& x, mend how, long v) {
    const int h = handles(x);
    x.st = ms::ended;
    x.end = how;
    if (how == mend::finished) x.result = v;
    if (how == mend::failed) x.err = v;
    --live_;
    live_ids_.erase(x.id);
    touched.push_back(x.id);
    if (x.in >= 0) {
        mpipe& p = pipes_.at(x.in);
        if (--p.readers == 0) close_reader(x.in);
    }
    if (x.out >= 0) {
        mpipe& p = pipes_.at(x.out);
        --p.writers;
        if (how == mend::failed) close(x.out, x.err);
        else if (p.writers == 0) close(x.out, 0);
    }
    for (int j : std::exchange(x.joiners, {})) settle(j, settled::fired);
    if (x.scope >= 0) {
        mscope& sc = scopes_.at(x.scope);
        --sc.running;
        if (how == mend::failed) {
            x.observed_outcome = true;
            if (!sc.failure) {
                sc.failure = x.err;
                abort_children(x.scope);
            }
        }
        if (sc.running == 0 && sc.owner_waiting) {
            sc.owner_waiting = false;
            settle(sc.owner, settled::fired);
        }
    }
    if (how == mend::failed && !x.observed_outcome && h == 0) unhandled.emplace_back(x.id, x.err);
}

// ---- resuming a worker whose wait was settled -------------------------------------------------

void model::resume(mworker& x) {
    const mwait wt = x.w;
    switch (wt.kind) {
        case wk::mailbox:
            if (wt.how == settled::fired) {
                x.w = mwait{};
                perform(x, *cmd_);
            } else {
                raise_exit(x);
            }
            return;
        case wk::get:
            if (wt.how == settled::fired) {
                if (wt.closed) {
                    get_closed(x, wt.pipe, wt.label, wt.propagate);
                } else {
                    log(x.id, wt.label + " -> " + tok_name(wt.got.producer, wt.got.seq));
                    go_idle(x);
                }
            } else if (wt.how == settled::timed_out) {
                log(x.id, wt.label + " -> timeout");
                go_idle(x);
            } else {
                raise_exit(x);
            }
            return;
        case wk::put:
            if (wt.how == settled::fired && !wt.closed) {
                log(x.id, wt.label + " -> ok");
                go_idle(x);
                return;
            }
            destroyed.push_back(wt.t);  // the value goes down with the put's frame
            if (wt.how == settled::timed_out) {
                log(x.id, wt.label + " -> timeout");
                go_idle(x);
            } else {
                raise_exit(x);  // closed under it (MicroThreadExit), or aborted
            }
            return;
        case wk::select: finish_select(x); return;
        case wk::join:
            if (wt.how == settled::fired) {
                mworker& t = W(wt.target);
                std::string out;
                if (t.end == mend::finished) out = std::to_string(t.result);
                else if (t.end == mend::failed) out = ev::what(t.err), t.observed_outcome = true;
                else out = "mt_aborted";
                log(x.id, wt.label + " -> " + out);
                go_idle(x);
            } else if (wt.how == settled::timed_out) {
                log(x.id, wt.label + " -> timeout");
                go_idle(x);
            } else {
                raise_exit(x);
            }
            return;
        case wk::scope_wait:
            if (wt.how == settled::fired) {
                mscope& sc = scopes_.at(wt.scope);
                if (sc.failure) {
                    sc.thrown = true;
                    log(x.id, "scope wait -> " + ev::what(sc.failure));
                } else {
                    log(x.id, "scope wait -> ok");
                }
                go_idle(x);
            } else if (wt.how == settled::timed_out) {
                log(x.id, "scope wait -> timeout");
                go_idle(x);
            } else {
                raise_exit(x);
            }
            return;
        case wk::scope_dtor:
            x.w = mwait{};
            continue_unwind(x);
            return;
        case wk::parallel:
            if (wt.how == settled::fired) {
                mscope& sc = scopes_.at(wt.scope);
                sc.released = true;
                x.scopes.pop_back();
                std::string out;
                if (sc.failure) {
                    sc.thrown = true;
                    out = ev::what(sc.failure);
                } else {
                    out = "[";
                    for (std::size_t i = 0; i < sc.children.size(); ++i) {
                        const mworker& c = W(sc.children[i]);
                        if (c.end == mend::aborted) {
                            out = "mt_aborted";
                            break;
                        }
                        out += (i ? "," : "") + std::to_string(c.result);
                    }
                    if (out != "mt_aborted") out += "]";
                }
                log(x.id, "parallel -> " + out);
                go_idle(x);
            } else {
                raise_exit(x);  // the scope's destructor aborts and waits for the children
            }
            return;
        case wk::dwait:
            x.w = mwait{};
            if (wt.how == settled::fired) {
                dwait_loop(x);
            } else if (wt.how == settled::timed_out) {
                if (x.dp != dph::fired) {
                    log(x.id, "dwait -> timeout");  // the deferred stays armed
                    go_idle(x);
                } else {
                    dwait_loop(x);
                }
            } else if (x.dp != dph::fired) {
                if (x.dp == dph::armed) x.dp = dph::idle;
                reset_queue(x);
                raise_exit(x);
            } else {
                dwait_loop(x);  // fired before the abort: still delivered
            }
            return;
        case wk::sleep:
            if (wt.how == settled::timed_out) {
                log(x.id, "slept");
                go_idle(x);
            } else {
                raise_exit(x);
            }
            return;
        case wk::none: break;
    }
    std::fprintf(stderr, "stress model: w%d resumed from no wait\n", x.id);
    std::abort();
}

}  // namespace mt_stress
