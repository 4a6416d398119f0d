// core/detail/lock_cycle.cpp — lock cycles caught when they close
// (docs/design/sync.md, "Lock cycles"): a micro-thread about to wait for a
// lock follows the chain "the holder waits for a lock held by ..." from that
// lock's holder. If the chain comes back to it, its wait would close a cycle
// that no release can ever open: it raises deadlock_error at once, before
// linking anything.
//
// Why the walk is enough: every edge of the wait-for graph of locks is made
// by a micro-thread starting a lock wait (a handoff or a release only gives
// the lock to someone who is not waiting any more), and every such start is
// checked here. So a cycle, if one ever forms, passes through the
// micro-thread whose wait closes it, and following the single outgoing edge
// of each waiter from the lock's holder finds it. Cost: one step per
// micro-thread in the chain, usually one (the holder is running or runnable,
// not waiting for a lock); nothing is kept between waits.
//
// A cycle left behind (only re-locks after condition waits, which cannot
// fail, can leave one: see break_cycle_for_relock) does not pass through a
// new waiter; the walk is bounded by the number of live micro-threads so it
// cannot go round such a cycle forever.
#include <string>

#include "core/detail/lock_core.hpp"
#include "core/errors.hpp"
#include "core/detail/naming.hpp"

namespace mt::detail {
namespace {

const lock_waiter* lock_record(const control_block& cb) noexcept {
    if (cb.w.phase != wait_phase::armed || cb.w.kind != &lock_core::wait_kind_) return nullptr;
    return static_cast<const lock_waiter*>(cb.w.obj);
}

// append_cycle — "#3 'b' waits for mutex 'm2' held by #2 'a', which would
// wait for mutex 'm1' held by #3 'b'": from `start` round the cycle back to
// it. `me` has no record yet: its edge is the wait for `l` it would begin.
void append_cycle(std::string& out, const control_block& start, const control_block& me, const lock_core& l,
                  bool me_relocks) {
    const control_block* c = &start;
    append_ref(out, *c);
    out += ' ';
    for (std::size_t steps = me.eng->live() + 1; steps > 0; --steps) {
        const lock_core* target = &l;
        bool relock = me_relocks;
        if (c != &me) {
            const lock_waiter* w = lock_record(*c);
            if (!w || !w->lock) break;  // cannot happen: closes_cycle followed these edges
            target = w->lock;
            relock = w->relock;
        }
        out += c == &me ? "would wait " : "waits ";
        out += relock ? "to re-lock " : "for ";
        target->append_name(out);
        out += " held by ";
        c = target->holder();
        if (!c) break;
        append_ref(out, *c);
        if (c == &start) break;
        out += ", which ";
    }
}

}  // namespace

bool closes_cycle(const control_block& me, const lock_core& l) noexcept {
    std::size_t steps = me.eng->live();
    for (const control_block* h = l.holder(); h != nullptr; h = lock_wait_holder(*h)) {
        if (h == &me) return true;
        if (steps-- == 0) break;
    }
    return false;
}

std::string cycle_message(const control_block& me, const lock_core& l) {
    std::string out;
    append_cycle(out, me, me, l, false);
    return out;
}

bool break_cycle_for_relock(const control_block& me, const lock_core& l) noexcept {
    // The first ordinary lock wait after `me` in the cycle fails instead.
    lock_waiter* victim = nullptr;
    std::size_t steps = me.eng->live();
    for (const control_block* h = l.holder(); h != nullptr && h != &me && steps > 0; --steps) {
        const lock_waiter* w = lock_record(*h);
        if (!w || !w->lock) return false;
        if (!w->relock) {
            victim = const_cast<lock_waiter*>(w);
            break;
        }
        h = w->lock->holder();
    }
    if (!victim) return false;
    std::exception_ptr e;
    try {
        std::string what = op_in("lock", victim->cb) + ": deadlock: ";
        append_cycle(what, *victim->cb, me, l, true);
        what += " (a re-lock after a condition wait cannot fail, so this lock wait fails instead)";
        e = std::make_exception_ptr(deadlock_error(what));
    } catch (...) {
        e = std::current_exception();
    }
    victim->lock->fail_waiter(*victim, std::move(e));
    return true;
}

}  // namespace mt::detail
