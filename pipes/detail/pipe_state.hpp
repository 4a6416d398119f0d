// pipes/detail/pipe_state.hpp — the untyped heart of a micro_pipe: one slot,
// the queues of waiting getters and putters, closing, and the stdin/stdout
// attachment counts. micro_pipe<T> adds the type; the C API and the Python
// binding use the same state through boxed values.
//
// Invariants (check_invariants):
//   * the slot holds a value iff full_.
//   * getters_ is non-empty only while the slot is empty and the pipe open;
//     putters_ is non-empty only while the slot is full and the pipe open.
//   * every waiter record lives in the frame of a suspended micro-thread (or
//     a select_case it owns) whose wait is armed, and is in exactly one queue
//     until it is completed or withdrawn; a record of a select is unlinked
//     from every queue the moment one of its cases completes, so a select
//     performs exactly one operation.
//   * the records of one select in one queue are adjacent (linked in one go,
//     unlinked together); a queue serves its head first, and a select's run
//     of records there as one waiter whose case is chosen uniformly
//     (first_served).
//   * once closed_, no value enters the slot again; reader_closed_ => !full_.
//   * a waiter holds a reference to its pipe while it waits, so the pipe
//     outlives the wait even when every handle is dropped meanwhile.
//
// Threading: the OS thread of the engine that first used it (a use from
// another engine is a usage error).
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>
#include <typeinfo>

#include "../../core/deadline.hpp"
#include "../../core/detail/control_block.hpp"
#include "../../core/detail/engine_binding.hpp"
#include "../../core/detail/intrusive_list.hpp"

namespace mt::detail {

class pipe_state;
struct select_group;
struct remote_slot;

// value_ops — what the untyped state needs to know about the element type.
struct value_ops {
    const std::type_info* type;
    void (*move_construct)(void* dst, void* src) noexcept;  // *src into raw storage dst
    void (*destroy)(void* p) noexcept;
};

// sink_fn — where a get delivers: moves *src into `target` (a select's
// std::optional<T>, say). nullptr: `target` is raw storage for one value.
using sink_fn = void (*)(void* target, void* src) noexcept;

// pipe_waiter — a suspended get or put, in the waiter's frame.
struct pipe_waiter {
    enum class outcome : std::uint8_t {
        waiting,
        done,    // put: its value went into the slot or to a getter; get: a value was delivered
        closed,  // the pipe was closed: put raises MicroThreadExit; get sees end-of-stream or the error
    };
    control_block* cb = nullptr;
    pipe_state* pipe = nullptr;
    list_hook<pipe_waiter> hook;
    void* value = nullptr;    // put: the value to move from; get: where to deliver
    sink_fn sink = nullptr;   // get: how to deliver (nullptr: raw storage)
    bool is_put = false;
    outcome result = outcome::waiting;
    select_group* group = nullptr;    // the select it belongs to, or nullptr
    pipe_waiter* next_case = nullptr;  // the select's next enabled case
    std::size_t index = 0;             // its case in that select
};

using waiter_queue = intrusive_list<pipe_waiter, &pipe_waiter::hook>;

// select_group — one wait of a select: its enabled micro_pipe cases
// (chained through next_case), completed at most once, and, when it has
// xpipe cases, the remote slot their wake-ups name (pipes/select.cpp). Its
// wait ends exactly once, and each way of ending it calls unlink_all first:
// a micro_pipe case completing, a wake-up through the slot (the drain gives
// the slot back, then select.cpp's on_wake), or the timeout or abort (the
// wait kind's cancel). Engine thread only.
struct select_group {
    pipe_waiter* first = nullptr;
    std::size_t count = 0;          // enabled cases, micro_pipe and xpipe
    std::size_t chosen = SIZE_MAX;  // the micro_pipe case that happened; SIZE_MAX: none (timeout, cancel, an xpipe wake-up)
    bool linked = false;            // the micro_pipe records are in their pipes' queues
    control_block* cb = nullptr;    // the selecting micro-thread
    remote_slot* slot = nullptr;    // xpipe cases: the slot, while this wait holds it
    std::uint32_t slot_generation = 0;
    const void* cases = nullptr;    // the select's cases (mt::select_case[n]), for describe
    std::size_t n = 0;
    // unlink_all — every micro_pipe record leaves its queue and the slot is
    // given back (a wake-up naming it is dropped from now on). Idempotent.
    void unlink_all() noexcept;
};

// select_random_below — a uniformly distributed index below n (n > 0), from
// the per-OS-thread generator of select's choice among ready cases
// (pipes/select.cpp; seed_select_random seeds it).
std::size_t select_random_below(std::size_t n) noexcept;

// What a non-suspending attempt found.
enum class try_result : std::uint8_t { done, would_block, closed };

class pipe_state {
public:
    pipe_state(const value_ops& ops, void* slot, std::string_view name);
    virtual ~pipe_state();
    pipe_state(const pipe_state&) = delete;
    pipe_state& operator=(const pipe_state&) = delete;

    void retain() noexcept { ++refs_; }
    void release() noexcept {
        if (--refs_ == 0) delete this;
    }

    // put — moves *value into the pipe (to a waiting getter, which then runs
    // next, or into the slot); suspends while the slot is full. Throws
    // MicroThreadExit when the pipe is closed (before or while it waits),
    // timeout_error when `d` passes first (the value stays with the caller),
    // usage_error outside a micro-thread or from another engine.
    void put(void* value, const deadline& d);
    // get — moves the next value into raw storage `out` and returns true, or
    // returns false at end-of-stream; suspends while the slot is empty and
    // the pipe open. Rethrows the error the pipe was closed with (after what
    // was left in the slot). timeout_error when `d` passes first.
    // MicroThreadExit on abort (no value is lost).
    bool get(void* out, const deadline& d);
    // close — the writer's end of data, optionally with an error: getters take
    // what is left, then see end-of-stream (or the error); puts raise
    // MicroThreadExit. The first close wins. Never suspends.
    void close(std::exception_ptr error = nullptr) noexcept;
    // close_reader — "no more wanted": what is in the slot is destroyed; puts
    // raise MicroThreadExit; gets see end-of-stream (or the earlier error).
    void close_reader() noexcept;

    // try_put / try_get — never suspend. try_get: done leaves a value in
    // `out` (delivered through `sink` if given); closed means end-of-stream,
    // or rethrows the pipe's error.
    try_result try_put(void* value);
    try_result try_get(void* out, sink_fn sink = nullptr);
    // can_put / can_get — would try_put / try_get not return would_block?
    bool can_put() const noexcept { return closed_ || !getters_.empty() || !full_; }
    bool can_get() const noexcept { return full_ || closed_; }

    bool closed() const noexcept { return closed_; }
    bool full() const noexcept { return full_; }
    const std::type_info& type() const noexcept { return *ops_.type; }
    const std::string& name() const noexcept { return name_; }
    void append_name(std::string& out) const;
    // check_engine — binds the pipe to the calling OS thread's engine on
    // first use; throws usage_error naming `op` from any other engine, or
    // after that engine ended.
    void check_engine(const control_block& me, const char* op) { binding_.check(me, op, "pipe", name_); }

    // attachments (stdin/stdout), counted like Unix pipe descriptors
    static const io_ops attachment_ops;
    control_block* writer_ref() const noexcept { return writer_ref_; }
    control_block* reader_ref() const noexcept { return reader_ref_; }

    // select's side
    void link(pipe_waiter& w) noexcept;
    void unlink(pipe_waiter& w) noexcept;

    void check_invariants() const noexcept;

    static const wait_kind get_kind, put_kind;

private:
    void take_slot(void* out, sink_fn sink) noexcept;
    void refill_from_putter() noexcept;
    void deliver_to(pipe_waiter& getter, void* value) noexcept;
    // first_served — the waiter of `q` (non-empty) to serve next, at its
    // head: the head, or one of the head's select's records next to it,
    // moved there (pipe_state.cpp).
    static pipe_waiter& first_served(waiter_queue& q) noexcept {
        pipe_waiter& w = *q.front();
        return w.group ? bring_chosen_forward(q, w) : w;
    }
    static pipe_waiter& bring_chosen_forward(waiter_queue& q, pipe_waiter& first) noexcept;
    void complete_first(waiter_queue& q, pipe_waiter::outcome result, bool run_next) noexcept;
    void wake_all(waiter_queue& q) noexcept;

    const value_ops& ops_;
    void* slot_;  // raw storage for one value, owned by the typed state
    std::string name_;
    engine_binding binding_;  // the engine that first used it
    std::uint32_t refs_ = 1;
    bool full_ = false;
    bool closed_ = false;
    bool reader_closed_ = false;
    std::exception_ptr error_;
    waiter_queue getters_;
    waiter_queue putters_;
    std::uint32_t writers_ = 0;  // attached as stdout
    std::uint32_t readers_ = 0;  // attached as stdin
    control_block* writer_ref_ = nullptr;  // an attached writer that has not ended (deadlock chains)
    control_block* reader_ref_ = nullptr;
};

}  // namespace mt::detail
