// nonblocking_io/subprocess_call.cpp — the parent's side of a call in a
// subprocess: starting it, its collector micro-thread (reads the answer,
// reaps the child, judges what came back), waiting for it and aborting it.
// The child's side is nonblocking_io/detail/subprocess_child.cpp; the
// states are in nonblocking_io/detail/subprocess_state.hpp.
#include "nonblocking_io/subprocess_call.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "core/detail/assert.hpp"
#include "core/detail/control_block.hpp"
#include "core/detail/wait.hpp"
#include "core/engine.hpp"
#include "core/micro_thread.hpp"
#include "nonblocking_io/detail/subprocess_answer.hpp"
#include "nonblocking_io/detail/subprocess_state.hpp"
#include "nonblocking_io/fd.hpp"
#include "nonblocking_io/io.hpp"
#include "notifier/notifier.hpp"

namespace mt {

int subprocess_error::signal() const noexcept { return status_ >= 0 && WIFSIGNALED(status_) ? WTERMSIG(status_) : 0; }

int subprocess_error::exit_status() const noexcept {
    return status_ >= 0 && WIFEXITED(status_) ? WEXITSTATUS(status_) : -1;
}

namespace detail {
namespace {

using reason = subprocess_error::reason;

const wait_kind answer_kind{
    "subprocess",
    [](const void* obj, std::string& out) {
        const auto* w = static_cast<const answer_waiter*>(obj);
        out += "for " + w->s->describe() + (w->s->abort_asked ? " to end after its abort" : " to answer");
    },
    [](const void*) -> control_block* { return nullptr; },
    [](void* obj, control_block&) {
        auto* w = static_cast<answer_waiter*>(obj);
        if (w->s->waiters.contains(*w)) w->s->waiters.remove(*w);
    },
};

// await_done — suspends `me` until `s` is done or `d` passes.
wait_end await_done(control_block& me, const std::shared_ptr<subprocess_state>& s, const deadline& d) {
    answer_waiter w{&me, s, {}};
    begin_wait(me, answer_kind, &w);
    s->waiters.push_back(w);
    return end_wait(me, d);
}

std::string signal_text(int sig) {
    const char* abbrev = ::sigabbrev_np(sig);
    const char* desc = ::sigdescr_np(sig);
    std::string s = "signal " + std::to_string(sig);
    if (abbrev) s += std::string(" (SIG") + abbrev + (desc ? std::string(": ") + desc : std::string()) + ")";
    return s;
}

std::exception_ptr make_failure(const subprocess_state& s, reason why, int status, const std::string& how,
                                std::string type = {}, std::string what = {}) {
    return std::make_exception_ptr(
        subprocess_error(s.describe() + " " + how, why, s.pid, status, std::move(type), std::move(what)));
}

// reap_now — SIGKILL and a blocking waitpid: for paths that cannot wait
// in the notifier (an aborted collector, a collector that never started).
int reap_now(pid_t pid) noexcept {
    ::kill(pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return status;
}

// judge — the outcome of a child reaped with `status`, from what it sent.
std::exception_ptr judge(subprocess_state& s, answer_reader& r, bool killed_for_garbage, int status) {
    if (s.abort_asked) return make_failure(s, reason::aborted, status, "was aborted");
    if (killed_for_garbage)
        return make_failure(s, reason::bad_answer, status, "sent a bad answer (" + r.problem() + ") and was killed");
    if (WIFSIGNALED(status))
        return make_failure(s, reason::signaled, status, "was killed by " + signal_text(WTERMSIG(status)));
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (r.state() == answer_reader::verdict::complete && code == 0) {
        if (r.is_exception()) {
            std::string type(r.type_name()), what(r.what());
            return make_failure(s, reason::raised, status, "raised " + type + (what.empty() ? "" : ": " + what),
                                type, what);
        }
        s.value = r.take_value();
        return nullptr;
    }
    if (r.received() == 0 || code != 0)
        return make_failure(s, reason::exited, status,
                            "exited with status " + std::to_string(code) + " without answering");
    return make_failure(s, reason::bad_answer, status, "sent a bad answer (" + r.problem() + ")");
}

// collect — the collector micro-thread of a running call: owns the answer
// pipe, is the only one to reap the child, and finishes the call.
void collect(std::shared_ptr<subprocess_state> s, int answer_fd) {
    fd pipe(answer_fd);
    answer_reader r;
    bool killed_for_garbage = false;
    int status = 0;
    try {
        bool eof = false;
        while (r.wants_more()) {
            const std::size_t n = read_d(pipe.get(), r.space());
            if (n == 0) {
                eof = true;
                r.end();
            } else {
                r.took(n);
            }
        }
        if (r.state() == answer_reader::verdict::bad && !eof) {
            ::kill(s->pid, SIGKILL);  // it streams garbage: stop it instead of reading on
            killed_for_garbage = true;
        }
        status = wait_child(s->pid);
        if (r.state() == answer_reader::verdict::complete) {
            std::byte extra[1];
            ssize_t n;
            while ((n = ::read(pipe.get(), extra, 1)) < 0 && errno == EINTR) {
            }
            if (n > 0) r.took(static_cast<std::size_t>(n));  // a byte after the answer: bad
        }
    } catch (const std::exception&) {
        // The pipe or the wait failed (not our child any more, no memory):
        // the call fails with that error.
        reap_now(s->pid);
        s->finish(std::current_exception());
        return;
    } catch (...) {
        // Aborted (the engine is ending, a Ctrl-C): the child goes too.
        const int st = reap_now(s->pid);
        s->abort_asked = true;
        s->finish(judge(*s, r, false, st), "a collector was aborted: its engine is ending");
        throw;
    }
    std::exception_ptr outcome;
    try {
        outcome = judge(*s, r, killed_for_garbage, status);
    } catch (...) {
        outcome = std::current_exception();
    }
    s->finish(std::move(outcome));
}

// check_use — the checks of every waiting operation on a handle.
control_block& check_use(const std::shared_ptr<subprocess_state>& s, const char* op) {
    engine& e = engine::get(op);
    control_block& me = e.require_running(op);
    if (!s) throw usage_error(std::string(op) + " in micro-thread " + describe(me) + " on an empty subprocess_call");
    s->binding.check(me, op, "subprocess call", s->name);
    return me;
}

}  // namespace

std::shared_ptr<subprocess_state> make_subprocess(std::unique_ptr<child_job> job, const subprocess_options& opts,
                                                  const char* op) {
    engine& e = engine::get(op);
    control_block& me = e.require_running(op);
    if (opts.stack_size == 0)
        throw usage_error(std::string(op) + " in micro-thread " + describe(me) + ": a stack_size of 0 bytes");
    for (int f : opts.keep_fds)
        if (f < 0)
            throw usage_error(std::string(op) + " in micro-thread " + describe(me) + ": keep_fds holds " +
                              std::to_string(f) + ", not an fd");
    auto s = std::make_shared<subprocess_state>();
    s->name = opts.name.empty() ? "call" : std::string(opts.name);
    s->setup = child_setup{opts.stack_size, opts.keep_fds};
    s->job = std::move(job);
    s->binding.check(me, op, "subprocess call", s->name);
    return s;
}

void start_subprocess(const std::shared_ptr<subprocess_state>& s) {
    MT_ASSERT(s->phase == call_phase::pending, "a subprocess call starts twice");
    forked_child c{};
    try {
        c = fork_child(*s->job, s->setup, "starting subprocess call '" + s->name + "'");
    } catch (...) {
        if (s->pool) {
            s->pool->pending.remove(*s);
            s->pool = nullptr;
        }
        s->job.reset();
        s->phase = call_phase::done;  // pending -> done, with the error of the fork as its outcome
        s->failure = std::current_exception();
        while (answer_waiter* w = s->waiters.pop_front()) fire(*w->me, nullptr);
        s->check_invariants();
        throw;
    }
    s->job.reset();
    s->pid = c.pid;
    s->phase = call_phase::running;
    if (s->pool) {
        s->pool->pending.remove(*s);
        s->pool->running.push_back(*s);
    }
    try {
        const std::string name = "collector of " + s->name;  // the dump's name (copied by spawn)
        start_and_forget(spawn_options{name}, collect, s, c.answer_fd);
    } catch (...) {
        ::close(c.answer_fd);
        reap_now(c.pid);
        s->finish(std::current_exception(), "a collector could not be started");
        throw;
    }
}

subprocess_ref::subprocess_ref() noexcept = default;
subprocess_ref::subprocess_ref(std::shared_ptr<subprocess_state> s) noexcept : s_(std::move(s)) {}
subprocess_ref::subprocess_ref(subprocess_ref&& o) noexcept = default;
subprocess_ref& subprocess_ref::operator=(subprocess_ref&& o) noexcept {
    if (this != &o) {
        drop();
        s_ = std::move(o.s_);
    }
    return *this;
}
subprocess_ref::~subprocess_ref() { drop(); }

void subprocess_ref::drop() noexcept {
    if (!s_) return;
    std::shared_ptr<subprocess_state> s = std::move(s_);
    if (s->phase == call_phase::pending) {
        s->drop_pending("its handle was dropped");
    } else if (s->phase == call_phase::running && !s->abort_asked) {
        s->abort_asked = true;
        ::kill(s->pid, SIGKILL);  // its collector reaps it
    } else if (s->phase == call_phase::running) {
        ::kill(s->pid, SIGKILL);  // an abort's grace is cut short
    }
}

bool subprocess_ref::pending() const noexcept { return s_ && s_->phase == call_phase::pending; }
bool subprocess_ref::running() const noexcept { return s_ && s_->phase == call_phase::running; }
bool subprocess_ref::done() const noexcept { return s_ && s_->phase == call_phase::done; }
pid_t subprocess_ref::pid() const noexcept { return s_ ? s_->pid : -1; }
std::string subprocess_ref::name() const { return s_ ? s_->name : std::string(); }

const std::string& subprocess_ref::answer(const deadline& d, const char* op) {
    control_block& me = check_use(s_, op);
    check_deadline(me, d, op);
    if (pending_raise(me)) raise_pending(me);
    if (s_->phase != call_phase::done) {
        const std::shared_ptr<subprocess_state> s = s_;  // the handle may be moved from while this waits
        answer_waiter w{&me, s, {}};
        begin_wait(me, answer_kind, &w);
        s->waiters.push_back(w);
        end_wait_or_throw(me, d, op);
        if (s->failure) std::rethrow_exception(s->failure);
        if (s_ != s)
            throw usage_error(std::string(op) + " in micro-thread " + describe(me) + ": the handle of " +
                              s->describe() + " was moved away while it waited");
    }
    if (s_->failure) std::rethrow_exception(s_->failure);
    return s_->value;
}

void subprocess_ref::abort(std::chrono::nanoseconds grace) {
    const char* op = "subprocess_call::abort";
    control_block& me = check_use(s_, op);
    if (grace.count() < 0) throw_negative_timeout(me, op);
    if (s_->phase == call_phase::done) return;
    if (s_->phase == call_phase::pending) {
        s_->drop_pending("abort()");
        return;
    }
    s_->abort_asked = true;
    ::kill(s_->pid, SIGTERM);
    const std::shared_ptr<subprocess_state> s = s_;  // the handle may be moved from while this waits
    try {
        if (await_done(me, s, grace) == wait_end::timed_out && s->phase == call_phase::running) {
            ::kill(s->pid, SIGKILL);
            await_done(me, s, {});
        }
    } catch (...) {
        if (s->phase == call_phase::running) ::kill(s->pid, SIGKILL);  // its collector reaps it
        throw;
    }
}

void subprocess_ref::bad_value(const char* why) const {
    throw subprocess_error(s_->describe() + " sent a bad answer (its value could not be decoded: " + why + ")",
                           reason::bad_answer, s_->pid, -1);
}

}  // namespace detail
}  // namespace mt
