// nonblocking_io/process.cpp — posix_spawnp with pipes; the exit through the
// notifier's child watcher (wait_child), which reaps only this pid.
#include "nonblocking_io/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <system_error>
#include <utility>

#include "core/engine.hpp"
#include "core/detail/overflow.hpp"
#include "core/scope.hpp"
#include "core/semaphore.hpp"
#include "nonblocking_io/io.hpp"
#include "notifier/notifier.hpp"

extern char** environ;

namespace mt {
namespace {

// The bound: a semaphore of max_processes places, one per engine (a
// primitive belongs to the engine that first used it; a later engine on this
// OS thread gets a new one). Waiters are served in order; one that times out
// or is aborted leaves the line, and a place handed to it is its own (its
// process object gives it back).
//
// Changing the bound while processes run: raising it releases the new
// places at once; lowering it takes free places back at once and the rest
// (`owed`) as running processes end, so no more than the new bound run once
// the excess has ended. Invariant: places->available() + running + owed ==
// max, where running counts the places held.
struct process_slots {
    std::size_t max = 64;
    std::uint64_t engine_serial = 0;  // the engine `places` belongs to
    std::optional<semaphore> places;  // free places of that engine
    std::size_t owed = 0;             // places to take back as running processes end
    std::size_t made_with = 0;        // the bound `places` was made with (its dump says "of N")

    // of — the places of engine `e`, made on its first use.
    semaphore& of(const engine& e) {
        if (!places || engine_serial != e.serial()) fresh(e);
        return *places;
    }
    // current — the places of this OS thread's engine, if made.
    semaphore* current() noexcept {
        const engine* e = engine::current();
        return e && places && engine_serial == e->serial() ? &*places : nullptr;
    }
    void fresh(const engine& e) {
        places.reset();  // the engine it belonged to has ended: nobody waits on it
        places.emplace(static_cast<std::ptrdiff_t>(max), "max_processes");
        engine_serial = e.serial();
        owed = 0;
        made_with = max;
    }
};

thread_local process_slots slots;

void acquire_slot() {
    engine& e = engine::get("process::start");
    e.require_running("process::start");
    slots.of(e).acquire();
}

// release_slot — a process that held a place ended (or failed to start).
// One that outlived its engine has nothing to give back to.
void release_slot() noexcept {
    semaphore* s = slots.current();
    if (!s) return;
    if (slots.owed > 0) {
        --slots.owed;
        return;
    }
    s->release();  // a bounded count by construction: cannot throw here
    // The bound changed while processes ran and now none runs or waits:
    // start afresh, so the dump's "of N" is the bound in force.
    if (slots.made_with != slots.max && s->available() == static_cast<std::ptrdiff_t>(slots.max) && s->waiting() == 0)
        slots.fresh(*engine::current());
}

std::string join(const std::vector<std::string>& argv) {
    std::string s;
    for (const auto& a : argv) s += (s.empty() ? "" : " ") + a;
    return s;
}

void make_pipe(int p[2], const std::string& what) {
    if (::pipe2(p, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category(), what + ": pipe");
}

}  // namespace

void set_max_processes(std::size_t n) {
    n = n ? n : 1;
    semaphore* s = slots.current();
    const auto old = static_cast<std::ptrdiff_t>(slots.max);
    slots.max = n;
    if (!s) return;  // made with the new bound on first use
    if (s->available() == old && slots.owed == 0 && s->waiting() == 0) {
        slots.fresh(*engine::current());  // nothing runs: start afresh, the dump then shows the new bound
        return;
    }
    const auto want = static_cast<std::ptrdiff_t>(n);
    if (want > old) {
        std::ptrdiff_t more = want - old;
        const auto forgiven = std::min<std::ptrdiff_t>(more, static_cast<std::ptrdiff_t>(slots.owed));
        slots.owed -= static_cast<std::size_t>(forgiven);
        more -= forgiven;
        if (more > 0) s->release(more);
    } else if (want < old) {
        const std::ptrdiff_t fewer = old - want;
        // Whoever waits wants one place, so none is free then: this takes
        // only places nobody is in line for.
        const std::ptrdiff_t now = std::min(fewer, s->available());
        if (now > 0 && !s->try_acquire(now)) detail::fatal("max_processes: free places could not be taken back");
        slots.owed += static_cast<std::size_t>(fewer - now);
    }
}
std::size_t max_processes() { return slots.max; }

process process::start(const std::vector<std::string>& argv, bool capture_stderr) {
    const std::string cmd = join(argv);
    if (argv.empty()) throw usage_error("process::start with an empty command");
    acquire_slot();
    process p;
    p.command_ = cmd;
    int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
    try {
        make_pipe(in, "process::start(" + cmd + ")");
        make_pipe(out, "process::start(" + cmd + ")");
        if (capture_stderr) make_pipe(err, "process::start(" + cmd + ")");
    } catch (...) {
        for (int f : {in[0], in[1], out[0], out[1], err[0], err[1]})
            if (f >= 0) ::close(f);
        release_slot();
        throw;
    }
    // The child starts with SIGPIPE and SIGINT at their defaults, whatever
    // the engine set for itself.
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t defaults;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    sigaddset(&defaults, SIGINT);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    if (capture_stderr) posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = -1;
    const int rc = ::posix_spawnp(&pid, args[0], &fa, &attr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    ::close(in[0]);
    ::close(out[1]);
    if (capture_stderr) ::close(err[1]);
    p.in_ = fd(in[1]);
    p.out_ = fd(out[0]);
    if (capture_stderr) p.err_ = fd(err[0]);
    if (rc != 0) {
        release_slot();
        throw std::system_error(rc, std::generic_category(), "process::start(" + cmd + ")");
    }
    p.pid_ = pid;
    set_nonblocking(p.in_.get());
    set_nonblocking(p.out_.get());
    if (p.err_) set_nonblocking(p.err_.get());
    return p;
}

process::process(process&& o) noexcept
    : pid_(std::exchange(o.pid_, -1)),
      waited_(o.waited_),
      in_(std::move(o.in_)),
      out_(std::move(o.out_)),
      err_(std::move(o.err_)),
      command_(std::move(o.command_)) {}

process::~process() {
    in_.close();
    out_.close();
    err_.close();
    if (pid_ > 0 && !waited_) {
        ::kill(pid_, SIGKILL);
        int st;
        while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
        }
        release_slot();
    }
}

std::string process::read_all_stdout() {
    std::string s;
    char buf[8192];  // micro-thread stacks are small (64 KiB by default)
    while (std::size_t n = read_d(out_.get(), buf, sizeof buf)) s.append(buf, n);
    return s;
}

int process::wait(deadline d) {
    const int status = wait_child(pid_, d);
    waited_ = true;
    release_slot();
    return status;
}

void process_stage::operator()(micro_pipe<std::string> in, micro_pipe<std::string> out) const {
    process p = process::start(argv);
    const std::string cmd = p.command();
    {
        scope s;
        s.spawn(spawn_options{"stdin feeder"}, [&] {  // lines in -> the process's stdin
            try {
                for (const std::string& line : in) write_all(p.stdin_fd(), line + "\n");
            } catch (const std::system_error& e) {
                // The process stopped reading (head -n1): stop feeding; its
                // exit status says whether that was a failure.
                if (e.code().value() != EPIPE) throw;
            }
            in.close_reader();
            p.close_stdin();
        });
        // the process's stdout -> lines out
        std::string pending;
        char buf[8192];  // micro-thread stacks are small (64 KiB by default)
        while (std::size_t n = read_d(p.stdout_fd(), buf, sizeof buf)) {
            pending.append(buf, n);
            for (std::size_t nl; (nl = pending.find('\n')) != std::string::npos; pending.erase(0, nl + 1))
                out.put(pending.substr(0, nl));
        }
        if (!pending.empty()) out.put(pending);
        s.wait();
    }
    const int status = p.wait();
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        const std::string how = WIFEXITED(status) ? "exited with status " + std::to_string(WEXITSTATUS(status))
                                                  : "was killed by signal " + std::to_string(WTERMSIG(status));
        throw process_error("process '" + cmd + "' " + how, status);
    }
}

}  // namespace mt
