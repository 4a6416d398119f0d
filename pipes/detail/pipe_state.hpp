// pipes/detail/pipe_state.hpp — the untyped heart of a micro_pipe: one slot,
// the queues of waiting getters and putters, closing, and the stdin/stdout
// attachment counts. micro_pipe<T> adds the type; the C API and the Python
// binding use the same state through boxed values.
//
// Invariants:
//   * the slot holds a value iff full_.
//   * getters_ is non-empty only while the slot is empty and the pipe open;
//     putters_ is non-empty only while the slot is full and the pipe open.
//   * every waiter record lives in the frame of a suspended micro-thread and
//     is in exactly one queue until it is completed or cancelled; a record of
//     a select is unlinked from every queue the moment one of its cases
//     completes, so a select performs exactly one operation.
//   * once closed_, no value enters the slot again; reader_closed_ => !full_.
//
// Threading: the engine's OS thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>
#include <typeinfo>

#include "core/detail/control_block.hpp"

namespace mt::detail {

class pipe_state;
struct select_group;

// value_ops — what the untyped state needs to know about the element type.
struct value_ops {
    const std::type_info* type;
    void (*move_construct)(void* dst, void* src) noexcept;  // *src into raw storage dst
    void (*destroy)(void* p) noexcept;
};

// pipe_waiter — a suspended get or put, in the waiter's frame.
struct pipe_waiter {
    enum class outcome : std::uint8_t {
        waiting,
        done,    // put: its value went into the slot or to a getter; get: a value is in `value`
        closed,  // the pipe was closed: put raises MicroThreadExit; get sees end-of-stream or the error
    };
    control_block* cb = nullptr;
    pipe_state* pipe = nullptr;
    pipe_waiter* prev = nullptr;
    pipe_waiter* next = nullptr;
    void* value = nullptr;  // put: the value to move from; get: raw storage to move into
    bool is_put = false;
    bool queued = false;  // in its pipe's queue
    outcome result = outcome::waiting;
    select_group* group = nullptr;  // the select it belongs to, or nullptr
    std::size_t index = 0;          // its case in that select
};

struct waiter_queue {
    pipe_waiter* head = nullptr;
    pipe_waiter* tail = nullptr;
    void push_back(pipe_waiter& w) noexcept;
    void remove(pipe_waiter& w) noexcept;
};

// select_group — the cases of one select, completed at most once.
struct select_group {
    pipe_waiter* cases = nullptr;
    std::size_t count = 0;
    std::size_t chosen = SIZE_MAX;  // the case that happened; SIZE_MAX: none (timeout, cancel)
    void* timer = nullptr;          // the timeout's reactor node, or nullptr
    bool linked = false;            // records are in their pipes' queues
    void unlink_all() noexcept;
};

// What a non-suspending attempt found (select's first pass).
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
    // MicroThreadExit when the pipe is closed (before or while it waits).
    void put(void* value);
    // get — moves the next value into raw storage `out` and returns true, or
    // returns false at end-of-stream; suspends while the slot is empty and
    // the pipe open. Rethrows the error the pipe was closed with (after what
    // was left in the slot). MicroThreadExit on abort (no value is lost).
    bool get(void* out);
    // close — the writer's end of data, optionally with an error: getters take
    // what is left, then see end-of-stream (or the error); puts raise
    // MicroThreadExit. The first close wins. Never suspends.
    void close(std::exception_ptr error = nullptr) noexcept;
    // close_reader — "no more wanted": what is in the slot is destroyed; puts
    // raise MicroThreadExit; gets see end-of-stream (or the earlier error).
    void close_reader() noexcept;

    try_result try_put(void* value);
    try_result try_get(void* out);  // done: a value in out; closed: end-of-stream or rethrows

    bool closed() const noexcept { return closed_; }
    bool full() const noexcept { return full_; }
    const std::type_info& type() const noexcept { return *ops_.type; }
    const std::string& name() const noexcept { return name_; }
    void append_name(std::string& out) const;

    // attachments (stdin/stdout), counted like Unix pipe descriptors
    static const io_ops attachment_ops;
    control_block* writer_ref() const noexcept { return writer_ref_; }
    control_block* reader_ref() const noexcept { return reader_ref_; }

    // select's side
    void link(pipe_waiter& w) noexcept;
    void unlink(pipe_waiter& w) noexcept;

    static const wait_kind get_kind, put_kind;

private:
    void take_slot(void* out) noexcept;
    void refill_from_putter() noexcept;
    void deliver_to(pipe_waiter& getter, void* value) noexcept;
    static void complete(pipe_waiter& w, pipe_waiter::outcome result, bool run_next) noexcept;
    void wake_all(waiter_queue& q) noexcept;
    void wait_in(waiter_queue& q, pipe_waiter& w);

    const value_ops& ops_;
    void* slot_;  // raw storage for one value, owned by the typed state
    std::string name_;
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
