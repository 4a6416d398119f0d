// pipes/detail/select_timer.cpp — select's timeouts, on the notifier.
#include "pipes/detail/select_timer.hpp"

#include "core/detail/control_block.hpp"
#include "notifier/detail/reactor.hpp"

namespace mt::detail {

void* start_select_timer(control_block& me, double seconds, void (*fn)(void*) noexcept, void* arg) {
    return reactor::of(*me.eng).start_timer(seconds, fn, arg);
}

void stop_select_timer(control_block& me, void* timer) noexcept {
    if (auto* r = reactor::find(*me.eng)) r->stop_timer(static_cast<wait_node*>(timer));
}

}  // namespace mt::detail
