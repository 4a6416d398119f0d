// tests/stress/model_deferred.cpp — the reference model's deferred: fires
// kept during internal waits, usage errors, wait() with its deadline, and the
// PEP's callback queue (defer again: new continuations go in front).
#include <string>

#include "tests/stress/model.hpp"

namespace mt_stress {

// ---- the deferred ----------------------------------------------------------------------------

void model::fire(int actor, int target, long value, bool error) {
    mworker& t = W(target);
    const std::string label = "fire w" + std::to_string(target) + " -> ";
    // in one of the engine's own waits (its mailbox, a pipe, a join, ...; or
    // woken from one and not yet resumed): a fire on an idle deferred is kept
    // for its next wait()
    const bool internal =
        (t.st == ms::idle || t.st == ms::blocked || t.st == ms::runnable) && t.w.kind != wk::dwait && t.w.kind != wk::none;
    if (t.dp == dph::fired || (t.dp == dph::idle && !internal)) {
        log(actor, label + "usage_error");
        return;
    }
    t.dp = dph::fired;
    t.dval = error ? 0 : value;
    t.derr = error ? value : 0;
    touched.push_back(target);
    if (t.st == ms::blocked && t.w.kind == wk::dwait) settle(target, settled::fired);
    log(actor, label + "ok");
}

void model::reset_queue(mworker& a) {
    a.dq.clear();
    a.cursor = 0;
    a.insert_at = SIZE_MAX;
}

// dwait_loop — deferred::wait(): wait until fired, then run the callback
// queue; a callback that re-arms stops the run until the next fire.
void model::dwait_loop(mworker& a) {
    for (;;) {
        if (a.abort_req && a.dp != dph::fired) {
            if (a.dp == dph::armed) a.dp = dph::idle;
            reset_queue(a);
            raise_exit(a);
            return;
        }
        if (a.dp == dph::idle) {
            log(a.id, "dwait -> usage_error");
            go_idle(a);
            return;
        }
        if (a.dp == dph::armed) {
            if (a.dwait_d == dl::zero) {
                log(a.id, "dwait -> timeout");
                go_idle(a);
                return;
            }
            a.w = mwait{};
            a.w.label = "dwait";
            block(a, wk::dwait, a.dwait_d);
            return;
        }
        long v = a.dval;
        const long e = a.derr;
        a.dp = dph::idle;
        a.dval = a.derr = 0;
        if (e) {
            reset_queue(a);
            log(a.id, "dwait -> " + ev::what(e));
            go_idle(a);
            return;
        }
        bool rearmed = false;
        while (a.cursor < a.dq.size()) {
            const cbent c = a.dq[a.cursor++];
            a.insert_at = a.cursor;
            const std::string in = "(" + std::to_string(v) + ")";
            switch (c.kind) {
                case cb_add: {
                    const long out = (v * 3 + c.k) % 1000003;
                    log(a.id, "cb add" + std::to_string(c.k) + in + " -> " + std::to_string(out));
                    v = out;
                    break;
                }
                case cb_throw:
                    log(a.id, "cb throw" + std::to_string(c.k) + in);
                    reset_queue(a);
                    log(a.id, "dwait -> " + ev::what(c.k));
                    go_idle(a);
                    return;
                case cb_rearm:
                    log(a.id, "cb rearm" + std::to_string(c.k) + in + " -> " + std::to_string(v + c.k));
                    a.dp = dph::armed;
                    a.dq.insert(a.dq.begin() + static_cast<std::ptrdiff_t>(a.insert_at++), cbent{cb_add, c.k + 1});
                    a.dq.insert(a.dq.begin() + static_cast<std::ptrdiff_t>(a.insert_at++), cbent{cb_add, c.k + 2});
                    v += c.k;
                    break;
                case cb_yield:
                    if (a.abort_req) {  // yield raises a pending abort
                        reset_queue(a);
                        raise_exit(a);
                        return;
                    }
                    log(a.id, "cb yield" + std::to_string(c.k) + in + " -> " + std::to_string(v + c.k));
                    v += c.k;
                    break;
            }
            a.insert_at = SIZE_MAX;
            if (a.dp != dph::idle) {
                rearmed = true;
                break;
            }
        }
        if (!rearmed) {
            reset_queue(a);
            log(a.id, "dwait -> " + std::to_string(v));
            go_idle(a);
            return;
        }
    }
}

}  // namespace mt_stress
