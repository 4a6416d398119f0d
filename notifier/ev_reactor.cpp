// notifier/ev_reactor.cpp — the reactor's waits, its poll and its events.
// Invariants: see notifier/detail/ev_reactor.hpp.
#include "notifier/detail/ev_reactor.hpp"

#include <fmt/format.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>
#include <system_error>

#include "core/detail/assert.hpp"
#include "core/detail/control_block.hpp"
#include "core/detail/wait.hpp"
#include "core/errors.hpp"
#include "core/detail/naming.hpp"
#include "notifier/detail/managed_fds.hpp"

namespace mt::detail {

// ---- what the dump, timeouts and aborts see of each wait --------------------------

namespace {

control_block* no_blocker(const void*) { return nullptr; }

const wait_kind fd_kind{
    "fd",
    [](const void* obj, std::string& out) {
        const auto* t = static_cast<const wait_ticket*>(obj);
        out += "for fd " + std::to_string(t->fd) + (t->write ? " to become writable" : " to become readable");
    },
    no_blocker,
    ev_reactor::cancel_wait,
};

const wait_kind signal_kind{
    "signal",
    [](const void* obj, std::string& out) {
        const auto* t = static_cast<const wait_ticket*>(obj);
        out += "for signal " + std::to_string(t->signo) + " (" + ::strsignal(t->signo) + ")";
    },
    no_blocker,
    ev_reactor::cancel_wait,
};

}  // namespace

// ---- life ----------------------------------------------------------------------------

const char reactor::kind_tag = 0;

namespace {
// start — a new reactor for `e`. A system_error (no fd left for libev's
// epoll set or wake-ups) says that the notifier could not start, and for
// which micro-thread (or run()) it was needed.
std::unique_ptr<ev_reactor> start(engine& e) {
    try {
        return std::make_unique<ev_reactor>(e);
    } catch (const std::system_error& ex) {
        std::string what = ex.what();
        const std::string tail = ": " + ex.code().message();
        if (what.size() >= tail.size() && what.compare(what.size() - tail.size(), tail.size(), tail) == 0)
            what.resize(what.size() - tail.size());
        throw std::system_error(ex.code(), op_in("starting the notifier (libev)", e.running()) + ": " + what);
    }
}
}  // namespace

std::unique_ptr<notifier_interface> make_default_notifier(engine& e) { return start(e); }

reactor& reactor::of(engine& e) {
    if (reactor* r = find(e)) return *r;
    if (e.notifier()) throw usage_error("this engine is driven by a host's own notifier, not the libev reactor");
    auto r = start(e);
    reactor& ref = *r;
    e.adopt_notifier(std::move(r));
    return ref;
}

namespace {
bool env_on(const char* name) {
    const char* v = std::getenv(name);
    return v && *v && std::strcmp(v, "0") != 0;
}
}  // namespace

ev_reactor::ev_reactor(engine& e)
    : eng_(e), signals_(e.takes_ctrl_c()), backend_(static_cast<backend_events&>(*this)) {
    if (signals_.owns_sigint()) backend_.watch_signal(SIGINT);  // Ctrl-C goes to the main micro-thread
    if (env_on("MT_DUMP_ON_SIGQUIT")) dump_board::enable(SIGQUIT);
    if (dump_board::any()) watch_dump_signals();
    dump_board::join(*this);  // last: nothing after it may throw
}

ev_reactor::~ev_reactor() {
    if (pool_.counts().active() > 0) fatal("the reactor was destroyed with waits pending");
    dump_board::leave(*this);  // before the backend goes: no request wakes a dead loop
    for (int s = 1; s < NSIG; ++s) handover_.owned = handover_.owned || (dump_board::dumps_on(s) && signals_.owns(s));
}

int ev_reactor::host_fd() {
    const int fd = backend_.kernel_fd();
    if (fd < 0) throw usage_error("the reactor's backend has no fd a host could poll (not epoll)");
    return fd;
}

// ---- nodes -----------------------------------------------------------------------------

void ev_reactor::cancel_wait(void* ticket, control_block& waiter) noexcept {
    auto* t = static_cast<wait_ticket*>(ticket);
    if (!t->current()) return;  // settled already
    static_cast<ev_reactor*>(reactor::find(*waiter.eng))->give_back(t->node);
}

void ev_reactor::give_back(wait_node* n) noexcept {
    if (n->kind == node_kind::free) return;
    if (n->kind == node_kind::fd || (n->kind == node_kind::child && n->fd >= 0)) {
        if (fd_entry* e = fds_.find(n->fd)) {
            e->waiters[n->write].remove_if_linked(*n);
            if (n->kind == node_kind::fd && e->waiters[n->write].empty() && !keeps_watcher(*e, n->fd, n->write))
                backend_.unwatch(n->fd, n->write);
        }
    } else if (n->kind == node_kind::signal) {
        signals_.waiters(n->signo).remove_if_linked(*n);
    }
    pool_.give_back(n);
}

// fire / fire_error — the event came: the node goes back to the pool, then
// the waiter's wait is settled.
void ev_reactor::fire(wait_node* n, void* value) noexcept {
    control_block* w = n->waiter;
    give_back(n);
    detail::fire(*w, value);
}

void ev_reactor::fire_error(wait_node* n, std::exception_ptr e) noexcept {
    control_block* w = n->waiter;
    give_back(n);
    detail::fire_error(*w, std::move(e));
}

// begin — a node for `me`'s wait, and its internal wait begun with `wk`
// (what the dump shows, and how a timeout or an abort cancels it) on the
// ticket `t`, which the caller keeps in its frame until the wait ends and
// fills with what the wait is for.
wait_node* ev_reactor::begin(node_kind kind, const wait_kind& wk, control_block& me, wait_ticket& t) {
    wait_node* n = pool_.take(kind, &me);
    t.node = n;
    t.generation = n->generation;
    detail::begin_wait(me, wk, &t);
    return n;
}

// ---- fds -------------------------------------------------------------------------------
//
// Which watchers stop when the last wait on them ends (fd_table.hpp):
//   * an unmanaged fd (a raw number: the C API's and Python's fds, or any fd
//     waited on with wait_readable that no mt::fd owns): both directions stop,
//     so that no watcher outlives the waits on an fd its owner may close with
//     ::close; the next wait checks the fd (fcntl) and tells libev the number
//     may be new (one epoll_ctl). libev folds a stop and a start made before
//     its next poll into no change, but that re-registration it cannot skip.
//   * a managed fd (managed_fds.hpp: owned by mt::fd, closed only through
//     close_fd, which stops its watchers first): the read watcher stays
//     started between waits, and the next wait neither checks the fd nor
//     re-registers it — no system call of its own. The write watcher stops
//     with its last wait (a socket is nearly always writable: kept, it would
//     fire at every poll), and restarts without a re-registration.
// A kept watcher that fires with nobody waiting is stopped then (on_fd):
// libev's epoll is level-triggered, so an fd left readable with nobody
// waiting costs one wake-up and, at libev's next poll, one epoll_ctl that
// drops it from the kernel's set — the same as an unmanaged fd costs per
// wait. A wait that finds the fd's identity changed (closed through close_fd
// in another engine, or released and closed by its new owner, then the
// number reused) stops the old watchers nobody waits on and watches the
// number afresh. The reactor does not follow fork(): as before, a child
// process uses a new engine.

// keeps_watcher — whether the watcher of fd's direction `write` stays
// started after its last wait ended: the read side of a managed fd whose
// identity is still the one its watcher started for.
bool ev_reactor::keeps_watcher(const fd_entry& e, int fd, bool write) const noexcept {
    return !write && e.identity != 0 && managed_identity(fd) == e.identity;
}

// adopt_identity — fd's number now stands for `id` (0: unmanaged) where its
// watchers were started for another: the watchers nobody waits on stop (a
// kept one belongs to a file that is gone), so the next watch re-registers.
void ev_reactor::adopt_identity(fd_entry& e, int fd, std::uint32_t id) noexcept {
    for (int dir = 0; dir < 2; ++dir)
        if (e.waiters[dir].empty()) backend_.unwatch(fd, dir);
    e.identity = id;
}

// watch_fd — links n into fd's list for its direction (e: fd's entry); the
// backend watches it. `known`: fd is the managed file the entry's watchers
// were started for (resume: no re-registration), else the number may name a
// new file. Throws std::bad_alloc when the backend cannot allocate fd's first
// watchers, with n linked: the caller abandons the wait (a try around the
// backend call here would keep watch_fd out of line, 42 instructions more
// per fd wait; at the two call sites it costs none).
void ev_reactor::watch_fd(fd_entry& e, wait_node* n, int fd, bool write, bool known) {
    n->fd = fd;
    n->write = write;
    e.waiters[write].push_back(*n);
    if (known) backend_.resume(fd, write);
    else backend_.watch(fd, write);
    MT_ASSERT(backend_.watching(fd, write), "an fd direction with a pending wait is watched");
}

void ev_reactor::wait_fd(control_block& me, int fd, bool write, const deadline& d, const char* op) {
    const std::uint32_t id = managed_identity(fd);
    // libev must never meet a bad fd: check an unmanaged one before its
    // watcher starts. A started watcher of an unmanaged fd means another wait
    // on it is pending (give_back stops it with the last one), so the fd was
    // checked then — unless it is a watcher kept for a managed file that is
    // gone. A managed fd is open: its owner closes it only through close_fd,
    // which ends its identity first.
    fd_entry* seen = fds_.find(fd);
    if (id == 0 && (!backend_.watching(fd, write) || (seen && seen->identity != 0))) {
        ++fd_checks_;
        if (::fcntl(fd, F_GETFD) == -1 && errno == EBADF) {
            throw std::system_error(EBADF, std::generic_category(),
                                    op_in(op, fmt::format("fd {}", fd), &me) + ": not an open fd");
        }
    }
    fd_entry& e = seen ? *seen : fds_.entry(fd);  // may throw: before anything is armed
    const bool known = id != 0 && id == e.identity;
    if (id != e.identity) adopt_identity(e, fd, id);
    wait_ticket t;
    t.fd = fd;
    t.write = write;
    wait_node* n = begin(node_kind::fd, fd_kind, me, t);
    try {
        watch_fd(e, n, fd, write, known);
    } catch (...) {
        abandon_wait(me);  // unlinks and frees the node: nothing armed is left behind
        throw;
    }
    end_wait_or_throw(me, d, op);
}

bool ev_reactor::take_drained(int fd) noexcept {
    fd_entry* e = fds_.find(fd);
    if (!e || !e->drained) return false;
    e->drained = false;
    return true;
}

void ev_reactor::set_drained(int fd) noexcept {
    try {
        if (fd >= 0) fds_.entry(fd).drained = true;
    } catch (...) {  // out of memory: the hint is only an optimisation
    }
}

// forget_fd — `fd` is about to be closed: every wait on it ends with EBADF
// and its watchers are stopped first, and the number leaves the kernel's
// set, so neither libev nor the kernel meets a closed fd.
std::size_t ev_reactor::forget_fd(int fd) noexcept {
    fd_entry* e = fds_.find(fd);
    if (!e) return 0;
    e->drained = false;
    e->identity = 0;  // a later file with this number is watched afresh
    backend_.forget(fd);  // kept or not, and out of the kernel's set: before the close
    std::size_t n_woken = 0;
    for (int dir = 0; dir < 2; ++dir) n_woken += fail_waiters(fd, dir, "the fd was closed while it waited");
    return n_woken;
}

// fail_waiters — ends every wait on fd's direction `dir` with EBADF.
std::size_t ev_reactor::fail_waiters(int fd, int dir, const char* why) noexcept {
    fd_entry* e = fds_.find(fd);
    std::size_t n_woken = 0;
    while (wait_node* n = e ? e->waiters[dir].front() : nullptr) {
        std::exception_ptr err;
        try {
            err = std::make_exception_ptr(std::system_error(
                EBADF, std::generic_category(),
                op_in(dir ? "wait_writable" : "wait_readable", fmt::format("fd {}", fd), n->waiter) + ": " + why));
        } catch (...) {
            err = std::current_exception();  // out of memory: that is the error it gets
        }
        fire_error(n, std::move(err));
        ++n_woken;
    }
    return n_woken;
}

void ev_reactor::on_fd(int fd, int dir, bool error) noexcept {
    if (error) {  // libev found the fd closed under it
        backend_.unwatch(fd, dir);
        fail_waiters(fd, dir, "the fd was closed while it waited");
        return;
    }
    fd_entry* e = fds_.find(fd);
    if (!e || e->waiters[dir].empty()) {  // nobody waits: a kept watcher (or a stale event): stop it now
        backend_.unwatch(fd, dir);
        return;
    }
    while (wait_node* n = e->waiters[dir].front()) fire(n, nullptr);  // every waiter; the last one's give_back unwatches
}

// ---- signals ---------------------------------------------------------------------------

int ev_reactor::wait_signal(control_block& me, int signo, const deadline& d) {
    if (signals_.claim(signo, me)) backend_.watch_signal(signo);
    wait_ticket t;
    t.signo = signo;
    wait_node* n = begin(node_kind::signal, signal_kind, me, t);
    n->signo = signo;
    signals_.waiters(signo).push_back(*n);
    end_wait_or_throw(me, d, "wait_signal");
    return signo;
}

void ev_reactor::on_signal(int signo) noexcept {
    if (dump_board::dumps_on(signo)) dump_board::request_all();  // this engine too: printed after the run
    if (signo == SIGINT && signals_.owns_sigint()) {
        // Delivered after the backend's run returns: the main micro-thread
        // may be the one polling, and nothing may be thrown through libev.
        sigint_pending_ = true;
    }
    node_list& waiters = signals_.waiters(signo);
    while (wait_node* n = waiters.front()) fire(n, nullptr);
}

void ev_reactor::deliver_sigint() noexcept {
    sigint_pending_ = false;
    if (eng_.interrupt_main(std::make_exception_ptr(interrupted_error("interrupted by SIGINT (Ctrl-C)")))) return;
    if (eng_.live() > 0) {  // main has ended: stop what is left, so run() returns
        eng_.abort_all();
        return;
    }
    // Nothing to tell: behave as if we were not there.
    signals_.pass_sigint_on();
    ::raise(SIGINT);
}

// on_wakeup — another OS thread posted to the engine's mailbox (core): the
// blocked run returns, and the engine drains the mailbox after the poll.
void ev_reactor::on_wakeup() noexcept {}

// ---- the loop ----------------------------------------------------------------------------

void ev_reactor::poll(double max_wait) {
    backend_.run(max_wait);
    if (sigint_pending_) deliver_sigint();
    if (dump_requested_.load(std::memory_order_relaxed) || dump_signals_requested_.load(std::memory_order_relaxed))
        [[unlikely]] serve_dump_requests();
}

void ev_reactor::before_block() noexcept {
    if (before_) before_(hook_user_);
}

void ev_reactor::after_block() noexcept {
    if (after_) after_(hook_user_);
}

void ev_reactor::check_invariants() const noexcept {
    pool_.check_invariants();
    if constexpr (MT_CHECKED) {
        for (int fd = 0; fd < fds_.size(); ++fd) {
            const fd_entry* e = fds_.find(fd);
            if (!e) continue;
            for (int dir = 0; dir < 2; ++dir) {
                if (!e->waiters[dir].empty())
                    MT_ASSERT(backend_.watching(fd, dir), "an fd direction with a pending wait is watched");
                else if (backend_.watching(fd, dir))
                    MT_ASSERT(dir == 0 && e->identity != 0, "only a managed fd's read watcher is kept between waits");
            }
        }
    }
}

}  // namespace mt::detail
