// core/detail/queue_state.cpp — the table of a queue, one operation at a
// time. Table and invariants: see queue_state.hpp.
#include "core/detail/queue_state.hpp"

#include <fmt/format.h>

#include <string>
#include <utility>

#include "core/detail/assert.hpp"
#include "core/detail/naming.hpp"
#include "core/engine.hpp"
#include "core/errors.hpp"

namespace mt::detail {

// ---- what the dump, the deadlock report and timeouts say -------------------------

void queue_state::append_state(std::string& out) const {
    out += "queue '";
    out += name_;
    out += '\'';
    if (capacity_ == 0) {
        out += " (unbuffered)";
    } else {
        out += " (";
        out += std::to_string(count_);
        out += " of ";
        out += std::to_string(capacity_);
        out += ')';
    }
}

namespace {

// describe_waiter — "to get from queue 'jobs' (0 of 8)". A withdrawn record
// whose queue was destroyed before its micro-thread resumed (a timeout's
// message is built then) names no queue.
void describe_waiter(const void* obj, std::string& out) {
    const auto* w = static_cast<const queue_waiter*>(obj);
    out += w->is_put ? "to put to " : "to get from ";
    if (w->q) w->q->append_state(out);
    else out += "a queue that has been destroyed";
}

// A queue does not know its producers or consumers: the chain ends at it.
control_block* no_blocker(const void*) { return nullptr; }

}  // namespace

// withdraw_waiter — a timed-out or aborted get or put leaves the waiter
// queue for leaving_, where the queue's destructor can still find it until
// its micro-thread resumes (and builds its timeout message from it).
void queue_state::withdraw_waiter(void* obj, control_block&) noexcept {
    auto* w = static_cast<queue_waiter*>(obj);
    queue_state& q = *w->q;
    (w->is_put ? q.putters_ : q.getters_).remove(*w);
    w->leaving = true;
    q.leaving_.push_back(*w);
}

const wait_kind queue_state::get_kind{"queue get", describe_waiter, no_blocker, withdraw_waiter};
const wait_kind queue_state::put_kind{"queue put", describe_waiter, no_blocker, withdraw_waiter};

queue_waiter::~queue_waiter() {
    if (leaving && q) q->leaving_.remove(*this);
}

// ---- life ------------------------------------------------------------------------------

void throw_capacity_too_large(std::size_t capacity, std::size_t slot_size, std::string_view name) {
    const engine* e = engine::current();
    throw usage_error(fmt::format("{} on queue '{}': a capacity of {} slots of {} bytes, more than any memory can hold",
                                  op_in("mt::queue", e ? e->running() : nullptr), name.empty() ? "unnamed" : name,
                                  capacity, slot_size));
}

queue_state::queue_state(std::size_t capacity, std::string_view name)
    : capacity_(capacity), name_(name.empty() ? std::string("unnamed") : std::string(name)) {}

queue_state::~queue_state() {
    // The typed layer destroyed the stored values; only waiters are left.
    while (queue_waiter* w = leaving_.pop_front()) w->q = nullptr;
    for (waiter_list* l : {&getters_, &putters_}) {
        while (queue_waiter* w = l->pop_front()) {
            std::string what = "queue '" + name_ + "' was destroyed while micro-thread " + describe(*w->cb) +
                               (w->is_put ? " waited to put to it" : " waited to get from it");
            w->q = nullptr;
            w->result = queue_waiter::outcome::closed;
            fire_error(*w->cb, std::make_exception_ptr(usage_error(what)));
        }
    }
}

// ---- the operations ----------------------------------------------------------------

// complete — a waiter's operation happened (or the queue closed under it):
// out of its list, then its wait is settled.
void queue_state::complete(queue_waiter& w, queue_waiter::outcome result, bool run_next) noexcept {
    (w.is_put ? w.q->putters_ : w.q->getters_).remove(w);
    w.result = result;
    if (run_next) fire_next(*w.cb, nullptr);
    else fire(*w.cb, nullptr);
}

// refill_from_putter — a value was taken from a full queue: the first
// waiting putter's value goes in, and that putter returns.
void queue_state::refill_from_putter() noexcept {
    if (queue_waiter* p = putters_.front()) {
        MT_ASSERT(count_ < capacity_, "a putter waits on a queue that is not full");
        store(p->value);
        ++count_;
        complete(*p, queue_waiter::outcome::done, false);
    }
}

queue_state::attempt queue_state::try_put(void* value) {
    if (closed_) return attempt::closed;
    if (queue_waiter* g = getters_.front()) {
        // The handoff: straight into the getter's frame; it runs next
        // (engine::make_runnable_next bounds how often that may jump the queue).
        MT_ASSERT(count_ == 0, "a getter waits on a queue that holds values");
        hand(g->value, value);
        complete(*g, queue_waiter::outcome::done, true);
        return attempt::done;
    }
    if (count_ == capacity_) return attempt::would_block;
    store(value);
    ++count_;
    return attempt::done;
}

queue_state::attempt queue_state::try_get(void* target) {
    if (count_ > 0) {
        take(target);
        --count_;
        refill_from_putter();  // none after a close: closing woke them all
        return attempt::done;
    }
    if (queue_waiter* p = putters_.front()) {  // unbuffered: straight from the putter
        hand(target, p->value);
        complete(*p, queue_waiter::outcome::done, false);
        return attempt::done;
    }
    if (closed_) {
        if (error_) std::rethrow_exception(error_);
        return attempt::closed;
    }
    return attempt::would_block;
}

void queue_state::put(void* value, const deadline& d) {
    control_block& me = engine::get("queue::put").require_running("queue::put");
    binding_.check(me, "queue::put", "queue", name_);
    check_deadline(me, d, "queue::put");
    if (pending_raise(me)) [[unlikely]]
        raise_pending(me);
    const attempt r = try_put(value);
    if (r == attempt::done) return;
    if (r == attempt::closed) throw closed_put("queue", name_);
    queue_waiter w;
    w.cb = &me;
    w.q = this;
    w.value = value;
    w.is_put = true;
    begin_wait(me, put_kind, &w);
    putters_.push_back(w);
    // A timeout or an abort withdraws w (its value was never moved); a
    // destroyed queue fires a usage_error. Neither touches the queue after.
    end_wait_or_throw(me, d, "queue::put");
    if (w.result != queue_waiter::outcome::done) throw closed_put("queue", name_);
}

bool queue_state::get(void* target, const deadline& d) {
    control_block& me = engine::get("queue::get").require_running("queue::get");
    binding_.check(me, "queue::get", "queue", name_);
    check_deadline(me, d, "queue::get");
    if (pending_raise(me)) [[unlikely]]
        raise_pending(me);
    const attempt r = try_get(target);
    if (r != attempt::would_block) return r == attempt::done;
    queue_waiter w;
    w.cb = &me;
    w.q = this;
    w.value = target;
    begin_wait(me, get_kind, &w);
    getters_.push_back(w);
    // A close with an error is fired as that error (end_wait rethrows it), so
    // a woken getter never reads the queue again: it may be gone by then.
    end_wait_or_throw(me, d, "queue::get");
    return w.result == queue_waiter::outcome::done;
}

// wake_all_closed — every waiter learns of the close: getters see
// end-of-stream or the close's error, putters raise MicroThreadExit.
void queue_state::wake_all_closed() noexcept {
    while (queue_waiter* g = getters_.pop_front()) {
        g->result = queue_waiter::outcome::closed;
        if (error_) fire_error(*g->cb, error_);
        else fire(*g->cb, nullptr);
    }
    while (queue_waiter* p = putters_.front()) complete(*p, queue_waiter::outcome::closed, false);
}

void queue_state::close(std::exception_ptr error) noexcept {
    if (closed_) return;
    closed_ = true;
    error_ = std::move(error);
    wake_all_closed();
}

void queue_state::close_reader() noexcept {
    closed_ = true;
    reader_closed_ = true;
    if (count_ > 0) {
        discard();  // never delivered, never delivered twice
        count_ = 0;
    }
    wake_all_closed();
}

void queue_state::check_invariants() const noexcept {
#if MT_CHECKED
    getters_.check_invariants();
    putters_.check_invariants();
    leaving_.check_invariants();
    MT_ASSERT(count_ <= capacity_, "a queue holds more values than its capacity");
    MT_ASSERT(getters_.empty() || (count_ == 0 && putters_.empty() && !closed_),
              "getters wait on a queue that holds values, has putters waiting, or is closed");
    MT_ASSERT(putters_.empty() || (count_ == capacity_ && getters_.empty() && !closed_),
              "putters wait on a queue that is not full, has getters waiting, or is closed");
    MT_ASSERT(!reader_closed_ || count_ == 0, "a queue closed by its reader holds values");
    for (const queue_waiter* w = getters_.front(); w; w = waiter_list::next(*w))
        MT_ASSERT(!w->is_put && w->q == this && w->cb->w.phase == wait_phase::armed && w->cb->w.obj == w,
                  "a queued getter is not in an armed wait on its record");
    for (const queue_waiter* w = putters_.front(); w; w = waiter_list::next(*w))
        MT_ASSERT(w->is_put && w->q == this && w->cb->w.phase == wait_phase::armed && w->cb->w.obj == w,
                  "a queued putter is not in an armed wait on its record");
    for (const queue_waiter* w = leaving_.front(); w; w = waiter_list::next(*w))
        MT_ASSERT(w->leaving && w->q == this && w->cb->w.phase != wait_phase::armed,
                  "a withdrawn record is still in an armed wait");
#endif
}

}  // namespace mt::detail
