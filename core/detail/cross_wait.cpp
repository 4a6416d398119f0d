// core/detail/cross_wait.cpp — see cross_wait.hpp.
#include "core/detail/cross_wait.hpp"

#include "core/detail/assert.hpp"
#include "core/detail/control_block.hpp"
#include "core/detail/mailbox.hpp"
#include "core/detail/remote_slots.hpp"
#include "core/detail/thread_census.hpp"
#include "core/detail/wait.hpp"
#include "core/engine.hpp"
#include "core/errors.hpp"

namespace mt::detail {

void cross_list::push(cross_waiter& w) noexcept {
    MT_ASSERT(!w.linked, "a cross-thread waiter is linked twice");
    w.prev = tail;
    w.next = nullptr;
    if (tail) tail->next = &w;
    else head = &w;
    tail = &w;
    w.linked = true;
}

void cross_list::unlink(cross_waiter& w) noexcept {
    MT_ASSERT(w.linked, "a cross-thread waiter is unlinked twice");
    if (w.prev) w.prev->next = w.next;
    else head = w.next;
    if (w.next) w.next->prev = w.prev;
    else tail = w.prev;
    w.prev = w.next = nullptr;
    w.linked = false;
}

namespace {

void tell(cross_waiter& w) noexcept {
    w.woken = true;
    if (w.box) {
        w.box->post(w.slot, w.generation, nullptr, nullptr);
    } else {
        if (w.park) unpark(*w.park);  // before it can run: an engine group's census never counts it blocked
        w.cv->notify_one();
    }
}

// on_cancel — the micro-thread's wait ended by timeout or abort (its engine
// thread, not holding the mutex): unlink, or pass on a wake-up it got.
void on_cancel(void* ctx) noexcept {
    auto& w = *static_cast<cross_waiter*>(ctx);
    std::lock_guard<std::mutex> lock(*w.mu);
    if (w.linked) w.list->unlink(w);
    else if (w.woken) wake_one(*w.list);
}

void describe_waiter(const void* ctx, std::string& out) {
    auto& w = *static_cast<const cross_waiter*>(ctx);
    w.describe(w.obj, out);
}

}  // namespace

bool wake_one(cross_list& list) noexcept {
    cross_waiter* w = list.head;
    if (!w) return false;
    list.unlink(*w);
    tell(*w);
    return true;
}

void wake_all(cross_list& list) noexcept {
    while (wake_one(list)) {
    }
}

void cross_wait(std::unique_lock<std::mutex>& lock, cross_list& list, const deadline& d,
                void (*describe)(const void* obj, std::string& out), const void* obj, const char* op,
                bool prompt) {
    cross_waiter w;
    w.list = &list;
    w.mu = lock.mutex();
    w.describe = describe;
    w.obj = obj;
    engine* e = engine::current();
    if (!e) {  // a plain OS thread: block it
        if (d.negative()) throw usage_error(std::string(op) + " on a plain OS thread with a negative timeout");
        std::condition_variable cv;
        w.cv = &cv;
        list.push(w);
        auto woken = [&] { return w.woken; };
        if (d.none()) {  // only a waker can end this wait: the thread is parked (thread_census.hpp)
            parked_thread parked;
            parked.tid = this_tid();
            w.park = &parked;
            park(parked);
            cv.wait(lock, woken);
            unpark(parked);
            return;
        }
        if (cv.wait_until(lock, d.when(), woken)) return;
        list.unlink(w);
        std::string msg = std::string(op) + " on a plain OS thread timed out waiting ";
        describe(obj, msg);
        throw timeout_error(msg);
    }
    control_block& me = e->require_running(op);  // the root would block every micro-thread of the engine
    check_deadline(me, d, op);
    if (pending_raise(me)) raise_pending(me);
    remote_slot& s = e->remote_slots().take(me, remote_use::wait, false);
    s.on_cancel = on_cancel;
    s.describe = describe_waiter;
    s.ctx = &w;
    if (prompt) e->remote_slots().mark_prompt(s);
    w.box = &e->mailbox();
    w.slot = s.index;
    w.generation = s.generation;
    begin_wait(me, remote_wait_kind, &s);
    list.push(w);
    lock.unlock();
    struct relock {
        std::unique_lock<std::mutex>& l;
        ~relock() { l.lock(); }
    } again{lock};
    end_wait_or_throw(me, d, op);  // the timeout message is built while `w` (the slot's ctx) lives
}

}  // namespace mt::detail
