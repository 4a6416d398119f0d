// core/sleep.hpp — the PEP's sleep_d: suspend the calling micro-thread for a
// while. The engine keeps the deadline (no notifier needed: without one the
// engine's root sleeps until the next deadline when nothing is runnable).
#pragma once

#include <chrono>

#include "deadline.hpp"

namespace mt {

// sleep_d — suspends the running micro-thread for `d` (zero: yields once).
// Throws usage_error for a negative duration or outside a micro-thread,
// MicroThreadExit on abort (the sleep ends at once).
void sleep_d(std::chrono::nanoseconds d);

// sleep_until — suspends the running micro-thread until `d` (none: until
// aborted). Throws as sleep_d.
void sleep_until(deadline d);

}  // namespace mt
