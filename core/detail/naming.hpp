// core/detail/naming.hpp — the opening every error message shares: which
// operation, in which micro-thread. Formatted with fmt; cold paths only
// (an error being raised, a dump, a report), never a switch or a wait.
//
//   op_in("join()", &me)               "join() in micro-thread #3 'sink'"
//   op_in("wait_readable", "fd 5", &me) "wait_readable(fd 5) in micro-thread #3 'sink'"
//   op_in("lock", nullptr)             "lock on the engine's root" (an engine runs
//                                      on this OS thread, outside any micro-thread)
//                                      or just "lock" (no engine)
#pragma once

#include <string>
#include <string_view>

namespace mt::detail {

struct control_block;

// op_in — see above. Any OS thread; throws std::bad_alloc only.
std::string op_in(std::string_view op, const control_block* me);
std::string op_in(std::string_view op, std::string_view arg, const control_block* me);

}  // namespace mt::detail
