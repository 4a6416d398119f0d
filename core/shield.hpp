// core/shield.hpp — a region in which an aborted micro-thread may finish its
// cleanup waits.
//
//   struct final_put {                       // RAII: a last value on the way out
//       mt::micro_pipe<int>& out;
//       ~final_put() {
//           mt::shield s(100ms);             // an abort does not interrupt what follows
//           try { out.put(-1); } catch (const mt::timeout_error&) {}
//       }
//   };
//
// An abort raises MicroThreadExit at every suspension of the aborted
// micro-thread (it is sticky), so a destructor that suspends while unwinding
// from an abort (a guard that puts a final value, joins a helper, sleeps)
// would throw MicroThreadExit out of itself, and a destructor is noexcept:
// the program would end in std::terminate. Inside a shield:
//   * an abort or a Ctrl-C does not interrupt a wait, and yield() does not
//     raise it; it stays pending and is raised at the first suspension after
//     the outermost shield ends;
//   * every wait is bounded by the shield's deadline (nested shields: the
//     earliest), and reaching it raises timeout_error in that wait: catch it
//     in a destructor.
// Outside a shield, a suspension during abort unwinding raises
// MicroThreadExit again (docs/reference/shield.md).
//
// A shield is made and destroyed by the running micro-thread, in LIFO order
// (a local variable). A deadlock resolution still ends a shielded wait with
// MicroThreadExit: nothing else could ever end it.
#pragma once

#include <cstdint>

#include "deadline.hpp"

namespace mt {

namespace detail {
struct control_block;
}

class shield {
public:
    // shield — opens the region for the running micro-thread; `d` bounds
    // every wait inside it (none: unbounded — prefer a deadline). Throws
    // usage_error outside a micro-thread or for a negative timeout.
    explicit shield(deadline d);
    ~shield();
    shield(const shield&) = delete;
    shield& operator=(const shield&) = delete;

private:
    detail::control_block* me_;
    deadline::clock::time_point saved_due_;
};

}  // namespace mt
