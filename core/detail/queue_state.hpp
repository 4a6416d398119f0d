// core/detail/queue_state.hpp — the untyped heart of an mt::queue: a count of
// stored values out of a capacity, the FIFO queues of waiting getters and
// putters, closing, and destruction under waiters. The typed layer
// (core/queue.hpp) adds the storage and the order in which values come out
// (FIFO ring, LIFO stack, priority heap) through four virtual functions.
//
// It is the pipe's table (docs/reference/pipes.md) with `capacity` slots
// instead of one:
//
//   put(v)  a getter waits       : hand v to it (it runs next)       [count == 0]
//           count < capacity     : store v
//           full (count == cap)  : queue as a putter, suspend
//           closed               : MicroThreadExit
//   get()   count > 0            : take the next value; the first queued putter's
//                                  value goes in (refill_from_putter)
//           a putter waits       : take its value straight from it    [capacity 0]
//           empty, open          : queue as a getter, suspend
//           empty, closed        : end-of-stream, or rethrow the close's error
//   close(E?)                    : wake every waiter (getters: EOS/E; putters: MicroThreadExit)
//   close_reader()               : destroy what is stored, then as close
//   ~queue_state                 : every waiter gets a usage_error naming the queue
//
// Invariants (check_invariants):
//   * 0 <= count_ <= capacity_.
//   * getters_ non-empty => count_ == 0, putters_ empty, and open.
//     putters_ non-empty => count_ == capacity_, getters_ empty, and open.
//   * every record in getters_ / putters_ lives in the frame of a suspended
//     micro-thread whose wait is armed on it, and is in exactly one list;
//     a record in leaving_ was withdrawn (timeout, abort) and its micro-thread
//     has not yet resumed.
//   * once closed_, no value enters again; reader_closed_ => count_ == 0.
//   * a completed record (result != waiting) is in no list.
//
// Threading: the OS thread of the engine that first used it (a use from
// another engine, or after that engine ended, is a usage error).
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>

#include "../deadline.hpp"
#include "control_block.hpp"
#include "engine_binding.hpp"
#include "intrusive_list.hpp"

namespace mt::detail {

class queue_state;

// queue_waiter — a suspended put or get, in the waiter's frame.
struct queue_waiter {
    enum class outcome : std::uint8_t {
        waiting,
        done,    // put: its value went in (stored or handed over); get: a value was delivered
        closed,  // the queue closed under it: put raises MicroThreadExit; get sees end-of-stream
    };
    control_block* cb = nullptr;
    queue_state* q = nullptr;  // nullptr once the queue was destroyed under a withdrawn record
    list_hook<queue_waiter> hook;  // in q's getters_, putters_ or leaving_
    void* value = nullptr;     // put: the T to move from; get: the std::optional<T> to fill
    bool is_put = false;
    bool leaving = false;      // withdrawn; in q->leaving_ until its micro-thread resumes
    outcome result = outcome::waiting;

    queue_waiter() = default;
    queue_waiter(const queue_waiter&) = delete;
    queue_waiter& operator=(const queue_waiter&) = delete;
    // ~queue_waiter — a withdrawn record leaves its queue's leaving_ list.
    ~queue_waiter();
};

// throw_capacity_too_large — usage_error: a queue named `name` of
// `capacity` slots of `slot_size` bytes, more than any memory can hold.
[[noreturn]] void throw_capacity_too_large(std::size_t capacity, std::size_t slot_size, std::string_view name);

class queue_state {
public:
    // What a non-suspending attempt found.
    enum class attempt : std::uint8_t { done, would_block, closed };

    // queue_state — open and empty; `capacity` 0 makes an unbuffered queue
    // (a put waits for a getter, as Go's unbuffered channel does).
    queue_state(std::size_t capacity, std::string_view name);
    // ~queue_state — every micro-thread still waiting on the queue is woken
    // with a usage_error naming the queue (never a crash); a withdrawn
    // waiter that has not resumed yet forgets it. The typed layer has
    // already destroyed the stored values. Never suspends.
    virtual ~queue_state();
    queue_state(const queue_state&) = delete;
    queue_state& operator=(const queue_state&) = delete;

    // put — moves *value (a T) in: to the first waiting getter (which then
    // runs next), or into storage; suspends while full. *value is moved from
    // only if it went in: a put that raises or times out leaves it with the
    // caller. Throws MicroThreadExit when the queue is (or gets) closed;
    // timeout_error when `d` passes first; usage_error outside a
    // micro-thread, from another engine, or when the queue is destroyed
    // under it. Must run in a micro-thread.
    void put(void* value, const deadline& d);
    // get — fills *target (a std::optional<T>) with the next value and
    // returns true, or returns false at end-of-stream; suspends while empty
    // and open. Rethrows the error the queue was closed with once it is
    // empty. timeout_error when `d` passes first; MicroThreadExit on abort
    // (no value is lost: a value delivered before the abort is returned).
    bool get(void* target, const deadline& d);
    // try_put / try_get — never suspend. try_get: closed means end-of-stream,
    // or rethrows the queue's error. May run on the engine's root context.
    attempt try_put(void* value);
    attempt try_get(void* target);
    // close — the end of data, optionally with an error E: getters take what
    // is left, then see end-of-stream (or E); puts raise MicroThreadExit.
    // The first close wins. Never suspends.
    void close(std::exception_ptr error = nullptr) noexcept;
    // close_reader — no more values wanted: what is stored is destroyed,
    // puts raise MicroThreadExit, gets see end-of-stream (or an earlier E).
    void close_reader() noexcept;

    std::size_t size() const noexcept { return count_; }
    std::size_t capacity() const noexcept { return capacity_; }
    bool closed() const noexcept { return closed_; }
    const std::string& name() const noexcept { return name_; }
    // check_here — the engine check of an operation that never suspends.
    void check_here(const char* op) { binding_.check_here(op, "queue", name_); }
    // append_state — "queue 'jobs' (3 of 8)" (or "(unbuffered)").
    void append_state(std::string& out) const;

    void check_invariants() const noexcept;

    static const wait_kind get_kind, put_kind;

protected:
    // The order's storage, supplied by the typed layer. None may throw or
    // suspend; count_ is the number stored *before* the call (the base
    // adjusts it afterwards).
    // store — moves the T at `value` into storage (count_ < capacity_).
    virtual void store(void* value) noexcept = 0;
    // take — moves the next value out of storage into the std::optional<T>
    // at `target` (count_ > 0).
    virtual void take(void* target) noexcept = 0;
    // hand — moves the T at `value` into the std::optional<T> at `target`.
    virtual void hand(void* target, void* value) noexcept = 0;
    // discard — destroys every stored value (count_ of them).
    virtual void discard() noexcept = 0;

    std::size_t count_ = 0;        // values stored
    const std::size_t capacity_;   // slots; 0: unbuffered

private:
    friend struct queue_waiter;
    using waiter_list = intrusive_list<queue_waiter, &queue_waiter::hook>;

    void refill_from_putter() noexcept;
    static void complete(queue_waiter& w, queue_waiter::outcome result, bool run_next) noexcept;
    void wake_all_closed() noexcept;
    static void withdraw_waiter(void* obj, control_block& cb) noexcept;

    std::string name_;
    engine_binding binding_;  // the engine that first used it
    bool closed_ = false;
    bool reader_closed_ = false;
    std::exception_ptr error_;  // the close's error, rethrown by gets once empty
    waiter_list getters_;       // FIFO, while empty and open
    waiter_list putters_;       // FIFO, while full and open
    waiter_list leaving_;       // withdrawn records whose micro-threads have not resumed
};

}  // namespace mt::detail
