// notifier/detail/fd_table.hpp — per fd number: the micro-threads waiting
// for each direction, and the "drained" hint of reads.
//
// Invariants (the reactor keeps them with the backend):
//   * a node is in entry(fd).waiters[dir] iff it is the pending wait of a
//     micro-thread for that fd and direction (fd waits, and child waits on a
//     pidfd);
//   * the backend watches (fd, dir) whenever that list is not empty; a
//     watcher that fires with an empty list is stopped then (watchers stay
//     started between waits: no epoll_ctl per wait).
//
// Threading: the reactor's OS thread only.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "node_pool.hpp"

namespace mt::detail {

struct fd_entry {
    node_list waiters[2];  // [0] readable, [1] writable
    bool drained = false;  // the last read emptied it (reactor.hpp: take_drained)
};

class fd_table {
public:
    // entry — the entry of `fd` (>= 0), made on first use. Throws std::bad_alloc.
    fd_entry& entry(int fd);
    // find — the entry of `fd`, or nullptr when it has none.
    fd_entry* find(int fd) noexcept {
        const auto i = static_cast<std::size_t>(fd);
        return fd >= 0 && i < entries_.size() ? entries_[i].get() : nullptr;
    }

private:
    std::vector<std::unique_ptr<fd_entry>> entries_;  // by fd number
};

}  // namespace mt::detail
