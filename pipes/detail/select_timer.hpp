// pipes/detail/select_timer.hpp — the timeout of a select, on the notifier.
#pragma once

namespace mt::detail {

struct control_block;

// start_select_timer — after `seconds`, calls fn(arg) on the engine's thread
// (from the notifier's poll; fn must not suspend or throw). Returns a handle
// for stop_select_timer. The pending timer counts as something that can fire.
void* start_select_timer(control_block& me, double seconds, void (*fn)(void*) noexcept, void* arg);
// stop_select_timer — cancels it (it will not call fn). Idempotent per handle.
void stop_select_timer(control_block& me, void* timer) noexcept;

}  // namespace mt::detail
