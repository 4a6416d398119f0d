// core/detail/mailbox.cpp — see mailbox.hpp.
#include "core/detail/mailbox.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <utility>

#include "core/detail/assert.hpp"
#include "core/notifier_interface.hpp"

namespace mt::detail {

namespace {

// cpu_relax — tells the core this is a spin-wait (x86 pause: the sibling
// hyper-thread gets the pipeline, and leaving the loop costs no memory-order
// mis-speculation).
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield" ::: "memory");
#endif
}

}  // namespace

static_assert(sizeof(std::atomic<sleep_state>) == 4 && std::atomic<sleep_state>::is_always_lock_free,
              "sleep_until waits on the state word with a futex");


mailbox::~mailbox() {
    for (remote_post& p : pending_) delete p.task;
}

// signal_locked — after a post (holding mu_, flag_ just set with seq_cst):
// signals an idle engine, once per drain. Returns true when the engine has
// no notifier and must be woken with futex_wake once mu_ is free. (The
// notifier is called under mu_: only there is it known to live.)
bool mailbox::signal_locked() noexcept {
    sleep_state s = state_.load(std::memory_order_seq_cst);
    if (s != sleep_state::idle) return false;  // awake or spinning: it looks itself; signaled: done already
    if (!state_.compare_exchange_strong(s, sleep_state::signaled, std::memory_order_seq_cst)) return false;  // it woke meanwhile
    ++signals_;
    if (!notifier_) return true;
    notifier_->wake();
    return false;
}

// futex_wake — wakes the engine's thread in sleep_until. Outside mu_: the
// mailbox itself lives, since every poster holds it (a shared_ptr) or pins
// its engine (a lock the waiter needs before its engine can end: remote_token).
void mailbox::futex_wake() noexcept {
    ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&state_), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

bool mailbox::post(std::uint32_t slot, std::uint32_t generation, void* value, std::exception_ptr error) noexcept {
    return enqueue(remote_post{slot, generation, value, std::move(error), nullptr});
}

bool mailbox::post_task(std::unique_ptr<remote_task>& t) noexcept {
    if (!enqueue(remote_post{0, 0, nullptr, nullptr, t.get()})) return false;
    t.release();  // the mailbox owns it now
    return true;
}

// enqueue — what both posts do: queue `p` (false when closed or out of
// memory), set the flag, tell the census, signal if the engine sleeps.
bool mailbox::enqueue(remote_post&& p) noexcept {
    std::unique_lock<std::mutex> lock(mu_);
    if (!open_) return false;
    try {
        pending_.push_back(std::move(p));
    } catch (...) {
        return false;
    }
    ++posts_;
    flag_.store(true, std::memory_order_seq_cst);  // the poster's half of the Dekker pair (mailbox.hpp)
    if (post_hook_) post_hook_(post_hook_ctx_);  // under the lock, after the message is queued (group_census.hpp)
    if (signal_locked()) {
        lock.unlock();
        futex_wake();
    }
    return true;
}

void mailbox::drain(std::vector<remote_post>& batch) noexcept {
    std::lock_guard<std::mutex> lock(mu_);
    MT_ASSERT(flag_.load(std::memory_order_relaxed) == !pending_.empty(), "the mailbox's flag disagrees with its queue");
    MT_ASSERT(open_ || pending_.empty(), "a closed mailbox holds posts");
    MT_ASSERT(batch.empty(), "a mailbox is drained into a batch that is not empty");
    batch.swap(pending_);
    flag_.store(false, std::memory_order_relaxed);
    sleep_state s = sleep_state::signaled;  // the signal is spent: the next post signals again
    state_.compare_exchange_strong(s, sleep_state::idle, std::memory_order_relaxed);
}

void mailbox::set_awake(bool awake) noexcept {
    state_.store(awake ? sleep_state::awake : sleep_state::idle, std::memory_order_seq_cst);
}

bool mailbox::spin_until_posted(std::chrono::nanoseconds spin) const noexcept {
    const auto until = std::chrono::steady_clock::now() + spin;
    for (;;) {
        for (int i = 0; i < 16; ++i) {
            if (flag_.load(std::memory_order_relaxed)) return true;
            cpu_relax();
        }
        if (std::chrono::steady_clock::now() >= until) return false;
    }
}

bool mailbox::begin_sleep(std::chrono::nanoseconds spin) noexcept {
    const sleep_state was = state_.load(std::memory_order_relaxed);
    MT_ASSERT(was != sleep_state::spinning, "an engine begins to sleep twice");
    if (was != sleep_state::awake) {
        // Out of its loop (a deadlock resolution under run_once): posts
        // signal already; only look.
        return !flag_.load(std::memory_order_seq_cst);
    }
    if (spin.count() > 0) {
        if (skip_ > 0) {
            --skip_;
        } else {
            state_.store(sleep_state::spinning, std::memory_order_relaxed);  // posts stop signalling
            ++spins_;
            if (spin_until_posted(spin)) {
                state_.store(sleep_state::awake, std::memory_order_relaxed);
                ++spin_hits_;
                misses_ = 0;
                return false;
            }
            if (misses_ < max_skip_shift) ++misses_;
            skip_ = (1u << misses_) - 1;  // 1, 3, 7, ... 63 sleeps without a spin
        }
    }
    state_.store(sleep_state::idle, std::memory_order_seq_cst);  // the engine's half of the Dekker pair
    if (flag_.load(std::memory_order_seq_cst)) {
        // Posted meanwhile: drain instead of blocking. The poster may have
        // signalled too (the notifier then returns at once from a later
        // poll: harmless).
        state_.store(sleep_state::awake, std::memory_order_relaxed);
        return false;
    }
    return true;
}

void mailbox::end_sleep(bool awake) noexcept {
    MT_ASSERT(state_.load(std::memory_order_relaxed) != sleep_state::spinning, "an engine ends a sleep it spins in");
    if (awake) state_.store(sleep_state::awake, std::memory_order_relaxed);  // the drain that follows takes mu_
}

void mailbox::sleep_until(deadline::clock::time_point until) noexcept {
    // The futex sleeps only while state_ is still idle: a post that came
    // after begin_sleep made it signaled (or flag_ true) and is not missed.
    for (;;) {
        if (flag_.load(std::memory_order_seq_cst) || state_.load(std::memory_order_seq_cst) != sleep_state::idle) return;
        timespec ts{};
        timespec* rel = nullptr;
        if (until != deadline::clock::time_point::max()) {
            const auto left = until - deadline::clock::now();
            if (left.count() <= 0) return;
            const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
            ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
            ts.tv_nsec = static_cast<long>(ns % 1'000'000'000);
            rel = &ts;
        }
        const long r = ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&state_), FUTEX_WAIT_PRIVATE,
                                 static_cast<std::uint32_t>(sleep_state::idle), rel, nullptr, 0);
        if (r != 0 && errno == ETIMEDOUT) return;
    }
}

std::uint64_t mailbox::posts() const noexcept {
    std::lock_guard<std::mutex> lock(mu_);
    return posts_;
}

std::uint64_t mailbox::signals() const noexcept {
    std::lock_guard<std::mutex> lock(mu_);
    return signals_;
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
