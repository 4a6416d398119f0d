// core/detail/thread_census.hpp — which OS threads of the process are
// "parked": blocked where only a post from someone else can wake them. An
// engine group's deadlock census (group_census.hpp) may report a deadlock
// only when every OS thread of the process is one it knows cannot act on
// its own: its engines (all quiescent), the thread blocked in its run(),
// and the threads parked here. Any other live thread might still hold an
// xpipe or a remote_thread handle and put, close or abort later.
//
// Parked threads:
//   * a plain OS thread in a cross_wait without a deadline (cross_wait.cpp):
//     parked from before it blocks until its waker unparks it — the waker
//     unparks before it tells, so a thread that is about to run again is
//     never counted as parked;
//   * an idle worker of a worker_pool while the pool's queue is empty (the
//     pool is a park_source: it answers when asked, under its own lock).
//   * under ThreadSanitizer, the sanitizer's background thread (identified
//     once, before main, as the thread a first pthread_create starts beside
//     the one asked for).
//
// Invariants (guarded by the registry's mutex):
//   * a parked_thread record is linked <=> its thread is blocked and nobody
//     has decided to wake it;
//   * activity() changes whenever a record is unlinked or a park_source's
//     work is posted (note_activity), so a census that reads it before and
//     after its look at the threads sees every wake-up in between.
//
// Threading: everything from any OS thread; never blocks but on the
// registry's mutex (a census holds it while it asks the park sources, which
// take their own lock: the order is registry, then source).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <vector>

namespace mt::detail {

// parked_thread — one OS thread blocked where only a post can wake it. Lives
// in the blocked thread's frame.
struct parked_thread {
    pid_t tid = 0;
    parked_thread* prev = nullptr;
    parked_thread* next = nullptr;
    bool linked = false;
};

// park — the calling OS thread (tid filled in) is about to block and only a
// post can wake it. unpark — it is not (any OS thread: its waker, before
// telling it, or itself after waking); idempotent.
void park(parked_thread& p) noexcept;
void unpark(parked_thread& p) noexcept;

// park_source — something that knows its own parked threads (a pool of
// workers): append_parked adds the tids of those that cannot act until
// someone posts to it. Called with the registry's mutex held; must take
// only its own lock.
class park_source {
public:
    virtual void append_parked(std::vector<pid_t>& out) const noexcept = 0;

protected:
    ~park_source() = default;
};
void add_park_source(park_source& s) noexcept;
void remove_park_source(park_source& s) noexcept;

// note_activity — something was posted that may wake a parked thread (a
// park_source's post). Any OS thread; never blocks.
void note_activity() noexcept;
// activity — changes whenever a parked thread may have been woken.
std::uint64_t activity() noexcept;

// this_tid — the calling OS thread's id (gettid).
pid_t this_tid() noexcept;

// only_known_threads — true when every OS thread of the process is in
// `known` or parked, and the process's thread count did not change while
// they were listed (/proc/self/task against /proc/self/stat's num_threads,
// read before and after). False when anything else lives, or /proc cannot
// be read. Expensive (reads /proc): for the rare moment a group is idle.
bool only_known_threads(const std::vector<pid_t>& known);

}  // namespace mt::detail
