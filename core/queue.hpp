// core/queue.hpp — a queue of capacity N between micro-threads: FIFO, LIFO
// or by priority; closable like a pipe.
//
//   mt::queue<job> jobs(64, "jobs");
//   mt::spawn([&] { for (auto& j : work) jobs.put(std::move(j)); jobs.close(); });
//   for (job& j : jobs) run(j);                // ends at end-of-stream
//
//   mt::lifo_queue<int> stack(8, "undo");      // last in, first out
//   mt::priority_queue<task, by_urgency> pq(16, "tasks");   // greatest first
//
// The pipe's table (docs/reference/pipes.md) with N slots instead of one:
//
//   op      | room, open             | full, open                | closed          | closed with E
//   put(v)  | stores v, or hands it  | suspends until a get      | MicroThreadExit | MicroThreadExit
//           | to a waiting getter    | makes room                |                 |
//   get()   | takes the next value   | takes it; the first       | the rest, then  | the rest, then
//           | (suspends while empty) | waiting putter's goes in  | end-of-stream   | rethrows E
//
// Waiters are served first come, first served on both sides, whatever the
// order of the values. A value put while a getter waits goes straight into
// that getter's frame and the getter runs next (the pipe's handoff).
// Storage is allocated once, at construction (a ring for FIFO and LIFO, a
// binary heap for priority); put and get allocate nothing.
//
// Capacity 0 is an unbuffered (rendezvous) queue, like Go's unbuffered
// channel: a put waits until a getter takes its value (it returns once the
// value is in the getter's hands), a get takes its value straight from the
// first waiting putter.
//
// Every suspending operation takes an optional deadline (a duration from
// now, or a point in time, core/deadline.hpp) and throws timeout_error when
// it passes first; try_put / try_get never suspend.
//
// Abort safety: a value is in exactly one place — the putter's argument,
// the queue, or the getter's frame. An aborted or timed-out put leaves its
// value with the caller (moved from only if it went in); an aborted get
// never swallows a value (one delivered before the abort is returned; the
// abort lands at the next suspension). close_reader() destroys what is left.
//
// A queue is an object, not a handle: share it by reference, and keep it
// alive while micro-threads use it. Destroying it while micro-threads wait
// on it wakes each of them with a usage_error naming the queue. A use from
// another engine's OS thread, or after the engine that first used it ended,
// is a usage_error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "deadline.hpp"
#include "detail/get_iterator.hpp"
#include "detail/queue_state.hpp"
#include "errors.hpp"

namespace mt {

// The orders a queue can keep (its Order parameter).
// fifo_order — first in, first out (a ring buffer).
struct fifo_order {};
// lifo_order — last in, first out (a stack).
struct lifo_order {};
// priority_order — the greatest value by Compare first, as std::priority_queue
// (std::less: the largest first; std::greater: the smallest first); values
// that compare equal come out first in, first out. Compare must not throw:
// it runs while a value moves between micro-threads, where a throw ends the
// program.
template <class Compare = std::less<>>
struct priority_order {
    Compare compare{};
};

namespace detail {

// raw_slots — uninitialized storage for `n` values of E, allocated once. A
// count whose bytes overflow is a usage_error naming the queue (the size
// must not wrap into a small allocation the queue then writes past).
template <class E>
class raw_slots {
public:
    raw_slots(std::size_t n, std::string_view name) : p_(n ? allocate(n, name) : nullptr) {}
    ~raw_slots() {
        if (p_) ::operator delete(p_, std::align_val_t{alignof(E)});
    }
    raw_slots(const raw_slots&) = delete;
    raw_slots& operator=(const raw_slots&) = delete;
    E* operator+(std::size_t i) const noexcept { return p_ + i; }
    E& operator[](std::size_t i) const noexcept { return p_[i]; }

private:
    static E* allocate(std::size_t n, std::string_view name) {
        if (n > static_cast<std::size_t>(PTRDIFF_MAX) / sizeof(E)) throw_capacity_too_large(n, sizeof(E), name);
        return static_cast<E*>(::operator new(n * sizeof(E), std::align_val_t{alignof(E)}));
    }
    E* p_;
};

template <class T>
void emplace_into(void* target, T&& v) noexcept {
    static_cast<std::optional<T>*>(target)->emplace(std::move(v));
}

template <class T, class Order>
class queue_store;

// FIFO and LIFO: a ring of `capacity` slots; values live at
// [head_, head_ + count_) modulo capacity. LIFO takes from the back, so its
// head_ stays 0 (a stack).
template <class T, bool Lifo>
class ring_store : public queue_state {
public:
    ring_store(std::size_t capacity, std::string_view name) : queue_state(capacity, name), slots_(capacity, name) {}
    ~ring_store() override { discard(); }

protected:
    void store(void* value) noexcept override {
        ::new (slots_ + wrap(head_ + count_)) T(std::move(*static_cast<T*>(value)));
    }
    void take(void* target) noexcept override {
        T* v;
        if constexpr (Lifo) {
            v = slots_ + wrap(head_ + count_ - 1);
        } else {
            v = slots_ + head_;
            head_ = wrap(head_ + 1);
        }
        emplace_into<T>(target, std::move(*v));
        v->~T();
    }
    void hand(void* target, void* value) noexcept override { emplace_into<T>(target, std::move(*static_cast<T*>(value))); }
    void discard() noexcept override {
        for (std::size_t i = 0; i < count_; ++i) (slots_ + wrap(head_ + i))->~T();
        head_ = 0;
    }

private:
    std::size_t wrap(std::size_t i) const noexcept { return i >= capacity_ ? i - capacity_ : i; }
    raw_slots<T> slots_;
    std::size_t head_ = 0;  // the oldest value (FIFO); always 0 for LIFO
};

template <class T>
class queue_store<T, fifo_order> final : public ring_store<T, false> {
public:
    queue_store(std::size_t capacity, std::string_view name, fifo_order) : ring_store<T, false>(capacity, name) {}
};

template <class T>
class queue_store<T, lifo_order> final : public ring_store<T, true> {
public:
    queue_store(std::size_t capacity, std::string_view name, lifo_order) : ring_store<T, true>(capacity, name) {}
};

// By priority: a binary max-heap of (value, arrival number) in `capacity`
// slots; the arrival number breaks ties so that equal values come out in
// the order they went in. Sifting moves a hole, not the value: each level
// costs one move.
template <class T, class Compare>
class queue_store<T, priority_order<Compare>> final : public queue_state {
public:
    queue_store(std::size_t capacity, std::string_view name, priority_order<Compare> o)
        : queue_state(capacity, name), slots_(capacity, name), cmp_(std::move(o.compare)) {}
    ~queue_store() override { discard(); }

protected:
    void store(void* value) noexcept override {
        T& v = *static_cast<T*>(value);
        const std::uint64_t seq = next_seq_++;
        std::size_t hole = count_;
        while (hole > 0) {  // sift up: parents that rank below v move down into the hole
            const std::size_t parent = (hole - 1) / 2;
            if (!below(slots_[parent].value, slots_[parent].seq, v, seq)) break;
            move_slot(hole, parent);
            hole = parent;
        }
        ::new (slots_ + hole) entry{std::move(v), seq};
    }
    void take(void* target) noexcept override {
        emplace_into<T>(target, std::move(slots_[0].value));
        slots_[0].~entry();
        const std::size_t n = count_ - 1;  // the last entry, at n, fills the hole at the top
        if (n == 0) return;
        std::size_t hole = 0;
        for (;;) {  // sift down: the greater child rises while it ranks above the last entry
            std::size_t child = 2 * hole + 1;
            if (child >= n) break;
            if (child + 1 < n && below(slots_[child].value, slots_[child].seq, slots_[child + 1].value, slots_[child + 1].seq))
                ++child;
            if (!below(slots_[n].value, slots_[n].seq, slots_[child].value, slots_[child].seq)) break;
            move_slot(hole, child);
            hole = child;
        }
        move_slot(hole, n);
    }
    void hand(void* target, void* value) noexcept override { emplace_into<T>(target, std::move(*static_cast<T*>(value))); }
    void discard() noexcept override {
        for (std::size_t i = 0; i < count_; ++i) slots_[i].~entry();
    }

private:
    struct entry {
        T value;
        std::uint64_t seq;  // arrival number
    };
    // below — does (a, sa) come out after (b, sb)?
    bool below(const T& a, std::uint64_t sa, const T& b, std::uint64_t sb) const noexcept {
        if (cmp_(a, b)) return true;
        if (cmp_(b, a)) return false;
        return sa > sb;  // equal values: the later arrival comes out later
    }
    // move_slot — the entry at `from` moves into the empty slot `to`.
    void move_slot(std::size_t to, std::size_t from) noexcept {
        ::new (slots_ + to) entry{std::move(slots_[from].value), slots_[from].seq};
        slots_[from].~entry();
    }
    raw_slots<entry> slots_;
    [[no_unique_address]] Compare cmp_;
    std::uint64_t next_seq_ = 0;
};

}  // namespace detail

// basic_queue<T, Order> — see the top of this file. mt::queue, mt::lifo_queue
// and mt::priority_queue name its three orders.
template <class T, class Order = fifo_order>
class basic_queue {
    static_assert(std::is_nothrow_move_constructible_v<T>, "queue values must be nothrow-movable");
    static_assert(!std::is_reference_v<T> && std::is_same_v<T, std::remove_cv_t<T>>, "queue values are plain objects");

public:
    using value_type = T;

    // basic_queue — an open, empty queue of `capacity` slots (0: unbuffered),
    // allocated now; `name` shows in dumps, deadlock reports and errors.
    // Throws usage_error for a capacity whose bytes overflow, std::bad_alloc.
    explicit basic_queue(std::size_t capacity, std::string_view name = {}, Order order = {})
        : st_(capacity, name, std::move(order)) {}
    // ~basic_queue — destroys what is stored; micro-threads still waiting on
    // it are woken with a usage_error naming it.
    ~basic_queue() = default;
    basic_queue(const basic_queue&) = delete;
    basic_queue& operator=(const basic_queue&) = delete;

    // put — see the table: suspends while the queue is full. Moves from `v`
    // only if the value went in; a put that raises or times out leaves it
    // with the caller. Throws MicroThreadExit when the queue is (or gets)
    // closed — a producer whose consumers are gone ends silently, its
    // destructors run; timeout_error when `d` passes first; usage_error
    // outside a micro-thread or from another engine. Must run in a micro-thread.
    void put(T&& v, deadline d = {}) { st_.put(&v, d); }
    void put(const T& v, deadline d = {})
        requires std::is_copy_constructible_v<T>
    {
        T copy(v);
        st_.put(&copy, d);
    }

    // get — the next value, or an empty optional at end-of-stream. Suspends
    // while the queue is empty and open. Rethrows the exception the queue was
    // closed with (after what was left). Throws timeout_error when `d` passes
    // first, MicroThreadExit on abort; never loses a value.
    std::optional<T> get(deadline d = {}) {
        std::optional<T> out;
        st_.get(&out, d);
        return out;
    }

    // try_put — puts `v` (moving from it) if that can happen at once and
    // returns true; returns false, `v` untouched, when the queue is full.
    // Raises MicroThreadExit on a closed queue, as put does. Never suspends;
    // may also run on the engine's root context.
    bool try_put(T&& v) { return attempt_put(&v); }
    bool try_put(const T& v)
        requires std::is_copy_constructible_v<T>
    {
        T copy(v);
        return attempt_put(&copy);
    }

    // try_get — the next value if there is one now; an empty optional when
    // there is none (closed() then tells end-of-stream from "not yet").
    // Rethrows the queue's error once it is empty. Never suspends.
    std::optional<T> try_get() {
        st_.check_here("queue::try_get");
        std::optional<T> out;
        st_.try_get(&out);
        return out;
    }

    // close — the end of data (optionally with an error E that every get
    // rethrows once the queue is empty). Wakes every waiter at once; later
    // puts raise MicroThreadExit. Either side may call it; the first close wins.
    void close() {
        st_.check_here("queue::close");
        st_.close();
    }
    void close(std::exception_ptr error) {
        st_.check_here("queue::close");
        st_.close(std::move(error));
    }
    // close_reader — no more values wanted: what is stored is destroyed
    // (never delivered), puts raise MicroThreadExit in their micro-threads,
    // gets see end-of-stream (or the error of an earlier close).
    void close_reader() {
        st_.check_here("queue::close_reader");
        st_.close_reader();
    }

    std::size_t size() const noexcept { return st_.size(); }
    std::size_t capacity() const noexcept { return st_.capacity(); }
    bool empty() const noexcept { return st_.size() == 0; }
    // full — a put would wait (always true of an unbuffered queue).
    bool full() const noexcept { return st_.size() == st_.capacity(); }
    bool closed() const noexcept { return st_.closed(); }
    const std::string& name() const noexcept { return st_.name(); }
    // state — the untyped queue (check_invariants, tests).
    const detail::queue_state& state() const noexcept { return st_; }

    // range-for: takes values until end-of-stream.
    using iterator = detail::get_iterator<basic_queue, T>;
    iterator begin() { return iterator(this); }
    iterator end() { return iterator(); }

private:
    bool attempt_put(T* v) {
        st_.check_here("queue::try_put");
        switch (st_.try_put(v)) {
            case detail::queue_state::attempt::done: return true;
            case detail::queue_state::attempt::closed: throw closed_put("queue", st_.name());
            default: return false;
        }
    }

    detail::queue_store<T, Order> st_;
};

// queue<T> — first in, first out.
template <class T>
using queue = basic_queue<T, fifo_order>;
// lifo_queue<T> — last in, first out.
template <class T>
using lifo_queue = basic_queue<T, lifo_order>;
// priority_queue<T, Compare> — the greatest by Compare first (std::less: the
// largest; std::greater: the smallest); ties first in, first out.
template <class T, class Compare = std::less<T>>
using priority_queue = basic_queue<T, priority_order<Compare>>;

}  // namespace mt
