// core/shield.cpp — see shield.hpp.
#include "core/shield.hpp"

#include "core/detail/assert.hpp"
#include "core/detail/control_block.hpp"
#include "core/engine.hpp"

namespace mt {

shield::shield(deadline d) : me_(&engine::get("mt::shield").require_running("mt::shield")) {
    detail::check_deadline(*me_, d, "mt::shield");
    saved_due_ = me_->shield_due;
    if (d.when() < me_->shield_due) me_->shield_due = d.when();
    ++me_->shield_depth;
}

shield::~shield() {
    MT_ASSERT(me_->shield_depth > 0 && engine::current() && engine::current()->running() == me_,
              "a shield was destroyed by another micro-thread or out of order");
    --me_->shield_depth;
    me_->shield_due = saved_due_;
}

}  // namespace mt
