// core/detail/intrusive_list.hpp — a doubly linked FIFO threaded through a
// hook member of its elements: no allocation, O(1) push, pop and unlink.
//
//   struct item { list_hook<item> hook; };
//   intrusive_list<item, &item::hook> q;
//   q.push_back(x);  q.remove(x);  item* first = q.pop_front();
//
// Invariants (check_invariants):
//   * head_ == nullptr <=> tail_ == nullptr.
//   * following next from head_ reaches tail_, and each element's prev is
//     the one before it; the count of elements is size_.
//   * an element is in at most one list per hook; an element in no list has
//     both links null (contains() relies on it).
//
// Not thread-safe: the owner's OS thread only.
#pragma once

#include <cstddef>

#include "assert.hpp"

namespace mt::detail {

template <class T>
struct list_hook {
    T* prev = nullptr;
    T* next = nullptr;
};

template <class T, list_hook<T> T::*Hook>
class intrusive_list {
public:
    intrusive_list() = default;
    intrusive_list(const intrusive_list&) = delete;
    intrusive_list& operator=(const intrusive_list&) = delete;

    bool empty() const noexcept { return head_ == nullptr; }
    std::size_t size() const noexcept { return size_; }
    T* front() const noexcept { return head_; }
    T* back() const noexcept { return tail_; }
    static T* next(const T& x) noexcept { return (x.*Hook).next; }
    static T* prev(const T& x) noexcept { return (x.*Hook).prev; }

    // contains — is x in this list? (x must be in this list or in none.)
    bool contains(const T& x) const noexcept { return (x.*Hook).prev != nullptr || head_ == &x; }

    void push_back(T& x) noexcept {
        MT_ASSERT(!(x.*Hook).prev && !(x.*Hook).next && head_ != &x, "an element is pushed into a list twice");
        (x.*Hook).prev = tail_;
        (x.*Hook).next = nullptr;
        (tail_ ? (tail_->*Hook).next : head_) = &x;
        tail_ = &x;
        ++size_;
    }

    void push_front(T& x) noexcept {
        MT_ASSERT(!(x.*Hook).prev && !(x.*Hook).next && head_ != &x, "an element is pushed into a list twice");
        (x.*Hook).prev = nullptr;
        (x.*Hook).next = head_;
        (head_ ? (head_->*Hook).prev : tail_) = &x;
        head_ = &x;
        ++size_;
    }

    // remove — unlinks x, which must be in this list.
    void remove(T& x) noexcept {
        MT_ASSERT(contains(x), "removing an element that is not in the list");
        list_hook<T>& h = x.*Hook;
        (h.prev ? (h.prev->*Hook).next : head_) = h.next;
        (h.next ? (h.next->*Hook).prev : tail_) = h.prev;
        h.prev = h.next = nullptr;
        --size_;
    }

    // remove_if_linked — unlinks x if it is in this list; returns whether it was.
    bool remove_if_linked(T& x) noexcept {
        if (!contains(x)) return false;
        remove(x);
        return true;
    }

    T* pop_front() noexcept {
        T* x = head_;
        if (x) remove(*x);
        return x;
    }

    void check_invariants() const noexcept {
#if MT_CHECKED
        MT_ASSERT((head_ == nullptr) == (tail_ == nullptr), "list head and tail disagree");
        std::size_t n = 0;
        const T* prev = nullptr;
        for (const T* x = head_; x; x = (x->*Hook).next) {
            MT_ASSERT((x->*Hook).prev == prev, "a list element's prev link is wrong");
            prev = x;
            ++n;
        }
        MT_ASSERT(prev == tail_, "a list's tail is not its last element");
        MT_ASSERT(n == size_, "a list's size is wrong");
#endif
    }

private:
    T* head_ = nullptr;
    T* tail_ = nullptr;
    std::size_t size_ = 0;
};

}  // namespace mt::detail
