// nonblocking_io/detail/subprocess_child.hpp — forking a child that runs one
// function and answers on a pipe: everything between fork() and the child's
// _exit(). The parent's side (waiting, judging, reaping) is
// nonblocking_io/subprocess_call.cpp; the rules a function run this way must
// follow are in docs/design/subprocess_calls.md.
//
// In the child, before the function runs:
//   * this OS thread forgets its engine: engine::current() is nullptr, so an
//     mt:: call that needs an engine raises usage_error instead of running
//     the parent's micro-threads in a copy of its memory;
//   * signal handlers go back to SIG_DFL (the engine's, libev's, the
//     sanitizers'), SIGPIPE too, and then no signal is blocked: abort()'s
//     SIGTERM ends the child, a crash ends it by its signal (every signal is
//     blocked from before the fork until then, so none reaches a handler of
//     the parent's in the child);
//   * every fd but 0, 1, 2, the answer pipe and those the caller keeps is
//     closed: the parent's epoll and wake-up fds, its sockets, and above all
//     other calls' answer pipes, whose end-of-stream must not wait for this
//     child;
//   * it asks for SIGKILL when the OS thread that forked it ends
//     (PR_SET_PDEATHSIG), so a function never outlives its engine's thread;
//   * it moves to a fresh stack (core/detail/context.hpp,
//     call_on_fresh_stack): the micro-thread's stack it inherited is small.
// Then it runs the function, writes the answer (subprocess_answer.hpp) with
// blocking writes, flushes stdout/stderr if the function left output in
// their buffers, and _exit()s: no atexit handler or static destructor of the
// parent's copy runs.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <vector>

namespace mt::detail {

// child_job — what the child runs. run() returns the value's bytes or
// throws; it is called only in the child.
struct child_job {
    virtual ~child_job() = default;
    virtual std::string run() = 0;
};

struct child_setup {
    std::size_t stack_size;  // the fresh stack's usable bytes
    std::vector<int> keep_fds;  // fds the child keeps open besides 0, 1, 2 and its answer pipe
};

struct forked_child {
    pid_t pid;
    int answer_fd;  // the parent's read end: non-blocking, close-on-exec, owned by the caller
};

// answer_write_failed — the child's exit status when it could not write its
// answer (the parent closed its end, or the function closed the pipe).
inline constexpr int answer_write_failed = 120;

// fork_child — forks a child that runs job.run() as described above, and
// returns in the parent with its pid and the answer pipe. Flushes the
// parent's stdout and stderr first (what they buffer would otherwise be
// written twice, once by the child). Never suspends. Throws
// std::system_error naming `what` when the pipe or the fork fails.
forked_child fork_child(child_job& job, const child_setup& setup, const std::string& what);

// subprocess_answer_fd — in a child running a function: the write end of
// its answer pipe (tests corrupt the answer through it); -1 elsewhere.
int subprocess_answer_fd() noexcept;

}  // namespace mt::detail
