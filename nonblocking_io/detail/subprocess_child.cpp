// nonblocking_io/detail/subprocess_child.cpp — see subprocess_child.hpp.
//
// What the child relies on (glibc, Linux): fork() in a process with several
// OS threads leaves the child one thread and every lock in the state the
// fork caught it in. glibc's fork takes malloc's arena locks and the stdio
// list lock around the fork and re-initializes them in the child, and
// re-initializes every FILE's lock and the dynamic loader's lock there; with
// GCC >= 12 on glibc >= 2.35 the unwinder finds frames through
// _dl_find_object, without a lock. So the child may allocate, throw, catch
// and print. Locks of anyone else (the worker pool's queue, the user's own
// mutexes, a function-local static another thread was initializing) stay as
// they were: a function that takes one another thread held at the fork
// waits forever (docs/design/subprocess_calls.md lists what a function may do).
#include "nonblocking_io/detail/subprocess_child.hpp"

#include <cxxabi.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio_ext.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string_view>
#include <system_error>
#include <typeinfo>

#include "core/detail/context.hpp"
#include "core/detail/sys.hpp"
#include "core/engine.hpp"
#include "nonblocking_io/detail/subprocess_answer.hpp"

namespace mt::detail {
namespace {

int answer_fd_in_child = -1;  // set in the child only

struct child_context {
    child_job* job;
    int fd;
};

// close_from_to — closes fds [first, last] (last may be ~0u: all above).
void close_from_to(unsigned first, unsigned last) noexcept {
    if (first > last) return;
#ifdef SYS_close_range
    if (::syscall(SYS_close_range, first, last, 0) == 0) return;
#endif
    // Kernels before 5.9: one close per possible fd up to the soft limit.
    rlimit lim{};
    unsigned top = 65536;
    if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < top)
        top = static_cast<unsigned>(lim.rlim_cur);
    for (unsigned f = first; f <= last && f < top; ++f) ::close(static_cast<int>(f));
}

// close_all_but — `keep` is sorted and unique.
void close_all_but(const std::vector<int>& keep) noexcept {
    unsigned next = 0;
    for (int k : keep) {
        if (static_cast<unsigned>(k) > next) close_from_to(next, static_cast<unsigned>(k) - 1);
        next = static_cast<unsigned>(k) + 1;
    }
    close_from_to(next, ~0u);
}

void default_signals() noexcept {
    for (int sig = 1; sig < NSIG; ++sig) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        struct sigaction old {};
        if (::sigaction(sig, nullptr, &old) != 0) continue;  // not a signal the kernel knows
        const bool handled = (old.sa_flags & SA_SIGINFO) ? old.sa_sigaction != nullptr
                                                         : old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN;
        if (handled || sig == SIGPIPE) ::signal(sig, SIG_DFL);
    }
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
}

// the_exception — the type name and what() of the exception being handled.
void describe_current(std::string& type, std::string& what) {
    const std::type_info* t = abi::__cxa_current_exception_type();
    if (!t) {
        type = "an unknown exception";
    } else {
        int status = 0;
        char* readable = abi::__cxa_demangle(t->name(), nullptr, nullptr, &status);
        type = status == 0 && readable ? readable : t->name();
        std::free(readable);
    }
    try {
        throw;
    } catch (const std::exception& e) {
        what = e.what();
    } catch (...) {
        what.clear();  // not a std::exception: there is no what()
    }
}

void flush_stdio() noexcept {
    if (::__fpending(stdout) > 0) std::fflush(stdout);
    if (::__fpending(stderr) > 0) std::fflush(stderr);
}

// child_main — on the fresh stack; never returns.
void child_main(void* arg) noexcept {
    auto* c = static_cast<child_context*>(arg);
    bool written = false;
    try {
        const std::string value = c->job->run();
        written = write_value_answer(c->fd, value);
    } catch (...) {
        std::string type, what;
        try {
            describe_current(type, what);
        } catch (...) {
            type = "an exception whose description failed";  // std::bad_alloc while describing it
        }
        written = write_exception_answer(c->fd, type, what);
    }
    flush_stdio();
    ::_exit(written ? 0 : answer_write_failed);
}

[[noreturn]] void become_child(child_job& job, const child_setup& setup, const std::vector<int>& keep, int fd,
                               pid_t parent) noexcept {
    tls_engine = nullptr;  // the parent's engine is not ours: mt:: calls needing one raise usage_error
    default_signals();
    close_all_but(keep);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(answer_write_failed);  // the forking thread ended before the prctl
    answer_fd_in_child = fd;
    child_context c{&job, fd};
    if (!call_on_fresh_stack(setup.stack_size, child_main, &c)) {
        char text[160];
        const int n = std::snprintf(text, sizeof text, "could not map a stack of %zu bytes for the call: %s",
                                    setup.stack_size, std::strerror(errno));
        const bool written = write_exception_answer(c.fd, "std::system_error",
                                                    std::string_view(text, n > 0 ? static_cast<std::size_t>(n) : 0));
        ::_exit(written ? 0 : answer_write_failed);
    }
    ::_exit(answer_write_failed);  // child_main never returns
}

}  // namespace

int subprocess_answer_fd() noexcept { return answer_fd_in_child; }

forked_child fork_child(child_job& job, const child_setup& setup, const std::string& what) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), what + ": pipe");
    ::fcntl(p[0], F_SETFL, ::fcntl(p[0], F_GETFL) | O_NONBLOCK);
    std::vector<int> keep = setup.keep_fds;
    keep.insert(keep.end(), {0, 1, 2, p[1]});
    std::sort(keep.begin(), keep.end());
    keep.erase(std::unique(keep.begin(), keep.end()), keep.end());
    keep.erase(keep.begin(), std::find_if(keep.begin(), keep.end(), [](int f) { return f >= 0; }));
    flush_stdio();
    const pid_t parent = ::getpid();
    // Every signal is blocked across the fork: one sent to the child before
    // it has put its handlers back to their defaults (an abort() right after
    // the start) would otherwise run a handler of the parent's in the child.
    // The child unblocks them in default_signals; the parent right here.
    sigset_t all, old;
    sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &old);
    const pid_t pid = sys().fork();
    if (pid == 0) become_child(job, setup, keep, p[1], parent);
    const int err = errno;
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    ::close(p[1]);
    if (pid < 0) {
        ::close(p[0]);
        throw std::system_error(err, std::generic_category(), what + ": fork");
    }
    return {pid, p[0]};
}

}  // namespace mt::detail
