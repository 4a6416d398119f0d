// notifier/ev_reactor.cpp — the reactor on libev. The only file of the
// project that includes <ev.h>.
//
// Invariants:
//   * a wait_node is either free (on free_) or owned by exactly one pending
//     wait, and then its watchers are started; settling or cancelling a wait
//     stops every watcher of its node and frees the node in the same step.
//   * an fd wait's node (and a child wait's, on its pidfd) is linked in its
//     fd_entry's list for its direction; an fd_entry's watcher is started
//     whenever its list is not empty.
//   * counts_ counts the pending waits by kind; can_fire() is true iff one is
//     pending. Deadlines are core's: the reactor has one timer, wake_, that
//     bounds a blocking poll by the engine's next deadline.
//   * a node's generation changes every time it is freed, so a wake-up from
//     another OS thread for a wait that ended (fired, cancelled) is dropped.
//   * the reactor owns the signals it watches process-wide (signal_owner);
//     a signal is watched by at most one reactor, as libev requires.
//
// The loop: the engine calls poll(max_wait) on the root when nothing is
// runnable (ev_run EVRUN_ONCE, bounded by wake_), and a running micro-thread
// calls poll(0) (EVRUN_NOWAIT) every 64 yields or suspensions, so I/O is not
// starved by busy micro-threads. libev callbacks only settle waits (making
// micro-threads runnable); they never switch and never throw.
#include <ev.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/syscall.h>
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
#include "core/detail/wait.hpp"
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

enum class node_kind : std::uint8_t { free, fd, signal, child, remote, user_remote };

struct wait_node {
    ev_signal sig;
    ev_reactor* owner = nullptr;
    control_block* waiter = nullptr;  // while pending
    node_kind kind = node_kind::free;
    bool write = false;
    int fd = -1;      // fd waits; a child wait's pidfd
    int signo = 0;
    pid_t pid = 0;
    std::uint64_t generation = 0;
    wait_node* next = nullptr;  // free list, or its fd's list
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

// pidfd_open — an fd that becomes readable when process `pid` exits
// (Linux >= 5.3); -1 with errno where the kernel has no such call.
int pidfd_open(pid_t pid) noexcept {
#ifdef SYS_pidfd_open
    return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
    (void)pid;
    errno = ENOSYS;
    return -1;
#endif
}

}  // namespace

class ev_reactor final : public reactor {
public:
    explicit ev_reactor(engine& e);
    ~ev_reactor() override;

    bool can_fire() const noexcept override { return counts_.active() > 0; }
    void poll(double max_wait) override;

    void wait_fd(control_block& me, int fd, bool write, const deadline& d, const char* op) override;
    int wait_signal(control_block& me, int signo, const deadline& d) override;
    int wait_child(control_block& me, pid_t pid, const deadline& d) override;
    wait_node* arm_remote(control_block& me, bool user, std::uint64_t& generation,
                          std::shared_ptr<remote_mailbox>& box) override;
    int host_fd() override {
        if (epoll_fd_ < 0) throw usage_error("the reactor's backend has no fd a host could poll (not epoll)");
        return epoll_fd_;
    }
    void prepare_host_wait() override { ev_run(loop_, EVRUN_NOWAIT); }
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
    wait_node* begin(node_kind kind, const wait_kind& wk, control_block& me);
    void watch_fd(wait_node* n, int fd, bool write);
    static void fire(wait_node* n, void* value) noexcept;
    static void fire_error(wait_node* n, std::exception_ptr e) noexcept;
    void claim_signal(int signo, const control_block& me);
    int wait_child_polling(control_block& me, pid_t pid, const deadline& d);
    void deliver_sigint() noexcept;

    static void on_io(struct ev_loop*, ev_io* w, int revents) noexcept;
    static void on_signal(struct ev_loop*, ev_signal* w, int) noexcept;
    static void on_sigint(struct ev_loop*, ev_signal* w, int) noexcept;
    static void on_async(struct ev_loop*, ev_async* w, int) noexcept;
    static void on_release(struct ev_loop* l) noexcept;
    static void on_acquire(struct ev_loop* l) noexcept;

    static const wait_kind fd_kind, signal_kind, child_kind, remote_kind, user_remote_kind;
    friend void cancel_wait(void* obj, control_block&);

    engine& eng_;
    struct ev_loop* loop_;
    std::vector<std::unique_ptr<wait_node[]>> chunks_;
    std::vector<std::unique_ptr<fd_entry>> fds_;  // by fd number, made on first wait
    wait_node* free_ = nullptr;
    reactor_counts counts_;

    ev_timer wake_;  // bounds a blocking poll by the engine's next deadline

    ev_async async_;
    std::shared_ptr<remote_mailbox> mailbox_;
    std::vector<remote_fire_t> remote_batch_;  // loop thread only

    ev_signal sigint_;
    bool own_sigint_ = false;
    bool sigint_pending_ = false;
    struct sigaction prev_sigint_ {};

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
    },
    no_blocker,
    cancel_wait,
};

const wait_kind ev_reactor::signal_kind{
    "signal",
    [](const void* obj, std::string& out) {
        const auto* n = static_cast<const wait_node*>(obj);
        out += "for signal " + std::to_string(n->signo) + " (" + ::strsignal(n->signo) + ")";
    },
    no_blocker,
    cancel_wait,
};

const wait_kind ev_reactor::child_kind{
    "child",
    [](const void* obj, std::string& out) {
        const auto* n = static_cast<const wait_node*>(obj);
        out += "for child process " + std::to_string(n->pid) + " to exit";
    },
    no_blocker,
    cancel_wait,
};

const wait_kind ev_reactor::remote_kind{
    "remote",
    [](const void*, std::string& out) { out += "for a wake-up from another OS thread"; },
    no_blocker,
    cancel_wait,
};

// user_remote_kind — the registration of a deferred armed by remote_wakeup:
// withdrawn when the deferred is cancelled, aborted, or fired by anyone.
const wait_kind ev_reactor::user_remote_kind{
    "remote",
    [](const void*, std::string& out) { out += "on its deferred, for a wake-up from another OS thread"; },
    no_blocker,
    cancel_wait,
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

std::unique_ptr<notifier_interface> make_default_notifier(engine& e) { return std::make_unique<ev_reactor>(e); }

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
    ev_timer_init(&wake_, [](struct ev_loop*, ev_timer*, int) noexcept {}, 0., 0.);

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
    ev_timer_stop(loop_, &wake_);
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
            ev_init(&n.sig, on_signal);
            n.sig.data = &n;
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
    n->fd = -1;
    ++count_of(kind);
    return n;
}

void ev_reactor::stop_watchers(wait_node* n) noexcept {
    if (n->kind == node_kind::fd || (n->kind == node_kind::child && n->fd >= 0)) {
        wait_node*& head = fds_[static_cast<std::size_t>(n->fd)]->waiters[n->write];
        (n->prev ? n->prev->next : head) = n->next;
        if (n->next) n->next->prev = n->prev;
    }
    ev_signal_stop(loop_, &n->sig);
}

// give_back — ends a wait's registration: stops its watchers, frees its node.
// Idempotent: a node already free is left alone.
void ev_reactor::give_back(wait_node* n) noexcept {
    if (n->kind == node_kind::free) return;
    stop_watchers(n);
    --count_of(n->kind);
    n->kind = node_kind::free;
    n->waiter = nullptr;  // fd, pid and signo stay: a timeout's message describes the wait after it
    ++n->generation;
    n->next = free_;
    n->prev = nullptr;
    free_ = n;
}

// fire / fire_error — the event came: the node goes back to the pool, then
// the waiter's wait is settled.
void ev_reactor::fire(wait_node* n, void* value) noexcept {
    control_block* w = n->waiter;
    n->owner->give_back(n);
    detail::fire(*w, value);
}

void ev_reactor::fire_error(wait_node* n, std::exception_ptr e) noexcept {
    control_block* w = n->waiter;
    n->owner->give_back(n);
    detail::fire_error(*w, std::move(e));
}

// begin — a node for `me`'s wait, and its internal wait begun with `wk`
// (what the dump shows, and how a timeout or an abort cancels it).
wait_node* ev_reactor::begin(node_kind kind, const wait_kind& wk, control_block& me) {
    wait_node* n = take(kind, &me);
    detail::begin_wait(me, wk, n);
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

// watch_fd — links n into fd's list for its direction and starts that
// direction's watcher if it is not running.
void ev_reactor::watch_fd(wait_node* n, int fd, bool write) {
    fd_entry& e = entry(fd);
    n->fd = fd;
    n->write = write;
    n->prev = nullptr;
    n->next = e.waiters[write];
    if (n->next) n->next->prev = n;
    e.waiters[write] = n;
    ev_io& w = e.io[write];
    if (!ev_is_active(&w)) {
        // ev_io_set marks the fd as (possibly) new to libev, so its next
        // reify re-registers it with epoll: the number may belong to a new
        // file since the watcher last ran (close_fd stopped it, the kernel
        // dropped the old file from the epoll set, and without this libev
        // would see "same fd, same events" and skip epoll_ctl).
        ev_io_set(&w, fd, write ? EV_WRITE : EV_READ);
        ev_io_start(loop_, &w);
    }
}

void ev_reactor::wait_fd(control_block& me, int fd, bool write, const deadline& d, const char* op) {
    fd_entry& e = entry(fd);
    // libev must never meet a bad fd: check before its watcher starts. A
    // started watcher means the fd was checked and not closed since (fds that
    // are waited on are closed through close_fd, which stops the watchers).
    if (!ev_is_active(&e.io[write]) && ::fcntl(fd, F_GETFD) == -1 && errno == EBADF) {
        throw std::system_error(EBADF, std::generic_category(),
                                std::string(op) + "(fd " + std::to_string(fd) + ") in micro-thread " +
                                    describe(me) + ": not an open fd");
    }
    wait_node* n = begin(node_kind::fd, fd_kind, me);
    watch_fd(n, fd, write);
    end_wait_or_throw(me, d, op);
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

int ev_reactor::wait_signal(control_block& me, int signo, const deadline& d) {
    claim_signal(signo, me);
    wait_node* n = begin(node_kind::signal, signal_kind, me);
    n->signo = signo;
    ev_signal_set(&n->sig, signo);
    ev_signal_start(loop_, &n->sig);
    end_wait_or_throw(me, d, "wait_signal");
    return signo;
}

namespace {

[[noreturn]] void child_error(int err, pid_t pid, const control_block& me) {
    throw std::system_error(err, std::generic_category(),
                            "wait_child(pid " + std::to_string(pid) + ") in micro-thread " + describe(me));
}

// reaped — waitpid(pid, WNOHANG): true (status set) once it exited.
bool reaped(pid_t pid, int& status, const control_block& me) {
    for (;;) {
        const pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid) return true;
        if (r == 0) return false;
        if (errno != EINTR) child_error(errno, pid, me);
    }
}

const wait_kind child_poll_kind{
    "child",
    [](const void* obj, std::string& out) {
        out += "for child process " + std::to_string(*static_cast<const pid_t*>(obj)) + " to exit (polling)";
    },
    [](const void*) -> control_block* { return nullptr; },
    nullptr,
};

}  // namespace

// wait_child — on the child's pidfd, so the exit reaches the engine that
// waits (any engine of the process; no SIGCHLD handler, which only one libev
// loop could own). Kernels without pidfds: wait_child_polling.
int ev_reactor::wait_child(control_block& me, pid_t pid, const deadline& d) {
    int status = 0;
    if (reaped(pid, status, me)) return status;  // also: ECHILD when it is not our child
    const int pfd = pidfd_open(pid);
    if (pfd < 0) {
        if (errno == ENOSYS || errno == EPERM) return wait_child_polling(me, pid, d);
        if (reaped(pid, status, me)) return status;  // ESRCH: it exited and was reaped meanwhile
        child_error(errno, pid, me);
    }
    ::fcntl(pfd, F_SETFD, FD_CLOEXEC);
    struct pidfd_closer {
        ev_reactor* r;
        int fd;
        ~pidfd_closer() {
            r->forget_fd(fd);
            ::close(fd);
        }
    } closer{this, pfd};
    for (;;) {
        wait_node* n = begin(node_kind::child, child_kind, me);
        n->pid = pid;
        watch_fd(n, pfd, false);
        end_wait_or_throw(me, d, "wait_child");
        if (reaped(pid, status, me)) return status;
    }
}

// wait_child_polling — waitpid(WNOHANG) with a back-off from 1 ms to 50 ms.
int ev_reactor::wait_child_polling(control_block& me, pid_t pid, const deadline& d) {
    int status = 0;
    auto pause = std::chrono::milliseconds(1);
    pid_t key = pid;
    while (!reaped(pid, status, me)) {
        const auto now = deadline::clock::now();
        if (d.when() <= now) {
            begin_wait(me, child_poll_kind, &key);
            end_wait_or_throw(me, d, "wait_child");  // times out at once, with the usual message
        }
        const auto wake = now + pause < d.when() ? now + pause : d.when();
        begin_wait(me, child_poll_kind, &key);
        end_wait(me, deadline::at(wake));
        if (pause < std::chrono::milliseconds(50)) pause *= 2;
    }
    return status;
}

wait_node* ev_reactor::arm_remote(control_block& me, bool user, std::uint64_t& generation,
                                  std::shared_ptr<remote_mailbox>& box) {
    wait_node* n = take(user ? node_kind::user_remote : node_kind::remote, &me);
    if (user) {
        try {
            me.d.arm(user_remote_kind, n);
        } catch (...) {
            give_back(n);
            throw;
        }
    } else {
        detail::begin_wait(me, remote_kind, n);
    }
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

// ---- the loop ------------------------------------------------------------------------

void ev_reactor::poll(double max_wait) {
    if (max_wait > 0) {
        ev_now_update(loop_);
        ev_timer_set(&wake_, max_wait, 0.);
        ev_timer_start(loop_, &wake_);
        ev_run(loop_, EVRUN_ONCE);
        ev_timer_stop(loop_, &wake_);
    } else {
        ev_run(loop_, max_wait < 0 ? EVRUN_ONCE : EVRUN_NOWAIT);
    }
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
    while (wait_node* n = e->waiters[dir]) fire(n, nullptr);  // every waiter, as documented
}

void ev_reactor::on_signal(struct ev_loop*, ev_signal* w, int) noexcept {
    fire(static_cast<wait_node*>(w->data), nullptr);
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
        wait_node* n = f.n;
        if (n->generation != f.generation) continue;  // the wait ended (cancelled, aborted)
        if (n->kind == node_kind::remote) {
            if (f.error) fire_error(n, std::move(f.error));
            else fire(n, f.value);
        } else if (n->kind == node_kind::user_remote) {
            // The user's deferred: firing it withdraws the registration
            // (gives the node back). A deferred fired meanwhile by someone
            // else refuses a second fire: the wake-up is dropped.
            deferred& d = n->waiter->d;
            try {
                if (f.error) d.errback(std::move(f.error));
                else d.callback(f.value);
            } catch (...) {
            }
            self->give_back(n);
        }
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
