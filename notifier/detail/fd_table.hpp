// notifier/detail/fd_table.hpp — per fd number: the micro-threads waiting
// for each direction, the "drained" hint of reads, and which managed file
// (managed_fds.hpp) the reactor's watchers of the number were started for.
//
// Invariants (the reactor keeps them with the backend; ev_reactor's
// check_invariants checks them):
//   * a node is in entry(fd).waiters[dir] iff it is the pending wait of a
//     micro-thread for that fd and direction (fd waits, and child waits on a
//     pidfd);
//   * the backend watches (fd, dir) whenever that list is not empty;
//   * a watcher started while its list is empty is a kept one: the read
//     direction of an fd whose entry has an identity (!= 0), i.e. an fd that
//     was managed when its watcher started and is closed only through
//     close_fd. Every other watcher stops with the last wait on it; a kept
//     watcher stops when it fires with nobody waiting, when close_fd closes
//     the fd, or at the next wait when the fd's identity changed.
//
// Threading: the reactor's OS thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "node_pool.hpp"

namespace mt::detail {

struct fd_entry {
    node_list waiters[2];  // [0] readable, [1] writable
    bool drained = false;  // the last read emptied it (reactor.hpp: take_drained)
    // identity — the managed identity (managed_fds.hpp) the watchers of this
    // number were started for, or 0 (unmanaged: no watcher is kept). Set by
    // a wait, cleared by forget_fd (close_fd).
    std::uint32_t identity = 0;
};

class fd_table {
public:
    // entry — the entry of `fd` (>= 0), made on first use. Throws std::bad_alloc.
    fd_entry& entry(int fd) {
        if (fd_entry* e = find(fd)) return *e;
        return make(fd);
    }
    // find — the entry of `fd`, or nullptr when it has none.
    fd_entry* find(int fd) const noexcept {
        const auto i = static_cast<std::size_t>(fd);
        return fd >= 0 && i < entries_.size() ? entries_[i].get() : nullptr;
    }

    // size — one past the highest fd number with an entry (entries below it
    // may be missing: find returns nullptr for them).
    int size() const noexcept { return static_cast<int>(entries_.size()); }

private:
    fd_entry& make(int fd);  // entry's first use of fd

    std::vector<std::unique_ptr<fd_entry>> entries_;  // by fd number
};

}  // namespace mt::detail
