// tests/stress/puppet.hpp — the real side of the stress test: puppet
// micro-threads that take one operation at a time from the driver and log
// what happened, the values they put (tokens, counted by a ledger), and the
// world the driver keeps (records, pipes, handles).
//
// A puppet waits for its next command in an internal wait of its own kind
// ("waits for its next stress command" in dumps), built on core's wait model
// like any primitive: the driver hands it an operation with detail::fire, an
// abort withdraws the wait and raises MicroThreadExit as at any suspension.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/microthreading.hpp"
#include "pipes/micro_pipe.hpp"
#include "tests/stress/model.hpp"
#include "tests/stress/ops.hpp"

namespace mt_stress {

struct ledger;

// token — a value put to a pipe: "w5.3" is the 3rd value worker 5 made. A
// token that is destroyed without being delivered tells the ledger.
struct token {
    int producer = 0, seq = 0;
    ledger* l = nullptr;  // null once delivered (or moved from)
    token(int p, int s, ledger* led) noexcept : producer(p), seq(s), l(led) {}
    token(token&& o) noexcept : producer(o.producer), seq(o.seq), l(std::exchange(o.l, nullptr)) {}
    token& operator=(token&&) = delete;
    ~token();
};

// ledger — every value ends exactly once: delivered (to one getter, in its
// producer's order on that pipe) or destroyed undelivered.
struct ledger {
    std::vector<tok> destroyed;  // this step
    std::set<tok> ended;         // delivered or destroyed, over the run
    std::map<std::pair<int, int>, int> last_seq;  // (pipe, producer) -> last delivered seq
    std::vector<std::string> problems;
    void on_destroyed(int producer, int seq);
    void on_delivered(int pipe, token& t);  // t is consumed
};

struct world;

struct cb_state {
    struct worker_rec* r;
    int kind;
    long k;
};

struct worker_rec {
    int id = 0;
    world* w = nullptr;
    mt::detail::control_block* cb = nullptr;  // valid while it has not ended or h holds it
    mt::micro_thread<long> h;                 // empty: detached, a start_in_parallel child, or dropped
    bool started = false, exited = false;  // exited: known to have ended
    bool in_mailbox = false;  // idle, waiting for its next command
    bool catches_exit = false, caught_once = false;
    bool failing = false;  // an exception is on its way to the top of the body
    const op* cmd = nullptr;
    std::vector<std::string> log;  // this step
    std::vector<mt::scope*> scopes;
    int seq = 0;
    std::vector<std::unique_ptr<cb_state>> cbs;
};

struct world {
    ledger led;  // first: outlives every pipe and token
    worker_rec driver;
    std::map<int, std::unique_ptr<worker_rec>> recs;
    std::map<int, mt::micro_pipe<token>> pipes;
    std::vector<std::pair<int, long>> unhandled;  // this step
    std::vector<worker_rec*> dirty;               // records that logged this step

    world();
    worker_rec* rec(int id) { return id == 0 ? &driver : recs.at(id).get(); }
    worker_rec* make_record(int id, bool catches_exit);
    // send — hands `o` to an idle puppet; it runs when the driver yields.
    void send(int worker, const op& o);
    // perform_shared — what the driver does itself (and puppets likewise).
    void perform_shared(worker_rec* actor, const op& o);
};

// note — a worker (or the driver) logs an event.
inline void note(worker_rec* r, std::string e) {
    if (r->log.empty()) r->w->dirty.push_back(r);
    r->log.push_back(std::move(e));
}

// puppet_main — the body of every puppet micro-thread.
long puppet_main(worker_rec* r);

// what_of — how an exception reads in a log: "E7", "usage_error", "timeout", "mt_aborted".
std::string what_of(std::exception_ptr e);

// test_error — the exception of fail, close_err, errback and throwing callbacks.
struct test_error : std::runtime_error {
    long id;
    explicit test_error(long i) : std::runtime_error(err_name(i)), id(i) {}
};

}  // namespace mt_stress
