// notifier/detail/fd_table.cpp — see fd_table.hpp.
#include "notifier/detail/fd_table.hpp"

namespace mt::detail {

fd_entry& fd_table::make(int fd) {
    const auto i = static_cast<std::size_t>(fd);
    if (i >= entries_.size()) entries_.resize(i + 1 > 2 * entries_.size() ? i + 1 : 2 * entries_.size());
    if (!entries_[i]) entries_[i] = std::make_unique<fd_entry>();
    return *entries_[i];
}

}  // namespace mt::detail
