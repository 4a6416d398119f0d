// notifier/ev_reactor.cpp — the reactor on libev. The only file of the
// project that includes <ev.h>.
//
// Invariants:
//   * a wait_node is either free (on free_) or owned by exactly one pending
//     wait, and then its watchers are started; firing or cancelling a wait
//     stops every watcher of its node and frees the node in the same step.
//   * an fd wait's node is linked in its fd_entry's list for its direction;
//     an fd_entry's watcher is started whenever its list is not empty.
//   * counts_ counts the pending waits by kind; can_fire() is true iff one is
//     pending, and only then does the engine block in ev_run.
//   * a node's generation changes every time it is freed, so a wake-up from
//     another OS thread for a wait that ended (fired, cancelled) is dropped.
//   * the reactor owns the signals it watches process-wide (signal_owner);
//     a signal is watched by at most one reactor, as libev requires.
//
// The loop: the engine calls poll(true) (ev_run EVRUN_ONCE) on the root when
// nothing is runnable, and a running micro-thread calls poll(false)
// (EVRUN_NOWAIT) every 64 yields or suspensions, so I/O and timers are not
// starved by busy micro-threads. libev callbacks only fire deferreds (making
// micro-threads runnable); they never switch and never throw.
#include <ev.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <vector>

#include "core/detail/control_block.hpp"
#include "core/detail/overflow.hpp"
#include "core/errors.hpp"
#include "notifier/detail/reactor.hpp"

namespace mt::detail {

class ev_reactor;

struct remote_fire_t {
    wait_node* n;
    std::uint64_t generation;
    void* value;
    std::exception_ptr error;
};

// remote_mailbox — see reactor.hpp. `open` is cleared under the mutex when
// the reactor is destroyed; posting then does nothing.
struct remote_mailbox {
    std::mutex mu;
    std::vector<remote_fire_t> pending;  // guarded by mu
    bool open = true;                    // guarded by mu
    struct ev_loop* loop = nullptr;
    ev_async* async = nullptr;
};

void mailbox_post(remote_mailbox& box, wait_node* n, std::uint64_t generation, void* value,
                  std::exception_ptr error) noexcept {
    std::lock_guard<std::mutex> lock(box.mu);
    if (!box.open) return;
    try {
        box.pending.push_back(remote_fire_t{n, generation, value, std::move(error)});
    } catch (...) {
        return;  // out of memory: the waiter keeps waiting (its abort still works)
    }
    ev_async_send(box.loop, box.async);  // under the lock: the loop cannot be gone
}

enum class node_kind : std::uint8_t { free, fd, sleep, signal, child, remote, callback };

struct wait_node {
    ev_timer timer;
    ev_signal sig;
    ev_reactor* owner = nullptr;
    control_block* waiter = nullptr;  // while pending
    node_kind kind = node_kind::free;
    bool write = false;
    int fd = -1;
    int signo = 0;
    pid_t pid = 0;
    void (*fn)(void*) noexcept = nullptr;  // callback timers
    void* arg = nullptr;
    std::uint64_t generation = 0;
    wait_node* next = nullptr;  // free list, or the list it waits in (an fd's, the children)
    wait_node* prev = nullptr;
};

// fd_entry — the watchers of one fd number. A watcher, once started for a
// direction, stays started between waits (no epoll_ctl per wait: the
// steady state of a connection costs one epoll_wait per event, as a hand-
// written libev loop does); an event that finds no waiter stops it. close_fd
// stops both before the fd is closed.
struct fd_entry {
    ev_io io[2];                     // [0] readable, [1] writable; data = this
    wait_node* waiters[2] = {};      // micro-threads waiting, each direction
    ev_reactor* owner = nullptr;
    bool drained = false;            // the last read emptied it (see reactor.hpp)
    int fd = -1;
};

namespace {

constexpr std::size_t chunk_nodes = 64;
std::array<std::atomic<ev_reactor*>, NSIG> signal_owner{};

// Deferred values for the waits: 0 = timed out, odd = ready (+ a payload).
void* ready_value(std::uint32_t payload = 0) {
    return reinterpret_cast<void*>((static_cast<std::uintptr_t>(payload) << 1) | 1);
}

}  // namespace

class ev_reactor final : public reactor {
public:
    explicit ev_reactor(engine& e);
    ~ev_reactor() override;

    bool can_fire() const noexcept override { return counts_.active() > 0; }
    void poll(bool block) override;

    wait_result wait_fd(control_block& me, int fd, bool write, double timeout) override;
    void sleep(control_block& me, double seconds) override;
    wait_result wait_signal(control_block& me, int signo, double timeout) override;
    wait_result wait_child(control_block& me, pid_t pid, int& status, double timeout) override;
    wait_node* arm_remote(control_block& me, std::uint64_t& generation,
                          std::shared_ptr<remote_mailbox>& box) override;
    wait_node* start_timer(double seconds, void (*fn)(void*) noexcept, void* arg) override;
    void stop_timer(wait_node* n) noexcept override { give_back(n); }
    int host_fd() override {
        if (epoll_fd_ < 0) throw usage_error("the reactor's backend has no fd a host could poll (not epoll)");
        return epoll_fd_;
    }
    double host_timeout() override;
    void set_block_hooks(block_hook before, block_hook after, void* user) noexcept override {
        before_ = before;
        after_ = after;
        hook_user_ = user;
    }
    reactor_counts counts() const noexcept override { return counts_; }
    std::size_t forget_fd(int fd) noexcept override;
    bool take_drained(int fd) noexcept override {
        const auto i = static_cast<std::size_t>(fd);
        if (fd < 0 || i >= fds_.size() || !fds_[i] || !fds_[i]->drained) return false;
        fds_[i]->drained = false;
        return true;
    }
    void set_drained(int fd) noexcept override {
        try {
            if (fd >= 0) entry(fd).drained = true;
        } catch (...) {  // out of memory: the hint is only an optimisation
        }
    }
    fd_entry& entry(int fd);
    std::size_t fail_waiters(fd_entry& e, int dir, const char* why) noexcept;

    struct ev_loop* loop() const noexcept { return loop_; }

private:

    wait_node* take(node_kind kind, control_block* me);
    void give_back(wait_node* n) noexcept;
    void stop_watchers(wait_node* n) noexcept;
    std::size_t& count_of(node_kind k) noexcept;
    void start_timeout(wait_node* n, double timeout) noexcept;
    wait_node* begin_wait(node_kind kind, const wait_kind& wk, control_block& me);
    static void fire(wait_node* n, void* value) noexcept;
    static void fire_error(wait_node* n, std::exception_ptr e) noexcept;
    void claim_signal(int signo, const control_block& me);
    void reap_children() noexcept;
    void deliver_sigint() noexcept;

    static void on_io(struct ev_loop*, ev_io* w, int revents) noexcept;
    static void on_timer(struct ev_loop*, ev_timer* w, int) noexcept;
    static void on_signal(struct ev_loop*, ev_signal* w, int) noexcept;
    static void on_sigchld(struct ev_loop*, ev_signal* w, int) noexcept;
    static void on_sigint(struct ev_loop*, ev_signal* w, int) noexcept;
    static void on_async(struct ev_loop*, ev_async* w, int) noexcept;
    static void on_release(struct ev_loop* l) noexcept;
    static void on_acquire(struct ev_loop* l) noexcept;

    static const wait_kind fd_kind, sleep_kind, signal_kind, child_kind, remote_kind;
    friend void cancel_wait(void* obj, control_block&);

    engine& eng_;
    struct ev_loop* loop_;
    std::vector<std::unique_ptr<wait_node[]>> chunks_;
    std::vector<std::unique_ptr<fd_entry>> fds_;  // by fd number, made on first wait
    wait_node* free_ = nullptr;
    reactor_counts counts_;

    ev_async async_;
    std::shared_ptr<remote_mailbox> mailbox_;
    std::vector<remote_fire_t> remote_batch_;  // loop thread only

    ev_signal sigint_;
    bool own_sigint_ = false;
    bool sigint_pending_ = false;
    struct sigaction prev_sigint_ {};

    ev_signal sigchld_;
    wait_node* children_ = nullptr;  // pending child waits

    bool own_sigpipe_ = false;  // we set SIGPIPE to SIG_IGN and restore it at the end
    struct sigaction prev_sigpipe_ {};

    // A signal this reactor has watched stays caught until it is destroyed
    // (then its old disposition comes back): one that arrives while nobody
    // waits is dropped instead of killing the process, as it would once libev
    // stopped its last watcher and reset it to SIG_DFL.
    struct kept_signal {
        ev_signal keeper;
        struct sigaction previous;
        bool active = false;
    };
    std::array<kept_signal, NSIG> kept_{};

    int epoll_fd_ = -1;  // libev's epoll fd, for hosts that poll it (see find_epoll_fd)

    block_hook before_ = nullptr;
    block_hook after_ = nullptr;
    void* hook_user_ = nullptr;
};

// ---- what the dump and the deadlock report say about each wait ------------------

namespace {

void append_seconds(std::string& out, double s) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "%.3f s", s < 0 ? 0.0 : s);
    out += buf;
}

void append_timeout(std::string& out, const wait_node* n) {
    if (!ev_is_active(&n->timer)) return;
    out += " (timeout in ";
    append_seconds(out, ev_timer_remaining(n->owner->loop(), const_cast<ev_timer*>(&n->timer)));
    out += ')';
}

control_block* no_blocker(const void*) { return nullptr; }

}  // namespace

// cancel_wait — every reactor wait is cancelled the same way: its node's
// watchers stop and the node goes back to the pool.
void cancel_wait(void* obj, control_block&) {
    auto* n = static_cast<wait_node*>(obj);
    n->owner->give_back(n);
}

namespace {

}  // namespace

const wait_kind ev_reactor::fd_kind{
    "fd",
    [](const void* obj, std::string& out) {
        const auto* n = static_cast<const wait_node*>(obj);
        out += "for fd " + std::to_string(n->fd) + (n->write ? " to become writable" : " to become readable");
        append_timeout(out, n);
    },
    no_blocker,
    cancel_wait,
    true,
};

const wait_kind ev_reactor::sleep_kind{
    "timer",
    [](const void* obj, std::string& out) {
        const auto* n = static_cast<const wait_node*>(obj);
        out += "in sleep_d, ";
        append_seconds(out, ev_timer_remaining(n->owner->loop(), const_cast<ev_timer*>(&n->timer)));
        out += " left";
    },
    no_blocker,
    cancel_wait,
    true,
};

const wait_kind ev_reactor::signal_kind{
    "signal",
    [](const void* obj, std::string& out) {
        const auto* n = static_cast<const wait_node*>(obj);
        out += "for signal " + std::to_string(n->signo) + " (" + ::strsignal(n->signo) + ")";
        append_timeout(out, n);
    },
    no_blocker,
    cancel_wait,
    true,
};

const wait_kind ev_reactor::child_kind{
    "child",
    [](const void* obj, std::string& out) {
        const auto* n = static_cast<const wait_node*>(obj);
        out += "for child process " + std::to_string(n->pid) + " to exit";
        append_timeout(out, n);
    },
    no_blocker,
    cancel_wait,
    true,
};

const wait_kind ev_reactor::remote_kind{
    "remote",
    [](const void*, std::string& out) { out += "for a wake-up from another OS thread"; },
    no_blocker,
    cancel_wait,
    true,
};

// ---- life ------------------------------------------------------------------------

// open_fds / find_epoll_fd — libev does not publish its backend fd, so the
// reactor notes the fds open before and after making its loop and keeps the
// new one that is an epoll instance. libev's signal and async wake-ups go
// through an eventfd registered in that epoll set, so the fd becomes readable
// for every kind of event.
static std::vector<int> open_fds() {
    std::vector<int> fds;
    if (DIR* d = ::opendir("/proc/self/fd")) {
        const int own = ::dirfd(d);  // the listing's own fd is not "open before"
        while (dirent* ent = ::readdir(d))
            if (ent->d_name[0] != '.' && std::atoi(ent->d_name) != own) fds.push_back(std::atoi(ent->d_name));
        ::closedir(d);
    }
    return fds;
}

static int find_epoll_fd(const std::vector<int>& before) {
    for (int fd : open_fds()) {
        bool old = false;
        for (int b : before) old = old || b == fd;
        if (old) continue;
        char link[64] = {};
        const std::string path = "/proc/self/fd/" + std::to_string(fd);
        if (::readlink(path.c_str(), link, sizeof link - 1) > 0 && std::strstr(link, "eventpoll")) return fd;
    }
    return -1;
}

const char reactor::kind_tag = 0;

reactor& reactor::of(engine& e) {
    if (reactor* r = find(e)) return *r;
    if (e.notifier()) throw usage_error("this engine is driven by a host's own notifier, not the libev reactor");
    auto r = std::make_unique<ev_reactor>(e);
    reactor& ref = *r;
    e.adopt_notifier(std::move(r));
    return ref;
}

ev_reactor::ev_reactor(engine& e) : eng_(e) {
    const std::vector<int> before = open_fds();
    loop_ = ev_loop_new(static_cast<unsigned>(EVBACKEND_EPOLL) | static_cast<unsigned>(EVFLAG_NOSIGMASK));
    if (!loop_) loop_ = ev_loop_new(static_cast<unsigned>(EVFLAG_AUTO) | static_cast<unsigned>(EVFLAG_NOSIGMASK));
    if (!loop_) throw std::system_error(errno ? errno : ENOMEM, std::generic_category(), "ev_loop_new");
    if (ev_backend(loop_) == EVBACKEND_EPOLL) epoll_fd_ = find_epoll_fd(before);
    ev_set_userdata(loop_, this);
    ev_set_loop_release_cb(loop_, on_release, on_acquire);

    ev_async_init(&async_, on_async);
    async_.data = this;
    ev_async_start(loop_, &async_);
    mailbox_ = std::make_shared<remote_mailbox>();
    mailbox_->loop = loop_;
    mailbox_->async = &async_;

    // Ctrl-C goes to the main micro-thread, if no other reactor has SIGINT.
    ev_reactor* none = nullptr;
    if (signal_owner[SIGINT].compare_exchange_strong(none, this)) {
        own_sigint_ = true;
        ::sigaction(SIGINT, nullptr, &prev_sigint_);
        ev_signal_init(&sigint_, on_sigint, SIGINT);
        sigint_.data = this;
        ev_signal_start(loop_, &sigint_);
    }
    ev_signal_init(&sigchld_, on_sigchld, SIGCHLD);
    sigchld_.data = this;

    // A write to a pipe or socket whose reader is gone must fail that call
    // with EPIPE, not kill the program: SIGPIPE is ignored while the reactor
    // lives (unless the program chose a disposition itself).
    struct sigaction pipe_now {};
    if (::sigaction(SIGPIPE, nullptr, &pipe_now) == 0 && pipe_now.sa_handler == SIG_DFL) {
        struct sigaction ign {};
        ign.sa_handler = SIG_IGN;
        sigemptyset(&ign.sa_mask);
        ::sigaction(SIGPIPE, &ign, &prev_sigpipe_);
        own_sigpipe_ = true;
    }
}

ev_reactor::~ev_reactor() {
    if (counts_.active() > 0) fatal("the reactor was destroyed with waits pending");
    {
        std::lock_guard<std::mutex> lock(mailbox_->mu);
        mailbox_->open = false;
    }
    ev_async_stop(loop_, &async_);
    if (own_sigint_) {
        ev_signal_stop(loop_, &sigint_);
        ::sigaction(SIGINT, &prev_sigint_, nullptr);
    }
    if (ev_is_active(&sigchld_)) ev_signal_stop(loop_, &sigchld_);
    if (own_sigpipe_) ::sigaction(SIGPIPE, &prev_sigpipe_, nullptr);
    for (std::size_t signo = 0; signo < kept_.size(); ++signo) {
        if (!kept_[signo].active) continue;
        ev_signal_stop(loop_, &kept_[signo].keeper);
        ::sigaction(static_cast<int>(signo), &kept_[signo].previous, nullptr);
    }
    for (auto& owner : signal_owner) {
        ev_reactor* self = this;
        owner.compare_exchange_strong(self, nullptr);
    }
    ev_loop_destroy(loop_);
}

// ---- the node pool -----------------------------------------------------------------

std::size_t& ev_reactor::count_of(node_kind k) noexcept {
    switch (k) {
        case node_kind::fd: return counts_.fd_waits;
        case node_kind::sleep:
        case node_kind::callback: return counts_.timers;
        case node_kind::signal: return counts_.signal_waits;
        case node_kind::child: return counts_.child_waits;
        default: return counts_.remote_waits;
    }
}

wait_node* ev_reactor::take(node_kind kind, control_block* me) {
    if (!free_) {
        auto chunk = std::make_unique<wait_node[]>(chunk_nodes);
        for (std::size_t i = 0; i < chunk_nodes; ++i) {
            wait_node& n = chunk[i];
            n.owner = this;
        ev_init(&n.timer, on_timer);
            ev_init(&n.sig, on_signal);
            n.timer.data = n.sig.data = &n;
            n.next = free_;
            free_ = &n;
        }
        chunks_.push_back(std::move(chunk));
        counts_.pool_nodes += chunk_nodes;
    }
    wait_node* n = free_;
    free_ = n->next;
    n->next = n->prev = nullptr;
    n->kind = kind;
    n->waiter = me;
    ++count_of(kind);
    return n;
}

void ev_reactor::stop_watchers(wait_node* n) noexcept {
    ev_timer_stop(loop_, &n->timer);
    if (n->kind == node_kind::fd) {
        wait_node*& head = fds_[static_cast<std::size_t>(n->fd)]->waiters[n->write];
        (n->prev ? n->prev->next : head) = n->next;
        if (n->next) n->next->prev = n->prev;
    }
    ev_signal_stop(loop_, &n->sig);
    if (n->kind == node_kind::child) {
        (n->prev ? n->prev->next : children_) = n->next;
        if (n->next) n->next->prev = n->prev;
        if (!children_ && ev_is_active(&sigchld_)) ev_signal_stop(loop_, &sigchld_);
    }
}

// give_back — ends a wait's registration: stops its watchers, frees its node.
void ev_reactor::give_back(wait_node* n) noexcept {
    if (n->kind == node_kind::free) return;
    stop_watchers(n);
    --count_of(n->kind);
    n->kind = node_kind::free;
    n->waiter = nullptr;
    ++n->generation;
    n->next = free_;
    n->prev = nullptr;
    free_ = n;
}

void ev_reactor::fire(wait_node* n, void* value) noexcept {
    control_block* w = n->waiter;
    n->owner->give_back(n);
    try {
        w->d.callback(value);
    } catch (...) {
        fatal("a reactor event found its micro-thread's deferred not armed");
    }
}

void ev_reactor::fire_error(wait_node* n, std::exception_ptr e) noexcept {
    control_block* w = n->waiter;
    n->owner->give_back(n);
    try {
        w->d.errback(std::move(e));
    } catch (...) {
        fatal("a reactor event found its micro-thread's deferred not armed");
    }
}

void ev_reactor::start_timeout(wait_node* n, double timeout) noexcept {
    if (timeout < 0) return;
    ev_now_update(loop_);  // ev_now may be stale after a long run of micro-threads
    ev_timer_set(&n->timer, timeout, 0.);
    ev_timer_start(loop_, &n->timer);
}

// begin_wait — a node for `me`'s wait, with its deferred armed with `wk`
// (what the dump shows, and how an abort cancels it).
wait_node* ev_reactor::begin_wait(node_kind kind, const wait_kind& wk, control_block& me) {
    wait_node* n = take(kind, &me);
    try {
        me.d.arm(wk, n);
    } catch (...) {
        give_back(n);
        throw;
    }
    return n;
}

// ---- the waits -----------------------------------------------------------------------

fd_entry& ev_reactor::entry(int fd) {
    const auto i = static_cast<std::size_t>(fd);
    if (i >= fds_.size()) fds_.resize(i + 1 > 2 * fds_.size() ? i + 1 : 2 * fds_.size());
    if (!fds_[i]) {
        auto e = std::make_unique<fd_entry>();
        e->owner = this;
        e->fd = fd;
        for (int dir = 0; dir < 2; ++dir) {
            ev_io_init(&e->io[dir], on_io, fd, dir ? EV_WRITE : EV_READ);
            e->io[dir].data = e.get();
        }
        fds_[i] = std::move(e);
    }
    return *fds_[i];
}

wait_result ev_reactor::wait_fd(control_block& me, int fd, bool write, double timeout) {
    fd_entry& e = entry(fd);
    ev_io& w = e.io[write];
    // libev must never meet a bad fd: check before its watcher starts. A
    // started watcher means the fd was checked and not closed since (fds that
    // are waited on are closed through close_fd, which stops the watchers).
    if (!ev_is_active(&w) && ::fcntl(fd, F_GETFD) == -1 && errno == EBADF) {
        throw std::system_error(EBADF, std::generic_category(),
                                std::string(write ? "wait_writable" : "wait_readable") + "(fd " +
                                    std::to_string(fd) + ") in micro-thread " + describe(me) +
                                    ": not an open fd");
    }
    wait_node* n = begin_wait(node_kind::fd, fd_kind, me);
    n->fd = fd;
    n->write = write;
    n->prev = nullptr;
    n->next = e.waiters[write];
    if (n->next) n->next->prev = n;
    e.waiters[write] = n;
    if (!ev_is_active(&w)) {
        // ev_io_set marks the fd as (possibly) new to libev, so its next
        // reify re-registers it with epoll: the number may belong to a new
        // file since the watcher last ran (close_fd stopped it, the kernel
        // dropped the old file from the epoll set, and without this libev
        // would see "same fd, same events" and skip epoll_ctl).
        ev_io_set(&w, fd, write ? EV_WRITE : EV_READ);
        ev_io_start(loop_, &w);
    }
    start_timeout(n, timeout);
    return me.d.wait() ? wait_result::ready : wait_result::timed_out;
}

void ev_reactor::sleep(control_block& me, double seconds) {
    wait_node* n = begin_wait(node_kind::sleep, sleep_kind, me);
    start_timeout(n, seconds < 0 ? 0 : seconds);
    me.d.wait();
}

void ev_reactor::claim_signal(int signo, const control_block& me) {
    ev_reactor* none = nullptr;
    if (!signal_owner[static_cast<std::size_t>(signo)].compare_exchange_strong(none, this) && none != this) {
        throw usage_error("micro-thread " + describe(me) + " waits for signal " + std::to_string(signo) +
                          ", which the engine of another OS thread watches (one engine per signal)");
    }
    kept_signal& k = kept_[static_cast<std::size_t>(signo)];
    if (k.active || signo == SIGINT) return;
    ::sigaction(signo, nullptr, &k.previous);
    ev_signal_init(&k.keeper, [](struct ev_loop*, ev_signal*, int) noexcept {}, signo);
    ev_signal_start(loop_, &k.keeper);
    k.active = true;
}

wait_result ev_reactor::wait_signal(control_block& me, int signo, double timeout) {
    claim_signal(signo, me);
    wait_node* n = begin_wait(node_kind::signal, signal_kind, me);
    n->signo = signo;
    ev_signal_set(&n->sig, signo);
    ev_signal_start(loop_, &n->sig);
    start_timeout(n, timeout);
    return me.d.wait() ? wait_result::ready : wait_result::timed_out;
}

wait_result ev_reactor::wait_child(control_block& me, pid_t pid, int& status, double timeout) {
    claim_signal(SIGCHLD, me);
    wait_node* n = begin_wait(node_kind::child, child_kind, me);
    n->pid = pid;
    n->next = children_;
    if (children_) children_->prev = n;
    children_ = n;
    if (!ev_is_active(&sigchld_)) ev_signal_start(loop_, &sigchld_);
    start_timeout(n, timeout);
    reap_children();  // it may have exited already
    void* v = me.d.wait();
    if (!v) return wait_result::timed_out;
    status = static_cast<int>(static_cast<std::uint32_t>(reinterpret_cast<std::uintptr_t>(v) >> 1));
    return wait_result::ready;
}

wait_node* ev_reactor::start_timer(double seconds, void (*fn)(void*) noexcept, void* arg) {
    wait_node* n = take(node_kind::callback, nullptr);
    n->fn = fn;
    n->arg = arg;
    start_timeout(n, seconds < 0 ? 0 : seconds);
    return n;
}

wait_node* ev_reactor::arm_remote(control_block& me, std::uint64_t& generation,
                                  std::shared_ptr<remote_mailbox>& box) {
    wait_node* n = begin_wait(node_kind::remote, remote_kind, me);
    generation = n->generation;
    box = mailbox_;
    return n;
}

// forget_fd — `fd` is about to be closed: every wait on it ends with EBADF
// and its watcher is stopped first, so libev never meets a closed fd.
std::size_t ev_reactor::forget_fd(int fd) noexcept {
    const auto i = static_cast<std::size_t>(fd);
    if (fd < 0 || i >= fds_.size() || !fds_[i]) return 0;
    fd_entry& e = *fds_[i];
    e.drained = false;
    std::size_t n_woken = 0;
    for (int dir = 0; dir < 2; ++dir) {
        ev_io_stop(loop_, &e.io[dir]);
        n_woken += fail_waiters(e, dir, "the fd was closed while it waited");
    }
    return n_woken;
}

// fail_waiters — ends every wait on e's direction `dir` with EBADF.
std::size_t ev_reactor::fail_waiters(fd_entry& e, int dir, const char* why) noexcept {
    std::size_t n_woken = 0;
    while (wait_node* n = e.waiters[dir]) {
        const std::string what = std::string(dir ? "wait_writable" : "wait_readable") + "(fd " +
                                 std::to_string(e.fd) + ") in micro-thread " + describe(*n->waiter) + ": " + why;
        fire_error(n, std::make_exception_ptr(std::system_error(EBADF, std::generic_category(), what)));
        ++n_woken;
    }
    return n_woken;
}

// ---- host-driven loops --------------------------------------------------------------

double ev_reactor::host_timeout() {
    if (!eng_.idle()) return 0;
    double best = -1;
    ev_now_update(loop_);
    for (auto& chunk : chunks_)
        for (std::size_t i = 0; i < chunk_nodes; ++i) {
            ev_timer* t = &chunk[i].timer;
            if (!ev_is_active(t)) continue;
            const double left = ev_timer_remaining(loop_, t);
            if (best < 0 || left < best) best = left < 0 ? 0 : left;
        }
    return best;
}

// ---- the loop ------------------------------------------------------------------------

void ev_reactor::poll(bool block) {
    ev_run(loop_, block ? EVRUN_ONCE : EVRUN_NOWAIT);
    if (sigint_pending_) deliver_sigint();
}

void ev_reactor::deliver_sigint() noexcept {
    sigint_pending_ = false;
    if (eng_.interrupt_main(std::make_exception_ptr(interrupted_error("interrupted by SIGINT (Ctrl-C)")))) return;
    if (eng_.live() > 0) {  // main has ended: stop what is left, so run() returns
        eng_.abort_all();
        return;
    }
    // Nothing to tell: behave as if we were not there.
    ::sigaction(SIGINT, &prev_sigint_, nullptr);
    ::raise(SIGINT);
}

void ev_reactor::on_io(struct ev_loop*, ev_io* w, int revents) noexcept {
    auto* e = static_cast<fd_entry*>(w->data);
    const int dir = w == &e->io[1] ? 1 : 0;
    if (revents & EV_ERROR) {  // libev found the fd closed under it
        ev_io_stop(e->owner->loop_, w);
        e->owner->fail_waiters(*e, dir, "the fd was closed while it waited");
        return;
    }
    if (!e->waiters[dir]) {  // nobody waits any more: stop watching until someone does
        ev_io_stop(e->owner->loop_, w);
        return;
    }
    while (wait_node* n = e->waiters[dir]) fire(n, ready_value());  // every waiter, as documented
}

void ev_reactor::on_timer(struct ev_loop*, ev_timer* w, int) noexcept {
    auto* n = static_cast<wait_node*>(w->data);
    if (n->kind == node_kind::callback) {
        void (*fn)(void*) noexcept = n->fn;
        void* arg = n->arg;
        n->owner->give_back(n);
        fn(arg);
        return;
    }
    fire(n, n->kind == node_kind::sleep ? ready_value() : nullptr);
}

void ev_reactor::on_signal(struct ev_loop*, ev_signal* w, int) noexcept {
    auto* n = static_cast<wait_node*>(w->data);
    fire(n, ready_value(static_cast<std::uint32_t>(n->signo)));
}

void ev_reactor::reap_children() noexcept {
    for (wait_node* n = children_; n;) {
        wait_node* next = n->next;
        int status = 0;
        const pid_t r = ::waitpid(n->pid, &status, WNOHANG);
        if (r == n->pid) {
            fire(n, ready_value(static_cast<std::uint32_t>(status)));
        } else if (r < 0 && errno != EINTR) {
            const std::string what = "wait_child(pid " + std::to_string(n->pid) + ") in micro-thread " +
                                     describe(*n->waiter);
            fire_error(n, std::make_exception_ptr(std::system_error(errno, std::generic_category(), what)));
        }
        n = next;
    }
}

void ev_reactor::on_sigchld(struct ev_loop*, ev_signal* w, int) noexcept {
    static_cast<ev_reactor*>(w->data)->reap_children();
}

void ev_reactor::on_sigint(struct ev_loop*, ev_signal* w, int) noexcept {
    // Delivered after ev_run returns: the main micro-thread may be the one
    // polling, and nothing may be thrown through libev's frames.
    static_cast<ev_reactor*>(w->data)->sigint_pending_ = true;
}

void ev_reactor::on_async(struct ev_loop*, ev_async* w, int) noexcept {
    auto* self = static_cast<ev_reactor*>(w->data);
    {
        std::lock_guard<std::mutex> lock(self->mailbox_->mu);
        self->remote_batch_.swap(self->mailbox_->pending);
    }
    for (auto& f : self->remote_batch_) {
        if (f.n->kind != node_kind::remote || f.n->generation != f.generation) continue;  // cancelled
        if (f.error) fire_error(f.n, std::move(f.error));
        else fire(f.n, f.value);
    }
    self->remote_batch_.clear();
}

void ev_reactor::on_release(struct ev_loop* l) noexcept {
    auto* self = static_cast<ev_reactor*>(ev_userdata(l));
    if (self->before_) self->before_(self->hook_user_);
}

void ev_reactor::on_acquire(struct ev_loop* l) noexcept {
    auto* self = static_cast<ev_reactor*>(ev_userdata(l));
    if (self->after_) self->after_(self->hook_user_);
}

}  // namespace mt::detail
