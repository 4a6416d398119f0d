// pipes/detail/pipe_state.cpp — the table of SPEC section 5, one operation
// at a time. Invariants: see pipe_state.hpp.
#include "pipes/detail/pipe_state.hpp"

#include <utility>

#include "core/detail/overflow.hpp"
#include "core/engine.hpp"
#include "core/errors.hpp"
#include "pipes/detail/select_timer.hpp"

namespace mt::detail {

// ---- queues --------------------------------------------------------------------

void waiter_queue::push_back(pipe_waiter& w) noexcept {
    w.queued = true;
    w.prev = tail;
    w.next = nullptr;
    (tail ? tail->next : head) = &w;
    tail = &w;
}

void waiter_queue::remove(pipe_waiter& w) noexcept {
    if (!w.queued) return;
    w.queued = false;
    (w.prev ? w.prev->next : head) = w.next;
    (w.next ? w.next->prev : tail) = w.prev;
    w.prev = w.next = nullptr;
}

void pipe_state::link(pipe_waiter& w) noexcept { (w.is_put ? putters_ : getters_).push_back(w); }
void pipe_state::unlink(pipe_waiter& w) noexcept { (w.is_put ? putters_ : getters_).remove(w); }

void select_group::unlink_all() noexcept {
    if (!linked) return;
    linked = false;
    for (std::size_t i = 0; i < count; ++i)
        if (cases[i].pipe) cases[i].pipe->unlink(cases[i]);
}

// ---- what the dump and the deadlock report say -----------------------------------

void pipe_state::append_name(std::string& out) const {
    out += "pipe '";
    out += name_;
    out += '\'';
}

namespace {
// withdraw — an aborted get or put leaves its pipe's queue.
void withdraw(void* obj, control_block&) {
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
    withdraw,
    false,
    "writer",
};

const wait_kind pipe_state::put_kind{
    "pipe put",
    [](const void* obj, std::string& out) {
        out += "to put to ";
        static_cast<const pipe_waiter*>(obj)->pipe->append_name(out);
    },
    [](const void* obj) { return static_cast<const pipe_waiter*>(obj)->pipe->reader_ref(); },
    withdraw,
    false,
    "reader",
};

// ---- life ----------------------------------------------------------------------------

pipe_state::pipe_state(const value_ops& ops, void* slot, std::string_view name)
    : ops_(ops), slot_(slot), name_(name.empty() ? std::string("unnamed") : std::string(name)) {}

pipe_state::~pipe_state() {
    if (full_) ops_.destroy(slot_);
    if (getters_.head || putters_.head) fatal("a pipe was destroyed while micro-threads waited on it");
}

// ---- the operations -------------------------------------------------------------------

// complete — a waiter's operation happened (or the pipe closed under it):
// take it (and, for a select, its sibling cases) out of every queue, then wake
// its micro-thread.
void pipe_state::complete(pipe_waiter& w, pipe_waiter::outcome result, bool run_next) noexcept {
    w.pipe->unlink(w);
    w.result = result;
    if (select_group* g = w.group) {
        g->chosen = w.index;
        g->unlink_all();
        if (g->timer) {
            stop_select_timer(*w.cb, g->timer);
            g->timer = nullptr;
        }
    }
    try {
        if (run_next) w.cb->d.callback_next(&w);
        else w.cb->d.callback(&w);
    } catch (...) {
        fatal("a pipe waiter's deferred was not armed");
    }
}

void pipe_state::take_slot(void* out) noexcept {
    ops_.move_construct(out, slot_);
    ops_.destroy(slot_);
    full_ = false;
}

// refill_from_putter — the slot was emptied: the first waiting putter's value
// goes in, and that putter returns.
void pipe_state::refill_from_putter() noexcept {
    if (pipe_waiter* p = putters_.head) {
        ops_.move_construct(slot_, p->value);
        full_ = true;
        complete(*p, pipe_waiter::outcome::done, false);
    }
}

// deliver_to — the handoff: a value goes straight to a waiting getter, which
// runs next (engine::make_runnable_next explains why that is fair).
void pipe_state::deliver_to(pipe_waiter& getter, void* value) noexcept {
    ops_.move_construct(getter.value, value);
    complete(getter, pipe_waiter::outcome::done, true);
}

void pipe_state::wake_all(waiter_queue& q) noexcept {
    while (pipe_waiter* w = q.head) complete(*w, pipe_waiter::outcome::closed, false);
}

void pipe_state::wait_in(waiter_queue& q, pipe_waiter& w) {
    control_block& me = *w.cb;
    me.d.arm(w.is_put ? put_kind : get_kind, &w);
    q.push_back(w);
    me.d.wait();  // an abort unlinks w (the kind's cancel) and raises
}

try_result pipe_state::try_put(void* value) {
    if (closed_) return try_result::closed;
    if (pipe_waiter* g = getters_.head) {
        deliver_to(*g, value);
        return try_result::done;
    }
    if (full_) return try_result::would_block;
    ops_.move_construct(slot_, value);
    full_ = true;
    return try_result::done;
}

void pipe_state::put(void* value) {
    engine& e = engine::get("micro_pipe::put");
    control_block& me = e.require_running("micro_pipe::put");
    if (pending_raise(me)) raise_pending(me);
    const try_result r = try_put(value);
    if (r == try_result::done) return;
    if (r == try_result::closed) throw MicroThreadExit{};
    retain();  // the pipe outlives this wait even if every handle is dropped meanwhile
    pipe_waiter w;
    w.cb = &me;
    w.pipe = this;
    w.value = value;
    w.is_put = true;
    try {
        wait_in(putters_, w);
    } catch (...) {
        release();
        throw;
    }
    release();
    if (w.result != pipe_waiter::outcome::done) throw MicroThreadExit{};
}

try_result pipe_state::try_get(void* out) {
    if (full_) {
        take_slot(out);
        if (!closed_) refill_from_putter();
        return try_result::done;
    }
    if (closed_) {
        if (error_) std::rethrow_exception(error_);
        return try_result::closed;
    }
    return try_result::would_block;
}

bool pipe_state::get(void* out) {
    engine& e = engine::get("micro_pipe::get");
    control_block& me = e.require_running("micro_pipe::get");
    if (pending_raise(me)) raise_pending(me);
    const try_result r = try_get(out);
    if (r != try_result::would_block) return r == try_result::done;
    retain();
    pipe_waiter w;
    w.cb = &me;
    w.pipe = this;
    w.value = out;
    try {
        wait_in(getters_, w);
    } catch (...) {
        release();
        throw;
    }
    release();
    if (w.result == pipe_waiter::outcome::done) return true;
    if (error_) std::rethrow_exception(error_);
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
    // The death rules of SPEC section 5.
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
