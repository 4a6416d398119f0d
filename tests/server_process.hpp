// tests/server_process.hpp — the example servers as processes of their own,
// for the server tests and the soak runs: started with an optional fd limit,
// their port read from their "listening on PORT" line, stopped with Ctrl-C;
// and what a test reads of a process from outside (memory, fds, a shell).
#pragma once

#include <doctest/doctest.h>

#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#ifndef MT_EXAMPLES_DIR
#error "MT_EXAMPLES_DIR must name the build directory of pep_examples"
#endif

namespace mt_test {

// server — a running example server: started with an optional fd limit,
// its port read from its "listening on PORT" line, stopped with Ctrl-C.
struct server {
    pid_t pid = -1;
    int port = 0;
    int out_fd = -1;  // its stdout, kept open: it says goodbye there on Ctrl-C
    std::string err_path;

    // threads: passed as "--threads N" (nullptr: not passed).
    explicit server(const std::string& name, int fd_limit = 0, const char* threads = nullptr) {
        const std::string exe = std::string(MT_EXAMPLES_DIR) + "/" + name;
        err_path = "/tmp/mt_server_err_" + std::to_string(::getpid()) + "_" + name;
        int out[2];
        REQUIRE(::pipe(out) == 0);
        pid = ::fork();
        if (pid == 0) {
            ::dup2(out[1], 1);
            ::close(out[0]);
            ::close(out[1]);
            FILE* e = std::fopen(err_path.c_str(), "w");
            if (e) ::dup2(fileno(e), 2);
            ::signal(SIGINT, SIG_DFL);
            if (fd_limit) {
                rlimit rl{static_cast<rlim_t>(fd_limit), static_cast<rlim_t>(fd_limit)};
                ::setrlimit(RLIMIT_NOFILE, &rl);
            }
            if (threads) ::execl(exe.c_str(), exe.c_str(), "0", "--threads", threads, static_cast<char*>(nullptr));
            else ::execl(exe.c_str(), exe.c_str(), "0", static_cast<char*>(nullptr));
            ::_exit(127);
        }
        ::close(out[1]);
        std::string line;
        char c;
        while (::read(out[0], &c, 1) == 1 && c != '\n') line += c;
        out_fd = out[0];
        REQUIRE(line.rfind("listening on ", 0) == 0);
        port = std::atoi(line.c_str() + 13);
    }
    ~server() { stop(); }

    // stop — Ctrl-C; returns true if it ended cleanly (exit status 0).
    bool stop() {
        if (pid < 0) return true;
        ::kill(pid, SIGINT);
        int status = 0;
        ::waitpid(pid, &status, 0);
        pid = -1;
        ::close(out_fd);
        if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0))
            MESSAGE("server status " << status << " stderr: " << errors());
        return WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    std::string errors() const {
        std::string s;
        if (FILE* f = std::fopen(err_path.c_str(), "r")) {
            char buf[4096];
            while (std::size_t n = std::fread(buf, 1, sizeof buf, f)) s.append(buf, n);
            std::fclose(f);
        }
        return s;
    }
    std::string url(const std::string& path = "/") const { return "http://127.0.0.1:" + std::to_string(port) + path; }
};

inline std::string shell(const std::string& cmd) {
    std::string out;
    if (FILE* p = ::popen((cmd + " 2>&1").c_str(), "r")) {
        char buf[4096];
        while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
        ::pclose(p);
    }
    return out;
}

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// memory_kib — a "VmRSS:"-style field of /proc/PID/status, in KiB; -1 if absent.
inline long memory_kib(pid_t pid, const std::string& field) {
    FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/status").c_str(), "r");
    if (!f) return -1;
    long kib = -1;
    char line[256];
    while (std::fgets(line, sizeof line, f))
        if (std::string_view(line).starts_with(field)) kib = std::atol(line + field.size());
    std::fclose(f);
    return kib;
}

// open_fds_of — how many fds process `pid` has open.
inline int open_fds_of(pid_t pid) {
    int n = 0;
    if (DIR* d = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str())) {
        while (dirent* e = ::readdir(d))
            if (e->d_name[0] != '.') ++n;
        ::closedir(d);
    }
    return n;
}

}  // namespace mt_test
