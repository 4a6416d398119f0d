// core/engine_group.cpp — see engine_group.hpp.
#include "core/engine_group.hpp"

#include <pthread.h>
#include <sched.h>

#include <cmath>
#include <condition_variable>
#include <fstream>

#include "core/detail/assert.hpp"
#include "core/detail/group_census.hpp"
#include "core/detail/thread_census.hpp"

namespace mt {

namespace detail {

struct group_member {
    std::shared_ptr<mailbox> box;  // set when its engine is made (under the core's mutex)
    std::atomic<std::size_t> load{0};  // group micro-threads posted to it and not ended
    group_census* census = nullptr;  // the core's (set with the core, then read-only)
    std::size_t index = 0;
};

void group_quiesce(group_member& m) noexcept { m.census->quiesce(m.index); }
void group_wake(group_member& m) noexcept { m.census->wake(m.index); }

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
    std::unique_ptr<group_census> census;  // made with the core
    std::weak_ptr<remote_state_base> main_state;  // 'main', once posted (for Ctrl-C)
    bool interrupted = false;  // a Ctrl-C was passed on to 'main'

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
    // interrupt_main — Ctrl-C reached an engine's anchor (whichever engine's
    // notifier owns SIGINT): the first one is raised in 'main' on engine 0,
    // through its mailbox, as interrupted_error; a later one (or one that
    // finds no 'main' to tell: not started, or ended) fails the group. Any
    // thread, not holding mu.
    void interrupt_main(std::exception_ptr e) noexcept {
        std::shared_ptr<remote_state_base> m;
        std::shared_ptr<mailbox> box;
        {
            std::lock_guard<std::mutex> lock(mu);
            if (failure) return;
            if (!interrupted) {
                interrupted = true;
                m = main_state.lock();
                box = members[0].box;
            }
        }
        if (!m || !box) return fail(e);
        try {
            auto t = make_task([m, e, self = shared_from_this()](engine& en) noexcept {
                control_block* cb = nullptr;
                {
                    std::lock_guard<std::mutex> lock(m->mu);
                    cb = m->self;  // set and cleared on this thread only
                }
                if (cb) en.interrupt(*cb, e);
                else self->fail(e);
            });
            if (box->post_task(t)) return;
        } catch (...) {
        }
        fail(e);
    }
};

namespace {
constinit thread_local group_core* tls_group = nullptr;
constinit thread_local std::size_t tls_index = 0;

void describe_anchor(const void*, std::string& out) {
    out += "for its engine group to finish (the group's anchor: holds the engine open for work from other engines)";
}

void on_post(void* member) noexcept { group_wake(*static_cast<group_member*>(member)); }
}  // namespace

void set_main_state(group_core& core, const std::shared_ptr<remote_state_base>& st) {
    std::lock_guard<std::mutex> lock(core.mu);
    core.main_state = st;
}

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
    core_->census = std::make_unique<detail::group_census>(size_);
    for (std::size_t i = 0; i < size_; ++i) {
        core_->members[i].census = core_->census.get();
        core_->members[i].index = i;
    }
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
            core->census->set_tid(i, detail::this_tid());
            try {
                engine e(eopts);
                e.set_group(&core->members[i]);
                e.mailbox().set_post_hook(detail::on_post, &core->members[i]);  // before the mailbox is shared
                {
                    std::lock_guard<std::mutex> lock(core->mu);
                    core->members[i].box = e.shared_mailbox();
                    ++core->made;
                }
                core->started_cv.notify_all();
                // The anchor is the engine's main: Ctrl-C (delivered to whichever
                // engine's notifier owns SIGINT) interrupts it, and it passes
                // the interrupted_error on to the group's 'main' (engine 0).
                auto anchor = spawn(spawn_options{"group anchor"}, [c = core.get()] {
                    std::unique_lock<std::mutex> lock(c->mu);
                    while (!c->stopping) {
                        try {
                            detail::cross_wait(lock, c->anchors, {}, detail::describe_anchor, c, "the group's anchor",
                                              false);
                        } catch (const interrupted_error&) {
                            auto e = std::current_exception();
                            lock.unlock();
                            c->interrupt_main(e);
                            lock.lock();
                        }
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
            core->census->ended(i);  // its engine is gone: its mailbox is closed
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

// watch — the run() caller's part of the census (core/detail/group_census.hpp):
// it sleeps until every engine is quiescent, then asks for the verdict. An
// OS thread the group does not know keeps it from reporting; it asks again
// later (backing off up to half a second), since that thread may end.
void engine_group::watch() {
    using namespace std::chrono_literals;
    detail::group_census& c = *core_->census;
    const pid_t me = detail::this_tid();
    auto backoff = 1ms;
    while (!c.all_ended()) {
        {
            std::lock_guard<std::mutex> lock(core_->mu);
            if (core_->failure) return;  // the engines are ending
        }
        if (c.busy() != 0) {
            c.wait_for_change();
            backoff = 1ms;
            continue;
        }
        switch (c.check(me)) {
            case detail::group_census::verdict::deadlocked:
                report_deadlock();
                return;
            case detail::group_census::verdict::unknown_thread:
                c.wait_for_change(backoff);
                backoff = std::min<std::chrono::milliseconds>(backoff * 2, 500ms);
                break;
            case detail::group_census::verdict::active:
                c.wait_for_change(1ms);
                break;
        }
    }
}

// report_deadlock — every engine lists its waiting micro-threads (but its
// anchor) on its own thread; then the group fails with deadlock_error,
// which aborts them all. Run by the watcher once the census found the
// group deadlocked: nothing else can change it meanwhile.
void engine_group::report_deadlock() noexcept {
    struct gathered {
        std::mutex mu;
        std::condition_variable cv;
        std::vector<std::string> parts;
        std::size_t answered = 0;
        std::size_t waiting = 0;
    };
    std::string msg;
    try {
        auto g = std::make_shared<gathered>();
        g->parts.resize(size_);
        for (std::size_t i = 0; i < size_; ++i) {
            std::shared_ptr<detail::mailbox> box;
            {
                std::lock_guard<std::mutex> lock(core_->mu);
                box = core_->members[i].box;
            }
            auto t = detail::make_task([g, i](engine& e) noexcept {
                std::string part;
                std::size_t n = 0;
                try {
                    n = e.append_chains(part, "\n  engine " + std::to_string(i) + ": ", e.main());
                } catch (...) {
                }
                std::lock_guard<std::mutex> lock(g->mu);
                g->parts[i] = std::move(part);
                g->waiting += n;
                ++g->answered;
                g->cv.notify_all();
            });
            if (!box || !box->post_task(t)) {
                std::lock_guard<std::mutex> lock(g->mu);
                ++g->answered;
            }
        }
        std::unique_lock<std::mutex> lock(g->mu);
        g->cv.wait_for(lock, std::chrono::seconds(10), [&] { return g->answered == size_; });
        msg = g->waiting == 1 ? std::string("deadlock across the engine group: 1 micro-thread waits and nothing can wake it")
                              : "deadlock across the engine group: " + std::to_string(g->waiting) +
                                    " micro-threads wait and nothing can wake them";
        for (auto& part : g->parts) msg += part;
    } catch (...) {
        msg = "deadlock across the engine group: every engine waits and nothing can wake them";
    }
    core_->fail(std::make_exception_ptr(deadlock_error(msg)));
}

void engine_group::join_threads() {
    watch();
    for (auto& t : threads_) t.join();
    threads_.clear();
    std::lock_guard<std::mutex> lock(core_->mu);
    if (core_->failure) std::rethrow_exception(core_->failure);
}

}  // namespace mt
