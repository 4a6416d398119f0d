// core/engine.hpp — the engine: one per OS thread, it owns the run queue,
// the stacks, the deadlines and the list of live micro-threads, and switches
// between them.
//
// Invariants (check_invariants):
//   * at most one engine per OS thread; engine::current() is it while it lives.
//   * current_ == nullptr  <=> the root context (the OS thread's own stack) runs.
//   * the run queue holds exactly the micro-threads in state created or runnable,
//     each once; the live list holds exactly those that have not ended; the
//     ended list holds exactly the ended ones that handles still refer to
//     (a block spawned eagerly is outside the queue between its admit and
//     start_now, inside spawn, where nothing else runs).
//   * a queued block has queued_at_back set iff it was put at the back
//     (push_runnable); then every block after it was too, so the tail has it
//     iff any queued block has (someone_waits_at_back).
//   * a queued block put at the front has handoff_from_here set iff it, or
//     a block after it that was put at the front, was put there by a handoff
//     (make_runnable_next), so the head has it iff any such block is queued
//     (handoff_waits_at_front).
//   * the timer heap holds exactly the waiting micro-threads whose wait has a
//     deadline (every block's invariants: control_block.hpp, wait.hpp).
//
// Scheduling: FIFO, but for a pipe's handoff and an eager spawn, which go
// to the front (the handoff's streak bounded, see make_runnable_next). A
// micro-thread that suspends switches straight to the
// head of the run queue (one context switch); only when the queue is empty
// does control go back to the root, which blocks in the notifier until an
// event or the next deadline, or reports a deadlock. See docs/design/core.md.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "detail/context.hpp"
#include "detail/control_block.hpp"
#include "detail/mailbox.hpp"
#include "detail/overflow.hpp"
#include "detail/remote_slots.hpp"
#include "detail/stack_pool.hpp"
#include "detail/timer_heap.hpp"
#include "notifier_interface.hpp"
#include "state.hpp"

#if defined(__PIC__) && !defined(MT_TLS_MODEL)
// The engine pointer is read on every yield: initial-exec keeps it one
// instruction away instead of a call to __tls_get_addr.
#define MT_TLS_MODEL __attribute__((tls_model("initial-exec")))
#elif !defined(MT_TLS_MODEL)
#define MT_TLS_MODEL
#endif

namespace mt {

class engine;

namespace detail {
extern constinit thread_local engine* tls_engine MT_TLS_MODEL;
class tracer;
struct group_member;
}

// unhandled_handler — receives the exception of a micro-thread nobody will
// join (start_and_forget, or every handle dropped). Called on the ending
// micro-thread's stack; must not suspend (a wait or a yield there throws
// usage_error).
using unhandled_handler = std::function<void(const micro_thread_info&, std::exception_ptr)>;

// switch_hook — called on every switch with the micro-threads left and
// entered (nullptr for the root). For embedders (docs/embedding.md): an
// interpreter saves and restores its per-thread state here.
using switch_hook = void (*)(void* user, const detail::control_block* from,
                             const detail::control_block* to);

struct engine_options {
    std::size_t default_stack_size = detail::default_stack_size;
    // How stacks get their guard pages, how many kernel mappings they may
    // use, and whether unguarded canary stacks may be handed out (never by
    // default): see core/detail/stack_pool.hpp.
    detail::stack_pool_options stacks{};
    // embedder_state_size — bytes of state every micro-thread carries for an
    // embedder (an interpreter's per-thread state), zeroed, allocated with
    // its control block from the same per-thread free lists; the root has
    // one too. engine::embedder_state() finds it; the switch hook gets the
    // blocks it switches between. 0: none.
    std::size_t embedder_state_size = 0;
    // default_notifier — loop() starts the libev notifier (notifier/, when it
    // is linked) if no notifier was set: Ctrl-C reaches main as
    // interrupted_error and SIGPIPE is ignored from the start. Off: the
    // engine makes one only when a wait needs it (an fd, a signal, ...), or
    // runs without one (deadlines then sleep the OS thread).
    bool default_notifier = true;
    // ctrl_c — the notifier takes SIGINT (if no other engine of the process
    // has it): Ctrl-C reaches the main micro-thread as interrupted_error.
    // Off: SIGINT keeps whatever disposition the program gave it (an
    // embedding interpreter's own handler), unless a micro-thread waits for
    // it with wait_signal.
    bool ctrl_c = true;
    // cpu_time — measure each micro-thread's CPU time from the start (the
    // dump shows it): one tick read per switch. Also MT_CPU_TIME=1 in the
    // environment. Off: the dump shows only the switch counts.
    bool cpu_time = false;
};

class engine {
public:
    explicit engine(engine_options opts = {});
    ~engine();
    engine(const engine&) = delete;
    engine& operator=(const engine&) = delete;

    // current — the engine of the calling OS thread, or nullptr.
    static engine* current() noexcept { return detail::tls_engine; }
    // get — the engine of the calling OS thread; throws usage_error naming
    // `operation` when there is none.
    static engine& get(const char* operation) {
        if (!detail::tls_engine) [[unlikely]]
            throw_no_engine(operation);
        return *detail::tls_engine;
    }

    // loop — runs micro-threads until every one has ended. Root only.
    // Throws deadlock_error (after aborting the stuck micro-threads and
    // letting them end) when nothing can ever run again.
    void loop();

    // running — the micro-thread executing now (nullptr on the root).
    detail::control_block* running() const noexcept { return current_; }
    // require_running — the running micro-thread; throws usage_error
    // "<operation> called outside a micro-thread" on the root.
    detail::control_block& require_running(const char* operation) const {
        if (!current_) [[unlikely]]
            throw_outside(operation);
        return *current_;
    }

    // require_here — throws usage_error when `cb` belongs to another OS
    // thread's engine (or this thread has none): handles, pipes and
    // primitives stay on their engine's thread.
    static void require_here(const detail::control_block& cb, const char* operation);

    std::size_t live() const noexcept { return live_.size(); }
    // serial — unique to this engine in the process's life (engines made
    // later at the same address have another): what outlives an engine
    // (a pipe, a primitive) tells "another engine" from "an engine that ended".
    std::uint64_t serial() const noexcept { return serial_; }
    detail::stack_pool& stacks() noexcept { return pool_; }
    std::size_t default_stack_size() const noexcept { return opts_.default_stack_size; }
    bool takes_ctrl_c() const noexcept { return opts_.ctrl_c; }

    // --- life of micro-threads (used by spawn, handles, scopes, deferreds)

    // admit — gives a new control block an id and a stack, links it live and
    // queues it (unless `queue` is false: then the caller starts it with
    // start_now). Throws stack_allocation_error / usage_error; on throw the
    // block is untouched and owned by the caller.
    void admit(detail::control_block& cb, std::string_view name, std::size_t stack_size,
               detail::io_attachment in = {}, detail::io_attachment out = {}, bool queue = true);
    // start_now — the running micro-thread (which admitted `cb` unqueued)
    // goes to the front of the run queue and `cb` runs; returns when the
    // caller runs again. Like a call, not a yield: the caller gives no one
    // else a turn (nested eager spawns keep the whole chain at the front, so
    // a tree unfolds depth-first). Not a wait: it raises nothing. Only from
    // the micro-thread that admitted `cb`.
    void start_now(detail::control_block& cb) noexcept;
    // make_runnable — a waiting micro-thread goes to the back of the run queue.
    void make_runnable(detail::control_block& cb) noexcept;
    // make_runnable_next — it goes to the front instead, to run next: a
    // pipe's handoff, so a producer/consumer pair does not cycle through the
    // whole queue per value. Fair because it is bounded: after
    // max_handoff_streak front-insertions while a micro-thread that did not
    // choose to wait there is queued — one put at the back, or one an
    // earlier handoff put at the front — the next one goes to the back, so
    // pipes bouncing values cannot starve the rest of the queue, nor a
    // micro-thread whose own handoff they keep overtaking (the count
    // restarts then, whenever the queue drains, and when no such
    // micro-thread waits; an eager spawner waiting at the front chose to,
    // and is not counted for: a tree spawned eagerly stays depth-first).
    void make_runnable_next(detail::control_block& cb) noexcept;
    // yield_running — the running micro-thread goes to the back of the run
    // queue and the head runs. Throws MicroThreadExit when aborted.
    void yield_running();
    // suspend_running — the running micro-thread, in an armed wait, becomes
    // waiting and switches away until its wait is settled (wait.cpp). Does
    // not look at aborts. May poll the notifier and the timers first
    // (fairness), which may settle its own wait: then it keeps running.
    void suspend_running();
    // timers — the deadlines of pending waits (wait.cpp pushes and erases).
    detail::timer_heap& timers() noexcept { return timers_; }
    // next_deadline — the earliest pending deadline (time_point::max(): none).
    deadline::clock::time_point next_deadline() const noexcept { return timers_.next(); }
    // abort — raises MicroThreadExit in `cb` at its suspension point (at once
    // if it is the caller and not unwinding from an exception; never-started:
    // its body never runs). No-op when ended.
    void abort(detail::control_block& cb);
    // interrupt — raises `e` once in `cb` at its next suspension point (a
    // waiting `cb` is woken for it). For Ctrl-C; called from the notifier,
    // possibly while `cb` itself is the one polling. No-op when ended.
    void interrupt(detail::control_block& cb, std::exception_ptr e) noexcept;
    // abort_all — every live micro-thread is aborted; waiting ones are woken,
    // the running one raises at its next suspension point. Never throws.
    void abort_all() noexcept;
    // release_handle — a handle let go of `cb`; may delete it.
    void release_handle(detail::control_block& cb) noexcept;
    // drop_handle — the same from a handle that may outlive the engine: a
    // block whose engine has ended (eng == nullptr, see ~engine) is deleted
    // with its last handle. Same OS thread as the engine was.
    static void drop_handle(detail::control_block& cb) noexcept;

    // --- policy and hooks
    void set_unhandled_handler(unhandled_handler h) { unhandled_ = std::move(h); }
    void report_unhandled(detail::control_block& cb) noexcept;
    void set_switch_hook(switch_hook hook, void* user) noexcept {
        embedder_hook_ = hook;
        embedder_user_ = user;
        update_observer();
    }
    // embedder_state — the embedder's state block of `cb` (nullptr: the
    // root's); nullptr when embedder_state_size is 0.
    void* embedder_state(const detail::control_block* cb) const noexcept;
    // set_block_hooks — see notifier_interface::set_block_hooks; also called
    // around the engine's own sleep when it has no notifier.
    void set_block_hooks(notifier_interface::block_hook before, notifier_interface::block_hook after,
                         void* user) noexcept {
        block_before_ = before;
        block_after_ = after;
        block_user_ = user;
        if (notifier_) notifier_->set_block_hooks(before, after, user);
    }
    // set_notifier — a notifier the caller keeps alive (a host's own loop).
    void set_notifier(notifier_interface* n) noexcept {
        notifier_ = n;
        mailbox_->set_notifier(n);
        if (n && (block_before_ || block_after_)) n->set_block_hooks(block_before_, block_after_, block_user_);
    }
    // adopt_notifier — a notifier the engine owns and destroys after the
    // last micro-thread (notifier/ makes its libev one on first use).
    void adopt_notifier(std::unique_ptr<notifier_interface> n) noexcept {
        owned_notifier_ = std::move(n);
        set_notifier(owned_notifier_.get());
    }
    notifier_interface* notifier() const noexcept { return notifier_; }

    // --- the main micro-thread (mt::run's #1): Ctrl-C is delivered to it
    void set_main(detail::control_block& cb) noexcept { main_ = &cb; }
    detail::control_block* main() const noexcept { return main_; }
    // interrupt_main — raises `e` in main; once main has ended, every other
    // micro-thread is aborted so the engine can stop. Returns false when
    // there is no main left to interrupt.
    bool interrupt_main(std::exception_ptr e);

    // run_once — for a host with its own loop: polls the notifier without
    // blocking, then runs each micro-thread that is runnable once (those that
    // become runnable meanwhile wait for the next call). Returns true while
    // micro-threads are alive. Throws deadlock_error as loop() does. Root only.
    bool run_once();
    // idle — true when nothing is runnable: the host may block in its own
    // poll (on the notifier's fd, until next_deadline()).
    bool idle() const noexcept { return run_head_ == nullptr; }
    // can_progress — something runnable, a deadline pending, a notifier
    // registration that could fire, or a wait that an OS thread outside the
    // engine's group may end: false means the waiters are deadlocked (or,
    // in a group, wait for other engines: engine_group.hpp).
    bool can_progress() const noexcept {
        return run_head_ || !timers_.empty() || remote_.external() > 0 || (notifier_ && notifier_->can_fire()) ||
               (!group_ && remote_.internal() > 0);
    }

    // --- observability (core/observe.cpp, core/trace.cpp; docs/observability.md)

    // start_trace — from now on every switch is recorded into a ring of at
    // least `capacity` records (96 bytes each, allocated now; the oldest are
    // dropped when it is full) until stop_trace writes it to `path`.
    // `shared`: the file collects the traces of every engine of the process
    // that names it (MT_TRACE). Root or micro-thread; never suspends. Throws
    // usage_error when a trace runs already, std::bad_alloc.
    void start_trace(std::string path, std::size_t capacity, bool shared);
    // stop_trace — writes the trace as Chrome trace_event JSON to its file
    // and frees the ring; returns the number of events written. Throws
    // usage_error when no trace runs, std::system_error when the file cannot
    // be written (the trace is dropped either way).
    std::size_t stop_trace();
    bool tracing() const noexcept { return tracer_ != nullptr; }
    // set_cpu_time — from now on (or no longer) each micro-thread's CPU time
    // is measured: one tick read per switch (core/detail/ticks.hpp). A trace
    // measures it too while it runs.
    void set_cpu_time(bool on) noexcept;
    bool cpu_time_measured() const noexcept { return cpu_on_ || tracer_; }
    // cpu_time — how long `cb` (nullptr: the root) has run while CPU time
    // was measured, up to now.
    std::chrono::nanoseconds cpu_time(const detail::control_block* cb) const noexcept;
    // --- the thread-safe way in (core/detail/mailbox.hpp, remote_slots.hpp)
    // mailbox — where other OS threads post wake-ups and tasks; shared with
    // the tokens handed out, so a post after the engine ended is dropped.
    detail::mailbox& mailbox() const noexcept { return *mailbox_; }
    const std::shared_ptr<detail::mailbox>& shared_mailbox() const noexcept { return mailbox_; }
    // remote_slots — the waits another OS thread may end. Engine thread only.
    detail::remote_slot_pool& remote_slots() noexcept { return remote_; }
    // drain_mailbox — fires the waits posted for and runs the posted tasks.
    // Engine thread, root or the fairness poll; never suspends or throws.
    void drain_mailbox() noexcept;
    // group membership (engine_group.hpp): set by the group before loop().
    // A group engine whose only waits are cross waits (other engines or OS
    // threads end them) sleeps quiescent instead of reporting a deadlock;
    // the group's census decides (core/detail/group_census.hpp).
    void set_group(detail::group_member* m) noexcept { group_ = m; }
    detail::group_member* group() const noexcept { return group_; }

    // check_invariants — asserts the invariants of the engine and of every
    // live micro-thread (O(n); live in debug and sanitizer builds only).
    void check_invariants() const noexcept;

    // dump — one line per live micro-thread: id, name, state, what it waits
    // on, its stack and the stack's high-water mark, how often it was
    // switched to and (while measured) its CPU time.
    std::string dump() const;
    // deadlock_report — the wait-for chains of the waiting micro-threads.
    std::string deadlock_report() const;
    // append_chains — those chains, each line opened with `line_start`,
    // leaving out `skip` (nullptr: none); returns how many micro-threads
    // wait. For an engine group's deadlock report. Engine thread only.
    std::size_t append_chains(std::string& out, std::string_view line_start, const detail::control_block* skip) const;

private:
    static detail::context_slot* entry(void* cb) noexcept;
    detail::context_slot* run_to_end(detail::control_block& cb) noexcept;
    void expire_timers() noexcept;
    void wait_for_events(bool block);
    void end(detail::control_block& cb) noexcept;
    detail::control_block* pop_runnable() noexcept;
    void push_runnable(detail::control_block& cb) noexcept;
    detail::context_slot& enter(detail::control_block* from, detail::control_block* to) noexcept;
    void switch_from(detail::control_block* from) noexcept;
    // switch_to — the running context `from` (nullptr: root) jumps to `to`
    // (nullptr: root), which enter() makes the running one.
    void switch_to(detail::control_block* from, detail::control_block* to) noexcept;
    void detach_io(detail::control_block& cb, bool ended) noexcept;
    void maybe_free(detail::control_block& cb) noexcept;
    void resolve_deadlock();
    void sleep_in_group();
    void wake_to_raise(detail::control_block& cb) noexcept;
    void poll_if_due();
    void update_observer() noexcept;
    void append_activity(std::string& out, const detail::control_block& cb) const;
    static void observe_switch(void* self, const detail::control_block* from, const detail::control_block* to) noexcept;
    void start_trace_from_environment() noexcept;
    [[noreturn]] static void throw_no_engine(const char* operation);
    [[noreturn]] void throw_outside(const char* operation) const;

    engine_options opts_;
    detail::overflow_guard overflow_guard_;  // SIGSEGV handler and signal stack
    detail::stack_pool pool_;
    detail::switch_state sw_;
    detail::context_slot root_;                     // the OS thread's own stack while a micro-thread runs
    detail::control_block* current_ = nullptr;      // the running micro-thread; nullptr = root
    detail::control_block* run_head_ = nullptr;     // run queue (FIFO through run_next)
    detail::control_block* run_tail_ = nullptr;
    detail::intrusive_list<detail::control_block, &detail::control_block::live_hook> live_;  // not yet ended, newest last
    // ended_ — ended blocks that handles still refer to (the live hook is
    // free once a block has ended): ~engine orphans them (eng = nullptr), so
    // a handle that outlives its engine is a named usage error, not a use of
    // freed memory.
    detail::intrusive_list<detail::control_block, &detail::control_block::live_hook> ended_;
    detail::timer_heap timers_;                      // deadlines of waits
    std::uint64_t next_id_ = 1;
    std::uint64_t serial_;  // set at construction
    bool resolving_deadlock_ = false;
    unsigned handoff_streak_ = 0;  // counted front-insertions since the last one sent to the back
    // someone_waits_at_back — a queued micro-thread was put at the back
    // (yield, a wake-up, a new one): only then can a front-insertion make
    // someone wait longer, so only then does the streak count. Front
    // insertions go before everything, so a block put at the back is
    // followed only by others put at the back: one is queued iff the tail is.
    bool someone_waits_at_back() const noexcept { return run_tail_ && run_tail_->queued_at_back; }
    // handoff_waits_at_front — a queued micro-thread was put at the front by
    // a handoff (make_runnable_next). The front part of the queue is a stack
    // (pushed and popped at the head only), so what lies after a block there
    // never changes while it is queued: each block put at the front records
    // whether it, or any block after it in the front part, came by a
    // handoff (handoff_from_here), and the head's flag answers for all.
    bool handoff_waits_at_front() const noexcept {
        return run_head_ && !run_head_->queued_at_back && run_head_->handoff_from_here;
    }
    static constexpr unsigned max_handoff_streak = 32;
    unsigned since_poll_ = 0;  // yields and suspensions since the fairness poll last ran
    static constexpr unsigned poll_interval = 64;
    // The fairness poll asks the notifier (a system call, ~250 ns-1 us) only
    // when this many ticks (core/detail/ticks.hpp) passed since the engine
    // last did: ~60 us at a 2 GHz counter. Counting switches alone made a
    // busy engine pay a system call every 64 switches, more than the
    // switches themselves.
    static constexpr std::uint64_t notifier_poll_ticks = std::uint64_t{1} << 17;
    std::uint64_t notifier_polled_at_ = 0;  // the tick of the last poll of the notifier (root or fairness)
    unhandled_handler unhandled_;
    // observer_ — called on every switch, when set: the embedder's hook
    // itself, or observe_switch while CPU time or a trace is on (which calls
    // the embedder's hook too). The switch path tests this one pointer, as
    // it did before CPU time and traces existed: off, they cost nothing.
    switch_hook observer_ = nullptr;
    void* observer_user_ = nullptr;
    switch_hook embedder_hook_ = nullptr;  // set_switch_hook
    void* embedder_user_ = nullptr;
    bool cpu_on_ = false;                   // set_cpu_time
    std::uint64_t cpu_since_ = 0;           // the tick the running context was entered at (while measured)
    std::uint64_t root_cpu_ = 0;            // the root's measured ticks
    std::unique_ptr<detail::tracer> tracer_;  // while a trace runs
    std::string trace_path_;
    bool trace_shared_ = false;
    void* root_state_ = nullptr;  // the root's embedder state block
    notifier_interface::block_hook block_before_ = nullptr;
    notifier_interface::block_hook block_after_ = nullptr;
    void* block_user_ = nullptr;
    notifier_interface* notifier_ = nullptr;
    std::unique_ptr<notifier_interface> owned_notifier_;
    detail::control_block* main_ = nullptr;  // cleared when it ends
    std::shared_ptr<detail::mailbox> mailbox_;  // made with the engine, closed by ~engine
    detail::remote_slot_pool remote_;
    std::vector<detail::remote_post> batch_;  // drain_mailbox's buffer
    detail::group_member* group_ = nullptr;
    bool in_loop_ = false;  // loop() runs (the mailbox's "awake")
    bool stop_when_main_ends_ = false;       // set by interrupt_main
};

}  // namespace mt
