// core/detail/thread_census.cpp — see thread_census.hpp.
#include "core/detail/thread_census.hpp"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "core/detail/assert.hpp"

#if defined(__SANITIZE_THREAD__)
#define MT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MT_TSAN 1
#endif
#endif

namespace mt::detail {
namespace {

struct registry {
    std::mutex mu;
    parked_thread* head = nullptr;  // guarded by mu
    std::vector<park_source*> sources;  // guarded by mu
    std::vector<pid_t> sanitizer;  // set before main, read-only after
    std::atomic<std::uint64_t> activity{0};
};

registry& reg() {
    static registry* r = new registry;  // never destroyed: threads may park during exit
    return *r;
}

// list_tasks — the tids of /proc/self/task; false when it cannot be read.
bool list_tasks(std::vector<pid_t>& out) {
    DIR* d = ::opendir("/proc/self/task");
    if (!d) return false;
    while (dirent* e = ::readdir(d)) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        out.push_back(static_cast<pid_t>(std::atol(e->d_name)));
    }
    ::closedir(d);
    return true;
}

// num_threads — field 20 of /proc/self/stat (after the parenthesised
// command name, which may hold spaces); -1 when it cannot be read.
long num_threads() {
    std::FILE* f = std::fopen("/proc/self/stat", "re");
    if (!f) return -1;
    char buf[1024];
    const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    buf[n] = '\0';
    const char* p = nullptr;
    for (std::size_t i = 0; i < n; ++i)
        if (buf[i] == ')') p = buf + i;
    if (!p) return -1;
    // fields after ')': 3 state, 4 ppid, ... 20 num_threads: 18 fields on.
    int field = 2;
    for (; *p && field < 20; ++p)
        if (*p == ' ') ++field;
    return field == 20 ? std::atol(p) : -1;
}

#ifdef MT_TSAN
// ThreadSanitizer starts a background thread of its own beside the first
// thread the program creates; it never touches an engine. Start that first
// thread here, before main, and remember what appeared beside it.
struct sanitizer_threads {
    sanitizer_threads() {
        std::vector<pid_t> before, after;
        if (!list_tasks(before)) return;
        std::atomic<pid_t> dummy{0};
        std::thread([&] { dummy = this_tid(); }).join();
        if (!list_tasks(after)) return;
        for (pid_t t : after)
            if (t != dummy && std::find(before.begin(), before.end(), t) == before.end()) reg().sanitizer.push_back(t);
    }
} find_sanitizer_threads;
#endif

}  // namespace

pid_t this_tid() noexcept { return ::gettid(); }

void park(parked_thread& p) noexcept {
    registry& r = reg();
    std::lock_guard<std::mutex> lock(r.mu);
    MT_ASSERT(!p.linked, "an OS thread is parked twice");
    p.prev = nullptr;
    p.next = r.head;
    if (r.head) r.head->prev = &p;
    r.head = &p;
    p.linked = true;
}

void unpark(parked_thread& p) noexcept {
    registry& r = reg();
    std::lock_guard<std::mutex> lock(r.mu);
    if (!p.linked) return;
    if (p.prev) p.prev->next = p.next;
    else r.head = p.next;
    if (p.next) p.next->prev = p.prev;
    p.prev = p.next = nullptr;
    p.linked = false;
    r.activity.fetch_add(1, std::memory_order_seq_cst);
}

void add_park_source(park_source& s) noexcept {
    registry& r = reg();
    std::lock_guard<std::mutex> lock(r.mu);
    try {
        r.sources.push_back(&s);
    } catch (...) {  // out of memory: its threads count as unknown (no census ever reports)
    }
}

void remove_park_source(park_source& s) noexcept {
    registry& r = reg();
    std::lock_guard<std::mutex> lock(r.mu);
    r.sources.erase(std::remove(r.sources.begin(), r.sources.end(), &s), r.sources.end());
}

void note_activity() noexcept { reg().activity.fetch_add(1, std::memory_order_seq_cst); }

std::uint64_t activity() noexcept { return reg().activity.load(std::memory_order_seq_cst); }

bool only_known_threads(const std::vector<pid_t>& known) {
    registry& r = reg();
    const long n1 = num_threads();
    std::vector<pid_t> tasks;
    if (n1 <= 0 || !list_tasks(tasks)) return false;
    std::vector<pid_t> all(known);
    {
        std::lock_guard<std::mutex> lock(r.mu);
        for (parked_thread* p = r.head; p; p = p->next) all.push_back(p->tid);
        for (park_source* s : r.sources) s->append_parked(all);
    }
    all.insert(all.end(), r.sanitizer.begin(), r.sanitizer.end());
    const long n2 = num_threads();
    // A thread created while the directory was read may be missed by it: the
    // counts before and after, and the listing, must agree.
    if (n2 != n1 || static_cast<long>(tasks.size()) != n1) return false;
    for (pid_t t : tasks)
        if (std::find(all.begin(), all.end(), t) == all.end()) return false;
    return true;
}

}  // namespace mt::detail
