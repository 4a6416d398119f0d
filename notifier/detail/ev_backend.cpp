// notifier/detail/ev_backend.cpp — the only file of the project that
// includes <ev.h>. See ev_backend.hpp for the contract.
#include "notifier/detail/ev_backend.hpp"

#include <ev.h>
#include <dirent.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>
#include <system_error>
#include <vector>

namespace mt::detail {
namespace {

// open_fds / find_epoll_fd — libev does not publish its backend fd, so the
// backend notes the fds open before and after making its loop and keeps the
// new one that is an epoll instance. libev's signal and async wake-ups go
// through an eventfd registered in that epoll set, so the fd becomes readable
// for every kind of event.
std::vector<int> open_fds() {
    std::vector<int> fds;
    if (DIR* d = ::opendir("/proc/self/fd")) {
        const int own = ::dirfd(d);  // the listing's own fd is not "open before"
        while (dirent* ent = ::readdir(d))
            if (ent->d_name[0] != '.' && std::atoi(ent->d_name) != own) fds.push_back(std::atoi(ent->d_name));
        ::closedir(d);
    }
    return fds;
}

int find_epoll_fd(const std::vector<int>& before) {
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

// forks — how many fork()s led to this process (each child's count is its
// parent's plus one), kept by a pthread_atfork handler. An epoll set made
// before a fork is shared with the other process after it: a backend made
// at another count must not change it (a child that closes an inherited fd
// would take the number out of its parent's set).
std::atomic<unsigned> forks{0};

unsigned fork_count() noexcept {
    static const bool counting = [] {
        ::pthread_atfork(nullptr, nullptr, [] { forks.fetch_add(1, std::memory_order_relaxed); });
        return true;
    }();
    (void)counting;
    return forks.load(std::memory_order_relaxed);
}

}  // namespace

struct ev_backend::impl {
    backend_events& events;
    struct ev_loop* loop = nullptr;
    // An fd number's two watchers, and whether libev may have put the fd
    // in the kernel's set since the last forget() (a watcher started).
    struct fd_watchers {
        std::array<ev_io, 2> io;
        bool maybe_in_kernel = false;
    };
    // By fd number, grown on demand; each pair is allocated once and never
    // moves (libev keeps pointers to started watchers).
    std::vector<std::unique_ptr<fd_watchers>> ios;
    std::array<ev_signal, NSIG> signals{};
    std::array<bool, NSIG> signal_on{};
    ev_async async;
    ev_timer bound;  // bounds a blocking run
    int epoll_fd = -1;
    unsigned made_at_fork = fork_count();  // see forks

    explicit impl(backend_events& e) : events(e) {}

    static impl& of(struct ev_loop* l) noexcept { return *static_cast<impl*>(ev_userdata(l)); }

    static void on_io(struct ev_loop* l, ev_io* w, int revents) noexcept {
        impl& self = of(l);
        const int dir = (w->events & EV_WRITE) ? 1 : 0;
        self.events.on_fd(w->fd, dir, (revents & EV_ERROR) != 0);
    }
    static void on_signal(struct ev_loop* l, ev_signal* w, int) noexcept { of(l).events.on_signal(w->signum); }
    static void on_async(struct ev_loop* l, ev_async*, int) noexcept { of(l).events.on_wakeup(); }
    // The block hooks are the embedder's code (an interpreter runs its signal
    // handlers in the after hook), and libev reads errno after them: a
    // poll interrupted by a signal is told from a failed one by EINTR, so
    // errno is kept across both hooks.
    static void on_release(struct ev_loop* l) noexcept {
        const int saved = errno;
        of(l).events.before_block();
        errno = saved;
    }
    static void on_acquire(struct ev_loop* l) noexcept {
        const int saved = errno;
        of(l).events.after_block();
        errno = saved;
    }
};

ev_backend::ev_backend(backend_events& events) : impl_(std::make_unique<impl>(events)) {
    const std::vector<int> before = open_fds();
    impl& m = *impl_;
    m.loop = ev_loop_new(static_cast<unsigned>(EVBACKEND_EPOLL) | static_cast<unsigned>(EVFLAG_NOSIGMASK));
    if (!m.loop) m.loop = ev_loop_new(static_cast<unsigned>(EVFLAG_AUTO) | static_cast<unsigned>(EVFLAG_NOSIGMASK));
    if (!m.loop) throw std::system_error(errno ? errno : ENOMEM, std::generic_category(), "ev_loop_new");
    // ev_async_start makes libev's wake-up eventfd (or a pipe) and, when it
    // cannot (the process's fd limit reached), libev prints a line and
    // aborts the process. Try one first, while failing is still an error.
    const int spare = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (spare < 0) {
        const int err = errno;
        ev_loop_destroy(m.loop);
        throw std::system_error(err, std::generic_category(), "eventfd for the notifier's wake-ups");
    }
    ::close(spare);  // the lowest free fd again: libev's eventfd takes it below
    if (::ev_backend(m.loop) == EVBACKEND_EPOLL) m.epoll_fd = find_epoll_fd(before);
    ev_set_userdata(m.loop, &m);
    ev_async_init(&m.async, impl::on_async);
    ev_async_start(m.loop, &m.async);
    ev_timer_init(&m.bound, [](struct ev_loop*, ev_timer*, int) noexcept {}, 0., 0.);
}

ev_backend::~ev_backend() {
    impl& m = *impl_;
    for (auto& f : m.ios)
        if (f)
            for (ev_io& w : f->io) ev_io_stop(m.loop, &w);
    for (std::size_t s = 0; s < m.signals.size(); ++s)
        if (m.signal_on[s]) ev_signal_stop(m.loop, &m.signals[s]);
    ev_async_stop(m.loop, &m.async);
    ev_timer_stop(m.loop, &m.bound);
    ev_loop_destroy(m.loop);
}

void ev_backend::watch(int fd, int dir) {
    impl& m = *impl_;
    const auto i = static_cast<std::size_t>(fd);
    if (i >= m.ios.size()) m.ios.resize(i + 1 > 2 * m.ios.size() ? i + 1 : 2 * m.ios.size());
    if (!m.ios[i]) {
        m.ios[i] = std::make_unique<impl::fd_watchers>();
        for (int d = 0; d < 2; ++d) ev_io_init(&m.ios[i]->io[d], impl::on_io, fd, d ? EV_WRITE : EV_READ);
    }
    ev_io& w = m.ios[i]->io[dir];
    if (ev_is_active(&w)) return;
    ev_io_set(&w, fd, dir ? EV_WRITE : EV_READ);  // marks the fd as possibly new to libev
    ev_io_start(m.loop, &w);
    m.ios[i]->maybe_in_kernel = true;
    ++stats_.fresh_watches;
}

void ev_backend::resume(int fd, int dir) {
    impl& m = *impl_;
    const auto i = static_cast<std::size_t>(fd);
    if (i >= m.ios.size() || !m.ios[i]) {  // never watched here: nothing to resume
        watch(fd, dir);
        return;
    }
    ev_io& w = m.ios[i]->io[dir];
    if (ev_is_active(&w)) return;
    // No ev_io_set: libev compares the fd's events before and after and
    // calls epoll_ctl only when they differ, or when its own lazy removal
    // left the kernel's set out of step (its epoll backend repairs that).
    ev_io_start(m.loop, &w);
    m.ios[i]->maybe_in_kernel = true;
    ++stats_.resumes;
}

void ev_backend::unwatch(int fd, int dir) noexcept {
    impl& m = *impl_;
    const auto i = static_cast<std::size_t>(fd);
    if (fd >= 0 && i < m.ios.size() && m.ios[i]) ev_io_stop(m.loop, &m.ios[i]->io[dir]);
}

// forget — libev removes a stopped fd from the kernel's set lazily: it
// leaves it there and counts on the close to drop it, which the close does
// only once no fd anywhere refers to the file. A forked child
// (call_in_subprocess forks without exec) or a dup keeps the file open, and
// the kernel then goes on reporting its events under the closed number,
// which may name another file by then: libev answers by removing that
// number from its set (another file's, perhaps another engine's) or, when
// the numbers' generations disagree, by making its whole epoll set again.
// So the number leaves the set here, before the close (one epoll_ctl, as
// libuv makes on every close of a watched fd) — but not in a forked child,
// which shares the set with its parent: there the parent's entry would go.
void ev_backend::forget(int fd) noexcept {
    impl& m = *impl_;
    const auto i = static_cast<std::size_t>(fd);
    if (fd < 0 || i >= m.ios.size() || !m.ios[i]) return;
    impl::fd_watchers& f = *m.ios[i];
    for (ev_io& w : f.io) ev_io_stop(m.loop, &w);
    if (f.maybe_in_kernel && m.epoll_fd >= 0 && forks.load(std::memory_order_relaxed) == m.made_at_fork) {
        epoll_event none{};
        ::epoll_ctl(m.epoll_fd, EPOLL_CTL_DEL, fd, &none);  // ENOENT: libev had not added it yet
    }
    f.maybe_in_kernel = false;
}

bool ev_backend::watching(int fd, int dir) const noexcept {
    const impl& m = *impl_;
    const auto i = static_cast<std::size_t>(fd);
    return fd >= 0 && i < m.ios.size() && m.ios[i] && ev_is_active(&m.ios[i]->io[dir]);
}

void ev_backend::watch_signal(int signo) {
    impl& m = *impl_;
    const auto s = static_cast<std::size_t>(signo);
    if (m.signal_on[s]) return;
    ev_signal_init(&m.signals[s], impl::on_signal, signo);
    ev_signal_start(m.loop, &m.signals[s]);
    m.signal_on[s] = true;
}

void ev_backend::wake() noexcept { ev_async_send(impl_->loop, &impl_->async); }

void ev_backend::run(double max_wait) {
    impl& m = *impl_;
    if (max_wait > 0) {
        ev_now_update(m.loop);
        ev_timer_set(&m.bound, max_wait, 0.);
        ev_timer_start(m.loop, &m.bound);
        ev_run(m.loop, EVRUN_ONCE);
        ev_timer_stop(m.loop, &m.bound);
    } else {
        ev_run(m.loop, max_wait < 0 ? EVRUN_ONCE : EVRUN_NOWAIT);
    }
}

void ev_backend::set_hooks(bool on) noexcept {
    if (on) ev_set_loop_release_cb(impl_->loop, impl::on_release, impl::on_acquire);
    else ev_set_loop_release_cb(impl_->loop, nullptr, nullptr);
}

int ev_backend::kernel_fd() const noexcept { return impl_->epoll_fd; }

}  // namespace mt::detail
