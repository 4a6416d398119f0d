// notifier/detail/uncaught_interrupt.hpp — an interrupted_error (Ctrl-C)
// that nobody catches ends the program the way a shell expects of Ctrl-C:
// one line on stderr and exit status 130 (128 + SIGINT), not std::terminate's
// "terminate called after throwing an instance of ..." and SIGABRT.
//
// The reactor that takes SIGINT installs the handler once per process; it
// chains to the terminate handler it replaced for every other cause.
#pragma once

namespace mt::detail {

// exit_130_on_uncaught_interrupt — installs the terminate handler (once per
// process; later calls do nothing). Any OS thread; never throws.
void exit_130_on_uncaught_interrupt() noexcept;

}  // namespace mt::detail
