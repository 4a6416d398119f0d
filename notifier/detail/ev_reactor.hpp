// notifier/detail/ev_reactor.hpp — the reactor: the waits of notifier/
// made of its concepts, each in a file of its own —
//   ev_backend    the libev loop (the only user of <ev.h>)
//   node_pool     one record per pending wait; the ticket that names it
//   fd_table      who waits for which fd and direction, the read hint
//   signal_table  which signals this reactor owns, who waits for each
//   dump_board    the process's reactors, asked for dumps on a signal
// and here: beginning, settling and cancelling each kind of wait, the poll,
// Ctrl-C, and the child waits (child_wait.cpp).
//
// Invariants (check_invariants):
//   * every pending wait owns one node and is in exactly one place: its fd
//     entry's list (fd, child on a pidfd), its signal's list, or nowhere (a
//     wake-up from another OS thread); settling or cancelling it unlinks it
//     and gives the node back in the same step.
//   * an fd direction is watched if a wait on it is pending; with none
//     pending only a managed fd's read watcher may stay started (fd_table.hpp;
//     ev_reactor.cpp "Which watchers stop"): a watcher never outlives the
//     waits on an fd its owner may close behind the engine's back.
//   * counts() counts the pending waits; can_fire() is true iff one is
//     pending. Deadlines are core's: the reactor bounds a blocking poll by
//     what the engine asks.
//
// The loop: the engine calls poll(max_wait) on the root when nothing is
// runnable, and a running micro-thread calls poll(0) while work is runnable
// (checked every 64 switches, at most once per ~60 us).
// Backend callbacks only settle waits; they never switch and never throw.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "dump_board.hpp"
#include "ev_backend.hpp"
#include "fd_table.hpp"
#include "node_pool.hpp"
#include "reactor.hpp"
#include "signal_table.hpp"

namespace mt::detail {

class ev_reactor final : public reactor, private backend_events {
public:
    explicit ev_reactor(engine& e);
    ~ev_reactor() override;

    bool can_fire() const noexcept override { return pool_.counts().active() > 0; }
    void poll(double max_wait) override;

    void wait_fd(control_block& me, int fd, bool write, const deadline& d, const char* op) override;
    int wait_signal(control_block& me, int signo, const deadline& d) override;
    int wait_child(control_block& me, pid_t pid, const deadline& d) override;
    void wake() noexcept override { backend_.wake(); }

    int host_fd() override;
    void prepare_host_wait() override { backend_.run(0); }
    void set_block_hooks(block_hook before, block_hook after, void* user) noexcept override {
        before_ = before;
        after_ = after;
        hook_user_ = user;
        backend_.set_hooks(before || after);  // none: libev calls nothing around its wait
    }
    bool take_drained(int fd) noexcept override;
    void set_drained(int fd) noexcept override;
    std::size_t forget_fd(int fd) noexcept override;
    reactor_counts counts() const noexcept override { return pool_.counts(); }
    void check_invariants() const noexcept;

    // For tests and benchmarks: whether fd's direction is watched now, what
    // the backend counted, and how many fd waits checked their fd (fcntl).
    bool watching(int fd, bool write) const noexcept { return backend_.watching(fd, write); }
    const ev_backend::stats_t& backend_stats() const noexcept { return backend_.stats(); }
    unsigned long fd_checks() const noexcept { return fd_checks_; }

    // give_back — ends a wait's registration: unlinks its node, frees it,
    // and stops the fd direction's watcher when it was the last wait on it
    // (unless the watcher is kept: a managed fd's read side, ev_reactor.cpp).
    // Idempotent (a node already free is left alone).
    void give_back(wait_node* n) noexcept;
    // cancel_wait — the wait_kind cancel of every reactor wait (its object is
    // a wait_ticket): gives the ticket's node back unless it went back already.
    static void cancel_wait(void* ticket, control_block& waiter) noexcept;

    // --- dumps on a signal (dump_board.hpp)
    // watch_dump_signals — watches every dump signal no other reactor owns.
    // The reactor's OS thread.
    void watch_dump_signals();
    // request_dump — the engine prints its dump to stderr at the reactor's
    // next poll. Any OS thread.
    void request_dump() noexcept;
    // request_dump_signals — watch_dump_signals at the next poll. Any OS thread.
    void request_dump_signals() noexcept;

private:
    wait_node* begin(node_kind kind, const wait_kind& wk, control_block& me, wait_ticket& t);
    void watch_fd(fd_entry& e, wait_node* n, int fd, bool write, bool known);
    bool keeps_watcher(const fd_entry& e, int fd, bool write) const noexcept;
    void adopt_identity(fd_entry& e, int fd, std::uint32_t id) noexcept;
    void fire(wait_node* n, void* value) noexcept;
    void fire_error(wait_node* n, std::exception_ptr e) noexcept;
    std::size_t fail_waiters(int fd, int dir, const char* why) noexcept;
    int wait_child_polling(control_block& me, pid_t pid, const deadline& d);
    void deliver_sigint() noexcept;
    void serve_dump_requests() noexcept;
    void print_dump() noexcept;

    // backend_events
    void on_fd(int fd, int dir, bool error) noexcept override;
    void on_signal(int signo) noexcept override;
    void on_wakeup() noexcept override;
    void before_block() noexcept override;
    void after_block() noexcept override;

    dump_board::handover handover_;  // first: passes the dump signals on after the rest is gone
    engine& eng_;
    signal_table signals_;  // before backend_: restores dispositions after the backend stopped its watchers
    ev_backend backend_;
    node_pool pool_;
    fd_table fds_;
    unsigned long fd_checks_ = 0;  // fd waits that checked their fd with fcntl (fd_checks())
    bool sigint_pending_ = false;
    std::atomic<bool> dump_requested_{false};        // request_dump
    std::atomic<bool> dump_signals_requested_{false};  // request_dump_signals
    block_hook before_ = nullptr;
    block_hook after_ = nullptr;
    void* hook_user_ = nullptr;
};

}  // namespace mt::detail
