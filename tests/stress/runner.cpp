// tests/stress/runner.cpp — the driver: one operation per step, run to
// quiescence, check, compare.
#include "tests/stress/runner.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <cstdio>
#include <memory>
#include <set>
#include <sstream>

#include "core/microthreading.hpp"
#include "pipes/select.hpp"
#include "tests/stress/puppet.hpp"

namespace mt_stress {
namespace {

using clock_type = std::chrono::steady_clock;

std::string join_events(const std::vector<std::string>& v) {
    std::string s = "[";
    for (std::size_t i = 0; i < v.size(); ++i) s += (i ? "; " : "") + v[i];
    return s + "]";
}

const char* to_text(ms s) {
    switch (s) {
        case ms::unstarted: return "not started";
        case ms::runnable: return "runnable";
        case ms::running: return "running";
        case ms::idle: return "idle";
        case ms::blocked: return "blocked";
        case ms::ended: return "ended";
    }
    return "?";
}

mt::state expected_state(const mworker& x) {
    if (x.st != ms::ended) return mt::state::waiting;
    return x.end == mend::finished ? mt::state::finished : x.end == mend::failed ? mt::state::failed : mt::state::aborted;
}

struct real_log final : observed {
    world* w;
    std::vector<std::string> none;
    const std::vector<std::string>& events(int id) const override {
        if (id == 0) return w->driver.log;
        auto it = w->recs.find(id);
        return it == w->recs.end() ? none : it->second->log;
    }
};

class driver {
public:
    driver(trace& t, choices* c, const profile* p, const run_options& o, mt::engine& e) : t_(t), o_(o), e_(e) {
        obs_.w = &w_;
        if (c) gen_ = std::make_unique<generator>(m_, *c, *p);
        e_.set_unhandled_handler([this](const mt::micro_thread_info& info, std::exception_ptr err) {
            long id = -1;
            std::sscanf(info.name.c_str(), "w%ld", &id);
            long eid = 0;
            try {
                std::rethrow_exception(err);
            } catch (const test_error& x) {
                eid = x.id;
            } catch (...) {
            }
            w_.unhandled.emplace_back(static_cast<int>(id), eid);
        });
    }

    void main() {
        std::size_t i = 0;
        for (;; ++i) {
            if (gen_) {
                if (i == t_.ops.size()) {
                    auto o = gen_->next();
                    if (!o) break;
                    t_.ops.push_back(*o);
                }
            } else if (i == t_.ops.size()) {
                break;
            }
            step(static_cast<int>(i), t_.ops[i]);
        }
        finish();
        if (std::getenv("MT_STRESS_STATS")) print_stats();
    }

    // print_stats — how many of each operation ran, and how many workers.
    void print_stats() {
        std::map<std::string, int> n;
        for (const op& o : t_.ops) ++n[describe(o).substr(describe(o).find(": ") + 2, 6)];
        std::printf("stress run: %zu operations, %zu workers:", t_.ops.size(), m_.workers().size() - 1);
        for (const auto& [k, v] : n) std::printf(" [%s]=%d", k.c_str(), v);
        std::printf("\n");
    }

    world& w() { return w_; }

private:
    [[noreturn]] void fail(int step, const std::string& what, const std::string& msg) {
        o_.on_fail(failure{step, what, msg}, t_);
        std::abort();
    }

    void quiesce() {
        do {
            mt::yield();
        } while (!e_.idle());
    }

    void execute(const op& o) {
        if (o.k == opk::tick) {
            // The driver's sleep lets the root expire the deadlines that
            // passed. If the thread was preempted between reading the clock
            // and the wait, the sleep's own deadline has passed too and it
            // times out without suspending: then nothing expired. So it
            // sleeps again until no wait with a short deadline is left.
            for (int round = 0; round < 1000; ++round) {
                const auto until = std::max(bound_, clock_type::now()) + std::chrono::microseconds(100);
                mt::sleep_until(mt::deadline::at(until));
                quiesce();
                if (!short_waits_left()) break;
            }
        } else if (o.actor == 0) {
            w_.perform_shared(&w_.driver, o);
        } else {
            w_.send(o.actor, o);
        }
        quiesce();
        if (o.d == dl::shortish || (o.k == opk::sleep && o.us > 0))
            bound_ = std::max(bound_, clock_type::now() + std::chrono::microseconds(o.us));
    }

    // short_waits_left — a worker the model has in a wait with a short
    // deadline is still blocked in the run.
    bool short_waits_left() {
        for (int id : m_.frozen()) {
            auto it = w_.recs.find(id);
            if (it != w_.recs.end() && it->second->started && !it->second->exited && !it->second->in_mailbox) return true;
        }
        return false;
    }

    void step(int i, const op& o) {
        if (!m_.valid(o)) return;  // a replay from which earlier steps were removed
        if (o_.on_op) o_.on_op(o);
        execute(o);
        m_.apply(o, obs_);
        check(i, describe(o));
        if (o_.verbose) print_step(i, o);
        m_.clear_step();
        clear_logs();
    }

    void print_step(int i, const op& o) {
        std::printf("  %4d. %s\n", i, describe(o).c_str());
        for (const auto& [id, evs] : m_.logs)
            if (!evs.empty()) std::printf("          w%d %s\n", id, join_events(evs).c_str());
        std::fflush(stdout);
    }

    void clear_logs() {
        for (worker_rec* r : w_.dirty) r->log.clear();
        w_.dirty.clear();
        w_.led.destroyed.clear();
        w_.unhandled.clear();
    }

    void check(int i, const std::string& what) {
        e_.check_invariants();
        for (auto& [id, p] : w_.pipes) p.state()->check_invariants();
        std::ostringstream bad;
        // what each worker logged
        auto compare_log = [&](int id) {
            const std::vector<std::string>& seen = obs_.events(id);
            auto it = m_.logs.find(id);
            static const std::vector<std::string> none;
            const std::vector<std::string>& want = it == m_.logs.end() ? none : it->second;
            if (seen != want)
                bad << "  w" << id << " logged " << join_events(seen) << "\n     the model says " << join_events(want)
                    << "\n";
        };
        std::set<int> logged;
        for (const auto& [id, evs] : m_.logs) logged.insert(id);
        for (const worker_rec* r : w_.dirty) logged.insert(r->id);
        for (int id : logged) compare_log(id);
        // who is idle, blocked or ended, and the engine's view of it: the
        // workers the model says have not ended, or that this step touched
        std::set<int> ids(m_.live_ids().begin(), m_.live_ids().end());
        ids.insert(m_.touched.begin(), m_.touched.end());
        ids.insert(logged.begin(), logged.end());
        for (int id : ids) {
            if (id == 0) continue;
            const mworker& x = m_.workers().at(id);
            auto it = w_.recs.find(id);
            if (it == w_.recs.end()) {
                bad << "  w" << id << " has no puppet\n";
                continue;
            }
            worker_rec& r = *it->second;
            const bool block_there = r.h || (r.started && !r.exited);
            const bool ended = r.exited || (r.h && r.h.done());
            const char* seen = ended ? "ended" : !r.started ? "not started" : r.in_mailbox ? "idle" : "blocked";
            if (std::string(seen) != to_text(x.st)) bad << "  w" << id << " is " << seen << "; the model says " << to_text(x.st) << "\n";
            if (block_there && (r.h || !ended)) {
                const mt::detail::control_block& cb = r.h ? r.h.get_deferred().owner() : *r.cb;
                if (cb.st != expected_state(x))
                    bad << "  w" << id << " is " << mt::to_string(cb.st) << " to the engine; the model says "
                        << mt::to_string(expected_state(x)) << "\n";
                const mt::deferred& d = cb.d;
                const bool armed = x.dp == dph::armed, fired = x.dp == dph::fired;
                if (d.armed() != armed || d.fired() != fired || d.pending_callbacks() != x.dq.size() - x.cursor)
                    bad << "  w" << id << "'s deferred is " << (d.armed() ? "armed" : d.fired() ? "fired" : "idle") << " with "
                        << d.pending_callbacks() << " callbacks pending; the model says "
                        << (armed ? "armed" : fired ? "fired" : "idle") << " with " << x.dq.size() - x.cursor << "\n";
            }
            if (r.seq != x.seq) bad << "  w" << id << " made " << r.seq << " values; the model says " << x.seq << "\n";
        }
        // pipes
        for (const auto& [id, p] : m_.pipes()) {
            const auto& real = w_.pipes.at(id);
            if (real.state()->full() != p.full || real.closed() != p.closed)
                bad << "  p" << id << " is " << (real.state()->full() ? "full" : "empty") << (real.closed() ? ", closed" : ", open")
                    << "; the model says " << (p.full ? "full" : "empty") << (p.closed ? ", closed" : ", open") << "\n";
        }
        // values destroyed undelivered, and the ledger's own checks
        auto got = w_.led.destroyed;
        auto want = m_.destroyed;
        std::sort(got.begin(), got.end());
        std::sort(want.begin(), want.end());
        if (got != want) {
            bad << "  values destroyed undelivered:";
            for (const tok& t : got) bad << ' ' << tok_name(t.producer, t.seq);
            bad << "; the model says:";
            for (const tok& t : want) bad << ' ' << tok_name(t.producer, t.seq);
            bad << "\n";
        }
        for (const std::string& p : w_.led.problems) bad << "  ledger: " << p << "\n";
        w_.led.problems.clear();
        // failures given to the unhandled-exception handler
        auto uh = w_.unhandled;
        auto uh_want = m_.unhandled;
        std::sort(uh.begin(), uh.end());
        std::sort(uh_want.begin(), uh_want.end());
        if (uh != uh_want) bad << "  the unhandled-exception handler saw " << uh.size() << " failures; the model says " << uh_want.size() << "\n";
        if (static_cast<int>(e_.live()) != m_.live() + 1)
            bad << "  the engine has " << e_.live() << " live micro-threads; the model says " << m_.live() + 1 << "\n";
        if (!bad.str().empty()) fail(i, what, bad.str());
    }

    void finish() {
        const int n = static_cast<int>(t_.ops.size());
        if (m_.has_frozen() || bound_ > clock_type::now()) {
            op tick;
            tick.k = opk::tick;
            end_ops_.push_back(tick);
            step(n, end_ops_.back());
        }
        if (t_.end_mode == 0) {
            std::vector<int> left;
            for (const auto& [id, x] : m_.workers())
                if (id > 0 && x.st != ms::ended) left.push_back(id);
            for (int id : left) {
                if (m_.workers().at(id).st == ms::ended) continue;
                op a;
                a.k = opk::abort;
                a.target = id;
                end_ops_.push_back(a);
                step(n, end_ops_.back());
            }
            if (m_.live() != 0) fail(n, "the end", "  workers still live after every one was aborted\n");
            // the values left in slots go with the pipes
            auto held = m_.held_tokens();
            w_.pipes.clear();
            auto got = w_.led.destroyed;
            std::sort(got.begin(), got.end());
            std::sort(held.begin(), held.end());
            if (got != held) fail(n, "the end", "  the values destroyed with the pipes are not those the model holds\n");
            w_.led.destroyed.clear();
        } else {
            // A wait with a deadline is not stuck (its timer can fire): those
            // are aborted; the rest is left to the deadlock resolution.
            std::vector<int> timed;
            for (const auto& [id, x] : m_.workers())
                if (id > 0 && x.st == ms::blocked && x.w.d == dl::longish) timed.push_back(id);
            for (int id : timed) {
                if (m_.workers().at(id).st != ms::blocked) continue;
                op a;
                a.k = opk::abort;
                a.target = id;
                end_ops_.push_back(a);
                step(n, end_ops_.back());
            }
            w_.pipes.clear();  // waiters keep their pipes; the deadlock resolution ends them
        }
    }

    trace& t_;
    const run_options& o_;
    mt::engine& e_;
    world w_;
    model m_;
    std::unique_ptr<generator> gen_;
    real_log obs_;
    clock_type::time_point bound_{};
    std::deque<op> end_ops_;

public:
    int expected_live_at_end() const { return m_.live(); }
    void account(int step) {
        // every value made was delivered or destroyed
        for (const auto& [id, x] : m_.workers())
            for (int s = 0; s < x.seq; ++s)
                if (!w_.led.ended.count(tok{id, s}))
                    fail(step, "the end", "  value " + tok_name(id, s) + " was never delivered nor destroyed\n");
        if (!w_.led.problems.empty()) fail(step, "the end", "  ledger: " + w_.led.problems.front() + "\n");
    }
};

}  // namespace

void run(trace& t, choices* c, const profile* p, const run_options& opts) {
    mt::detail::seed_select_random(0x57e55);  // the same choices among ready cases in every run
    bool deadlocked = false;
    std::string deadlock_text;
    {
        mt::engine_options eo;
        eo.default_notifier = opts.notifier && !std::getenv("MT_STRESS_NO_NOTIFIER");
        // A puppet's frames are large in an unoptimised sanitizer build
        // (every string has redzones) and nest per open scope: 64 KiB
        // overflowed at six levels under clang's ASan.
        eo.default_stack_size = 256 * 1024;
        mt::engine e(eo);
        auto d = std::make_unique<driver>(t, c, p, opts, e);
        auto main = mt::spawn(mt::spawn_options{"driver"}, [&] { d->main(); });
        try {
            e.loop();
        } catch (const mt::deadlock_error& x) {
            deadlocked = true;
            deadlock_text = x.what();
        }
        const int n = static_cast<int>(t.ops.size());
        try {
            main.result();
        } catch (...) {
            opts.on_fail(failure{n, "the driver", "  the driver ended with " + what_of(std::current_exception()) + "\n"}, t);
        }
        const bool want_deadlock = t.end_mode == 1 && d->expected_live_at_end() > 0;
        if (deadlocked != want_deadlock)
            opts.on_fail(failure{n, "the end",
                                 std::string("  ") + (deadlocked ? "a deadlock was reported: " + deadlock_text
                                                                  : "no deadlock was reported") +
                                     "; the model " + (want_deadlock ? "expected one" : "expected none") + "\n"},
                         t);
        if (e.live() != 0) opts.on_fail(failure{n, "the end", "  micro-threads left behind:\n" + e.dump()}, t);
        d->account(n);
        e.set_unhandled_handler(nullptr);  // dropping the last handles below may report to it
        d.reset();                         // handles and pipes go while their engine lives
        if (e.stacks().counts().live != 0) opts.on_fail(failure{n, "the end", "  stacks left behind\n"}, t);
    }
}

}  // namespace mt_stress
