// nonblocking_io/worker_pool.cpp — threads start when work is queued and none
// is idle, up to the bound; they live until the pool is destroyed.
// Invariant (under mu_): idle_ <= threads_.size() <= max_threads_.
#include "nonblocking_io/worker_pool.hpp"

#include "core/detail/control_block.hpp"
#include "core/detail/wait.hpp"
#include "core/engine.hpp"
#include "core/detail/remote_slots.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

namespace mt {

worker_pool::worker_pool(std::size_t threads) : max_threads_(threads ? threads : 1) { detail::add_park_source(*this); }

worker_pool::~worker_pool() {
    detail::remove_park_source(*this);
    std::vector<std::thread> ts;
    {
        std::lock_guard<std::mutex> lock(mu_);
        stopping_ = true;
        ts.swap(threads_);
    }
    cv_.notify_all();
    for (auto& t : ts) t.join();
}

void worker_pool::post(std::function<void()> job) {
    std::lock_guard<std::mutex> lock(mu_);
    detail::note_activity();  // an idle worker may run it: it is no longer parked
    queue_.push_back(std::move(job));
    if (idle_ == 0 && threads_.size() < max_threads_) threads_.emplace_back([this] { work(); });
    else cv_.notify_one();
}

std::size_t worker_pool::pending() const {
    std::lock_guard<std::mutex> lock(mu_);
    return queue_.size();
}

void worker_pool::append_parked(std::vector<pid_t>& out) const noexcept {
    std::lock_guard<std::mutex> lock(mu_);
    if (!queue_.empty()) return;  // a worker is about to take a job
    try {
        out.insert(out.end(), idle_tids_.begin(), idle_tids_.end());
    } catch (...) {  // out of memory: they count as unknown, and no census reports
    }
}

void worker_pool::work() {
    const pid_t tid = detail::this_tid();
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
        ++idle_;
        bool listed = true;
        try {
            idle_tids_.push_back(tid);
        } catch (...) {
            listed = false;
        }
        cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (listed) idle_tids_.erase(std::find(idle_tids_.begin(), idle_tids_.end(), tid));
        --idle_;
        if (queue_.empty()) return;  // stopping, and nothing left to run
        auto job = std::move(queue_.front());
        queue_.pop_front();
        lock.unlock();
        job();  // jobs catch their own exceptions (submit_work wraps them)
        lock.lock();
    }
}

namespace detail {

remote_wait remote_wait::begin(const char* op) {
    engine& e = engine::get(op);
    control_block& me = e.require_running(op);
    if (pending_raise(me)) raise_pending(me);
    remote_wait w{&me, nullptr, 0, 0};
    w.box = arm_remote(me, false, w.slot, w.generation);
    return w;
}

void remote_wait::post() const noexcept { box->post(slot, generation, nullptr, nullptr); }

void remote_wait::end(const deadline& d, const char* op) const { end_wait_or_throw(*me, d, op); }

void remote_wait::abandon() const noexcept { abandon_wait(*me); }

}  // namespace detail

worker_pool& worker_pool::shared() {
    static worker_pool pool(std::max<std::size_t>(4, 2 * std::thread::hardware_concurrency()));
    return pool;
}

std::string read_file(const std::string& path) {
    return submit_work([path] {
        const int f = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (f < 0) throw std::system_error(errno, std::generic_category(), "read_file(" + path + ")");
        std::string out;
        char buf[65536];  // a worker OS thread: its stack is the full 8 MiB
        for (;;) {
            const ssize_t n = ::read(f, buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) {
                const int err = errno;
                ::close(f);
                throw std::system_error(err, std::generic_category(), "read_file(" + path + ")");
            }
            if (n == 0) break;
            out.append(buf, static_cast<std::size_t>(n));
        }
        ::close(f);
        return out;
    });
}

void write_file(const std::string& path, const std::string& data) {
    submit_work([path, data] {  // copies: an aborted caller must not leave the job with dangling references
        const int f = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (f < 0) throw std::system_error(errno, std::generic_category(), "write_file(" + path + ")");
        std::size_t done = 0;
        while (done < data.size()) {
            const ssize_t n = ::write(f, data.data() + done, data.size() - done);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) {
                const int err = errno;
                ::close(f);
                throw std::system_error(err, std::generic_category(), "write_file(" + path + ")");
            }
            done += static_cast<std::size_t>(n);
        }
        ::close(f);
    });
}

}  // namespace mt
