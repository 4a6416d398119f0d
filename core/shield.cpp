// core/shield.cpp — see shield.hpp.
#include "core/shield.hpp"

#include <string>

#include "core/detail/control_block.hpp"
#include "core/detail/overflow.hpp"
#include "core/engine.hpp"

namespace mt {

shield::shield(deadline d) : me_(&engine::get("mt::shield").require_running("mt::shield")) {
    detail::check_deadline(*me_, d, "mt::shield");
    saved_due_ = me_->shield_due;
    if (d.when() < me_->shield_due) me_->shield_due = d.when();
    ++me_->shield_depth;
}

shield::~shield() {
    // A misuse a destructor cannot report by throwing, and that would
    // corrupt another micro-thread's shield (or freed memory): stop, saying
    // who destroyed it. The opener is not named: it may be gone.
    const engine* e = engine::current();
    const detail::control_block* by = e ? e->running() : nullptr;
    if (by != me_ || me_->shield_depth == 0) [[unlikely]] {
        detail::fatal("an mt::shield was destroyed " +
                      (by ? "by micro-thread " + detail::describe(*by) : std::string(e ? "on the engine's root" : "outside any engine")) +
                      ", not by the micro-thread that opened it (a shield is a local variable of its micro-thread)");
    }
    --me_->shield_depth;
    me_->shield_due = saved_due_;
}

}  // namespace mt
