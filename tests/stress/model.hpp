// tests/stress/model.hpp — a small reference model of the engine's
// contract (micro-threads, the deferred, pipes, select, scopes: docs/reference/)
// for the stress test: an interpreter of the same operations as the
// puppets (ops.hpp), over abstract workers, scopes, pipes and deferreds.
//
// For each operation it says what every worker logs (the events a puppet
// writes: "get p2 -> w5.3", "join w4 -> E7", "caught exit", ...), who is
// idle, blocked or ended and how, what each pipe holds, what each deferred
// is, which values were destroyed undelivered, and which failures reach the
// unhandled-exception handler.
//
// Where the contract leaves an order open the model follows the engine's documented
// policy: a FIFO run queue; a pipe's handoff runs the getter next; a
// micro-thread's end tells its stdin, then its stdout, then its joiners
// (first come first served), then its scope. Two things it learns from the
// run instead of predicting them (see docs/reliability.md):
//   * which ready case a select chose (the contract: uniformly random) — it checks
//     the choice was ready and goes on from it; likewise which of a waiting
//     select's cases on one pipe happened when that pipe served them;
//   * when a short deadline passed — a wait with a short deadline may time
//     out at any moment until the next tick, after which it must have; the
//     model applies the timeout where the run's log shows it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "tests/stress/ops.hpp"

namespace mt_stress {

struct tok {
    int producer = 0, seq = 0;
    bool operator<(const tok& o) const { return producer != o.producer ? producer < o.producer : seq < o.seq; }
    bool operator==(const tok& o) const = default;
};

// What the real run logged this step, by worker (the model peeks at it only
// for select's random choice and for short deadlines).
struct observed {
    virtual const std::vector<std::string>& events(int worker) const = 0;

protected:
    ~observed() = default;
};

enum class ms : std::uint8_t { unstarted, runnable, running, idle, blocked, ended };
enum class mend : std::uint8_t { none, finished, failed, aborted };
enum class wk : std::uint8_t { none, mailbox, get, put, select, join, scope_wait, scope_dtor, parallel, dwait, sleep };
enum class settled : std::uint8_t { none, fired, timed_out, cancelled };
enum class why : std::uint8_t { none, exit_op, exit, fail, leave_normal, leave_exc };
enum class dph : std::uint8_t { idle, armed, fired };

struct mwait {
    wk kind = wk::none;
    bool interruptible = true;
    bool frozen = false;  // a short deadline: may time out at any moment
    dl d = dl::none;
    int pipe = -1;
    tok t;                // put: the value
    std::string label;    // "get p2", "put_out w3.1", ...
    bool propagate = false;
    int target = -1;      // join
    int scope = -1;       // scope waits
    std::vector<sel_case> cases;  // select
    std::vector<tok> case_toks;   // select: the put cases' values (one per case; unused for gets)
    int chosen = -1;
    settled how = settled::none;
    bool closed = false;  // fired by a close (pipes)
    bool has_val = false;
    tok got;
};

struct cbent {
    int kind;
    long k;
};

struct mworker {
    int id = 0;
    ms st = ms::unstarted;
    mend end = mend::none;
    long result = 0;
    long err = 0;
    bool abort_req = false, catches_exit = false, caught_once = false;
    bool has_handle = false, detached = false, observed_outcome = false, parallel_child = false;
    int scope = -1;           // the scope it was spawned into
    std::vector<int> scopes;  // its open scopes, innermost last (a start_in_parallel's is transient)
    int in = -1, out = -1;    // attached pipes
    mwait w;
    why unwinding = why::none;
    std::vector<int> joiners;
    int seq = 0;  // values made so far
    // its deferred
    dph dp = dph::idle;
    long dval = 0;
    long derr = 0;
    std::vector<cbent> dq;
    std::size_t cursor = 0;
    std::size_t insert_at = SIZE_MAX;
    dl dwait_d = dl::none;  // the deadline of the wait() in progress
};

struct mscope {
    int owner = 0;
    std::vector<int> children;
    int running = 0;
    long failure = 0;
    bool thrown = false, owner_waiting = false, transient = false, dtor_started = false;
    bool released = false;  // ~scope let go of its children
};

struct mwaiter {
    int worker = 0;
    bool is_put = false;
    int case_index = -1;  // a select's case, or -1
    tok t;
};

struct mpipe {
    bool full = false;
    tok slot;
    bool closed = false, reader_closed = false;
    long err = 0;
    std::deque<mwaiter> getters, putters;
    int writers = 0, readers = 0;
};

// max_scope_depth — scopes a worker may have open at once (each costs its
// puppet a command loop's frames).
inline constexpr std::size_t max_scope_depth = 5;

class model {
public:
    model();

    // valid — may `o` run now? (its actor idle, its targets there, ...)
    bool valid(const op& o) const;
    // apply — runs `o`; `obs` is the real run's log of this step.
    void apply(const op& o, const observed& obs);
    // finish_timeouts — a tick: every short deadline has passed.
    void finish_timeouts(const observed& obs);

    // What this step produced; clear_step() starts the next one.
    std::map<int, std::vector<std::string>> logs;
    std::vector<tok> destroyed;                   // values destroyed undelivered
    std::vector<std::pair<int, long>> unhandled;  // (worker, error) given to the handler
    std::vector<int> touched;                     // workers whose state may have changed
    void clear_step();

    const std::map<int, mworker>& workers() const { return workers_; }
    const mworker* worker(int id) const;
    const mpipe* pipe(int id) const;
    const std::map<int, mpipe>& pipes() const { return pipes_; }
    int live() const { return live_; }
    const std::set<int>& live_ids() const { return live_ids_; }
    bool has_frozen() const;
    const std::set<int>& frozen() const { return frozen_; }  // workers in a wait with a short deadline
    // woke_early — its short deadline passed before a tick made it pass (when
    // depends on the machine): the generator leaves it alone until the next
    // tick, so what it generates does not depend on timing.
    bool woke_early(int id) const { return early_.count(id) > 0; }
    // accessible — the worker's control block is still there to reach
    // (a handle holds it, or it has not ended).
    bool accessible(int id) const;
    bool idle(int id) const;
    int innermost_scope(int id) const;  // a regular (not transient) open scope, or -1
    // tokens still in a pipe's slot or in a blocked putter (for the final account)
    std::vector<tok> held_tokens() const;

private:
    mworker& W(int id) { return workers_.at(id); }
    void log(int w, std::string e);
    void settle(int w, settled how, bool next = false);
    void drain();
    void run(int w);
    void resume(mworker& w);
    void perform(mworker& a, const op& o);
    bool perform_shared(int actor, const op& o);  // what the driver may do too
    void go_idle(mworker& w);
    void block(mworker& w, wk kind, dl d, bool interruptible = true);
    void raise_exit(mworker& w);
    void raise_fail(mworker& w, long err);
    void continue_unwind(mworker& w);
    bool close_scope(mworker& w);
    void end_worker(mworker& w, mend how, long value_or_err);
    void engine_abort(int target);
    void abort_children(int scope);
    void cancel_hook(mworker& w);
    void time_out(int w);
    std::string timeout_event(const mworker& w) const;
    void apply_observed_timeouts(const observed& obs, bool only_at_front);
    int handles(const mworker& w) const;
    // pipes
    enum class tr { done, would_block, closed };
    tr try_put(int p, tok t);
    tr try_get(int p, tok& out);
    bool can_put(int p) const;
    bool can_get(int p) const;
    mwaiter front_waiter(const std::deque<mwaiter>& q) const;
    void complete(int p, mwaiter wt, bool closed, bool next);
    void unlink_cases(mworker& w);
    void close(int p, long err);
    void close_reader(int p);
    void do_put(mworker& a, int p, tok t, dl d, const std::string& label);
    void do_get(mworker& a, int p, dl d, const std::string& label, bool propagate);
    void do_select(mworker& a, const op& o, const observed& obs);
    void finish_select(mworker& a);
    void get_closed(mworker& a, int p, const std::string& label, bool propagate);
    // deferred
    void fire(int actor, int target, long value, bool error);
    void dwait_loop(mworker& a);
    void reset_queue(mworker& a);

    std::map<int, mworker> workers_;
    std::map<int, mscope> scopes_;
    std::map<int, mpipe> pipes_;
    std::deque<int> runq_;
    int running_ = -1;
    int live_ = 0;
    int next_scope_ = 1;
    std::set<int> frozen_;    // workers in a wait with a short deadline
    std::set<int> live_ids_;  // workers that have not ended
    std::set<int> early_;     // see woke_early()
    const observed* obs_ = nullptr;
    const op* cmd_ = nullptr;  // the operation the woken actor performs
};

// events — the texts both the puppets and the model log.
namespace ev {
std::string what(long err);  // "E7"
}

}  // namespace mt_stress
