// notifier/dump_on_signal.hpp — a signal that makes every engine of the
// process print its dump to stderr, and the program goes on (the way Go's
// runtime answers SIGQUIT). Opt-in:
//
//   mt::dump_on_signal(SIGQUIT);          // in the program, or
//   MT_DUMP_ON_SIGQUIT=1 ./program        // in the environment
//   kill -QUIT <pid>                      // each engine prints:
//
//   microthreading: engine 1 (OS thread 4242): 3 live micro-threads
//     #1 'main' waiting: waits to join #2 'server'; stack ...; 2 switches
//     ...
//
// Each engine prints its own dump from its own loop, at its next poll of
// the notifier (when it has nothing to run, or about every 60 us while it
// does); never from a signal handler. An engine whose micro-thread computes
// without ever suspending prints when it next suspends; an engine with no
// notifier (engine_options::default_notifier off, no waits on the outside
// world) is not asked.
#pragma once

#include <csignal>

namespace mt {

// dump_on_signal — from now on, `signo` arriving makes every engine of the
// process print its dump to stderr. Called on an OS thread with an engine
// (root or micro-thread); never suspends. The calling engine watches the
// signal unless another engine does already. Lasts for the process's life:
// while the engine watching it lives, and then another that lives on
// (passed on at its next poll). Throws usage_error for a signal that
// cannot be caught (SIGKILL, SIGSTOP), one out of range, SIGINT (Ctrl-C
// belongs to the main micro-thread), or with no engine.
void dump_on_signal(int signo = SIGQUIT);

}  // namespace mt
