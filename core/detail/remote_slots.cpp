// core/detail/remote_slots.cpp — see remote_slots.hpp.
#include "core/detail/remote_slots.hpp"

#include <string>

#include "core/detail/assert.hpp"
#include "core/detail/control_block.hpp"
#include "core/engine.hpp"

namespace mt::detail {

remote_slot& remote_slot_pool::take(control_block& waiter, remote_use use, bool external) {
    remote_slot* s = free_;
    if (s) {
        free_ = s->next_free;
    } else {
        slots_.emplace_back();
        s = &slots_.back();
        s->index = static_cast<std::uint32_t>(slots_.size() - 1);
    }
    s->next_free = nullptr;
    s->waiter = &waiter;
    s->use = use;
    s->external = external;
    s->on_cancel = nullptr;
    s->describe = nullptr;
    s->ctx = nullptr;
    s->on_wake = nullptr;
    ++(external ? external_ : internal_);
    return *s;
}

void remote_slot_pool::mark_prompt(remote_slot& s) noexcept {
    MT_ASSERT(s.use != remote_use::free && !s.prompt, "a remote slot marked prompt is free or marked already");
    s.prompt = true;
    ++prompt_;
}

void remote_slot_pool::give_back(remote_slot& s) noexcept {
    if (s.use == remote_use::free) return;
    --(s.external ? external_ : internal_);
    if (s.prompt) --prompt_;
    s.prompt = false;
    s.use = remote_use::free;
    s.waiter = nullptr;
    ++s.generation;
    s.next_free = free_;
    free_ = &s;
}

remote_slot* remote_slot_pool::find(std::uint32_t index, std::uint32_t generation) noexcept {
    if (index >= slots_.size()) return nullptr;
    remote_slot& s = slots_[index];
    if (s.generation != generation || s.use == remote_use::free) return nullptr;
    return &s;
}

void remote_slot_pool::check_invariants() const noexcept {
#if MT_CHECKED
    std::size_t ext = 0, in = 0, prompt = 0;
    for (const remote_slot& s : slots_) {
        MT_ASSERT(s.use != remote_use::free || !s.prompt, "a free remote slot is marked prompt");
        if (s.use == remote_use::free) continue;
        if (s.prompt) ++prompt;
        MT_ASSERT(s.waiter, "a remote slot in use names no waiter");
        ++(s.external ? ext : in);
        if (s.use == remote_use::wait)
            MT_ASSERT(s.waiter->w.phase == wait_phase::armed && s.waiter->w.obj == &s,
                      "a remote slot in use belongs to no armed wait");
        if (s.use == remote_use::part)
            MT_ASSERT(s.waiter->w.phase == wait_phase::armed && s.on_wake,
                      "a remote part slot in use belongs to no armed wait");
    }
    MT_ASSERT(ext == external_ && in == internal_ && prompt == prompt_, "the remote slots' counts are wrong");
#endif
}

namespace {

control_block* no_blocker(const void*) { return nullptr; }

void give_back_slot(void* obj, control_block& waiter) {
    auto* s = static_cast<remote_slot*>(obj);
    if (s->use == remote_use::free || s->waiter != &waiter) return;  // fired already (idempotent)
    if (s->on_cancel) s->on_cancel(s->ctx);
    waiter.eng->remote_slots().give_back(*s);
}

}  // namespace

const wait_kind remote_wait_kind{
    "remote",
    [](const void* obj, std::string& out) {
        auto* s = static_cast<const remote_slot*>(obj);
        if (s->describe) s->describe(s->ctx, out);
        else out += "for a wake-up from another OS thread";
    },
    no_blocker,
    give_back_slot,
};

const wait_kind remote_user_kind{
    "remote",
    [](const void*, std::string& out) { out += "on its deferred, for a wake-up from another OS thread"; },
    no_blocker,
    give_back_slot,
};

std::shared_ptr<mailbox> arm_remote(control_block& me, bool user, std::uint32_t& slot, std::uint32_t& generation) {
    engine& e = *me.eng;
    remote_slot& s = e.remote_slots().take(me, user ? remote_use::user : remote_use::wait, true);
    if (user) {
        try {
            me.d.arm(remote_user_kind, &s);
        } catch (...) {
            e.remote_slots().give_back(s);
            throw;
        }
    } else {
        begin_wait(me, remote_wait_kind, &s);
    }
    slot = s.index;
    generation = s.generation;
    return e.shared_mailbox();
}

}  // namespace mt::detail
