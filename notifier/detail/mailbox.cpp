// notifier/detail/mailbox.cpp — posting a wake-up from any OS thread.
#include "notifier/detail/mailbox.hpp"

#include <utility>

#include "notifier/detail/reactor.hpp"

namespace mt::detail {

void mailbox_post(remote_mailbox& box, wait_node* n, std::uint64_t generation, void* value,
                  std::exception_ptr error) noexcept {
    std::lock_guard<std::mutex> lock(box.mu);
    if (!box.open) return;
    try {
        box.pending.push_back(remote_fire_t{n, generation, value, std::move(error)});
    } catch (...) {
        return;  // out of memory: the waiter keeps waiting (its abort and deadline still work)
    }
    box.backend->wake();  // under the lock: the backend cannot be gone
}

}  // namespace mt::detail
