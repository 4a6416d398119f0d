// notifier/detail/mailbox.hpp — where other OS threads drop wake-ups for one
// reactor (the thread-safe path of docs/design/notifier.md, "Other OS threads").
//
// A wake-up names a wait by (node, generation). It is shared by the reactor
// and every token handed out (remote_wakeup, submit_work), so a token fired
// after its engine (and reactor) ended finds the mailbox closed and does
// nothing.
//
// Invariants: pending, open and backend are guarded by mu; while open, the
// backend lives (the reactor closes the mailbox before destroying it), so a
// post can wake it.
#pragma once

#include <cstdint>
#include <exception>
#include <mutex>
#include <vector>

#include "ev_backend.hpp"

namespace mt::detail {

struct wait_node;

struct remote_fire_t {
    wait_node* n;
    std::uint64_t generation;
    void* value;
    std::exception_ptr error;
};

struct remote_mailbox {
    std::mutex mu;
    std::vector<remote_fire_t> pending;  // guarded by mu
    bool open = true;                    // guarded by mu
    ev_backend* backend = nullptr;       // guarded by mu

    // drain — moves what is pending into `batch` (the loop's thread).
    void drain(std::vector<remote_fire_t>& batch) {
        std::lock_guard<std::mutex> lock(mu);
        batch.swap(pending);
    }
    // close — no post is accepted from now on (the reactor is going away).
    void close() noexcept {
        std::lock_guard<std::mutex> lock(mu);
        open = false;
        backend = nullptr;
    }
};

}  // namespace mt::detail
