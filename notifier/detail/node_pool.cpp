// notifier/detail/node_pool.cpp — see node_pool.hpp.
#include "notifier/detail/node_pool.hpp"

#include "core/detail/assert.hpp"

namespace mt::detail {
namespace {
constexpr std::size_t chunk_nodes = 64;
}

std::size_t& node_pool::count_of(node_kind k) noexcept {
    switch (k) {
        case node_kind::fd: return counts_.fd_waits;
        case node_kind::signal: return counts_.signal_waits;
        default: return counts_.child_waits;
    }
}

// grow — a chunk more of free nodes (out of line: take's common path
// saves no registers for it).
[[gnu::noinline]] void node_pool::grow() {
    auto chunk = std::make_unique<wait_node[]>(chunk_nodes);
    for (std::size_t i = 0; i < chunk_nodes; ++i) free_.push_back(chunk[i]);
    chunks_.push_back(std::move(chunk));
    counts_.pool_nodes += chunk_nodes;
}

wait_node* node_pool::take(node_kind kind, control_block* me) {
    if (free_.empty()) [[unlikely]]
        grow();
    wait_node* n = free_.pop_front();
    n->kind = kind;
    n->waiter = me;
    n->fd = -1;
    ++count_of(kind);
    return n;
}

bool node_pool::give_back(wait_node* n) noexcept {
    if (n->kind == node_kind::free) return false;
    MT_ASSERT(!n->hook.prev && !n->hook.next, "a node was given back while still linked in a wait list");
    --count_of(n->kind);
    n->kind = node_kind::free;
    n->waiter = nullptr;
    ++n->generation;  // a wait_ticket of the ended wait no longer matches it
    free_.push_front(*n);  // the next wait takes it while it is warm in the cache
    return true;
}

void node_pool::check_invariants() const noexcept {
#if MT_CHECKED
    free_.check_invariants();
    MT_ASSERT(free_.size() + counts_.active() == counts_.pool_nodes, "the node pool lost or duplicated a node");
    for (const wait_node* n = free_.front(); n; n = node_list::next(*n))
        MT_ASSERT(n->kind == node_kind::free, "a free node is owned by a wait");
#endif
}

}  // namespace mt::detail
