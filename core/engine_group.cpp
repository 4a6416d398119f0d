// core/engine_group.cpp — see engine_group.hpp.
#include "core/engine_group.hpp"

#include <pthread.h>
#include <sched.h>

#include <cmath>
#include <condition_variable>
#include <fstream>

#include "core/detail/assert.hpp"

namespace mt {

namespace detail {

struct group_member {
    std::shared_ptr<mailbox> box;  // set when its engine is made (under the core's mutex)
    std::atomic<std::size_t> load{0};  // group micro-threads posted to it and not ended
};

struct group_core : std::enable_shared_from_this<group_core> {
    std::mutex mu;
    std::condition_variable started_cv;
    std::unique_ptr<group_member[]> members;
    std::size_t size = 0;
    std::size_t made = 0;          // engines made (or failed to be)
    std::size_t outstanding = 0;   // see the invariants
    bool stopping = false;
    std::exception_ptr failure;
    cross_list anchors;  // every engine's anchor waits here for stopping

    // stop_locked — no more work is accepted; the anchors let their engines end.
    void stop_locked() noexcept {
        stopping = true;
        wake_all(anchors);
    }
    // fail — the first failure is kept; every engine's micro-threads are aborted.
    void fail(std::exception_ptr e) noexcept {
        std::lock_guard<std::mutex> lock(mu);
        if (failure) return;
        failure = std::move(e);
        stop_locked();
        for (std::size_t i = 0; i < size; ++i) {
            if (!members[i].box) continue;
            auto t = make_task([](engine& en) noexcept { en.abort_all(); });
            members[i].box->post_task(t);  // an engine that ended needs no abort
        }
    }
};

namespace {
constinit thread_local group_core* tls_group = nullptr;
constinit thread_local std::size_t tls_index = 0;

void describe_anchor(const void*, std::string& out) {
    out += "for its engine group to finish (the group's anchor: holds the engine open for work from other engines)";
}
}  // namespace

group_task_count::group_task_count(std::shared_ptr<group_core> c, std::size_t i, const char* op) : index(i) {
    std::lock_guard<std::mutex> lock(c->mu);
    if (c->stopping)
        throw usage_error(std::string(op) + ": the engine group has stopped (its work ended or failed); nothing more can be started in it");
    ++c->outstanding;
    c->members[i].load.fetch_add(1, std::memory_order_relaxed);
    core = std::move(c);
}

group_task_count::~group_task_count() {
    if (!core) return;
    std::lock_guard<std::mutex> lock(core->mu);
    core->members[index].load.fetch_sub(1, std::memory_order_relaxed);
    if (--core->outstanding == 0) core->stop_locked();
}

remote_state_base::~remote_state_base() {
    if (error && !observed && !is_main && core) core->fail(error);  // a failure nobody joined
}

void remote_state_base::finish(std::exception_ptr e, bool was_aborted) noexcept {
    std::unique_lock<std::mutex> lock(mu);
    if (done) return;
    done = true;
    aborted = was_aborted;
    error = std::move(e);
    self = nullptr;
    wake_all(joiners);
    const bool fail_group = is_main && error && core;
    std::exception_ptr copy = error;
    lock.unlock();
    if (fail_group) core->fail(copy);
}

void remote_state_base::describe(const void* obj, std::string& out) {
    auto& s = *static_cast<const remote_state_base*>(obj);
    out += "to join micro-thread '" + s.name + "' on engine " + std::to_string(s.index);
}

void remote_state_base::join(const deadline& d, const char* op) {
    std::unique_lock<std::mutex> lock(mu);
    while (!done) cross_wait(lock, joiners, d, describe, this, op);
    observed = true;
    if (aborted)
        throw micro_thread_aborted("micro-thread '" + name + "' on engine " + std::to_string(index) + " was aborted");
    if (error) std::rethrow_exception(error);
}

void remote_state_base::request_abort() {
    std::shared_ptr<mailbox> box;
    {
        std::lock_guard<std::mutex> lock(mu);
        if (done || abort_requested) return;
        abort_requested = true;  // a body not yet started never runs
        std::lock_guard<std::mutex> glock(core->mu);
        box = core->members[index].box;
    }
    auto t = make_task([st = shared_from_this()](engine& e) noexcept {
        control_block* cb = nullptr;
        {
            std::lock_guard<std::mutex> lock(st->mu);
            cb = st->self;  // cleared when it ends: only this engine's thread ends it
        }
        if (cb) {
            try {
                e.abort(*cb);
            } catch (...) {
            }
        }
    });
    if (box) box->post_task(t);  // an engine that ended has ended the micro-thread too
}

void post_to(group_core& core, std::size_t index, std::unique_ptr<remote_task> task, const char* op) {
    std::shared_ptr<mailbox> box;
    {
        std::lock_guard<std::mutex> lock(core.mu);
        box = core.members[index].box;
    }
    if (!box || !box->post_task(task))
        throw usage_error(std::string(op) + ": engine " + std::to_string(index) + " of the group has ended");
}

std::shared_ptr<group_core> current_group(const char* op) {
    if (!tls_group) throw usage_error(std::string(op) + " called outside an engine group (see engine_group::run)");
    return tls_group->shared_from_this();
}

std::size_t group_size(const group_core& core) noexcept { return core.size; }

std::size_t least_loaded(const group_core& core) noexcept {
    std::size_t best = 0, best_load = SIZE_MAX;
    for (std::size_t i = 0; i < core.size; ++i) {
        const std::size_t l = core.members[i].load.load(std::memory_order_relaxed);
        if (l < best_load) {
            best = i;
            best_load = l;
        }
    }
    return best;
}

void check_index(const group_core& core, std::size_t index, const char* op) {
    if (index >= core.size)
        throw usage_error(std::string(op) + ": engine " + std::to_string(index) + " does not exist (the group has " +
                          std::to_string(core.size) + ")");
}

}  // namespace detail

std::size_t group_engines() { return detail::group_size(*detail::current_group("group_engines")); }

std::size_t this_engine_index() {
    (void)detail::current_group("this_engine_index");
    return detail::tls_index;
}

std::size_t default_engine_count() {
    std::size_t n = std::thread::hardware_concurrency();
    cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(0, sizeof set, &set) == 0) n = static_cast<std::size_t>(CPU_COUNT(&set));
    double quota = -1, period = -1;
    {
        std::ifstream f("/sys/fs/cgroup/cpu.max");  // cgroup v2: "max 100000" or "200000 100000"
        std::string q;
        if (f >> q >> period && q != "max") quota = std::stod(q);
    }
    if (quota <= 0) {
        std::ifstream fq("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), fp("/sys/fs/cgroup/cpu/cpu.cfs_period_us");
        if (!(fq >> quota && fp >> period)) quota = -1;
    }
    if (quota > 0 && period > 0) {
        const auto q = static_cast<std::size_t>(std::ceil(quota / period));
        if (q < n) n = q;
    }
    return n == 0 ? 1 : n;
}

engine_group::engine_group(group_options opts) : opts_(opts) {
    size_ = opts.threads ? *opts.threads : default_engine_count();
    if (size_ == 0 || size_ > max_group_engines)
        throw usage_error("an engine group of " + std::to_string(size_) + " engines was asked for; it takes 1 to " +
                          std::to_string(max_group_engines));
    core_ = std::make_shared<detail::group_core>();
    core_->size = size_;
    core_->members = std::make_unique<detail::group_member[]>(size_);
}

engine_group::~engine_group() {
    for (auto& t : threads_)
        if (t.joinable()) t.join();
}

void engine_group::start(const std::function<void(const std::shared_ptr<detail::group_core>&)>& spawn_main) {
    if (engine::current()) throw usage_error("engine_group::run called on an OS thread that runs an engine (it blocks its OS thread)");
    if (ran_) throw usage_error("engine_group::run called twice on one group");
    ran_ = true;
    auto core = core_;
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    std::vector<int> cpus;
    if (opts_.pin && ::sched_getaffinity(0, sizeof allowed, &allowed) == 0)
        for (int c = 0; c < CPU_SETSIZE; ++c)
            if (CPU_ISSET(c, &allowed)) cpus.push_back(c);
    for (std::size_t i = 0; i < size_; ++i) {
        int cpu = cpus.empty() ? -1 : cpus[i % cpus.size()];
        threads_.emplace_back([core, i, cpu, eopts = opts_.engine] {
            if (cpu >= 0) {
                cpu_set_t one;
                CPU_ZERO(&one);
                CPU_SET(cpu, &one);
                ::pthread_setaffinity_np(::pthread_self(), sizeof one, &one);
            }
            detail::tls_group = core.get();
            detail::tls_index = i;
            try {
                engine e(eopts);
                {
                    std::lock_guard<std::mutex> lock(core->mu);
                    core->members[i].box = e.shared_mailbox();
                    ++core->made;
                }
                core->started_cv.notify_all();
                // The anchor is the engine's main: Ctrl-C (delivered to whichever
                // engine's notifier owns SIGINT) interrupts it, and its
                // interrupted_error fails the group, aborting every engine.
                auto anchor = spawn(spawn_options{"group anchor"}, [c = core.get()] {
                    try {
                        std::unique_lock<std::mutex> lock(c->mu);
                        while (!c->stopping)
                            detail::cross_wait(lock, c->anchors, {}, detail::describe_anchor, c, "the group's anchor",
                                              false);
                    } catch (const interrupted_error&) {
                        c->fail(std::current_exception());
                    }
                });
                e.set_main(anchor.get_deferred().owner());
                anchor = {};
                e.loop();
            } catch (...) {
                bool counted;
                {
                    std::lock_guard<std::mutex> lock(core->mu);
                    counted = core->members[i].box != nullptr;
                    if (!counted) ++core->made;
                }
                core->started_cv.notify_all();
                core->fail(std::current_exception());
            }
            detail::tls_group = nullptr;
        });
    }
    {
        std::unique_lock<std::mutex> lock(core->mu);
        core->started_cv.wait(lock, [&] { return core->made == size_; });
        if (core->failure) return;
    }
    try {
        spawn_main(core);
    } catch (...) {
        core->fail(std::current_exception());
    }
}

void engine_group::join_threads() {
    for (auto& t : threads_) t.join();
    threads_.clear();
    std::lock_guard<std::mutex> lock(core_->mu);
    if (core_->failure) std::rethrow_exception(core_->failure);
}

}  // namespace mt
