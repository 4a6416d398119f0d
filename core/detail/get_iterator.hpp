// core/detail/get_iterator.hpp — the input iterator of range-for over a
// source whose get() returns std::optional<T>, empty at end-of-stream: a
// micro_pipe<T>, a queue<T>. Each value is taken once, by the ++ that
// reaches it; an iterator at end-of-stream compares equal to end().
//
// Who may call: the source's own engine's micro-threads (get() suspends;
// it throws what get() throws: a pipe's or queue's close error,
// MicroThreadExit, a timeout does not apply).
#pragma once

#include <cstddef>
#include <iterator>
#include <optional>

namespace mt::detail {

template <class Source, class T>
class get_iterator {
public:
    using iterator_category = std::input_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    get_iterator() = default;
    explicit get_iterator(Source* s) : s_(s) { ++*this; }
    T& operator*() { return *cur_; }
    get_iterator& operator++() {
        cur_ = s_->get();
        if (!cur_) s_ = nullptr;
        return *this;
    }
    void operator++(int) { ++*this; }
    bool operator==(const get_iterator& o) const { return s_ == o.s_; }

private:
    Source* s_ = nullptr;  // null at end-of-stream (and in end())
    std::optional<T> cur_;
};

}  // namespace mt::detail
