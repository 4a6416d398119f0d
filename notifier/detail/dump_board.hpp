// notifier/detail/dump_board.hpp — the process's engines that can be asked
// for their dump, and the signals that ask (dump_on_signal, SIGQUIT with
// MT_DUMP_ON_SIGQUIT=1).
//
// One reactor owns a dump signal (libev watches a signal in one loop); when
// it arrives there, the board asks every reactor of the process, its own
// included, for its engine's dump. Each prints its own from its own loop
// (its next poll): the engines' structures belong to their OS threads, and
// nothing is printed from a signal handler.
//
// Invariants:
//   * members_ holds exactly the reactors constructed and not yet
//     destroyed (a reactor leaves before its backend is destroyed, so a
//     request never wakes a dead loop).
//   * a signal once made a dump signal stays one for the process's life.
//
// Threading: any OS thread; members_ under lock_, the signal flags atomic.
#pragma once

#include <csignal>

namespace mt::detail {

class ev_reactor;

namespace dump_board {

// enable — `signo` asks for dumps from now on.
void enable(int signo) noexcept;
// dumps_on — is `signo` a dump signal?
bool dumps_on(int signo) noexcept;
// any — is any signal a dump signal?
bool any() noexcept;

// join / leave — a reactor comes and goes (leave: before its backend is
// destroyed).
void join(ev_reactor& r);
void leave(ev_reactor& r) noexcept;

// pass_on — the reactor that watched the dump signals is gone, and has
// given the signals back (its backend stopped watching them, their
// dispositions are restored): another member is asked to watch them, at
// its next poll. A dump signal arriving before then gets its default action.
void pass_on() noexcept;

// handover — a reactor's first member, so destroyed last: passes the dump
// signals on once everything else of the reactor is gone.
struct handover {
    bool owned = false;  // the reactor watched a dump signal
    handover() = default;
    handover(const handover&) = delete;
    handover& operator=(const handover&) = delete;
    ~handover() {
        if (owned) pass_on();
    }
};

// request_all — every member prints its engine's dump at its next poll.
void request_all() noexcept;

}  // namespace dump_board
}  // namespace mt::detail
