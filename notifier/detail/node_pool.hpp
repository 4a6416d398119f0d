// notifier/detail/node_pool.hpp — the records of the reactor's pending
// waits: one node per wait, taken from chunks that are never freed before
// the reactor, so a wait allocates nothing once warm.
//
// Invariants (check_invariants):
//   * a node is free (in free_, kind == free) or owned by exactly one pending
//     wait; counts_ counts the owned nodes by kind.
//
// Threading: the reactor's OS thread only.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "../../core/detail/intrusive_list.hpp"
#include "reactor.hpp"

namespace mt::detail {

struct control_block;

enum class node_kind : std::uint8_t { free, fd, signal, child };

struct wait_node {
    control_block* waiter = nullptr;  // while pending
    node_kind kind = node_kind::free;
    bool write = false;  // fd waits: the direction
    int fd = -1;         // fd waits; a child wait's pidfd
    int signo = 0;       // signal waits
    std::uint64_t generation = 0;  // moves on each give_back (wait_ticket)
    list_hook<wait_node> hook;  // the free list, or the list it waits in (an fd's, a signal's)
};

using node_list = intrusive_list<wait_node, &wait_node::hook>;

// wait_ticket — a reactor wait's object as the core sees it (wait_state::obj):
// its node, the node's generation when taken, and what the wait is for. It
// lives in the waiting call's frame for the whole wait, so what a timeout's
// message or the dump describes is this wait's even after its node went back
// to the pool (a timed-out wait's node is given back at the timeout, and the
// next wait may take it before the waiter resumes to raise). Cancelling
// through a ticket whose node was given back (its generation moved on) does
// nothing.
struct wait_ticket {
    wait_node* node = nullptr;
    std::uint64_t generation = 0;
    int fd = -1;  // fd waits; a child wait's pidfd
    bool write = false;
    int signo = 0;
    pid_t pid = 0;

    // current — the node still belongs to this wait.
    bool current() const noexcept { return node->kind != node_kind::free && node->generation == generation; }
};

class node_pool {
public:
    node_pool() = default;
    node_pool(const node_pool&) = delete;
    node_pool& operator=(const node_pool&) = delete;

    // take — a node for a new wait of `me`. Throws std::bad_alloc when a new
    // chunk cannot be allocated.
    wait_node* take(node_kind kind, control_block* me);
    // give_back — the node's wait ended (it must be unlinked from any list).
    // Returns false, doing nothing, when the node is already free.
    bool give_back(wait_node* n) noexcept;

    const reactor_counts& counts() const noexcept { return counts_; }
    void check_invariants() const noexcept;

private:
    std::size_t& count_of(node_kind k) noexcept;
    void grow();

    std::vector<std::unique_ptr<wait_node[]>> chunks_;
    node_list free_;
    reactor_counts counts_;
};

}  // namespace mt::detail
