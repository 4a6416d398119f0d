// core/detail/group_census.hpp — the group-wide census that tells an engine
// group waiting on itself forever (a deadlock across engines) from one
// waiting for something that will come.
//
// An engine of a group is *quiescent* when it sleeps with nothing runnable,
// no deadline pending, no notifier registration that could fire (fd,
// signal, child), no wait that something outside the group may end (a
// worker, remote_wakeup) — the single engine's own can_progress() test —
// while it still has waits that only the group can end (cross waits:
// xpipes, remote joins, its anchor). An engine whose loop has ended counts
// as quiescent for good.
//
// The census (engine thread side):
//   * quiesce(i): engine i, about to sleep in that state, marks itself —
//     under its mailbox's lock, and only if its mailbox is empty
//     (mailbox::run_if_empty);
//   * wake(i): any post to engine i's mailbox unmarks it, from inside the
//     post, under the mailbox's lock, right after the message is queued
//     (the mailbox's post hook); engine i unmarks itself too when its sleep
//     ends (a signal may have woken it).
// So a post is "in flight" exactly while its target is unmarked: the target
// stays unmarked from the push until it has drained the mailbox, run what
// that made runnable and found itself idle again — no separate count of
// posts is needed.
//
// Invariants:
//   * busy() == the number of engines not marked (quiet_[i] false), changed
//     only together with quiet_[i] (an exchange decides who moves it);
//   * every change of a mark bumps generation();
//   * an engine that ended is counted in ended_ before it is marked (for
//     good), so all engines marked and all ended is "over", never
//     "deadlocked";
//   * a marked engine's mailbox is empty (both happen under its lock), its
//     run queue is empty, and it has no deadline, no notifier registration
//     that could fire and no wait that a thread outside the group may end.
//
// The verdict (check(), called by the thread blocked in engine_group::run):
//   read generation g and thread activity a; busy() must be 0; every OS
//   thread of the process must be known (the group's engines, the caller,
//   parked threads: thread_census.hpp); then busy() still 0, generation
//   still g, activity still a. Argument: while generation stays g no engine
//   changed its mark, so all were quiescent throughout; a quiescent engine
//   acts only on a post; a post comes from an engine (all asleep), a parked
//   thread (blocked until someone else unparks it — which changes the
//   activity), or an unknown thread (there was none alive; one that ended
//   before the listing and posted first changed the generation, or left
//   its post in a mailbox, which no marked engine has). So nothing
//   can ever run again in the group: a deadlock. A thread the census does
//   not know keeps it from reporting (see docs/caveats.md): never a report a
//   live OS thread could still prove wrong.
//
// Threading: quiesce, wake, ended on any thread (lock-free but for the
// notification of the watcher); check and wait_* on the run() caller.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace mt::detail {

struct group_member;
// group_quiesce / group_wake — the engine of member `m` (its thread)
// sleeps quiescent / is no longer quiescent (engine_loop.cpp).
void group_quiesce(group_member& m) noexcept;
void group_wake(group_member& m) noexcept;

class group_census {
public:
    explicit group_census(std::size_t engines);

    // set_tid — engine i runs on OS thread `tid` (its thread, before its loop).
    void set_tid(std::size_t i, pid_t tid) noexcept;
    // quiesce — engine i sleeps, quiescent (its thread). The last engine to
    // quiesce tells the watcher.
    void quiesce(std::size_t i) noexcept;
    // wake — engine i is no longer quiescent (a post to it, or itself).
    void wake(std::size_t i) noexcept;
    // ended — engine i's loop is over and its mailbox closed (its thread).
    void ended(std::size_t i) noexcept;

    std::size_t busy() const noexcept { return busy_.load(std::memory_order_seq_cst); }
    std::uint64_t generation() const noexcept { return generation_.load(std::memory_order_seq_cst); }
    bool all_ended() const noexcept;

    enum class verdict {
        active,          // an engine is not quiescent, or one changed meanwhile
        unknown_thread,  // all quiescent, but an OS thread the group does not know lives
        deadlocked,      // nothing can ever run again in the group
    };
    // check — the verdict now (see the top of this file). `runner` is the
    // calling thread's tid. Reads /proc when every engine is quiescent.
    verdict check(pid_t runner) const;

    // wait_for_change — the watcher sleeps until every engine is quiescent
    // or every one has ended (or `bound` passes, when given).
    void wait_for_change(std::chrono::milliseconds bound);
    void wait_for_change();

private:
    void notify() noexcept;

    std::size_t size_;
    std::unique_ptr<std::atomic<bool>[]> quiet_;  // per engine: marked
    std::unique_ptr<std::atomic<pid_t>[]> tids_;  // per engine: its OS thread (0: not yet)
    std::atomic<std::size_t> busy_;
    std::atomic<std::uint64_t> generation_{0};
    std::atomic<std::size_t> ended_{0};
    std::mutex mu_;  // only for the watcher's sleep
    std::condition_variable cv_;
};

}  // namespace mt::detail
