// tests/stress/harness.cpp — children, shrinking, reports.
#include "tests/stress/harness.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>
#include <vector>

namespace mt_stress {
namespace {

void write_all(int fd, const std::string& s) {
    const char* p = s.data();
    std::size_t n = s.size();
    while (n > 0) {
        const ssize_t k = ::write(fd, p, n);
        if (k <= 0) return;
        p += k;
        n -= static_cast<std::size_t>(k);
    }
}

// In a child: stream each operation before it runs, and the failure.
void child_on_op(const op& o) { write_all(1, "OP " + serialize(o) + "\n"); }

[[noreturn]] void child_on_fail(const failure& f, const trace&) {
    write_all(1, "FAIL " + std::to_string(f.step) + "\n" + f.op_text + "\n" + f.message + "FAILEND\n");
    ::_exit(1);
}

struct child_result {
    int exit_code = -1;
    int signal = 0;
    std::vector<op> ops;  // streamed operations
    bool failed_check = false;
    failure f;
    std::string other;  // everything else it printed (an assertion's message, ...)
    bool failed() const { return exit_code != 0 || signal != 0; }
    std::string what(bool with_output = true) const {
        if (failed_check) return "step " + std::to_string(f.step) + " (" + f.op_text + "):\n" + f.message;
        std::string s = signal ? "the run stopped with signal " + std::to_string(signal) + " (" + strsignal(signal) + ")"
                               : "the run exited with " + std::to_string(exit_code);
        if (!ops.empty()) s += " during or after step " + std::to_string(ops.size() - 1) + " (" + describe(ops.back()) + ")";
        return s + (with_output ? ":\n" + other : std::string("\n"));
    }
};

unsigned child_seconds() {
    const char* v = std::getenv("MT_STRESS_CHILD_SECONDS");
    return v && *v ? static_cast<unsigned>(std::atoi(v)) : 120;
}

child_result in_child(const std::function<void()>& body) {
    if (std::getenv("MT_STRESS_NO_FORK")) {  // for a debugger: run here, let a failure stop the process
        body();
        child_result ok;
        ok.exit_code = 0;
        return ok;
    }
    int p[2];
    if (::pipe(p) != 0) std::abort();
    std::fflush(stdout);
    std::fflush(stderr);
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::close(p[0]);
        ::dup2(p[1], 1);
        ::dup2(p[1], 2);
        ::close(p[1]);
        for (int sig : {SIGABRT, SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGALRM}) ::signal(sig, SIG_DFL);
        ::alarm(child_seconds());  // a run that hangs is a failure too (SIGALRM)
        body();
        std::fflush(stdout);
        ::_exit(0);
    }
    ::close(p[1]);
    std::string out;
    char buf[65536];
    for (ssize_t n; (n = ::read(p[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
    ::close(p[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    child_result r;
    if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
    std::istringstream in(out);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("OP ", 0) == 0) {
            op o;
            if (parse(line.substr(3), o)) r.ops.push_back(o);
        } else if (line.rfind("FAIL ", 0) == 0) {
            r.failed_check = true;
            r.f.step = std::atoi(line.c_str() + 5);
            std::getline(in, r.f.op_text);
            while (std::getline(in, line) && line != "FAILEND") r.f.message += line + "\n";
        } else {
            r.other += line + "\n";
        }
    }
    if (r.other.size() > 4000) r.other = "..." + r.other.substr(r.other.size() - 4000);
    return r;
}

child_result replay(const trace& t, bool verbose = false) {
    return in_child([&] {
        trace copy = t;
        run_options o;
        o.verbose = verbose;
        o.on_fail = &child_on_fail;
        run(copy, nullptr, nullptr, o);
    });
}

// shrink — delta debugging (ddmin) over the operations: drop chunks while the
// replay still fails. Bounded in replays and time.
trace shrink(trace t) {
    const auto t0 = std::chrono::steady_clock::now();
    int replays = 0;
    auto out_of_budget = [&] { return replays >= 600 || std::chrono::steady_clock::now() - t0 > std::chrono::seconds(120); };
    std::size_t n = 2;
    while (t.ops.size() >= 2 && !out_of_budget()) {
        const std::size_t size = t.ops.size();
        const std::size_t chunk = (size + n - 1) / n;
        bool reduced = false;
        for (std::size_t start = 0; start < size && !out_of_budget(); start += chunk) {
            trace cand = t;
            cand.ops.clear();
            for (std::size_t i = 0; i < size; ++i)
                if (i < start || i >= start + chunk) cand.ops.push_back(t.ops[i]);
            ++replays;
            const child_result r = replay(cand);
            if (std::getenv("MT_STRESS_DEBUG_SHRINK"))
                std::fprintf(stderr, "shrink: %zu ops -> %s\n", cand.ops.size(), r.failed() ? r.what().c_str() : "passes");
            if (r.failed()) {
                t = std::move(cand);
                n = n > 2 ? n - 1 : 2;
                reduced = true;
                break;
            }
        }
        if (!reduced) {
            if (n >= size) break;
            n = std::min(size, n * 2);
        }
    }
    return t;
}

std::string report(const std::string& head, const trace& minimal, const std::string& saved) {
    std::ostringstream r;
    r << head;
    const child_result again = replay(minimal, true);
    r << "\nminimal trace (" << minimal.ops.size() << " operations, profile " << minimal.profile << ", end mode "
      << minimal.end_mode << "), as run, with what each worker logged:\n";
    std::istringstream in(again.other);
    for (std::string line; std::getline(in, line);) r << line << "\n";
    r << "it fails with: " << again.what(false);
    if (!saved.empty()) r << "replay it: MT_STRESS_TRACE=" << saved << " core_tests -tc='stress:*'\n";
    return r.str();
}

trace trace_of(const child_result& c, const std::string& profile, int end_mode) {
    trace t;
    t.profile = profile;
    t.end_mode = end_mode;
    t.ops.assign(c.ops.begin(), c.ops.end());
    return t;
}

}  // namespace

int end_mode_of(std::uint64_t seed) {
    rng_choices c(seed ^ 0x5eed5eed5eedull);
    return c.below(100) < 20 ? 1 : 0;
}

bool write_trace(const trace& t, const std::string& path) {
    std::ofstream f(path);
    f << "profile " << t.profile << " end " << t.end_mode << "\n";
    for (const op& o : t.ops) f << serialize(o) << "\n";
    return bool(f);
}

bool read_trace(const std::string& path, trace& t) {
    std::ifstream f(path);
    std::string word;
    if (!(f >> word >> t.profile >> word >> t.end_mode)) return false;
    std::string line;
    std::getline(f, line);
    while (std::getline(f, line)) {
        op o;
        if (!line.empty() && !parse(line, o)) return false;
        if (!line.empty()) t.ops.push_back(o);
    }
    return true;
}

void print_failure(const failure& f, const trace& t) {
    std::fprintf(stderr, "stress divergence at step %d (%s):\n%s", f.step, f.op_text.c_str(), f.message.c_str());
    std::fprintf(stderr, "the trace (profile %s, end mode %d):\n", t.profile.c_str(), t.end_mode);
    for (std::size_t i = 0; i < t.ops.size(); ++i) std::fprintf(stderr, "  %4zu. %s\n", i, describe(t.ops[i]).c_str());
    std::fprintf(stderr, "as a trace file:\nprofile %s end %d\n", t.profile.c_str(), t.end_mode);
    for (const op& o : t.ops) std::fprintf(stderr, "%s\n", serialize(o).c_str());
}

outcome check_seed(std::uint64_t seed, const std::string& profile_name, int steps) {
    const profile* base = find_profile(profile_name);
    outcome out;
    if (!base) {
        out.failed = true;
        out.report = "no stress profile '" + profile_name + "'";
        return out;
    }
    profile p = *base;
    if (steps > 0) p.steps = steps;
    const int end_mode = end_mode_of(seed);
    const child_result first = in_child([&] {
        trace t;
        t.profile = profile_name;
        t.end_mode = end_mode;
        rng_choices c(seed);
        run_options o;
        o.on_op = &child_on_op;
        o.on_fail = &child_on_fail;
        run(t, &c, &p, o);
    });
    out.steps = static_cast<int>(first.ops.size());
    if (!first.failed()) return out;
    out.failed = true;
    const trace t = trace_of(first, profile_name, end_mode);
    const trace minimal = shrink(t);
    const std::string saved = "/tmp/mt-stress-" + std::to_string(seed) + ".trace";
    const bool ok = write_trace(minimal, saved);
    out.report = report("stress seed " + std::to_string(seed) + " (profile " + profile_name + ", " +
                            std::to_string(t.ops.size()) + " operations; replay: MT_STRESS_SEED=" + std::to_string(seed) +
                            " MT_STRESS_PROFILE=" + profile_name + ") diverged at " + first.what(),
                        minimal, ok ? saved : "");
    return out;
}

outcome check_trace_file(const std::string& path) {
    outcome out;
    trace t;
    if (!read_trace(path, t)) {
        out.failed = true;
        out.report = "cannot read the stress trace " + path;
        return out;
    }
    const child_result first = replay(t);
    out.steps = static_cast<int>(t.ops.size());
    if (!first.failed()) return out;
    out.failed = true;
    const trace minimal = shrink(t);
    const std::string saved = path + ".min";
    const bool ok = write_trace(minimal, saved);
    out.report = report("the stress trace " + path + " diverged at " + first.what(), minimal, ok ? saved : "");
    return out;
}

}  // namespace mt_stress
