// core/detail/group_census.cpp — see group_census.hpp.
#include "core/detail/group_census.hpp"

#include "core/detail/assert.hpp"
#include "core/detail/thread_census.hpp"

namespace mt::detail {

group_census::group_census(std::size_t engines)
    : size_(engines),
      quiet_(std::make_unique<std::atomic<bool>[]>(engines)),
      tids_(std::make_unique<std::atomic<pid_t>[]>(engines)),
      busy_(engines) {
    for (std::size_t i = 0; i < engines; ++i) {
        quiet_[i].store(false, std::memory_order_relaxed);
        tids_[i].store(0, std::memory_order_relaxed);
    }
}

void group_census::set_tid(std::size_t i, pid_t tid) noexcept { tids_[i].store(tid, std::memory_order_seq_cst); }

void group_census::notify() noexcept {
    { std::lock_guard<std::mutex> lock(mu_); }  // the watcher tests its condition under mu_: no lost wake-up
    cv_.notify_all();
}

void group_census::quiesce(std::size_t i) noexcept {
    if (quiet_[i].exchange(true, std::memory_order_seq_cst)) return;
    generation_.fetch_add(1, std::memory_order_seq_cst);
    const std::size_t was = busy_.fetch_sub(1, std::memory_order_seq_cst);
    MT_ASSERT(was > 0 && was <= size_, "an engine group's count of busy engines went below zero");
    if (was == 1) notify();
}

void group_census::wake(std::size_t i) noexcept {
    if (!quiet_[i].load(std::memory_order_seq_cst)) return;  // the common case: a post to a running engine
    if (!quiet_[i].exchange(false, std::memory_order_seq_cst)) return;
    const std::size_t was = busy_.fetch_add(1, std::memory_order_seq_cst);
    MT_ASSERT(was < size_, "an engine group counts more busy engines than it has");
    (void)was;
    generation_.fetch_add(1, std::memory_order_seq_cst);
}

void group_census::ended(std::size_t i) noexcept {
    // Counted before it is marked: a census that sees the mark sees the end
    // (when every engine has ended, the group is over, not deadlocked).
    // Its mailbox is closed: no post can unmark it again.
    ended_.fetch_add(1, std::memory_order_seq_cst);
    quiesce(i);
    notify();
}

bool group_census::all_ended() const noexcept { return ended_.load(std::memory_order_seq_cst) == size_; }

group_census::verdict group_census::check(pid_t runner) const {
    const std::uint64_t g = generation();
    const std::uint64_t a = activity();
    if (busy() != 0 || all_ended()) return verdict::active;
    std::vector<pid_t> known{runner};
    for (std::size_t i = 0; i < size_; ++i) known.push_back(tids_[i].load(std::memory_order_seq_cst));
    const bool only_known = only_known_threads(known);
    if (busy() != 0 || generation() != g || activity() != a) return verdict::active;
    return only_known ? verdict::deadlocked : verdict::unknown_thread;
}

void group_census::wait_for_change(std::chrono::milliseconds bound) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, bound, [&] { return all_ended(); });
}

void group_census::wait_for_change() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return all_ended() || busy() == 0; });
}

}  // namespace mt::detail
