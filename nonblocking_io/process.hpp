// nonblocking_io/process.hpp — OS processes next to micro-threads.
//
//   mt::process p = mt::process::start({"sort", "-n"});
//   mt::write_all(p.stdin_fd(), "3\n1\n2\n");  p.close_stdin();
//   std::string sorted = p.read_all_stdout();
//   int status = p.wait();                       // through the notifier (the child's pidfd)
//
// process_stage(argv) makes an OS process a stage of pipeline<std::string,...>:
// lines from its stdin pipe go to the process, lines it prints go to its
// stdout pipe; a non-zero exit closes its stdout with a process_error naming
// the command and the status. At most max_processes() run at once; start()
// suspends while the limit is reached (the PEP discussion's
// ProcessQueue(max_processes=4)).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <vector>

#include "core/errors.hpp"
#include "nonblocking_io/fd.hpp"
#include "pipes/micro_pipe.hpp"

namespace mt {

// process_error — a process ended unsuccessfully; what() names the command.
class process_error : public error {
public:
    process_error(const std::string& what, int status) : error(what), status_(status) {}
    int status() const noexcept { return status_; }  // as waitpid() reports it

private:
    int status_;
};

class process {
public:
    // start — runs argv[0] (looked up in PATH) with its stdin, stdout and
    // stderr connected to non-blocking pipes (stderr: inherited if
    // capture_stderr is false). Suspends while max_processes() run.
    // std::system_error if it cannot be started (naming the command).
    static process start(const std::vector<std::string>& argv, bool capture_stderr = false);

    process(process&&) noexcept;
    process& operator=(process&&) = delete;
    // ~process — a process not waited for is killed (SIGKILL) and reaped.
    ~process();

    pid_t pid() const noexcept { return pid_; }
    int stdin_fd() const noexcept { return in_.get(); }
    int stdout_fd() const noexcept { return out_.get(); }
    int stderr_fd() const noexcept { return err_.get(); }
    void close_stdin() noexcept { in_.close(); }
    // read_all_stdout — everything it prints until it closes its stdout.
    std::string read_all_stdout();
    // wait — suspends until it exits; returns the waitpid() status. Throws
    // timeout_error when `d` passes first (the process runs on; wait again
    // or let the destructor kill it).
    int wait(deadline d = {});
    // command — "sort -n"
    const std::string& command() const noexcept { return command_; }

private:
    process() = default;
    pid_t pid_ = -1;
    bool waited_ = false;
    fd in_, out_, err_;
    std::string command_;
};

// set_max_processes / max_processes — the bound on processes running at
// once from this OS thread's engine (default 64; 0 counts as 1). start()
// waits in line on a semaphore named 'max_processes'. Raised while processes
// run, it lets waiters start at once; lowered, it takes effect as the
// running processes end.
void set_max_processes(std::size_t n);
std::size_t max_processes();

// process_stage — see above: a pipeline stage running argv on lines.
struct process_stage {
    std::vector<std::string> argv;
    void operator()(micro_pipe<std::string> in, micro_pipe<std::string> out) const;
};

}  // namespace mt
