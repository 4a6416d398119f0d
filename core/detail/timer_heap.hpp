// core/detail/timer_heap.hpp — the deadlines of an engine's waits: a binary
// min-heap of waiting micro-threads ordered by their wait's due time.
//
// Each micro-thread is in it at most once (its wait has one deadline) and
// knows its index (wait_state::heap_index), so removing a wait that ended
// before its deadline is O(log n) and the next deadline is O(1): the engine
// asks for it before blocking, and a host loop asks for it through
// notifier_timeout_ms.
//
// Invariants (check_invariants):
//   * for every i > 0: due(items_[(i-1)/2]) <= due(items_[i]).
//   * items_[i]->w.heap_index == i for every i; a block not in the heap has
//     heap_index == no_heap_index.
//
// Allocation: the vector grows to the most deadlines ever pending at once and
// keeps its capacity, so a timed wait allocates nothing once warm (push may
// throw std::bad_alloc while it grows; callers push before linking anything).
//
// Threading: the engine's OS thread only.
#pragma once

#include <cstddef>
#include <vector>

#include "../deadline.hpp"

namespace mt::detail {

struct control_block;

class timer_heap {
public:
    using time_point = deadline::clock::time_point;

    bool empty() const noexcept { return items_.empty(); }
    std::size_t size() const noexcept { return items_.size(); }
    // next — the earliest due time; time_point::max() when empty.
    time_point next() const noexcept;
    control_block* top() const noexcept { return items_.empty() ? nullptr : items_.front(); }

    // reserve_one — makes room for one more push, so that push cannot throw.
    // Grows by doubling (reserve(size + 1) alone would reallocate, and copy
    // every pending deadline, on each push past the capacity).
    void reserve_one() {
        if (items_.size() == items_.capacity()) [[unlikely]]
            items_.reserve(items_.empty() ? 16 : 2 * items_.size());
    }
    // push — cb.w.due must be set; cb must not be in the heap. After reserve_one: noexcept.
    void push(control_block& cb) noexcept;
    // erase — takes cb out (it must be in the heap).
    void erase(control_block& cb) noexcept;

    void check_invariants() const noexcept;

private:
    void sift_up(std::size_t i) noexcept;
    void sift_down(std::size_t i) noexcept;
    void place(std::size_t i, control_block* cb) noexcept;

    std::vector<control_block*> items_;
};

}  // namespace mt::detail
