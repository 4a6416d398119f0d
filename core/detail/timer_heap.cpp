// core/detail/timer_heap.cpp — see timer_heap.hpp for the invariants.
#include "core/detail/timer_heap.hpp"

#include "core/detail/assert.hpp"
#include "core/detail/control_block.hpp"

namespace mt::detail {

namespace {
inline deadline::clock::time_point due(const control_block* cb) noexcept { return cb->w.due; }
}  // namespace

timer_heap::time_point timer_heap::next() const noexcept {
    return items_.empty() ? time_point::max() : due(items_.front());
}

inline void timer_heap::place(std::size_t i, control_block* cb) noexcept {
    items_[i] = cb;
    cb->w.heap_index = static_cast<std::uint32_t>(i);
}

void timer_heap::sift_up(std::size_t i) noexcept {
    control_block* cb = items_[i];
    while (i > 0) {
        const std::size_t parent = (i - 1) / 2;
        if (!(due(cb) < due(items_[parent]))) break;
        place(i, items_[parent]);
        i = parent;
    }
    place(i, cb);
}

void timer_heap::sift_down(std::size_t i) noexcept {
    control_block* cb = items_[i];
    const std::size_t n = items_.size();
    for (;;) {
        std::size_t child = 2 * i + 1;
        if (child >= n) break;
        if (child + 1 < n && due(items_[child + 1]) < due(items_[child])) ++child;
        if (!(due(items_[child]) < due(cb))) break;
        place(i, items_[child]);
        i = child;
    }
    place(i, cb);
}

void timer_heap::push(control_block& cb) noexcept {
    MT_ASSERT(cb.w.heap_index == no_heap_index, "a wait is in the timer heap twice");
    MT_ASSERT(items_.size() < items_.capacity(), "timer_heap::push without reserve_one");
    items_.push_back(&cb);
    sift_up(items_.size() - 1);
}

void timer_heap::erase(control_block& cb) noexcept {
    const std::size_t i = cb.w.heap_index;
    MT_ASSERT(i < items_.size() && items_[i] == &cb, "erasing a wait that is not in the timer heap");
    cb.w.heap_index = no_heap_index;
    control_block* last = items_.back();
    items_.pop_back();
    if (last == &cb) return;
    place(i, last);
    if (i > 0 && due(last) < due(items_[(i - 1) / 2])) sift_up(i);
    else sift_down(i);
}

void timer_heap::check_invariants() const noexcept {
#if MT_CHECKED
    for (std::size_t i = 0; i < items_.size(); ++i) {
        MT_ASSERT(items_[i]->w.heap_index == i, "a timer heap entry does not know its index");
        if (i > 0) MT_ASSERT(!(due(items_[i]) < due(items_[(i - 1) / 2])), "the timer heap is out of order");
    }
#endif
}

}  // namespace mt::detail
