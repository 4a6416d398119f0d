// pipes/detail/pipe_state.cpp — the table of docs/reference/pipes.md, one operation
// at a time. Invariants: see pipe_state.hpp.
#include "pipes/detail/pipe_state.hpp"

#include <utility>

#include "core/detail/assert.hpp"
#include "core/detail/overflow.hpp"
#include "core/engine.hpp"
#include "core/errors.hpp"

namespace mt::detail {

void pipe_state::link(pipe_waiter& w) noexcept { (w.is_put ? putters_ : getters_).push_back(w); }
void pipe_state::unlink(pipe_waiter& w) noexcept { (w.is_put ? putters_ : getters_).remove_if_linked(w); }

void select_group::unlink_all() noexcept {
    if (slot) {
        // Still ours unless the drain that fired this wait gave it back (its
        // generation then changed, and it may already serve another wait).
        if (slot->generation == slot_generation) cb->eng->remote_slots().give_back(*slot);
        slot = nullptr;
    }
    if (!linked) return;
    linked = false;
    for (pipe_waiter* w = first; w; w = w->next_case) w->pipe->unlink(*w);
}

// ---- what the dump and the deadlock report say -----------------------------------

void pipe_state::append_name(std::string& out) const {
    out += "pipe '";
    out += name_;
    out += '\'';
}

namespace {
// withdraw — a timed-out or aborted get or put leaves its pipe's queue.
void withdraw_waiter(void* obj, control_block&) {
    auto* w = static_cast<pipe_waiter*>(obj);
    w->pipe->unlink(*w);
}
}  // namespace

const wait_kind pipe_state::get_kind{
    "pipe get",
    [](const void* obj, std::string& out) {
        out += "to get from ";
        static_cast<const pipe_waiter*>(obj)->pipe->append_name(out);
    },
    [](const void* obj) { return static_cast<const pipe_waiter*>(obj)->pipe->writer_ref(); },
    withdraw_waiter,
    "writer",
};

const wait_kind pipe_state::put_kind{
    "pipe put",
    [](const void* obj, std::string& out) {
        out += "to put to ";
        static_cast<const pipe_waiter*>(obj)->pipe->append_name(out);
    },
    [](const void* obj) { return static_cast<const pipe_waiter*>(obj)->pipe->reader_ref(); },
    withdraw_waiter,
    "reader",
};

// ---- life ----------------------------------------------------------------------------

pipe_state::pipe_state(const value_ops& ops, void* slot, std::string_view name)
    : ops_(ops), slot_(slot), name_(name.empty() ? std::string("unnamed") : std::string(name)) {}

pipe_state::~pipe_state() {
    if (full_) ops_.destroy(slot_);
    if (!getters_.empty() || !putters_.empty()) fatal("a pipe was destroyed while micro-threads waited on it");
}

// ---- the operations -------------------------------------------------------------------

// first_served (pipe_state.hpp) / bring_chosen_forward — the waiter `q`
// (one of this pipe's non-empty queues) serves next is its head, first come
// first served. A select that names this pipe in several cases of the same
// direction has their records next to each other in `q` (a select links
// all its records in one go, and they leave together): when the first of
// them (`first`, the head) is reached, all of them become possible at once,
// so one is chosen uniformly at random, as among a select's ready cases —
// never simply the first listed — and moved to the head (the order within
// the run does not matter: the others leave with it).
pipe_waiter& pipe_state::bring_chosen_forward(waiter_queue& q, pipe_waiter& first) noexcept {
    MT_ASSERT(q.front() == &first && first.group, "bring_chosen_forward away from a select's first record");
    std::size_t run = 1;
    for (const pipe_waiter* n = waiter_queue::next(first); n && n->group == first.group; n = waiter_queue::next(*n)) ++run;
    if (run == 1) return first;
    pipe_waiter* w = &first;
    for (std::size_t k = select_random_below(run); k > 0; --k) w = waiter_queue::next(*w);
    if (w != &first) {
        q.remove(*w);
        q.push_front(*w);
    }
    return *w;
}

// complete_first — the first waiter of `q` (one of this pipe's queues, put
// there by first_served) had its operation happen (or the pipe closed under
// it): it leaves the queue (and, for a select, its sibling cases leave
// theirs), then its wait is settled. The waiter is the queue's head, so it
// is unlinked in place, not searched for.
void pipe_state::complete_first(waiter_queue& q, pipe_waiter::outcome result, bool run_next) noexcept {
    pipe_waiter& w = *q.pop_front();
    MT_ASSERT(w.pipe == this, "a pipe completed a waiter of another pipe");
    w.result = result;
    if (select_group* g = w.group) {
        g->chosen = w.index;
        g->unlink_all();
    }
    if (run_next) fire_next(*w.cb, &w);
    else fire(*w.cb, &w);
}

void pipe_state::take_slot(void* out, sink_fn sink) noexcept {
    if (sink) sink(out, slot_);
    else ops_.move_construct(out, slot_);
    ops_.destroy(slot_);
    full_ = false;
}

// refill_from_putter — the slot was emptied: the first waiting putter's value
// (first_served) goes in, and that putter returns; it runs next, as a getter
// handed a value does (deliver_to), so the two sides of a pipe alternate
// without cycling through the whole run queue.
void pipe_state::refill_from_putter() noexcept {
    if (!putters_.empty()) {
        pipe_waiter& p = first_served(putters_);
        ops_.move_construct(slot_, p.value);
        full_ = true;
        complete_first(putters_, pipe_waiter::outcome::done, true);
    }
}

// deliver_to — the handoff: a value goes straight to the first waiting
// getter (`getter`, the head of getters_: first_served), which runs next
// (engine::make_runnable_next explains why that is fair).
void pipe_state::deliver_to(pipe_waiter& getter, void* value) noexcept {
    MT_ASSERT(getters_.front() == &getter, "a value delivered to a getter that is not served first");
    if (getter.sink) getter.sink(getter.value, value);
    else ops_.move_construct(getter.value, value);
    complete_first(getters_, pipe_waiter::outcome::done, true);
}

void pipe_state::wake_all(waiter_queue& q) noexcept {
    while (!q.empty()) {
        first_served(q);
        complete_first(q, pipe_waiter::outcome::closed, false);
    }
}

try_result pipe_state::try_put(void* value) {
    if (closed_) return try_result::closed;
    if (!getters_.empty()) {
        deliver_to(first_served(getters_), value);
        return try_result::done;
    }
    if (full_) return try_result::would_block;
    ops_.move_construct(slot_, value);
    full_ = true;
    return try_result::done;
}

try_result pipe_state::try_get(void* out, sink_fn sink) {
    if (full_) {
        take_slot(out, sink);
        if (!closed_) refill_from_putter();
        return try_result::done;
    }
    if (closed_) {
        if (error_) std::rethrow_exception(error_);
        return try_result::closed;
    }
    return try_result::would_block;
}

void pipe_state::put(void* value, const deadline& d) {
    control_block& me = engine::get("micro_pipe::put").require_running("micro_pipe::put");
    check_engine(me, "micro_pipe::put");
    check_deadline(me, d, "micro_pipe::put");
    if (pending_raise(me)) raise_pending(me);
    const try_result r = try_put(value);
    if (r == try_result::done) return;
    if (r == try_result::closed) throw closed_put("pipe", name_);
    retain();  // the pipe outlives this wait even if every handle is dropped meanwhile
    pipe_waiter w;
    w.cb = &me;
    w.pipe = this;
    w.value = value;
    w.is_put = true;
    begin_wait(me, put_kind, &w);
    putters_.push_back(w);
    try {
        end_wait_or_throw(me, d, "micro_pipe::put");  // a timeout or an abort unlinks w
    } catch (...) {
        release();
        throw;
    }
    if (w.result != pipe_waiter::outcome::done) {
        MicroThreadExit closed = closed_put("pipe", name_);
        release();  // may destroy the pipe
        throw closed;
    }
    release();  // may destroy the pipe: nothing of it is read below
}

bool pipe_state::get(void* out, const deadline& d) {
    control_block& me = engine::get("micro_pipe::get").require_running("micro_pipe::get");
    check_engine(me, "micro_pipe::get");
    check_deadline(me, d, "micro_pipe::get");
    if (pending_raise(me)) raise_pending(me);
    const try_result r = try_get(out);
    if (r != try_result::would_block) return r == try_result::done;
    retain();
    pipe_waiter w;
    w.cb = &me;
    w.pipe = this;
    w.value = out;
    begin_wait(me, get_kind, &w);
    getters_.push_back(w);
    try {
        end_wait_or_throw(me, d, "micro_pipe::get");
    } catch (...) {
        release();
        throw;
    }
    if (w.result == pipe_waiter::outcome::done) {
        release();
        return true;
    }
    // Closed while it waited: end-of-stream, or the error it was closed
    // with. Read before the reference is dropped (the last one may be ours).
    std::exception_ptr err = error_;
    release();
    if (err) std::rethrow_exception(err);
    return false;
}

void pipe_state::close(std::exception_ptr error) noexcept {
    if (closed_) return;
    closed_ = true;
    error_ = std::move(error);
    wake_all(getters_);
    wake_all(putters_);
}

void pipe_state::close_reader() noexcept {
    closed_ = true;
    reader_closed_ = true;
    if (full_) {
        ops_.destroy(slot_);  // never delivered, never delivered twice
        full_ = false;
    }
    wake_all(getters_);
    wake_all(putters_);
}

void pipe_state::check_invariants() const noexcept {
#if MT_CHECKED
    getters_.check_invariants();
    putters_.check_invariants();
    MT_ASSERT(getters_.empty() || (!full_ && !closed_), "getters wait on a full or closed pipe");
    MT_ASSERT(putters_.empty() || (full_ && !closed_), "putters wait on an empty or closed pipe");
    MT_ASSERT(!reader_closed_ || !full_, "a pipe closed by its reader holds a value");
    MT_ASSERT(refs_ > 0, "a pipe is used after its last reference was dropped");
    for (const pipe_waiter* w = getters_.front(); w; w = waiter_queue::next(*w))
        MT_ASSERT(w->cb->w.phase == wait_phase::armed && !w->is_put, "a queued getter is not in an armed wait");
    for (const pipe_waiter* w = putters_.front(); w; w = waiter_queue::next(*w))
        MT_ASSERT(w->cb->w.phase == wait_phase::armed && w->is_put, "a queued putter is not in an armed wait");
#endif
}

// ---- stdin/stdout attachment ---------------------------------------------------------------

const io_ops pipe_state::attachment_ops{
    [](void* obj, control_block& cb, io_role role) noexcept {
        auto* p = static_cast<pipe_state*>(obj);
        p->retain();
        if (role == io_role::out) {
            ++p->writers_;
            p->writer_ref_ = &cb;
        } else {
            ++p->readers_;
            p->reader_ref_ = &cb;
        }
    },
    // The death rules (docs/reference/pipes.md, "stdin and stdout").
    [](void* obj, control_block& cb, io_role role) noexcept {
        auto* p = static_cast<pipe_state*>(obj);
        if (role == io_role::out) {
            --p->writers_;
            if (p->writer_ref_ == &cb) p->writer_ref_ = nullptr;
            if (cb.st == state::failed) p->close(cb.error);  // E travels downstream at once
            else if (p->writers_ == 0) p->close();           // the last writer: end of stream
        } else {
            --p->readers_;
            if (p->reader_ref_ == &cb) p->reader_ref_ = nullptr;
            if (p->readers_ == 0) p->close_reader();  // upstream puts raise MicroThreadExit
        }
    },
    [](void* obj) noexcept { static_cast<pipe_state*>(obj)->release(); },
};

}  // namespace mt::detail
