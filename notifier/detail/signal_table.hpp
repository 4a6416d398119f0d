// notifier/detail/signal_table.hpp — which POSIX signals a reactor owns,
// who waits for each, and the dispositions it changed for the process.
//
// libev lets one loop watch a signal; a process-wide table says which
// reactor (which engine) owns each one. A reactor takes SIGINT if no other
// has it and its engine asks for it (engine_options::ctrl_c: Ctrl-C
// reaches its main micro-thread), and sets SIGPIPE to ignored
// if the program left it at its default (a write to a pipe or socket whose
// reader is gone fails that call with EPIPE instead of killing the program).
// A signal it has watched stays caught until it is destroyed — one that
// arrives while nobody waits is dropped — and then every disposition it
// changed is restored.
//
// Invariants:
//   * owner(signo) is this table for every signo with claimed_[signo];
//   * waiters(signo) holds the pending signal waits for signo, only claimed ones.
//
// Threading: the reactor's OS thread; the ownership table is atomic.
#pragma once

#include <csignal>

#include <array>

#include "node_pool.hpp"

namespace mt::detail {

struct control_block;

class signal_table {
public:
    // take_sigint: whether to try to own SIGINT (engine_options::ctrl_c).
    explicit signal_table(bool take_sigint);
    ~signal_table();
    signal_table(const signal_table&) = delete;
    signal_table& operator=(const signal_table&) = delete;

    // claim — makes this table the owner of signo for `me`'s wait. Returns
    // true the first time (the caller then starts watching it). Throws
    // usage_error naming `me` when another reactor owns it.
    bool claim(int signo, const control_block& me);
    // take — makes this table the owner of signo if no table owns it;
    // returns true when it did (the caller then starts watching it), false
    // when it owned it already or another table does. Never throws.
    bool take(int signo) noexcept;
    bool owns(int signo) const noexcept { return claimed_[static_cast<std::size_t>(signo)]; }
    bool owns_sigint() const noexcept { return own_sigint_; }
    node_list& waiters(int signo) noexcept { return waiters_[static_cast<std::size_t>(signo)]; }
    // pass_sigint_on — restores SIGINT's old disposition (nothing left to
    // tell: the program is treated as if no engine ran).
    void pass_sigint_on() noexcept;

private:
    std::array<node_list, NSIG> waiters_{};
    std::array<bool, NSIG> claimed_{};
    std::array<struct sigaction, NSIG> previous_{};  // for claimed signals
    bool own_sigint_ = false;
    bool own_sigpipe_ = false;
    struct sigaction prev_sigpipe_ {};
};

}  // namespace mt::detail
