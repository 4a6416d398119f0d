// tests/child_process.hpp — runs what must crash in a child process and
// reports how it ended and what it wrote to stderr.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <functional>
#include <string>

namespace mt_test {

struct child_outcome {
    int exit_code = -1;  // when it exited
    int signal = 0;      // when a signal ended it
    std::string err;     // everything it wrote to stderr
};

inline child_outcome run_in_child(const std::function<void()>& body) {
    int p[2];
    if (::pipe(p) != 0) std::abort();
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::close(p[0]);
        ::dup2(p[1], 2);
        ::dup2(p[1], 1);
        ::close(p[1]);
        // The test framework's crash handlers must not report the child's
        // deliberate crash as the parent's.
        for (int sig : {SIGABRT, SIGSEGV, SIGBUS, SIGILL, SIGFPE}) ::signal(sig, SIG_DFL);
        body();
        ::_exit(0);
    }
    ::close(p[1]);
    child_outcome out;
    char buf[4096];
    for (ssize_t n; (n = ::read(p[0], buf, sizeof buf)) > 0;) out.err.append(buf, static_cast<std::size_t>(n));
    ::close(p[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (WIFEXITED(status)) out.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) out.signal = WTERMSIG(status);
    return out;
}

}  // namespace mt_test
