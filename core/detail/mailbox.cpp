// core/detail/mailbox.cpp — see mailbox.hpp.
#include "core/detail/mailbox.hpp"

#include <utility>

#include "core/notifier_interface.hpp"

namespace mt::detail {

mailbox::~mailbox() {
    for (remote_post& p : pending_) delete p.task;
}

void mailbox::signal_locked() noexcept {
    if (awake_ || signaled_) return;
    signaled_ = true;
    if (notifier_) notifier_->wake();
    else cv_.notify_one();
}

bool mailbox::post(std::uint32_t slot, std::uint32_t generation, void* value, std::exception_ptr error) noexcept {
    std::lock_guard<std::mutex> lock(mu_);
    if (!open_) return false;
    try {
        pending_.push_back(remote_post{slot, generation, value, std::move(error), nullptr});
    } catch (...) {
        return false;
    }
    flag_.store(true, std::memory_order_relaxed);
    signal_locked();
    if (post_hook_) post_hook_(post_hook_ctx_);
    return true;
}

bool mailbox::post_task(std::unique_ptr<remote_task>& t) noexcept {
    std::lock_guard<std::mutex> lock(mu_);
    if (!open_) return false;
    try {
        pending_.push_back(remote_post{0, 0, nullptr, nullptr, t.get()});
    } catch (...) {
        return false;
    }
    t.release();
    flag_.store(true, std::memory_order_relaxed);
    signal_locked();
    if (post_hook_) post_hook_(post_hook_ctx_);
    return true;
}

void mailbox::drain(std::vector<remote_post>& batch) noexcept {
    std::lock_guard<std::mutex> lock(mu_);
    batch.swap(pending_);
    flag_.store(false, std::memory_order_relaxed);
    signaled_ = false;
}

void mailbox::set_awake(bool awake) noexcept {
    std::lock_guard<std::mutex> lock(mu_);
    awake_ = awake;
    signaled_ = false;
}

bool mailbox::begin_sleep() noexcept {
    std::lock_guard<std::mutex> lock(mu_);
    if (!pending_.empty()) return false;
    awake_ = false;
    signaled_ = false;
    return true;
}

void mailbox::end_sleep(bool awake) noexcept {
    std::lock_guard<std::mutex> lock(mu_);
    awake_ = awake;
}

void mailbox::sleep_until(deadline::clock::time_point until) noexcept {
    std::unique_lock<std::mutex> lock(mu_);
    auto ready = [this] { return !pending_.empty() || !open_; };
    if (until == deadline::clock::time_point::max()) cv_.wait(lock, ready);
    else cv_.wait_until(lock, until, ready);
}

void mailbox::set_notifier(notifier_interface* n) noexcept {
    std::lock_guard<std::mutex> lock(mu_);
    notifier_ = n;
}

void mailbox::set_post_hook(void (*hook)(void* ctx) noexcept, void* ctx) noexcept {
    std::lock_guard<std::mutex> lock(mu_);
    post_hook_ = hook;
    post_hook_ctx_ = ctx;
}

bool mailbox::run_if_empty(void (*fn)(void* ctx) noexcept, void* ctx) noexcept {
    std::lock_guard<std::mutex> lock(mu_);
    if (!pending_.empty()) return false;
    fn(ctx);
    return true;
}

std::vector<remote_post> mailbox::close() noexcept {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = false;
    notifier_ = nullptr;
    flag_.store(false, std::memory_order_relaxed);
    std::vector<remote_post> left;
    left.swap(pending_);
    return left;
}

}  // namespace mt::detail
