// core/barrier.hpp — a reusable barrier for a fixed number of micro-threads
// (std::barrier's arrive_and_wait, Python's threading.Barrier on breaking).
//
//   mt::barrier phase(5, "phase");
//   ... each of 5 workers, in a loop:
//   compute_step();
//   if (phase.arrive_and_wait() == 0) log_step();   // one of them logs
//
// The n-th arrival releases the generation: every micro-thread waiting is
// woken, arrive_and_wait returns each its arrival index (0 for the first to
// arrive, n-1 for the one that released it, which does not suspend), and the
// barrier starts the next generation empty.
//
// Breaking: if a waiter times out or is aborted, the barrier *breaks*: every
// other waiter gets broken_barrier_error naming the barrier, who broke it and
// how ("#4 'w' timed out while 2 of 5 had arrived"), and so does every later
// arrival until reset(). The waiter that timed out gets timeout_error, the
// aborted one its MicroThreadExit. (Withdrawing only the one arrival instead
// would leave the others waiting for a party that is gone; see
// docs/design/sync.md.) reset() breaks the barrier for those waiting, then
// makes it usable again, empty. A waiter whose generation was released
// returns normally, even if it is aborted before it runs again (the abort is
// raised at its next suspension point).
//
// States:
//   filling (0 <= arrived < parties) --n-th arrival--> filling, next generation
//   filling --a waiter withdrawn, or reset()--> broken (waiters raise), or
//                                               filling after reset()
//   broken --reset()--> filling;  broken --arrive_and_wait--> raises
// Invariants (check_invariants):
//   * 0 <= arrived() < parties(); exactly arrived() micro-threads wait, in
//     arrival order, the k-th with arrival index k.
//   * broken => nobody waits and arrived() == 0.
//   * every waiter record is in the frame of a micro-thread whose wait is
//     armed on it (core/detail/sync_object.hpp).
//
// Threading: the OS thread of the engine that first used it; a use from
// another engine, or after that engine ended, is a usage error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/deadline.hpp"
#include "core/detail/sync_object.hpp"

namespace mt {

class barrier : private detail::sync_object {
public:
    // barrier — for `parties` micro-threads (fewer than 1: usage_error).
    explicit barrier(std::ptrdiff_t parties, std::string_view name = {});
    // ~barrier — micro-threads still waiting get usage_error naming them and
    // the barrier. Never throws.
    ~barrier();

    // arrive_and_wait — arrives, and unless it is the last of its
    // generation suspends the running micro-thread until the generation is
    // released. Returns the arrival index (0 .. parties()-1). Throws
    // broken_barrier_error when the barrier is or becomes broken,
    // timeout_error when `d` passes first (the barrier breaks),
    // MicroThreadExit on abort (the barrier breaks), usage_error outside a
    // micro-thread, for a negative timeout or from another engine.
    std::size_t arrive_and_wait(deadline d = {});

    // reset — the micro-threads waiting get broken_barrier_error ("was reset
    // by ..."); then the barrier is empty and usable again, broken or not.
    // Never suspends; may be called on the engine's root.
    void reset();

    bool broken() const noexcept { return broken_; }
    std::size_t parties() const noexcept { return static_cast<std::size_t>(parties_); }
    // arrived — arrivals waiting in the current generation.
    std::size_t arrived() const noexcept { return static_cast<std::size_t>(arrived_); }
    // generation — how many generations were released so far.
    std::uint64_t generation() const noexcept { return generation_; }
    using sync_object::name;

    void check_invariants() const noexcept;

private:
    template <class P>
    friend void detail::describe_record(const void*, std::string&);
    static const detail::wait_kind arrival_wait;

    void format_wait(const detail::sync_waiter& w, char* buf, std::size_t size) const noexcept;
    static void cancel(void* obj, detail::control_block& waiter);
    void break_all() noexcept;
    [[noreturn]] void throw_broken(const detail::control_block& me, const char* op, const char* why) const;

    std::ptrdiff_t parties_;        // >= 1
    std::ptrdiff_t arrived_ = 0;    // waiting in this generation
    std::uint64_t generation_ = 0;  // released so far
    bool broken_ = false;
    char broken_note_[detail::sync_note_size] = {};  // why it broke, while broken_
    detail::sync_queue waiters_;    // arrival order
};

}  // namespace mt
