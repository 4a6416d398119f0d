// core/deferred.hpp — the one deferred each micro-thread owns.
//
// A deferred is how a micro-thread waits for anything: a join, a pipe, an
// fd, a timer, another OS thread. Whoever will fire it first arms it (saying
// what the owner waits on and how to take the registration back on abort),
// then the owner waits, then someone fires it with callback(value) or
// errback(exception). The same deferred is reused for every wait, so waiting
// allocates nothing.
//
// States (written only through the named transitions in deferred.cpp):
//
//   idle --arm--> armed --callback/errback--> fired --wait() takes it--> idle
//                   |                           ^
//                   +--abort: cancel hook-------+--> idle (wait() raises MicroThreadExit)
//
//   * wait() in idle: usage error (nothing could ever fire it: no hang).
//   * callback/errback in idle (nobody armed it) or fired (twice before a
//     wait): usage error.
//   * wait() in fired: returns at once (no lost wake-up).
//
// The PEP's callback queue: push(name, fn, state) adds a continuation. When
// the deferred fires, wait() runs the queue front to back, feeding each the
// previous result, and returns the last. A callback that re-arms the
// deferred ("defers again") stops the run; what is pushed while it runs goes
// in front of what is still pending, so A→B→C→D pushing D',C',B',A' runs
// D',C',B',A', and C' deferring again via E gives [E',C'',B',A']. A callback
// that throws discards the rest and wait() throws it.
//
// Invariants:
//   * phase_ == armed  => kind_ != nullptr (what the owner waits on).
//   * waiting_         => phase_ == armed and the owner's state is waiting.
//   * cursor_ <= queue_.size(); entries before cursor_ have run.
//
// Threading: the engine's OS thread only. Another OS thread fires a deferred
// through the notifier's thread-safe wake-up.
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <vector>

namespace mt {

namespace detail {
struct control_block;

// wait_kind — one kind of wait, as the dump, the deadlock report and abort
// see it. Each user of deferreds (join, pipes, the notifier) defines its own.
struct wait_kind {
    const char* name;  // "join", "deferred", "fd", "timer", ...
    // describe — appends what the owner waits on, e.g. "to join #2 'filter'".
    void (*describe)(const void* obj, std::string& out);
    // blocker — the micro-thread whose progress could end this wait (for the
    // deadlock chain), or nullptr.
    control_block* (*blocker)(const void* obj);
    // cancel — takes the waiter's registration back (abort, deadlock). Must
    // not fire the deferred, suspend or throw. May be nullptr.
    void (*cancel)(void* obj, control_block& waiter);
    // external — true if something outside the engine (the notifier, another
    // OS thread) may fire it: such a wait is never a deadlock by itself.
    bool external;
    // blocker_role — how the deadlock chain names the blocker: "writer" gives
    // "..., whose writer #2 'filter' waits ..."; nullptr gives "..., which waits ...".
    const char* blocker_role = nullptr;
};

extern const wait_kind plain_wait;  // a deferred armed by user code
}  // namespace detail

class deferred {
public:
    // callback_fn — a continuation: takes the previous result and its state,
    // returns the next result. May throw; may re-arm the deferred.
    using callback_fn = void* (*)(void* value, void* state);

    explicit deferred(detail::control_block& owner) noexcept : owner_(&owner) {}
    deferred(const deferred&) = delete;
    deferred& operator=(const deferred&) = delete;

    // arm — declares that something will fire this deferred. `kind` and
    // `obj` say what the owner waits on. Any context may call it; does not
    // suspend. Throws usage_error if it is already armed or fired.
    void arm(const detail::wait_kind& kind = detail::plain_wait, void* obj = nullptr);

    // callback / errback — fire it with a value or an exception. Any context
    // of the engine's OS thread may call them; they never suspend. A
    // waiting owner becomes runnable. Throw usage_error when nobody armed it
    // or when it already fired and was not waited for yet.
    void callback(void* value = nullptr);
    void errback(std::exception_ptr error);
    // callback_next — as callback(), but a waiting owner runs next, ahead of
    // the run queue (a pipe's handoff; the engine bounds how often in a row).
    void callback_next(void* value);

    // wait — the owner suspends until the deferred fires, runs the callback
    // queue, and returns the last result (or throws). Only the owner, from its
    // own micro-thread, may call it. Throws usage_error when nothing armed it,
    // MicroThreadExit when the owner is aborted while waiting (the wait's
    // registration is cancelled first), or what the firer or a callback threw.
    void* wait();

    // push — adds a continuation to the callback queue (see above). Never
    // suspends. Allocates only when the queue outgrows its capacity.
    void push(const char* name, callback_fn fn, void* state);

    bool armed() const noexcept { return phase_ == phase::armed; }
    bool fired() const noexcept { return phase_ == phase::fired; }
    bool waiting() const noexcept { return waiting_; }
    std::size_t pending_callbacks() const noexcept { return queue_.size() - cursor_; }
    detail::control_block& owner() const noexcept { return *owner_; }

    // --- for the engine and the other components
    const detail::wait_kind* kind() const noexcept { return kind_; }
    const void* wait_object() const noexcept { return obj_; }
    // cancel — abort path: takes the registration back, returns to idle.
    void cancel() noexcept;
    // wait_uninterruptible — like wait() but an abort does not end it (the
    // abort lands at the next ordinary suspension). For cleanup that must
    // finish, such as a scope joining its aborted children.
    void* wait_uninterruptible();
    bool interruptible() const noexcept { return interruptible_; }

private:
    enum class phase : std::uint8_t { idle, armed, fired };
    struct entry {
        const char* name;
        callback_fn fn;
        void* state;
    };
    static constexpr std::size_t no_insert = SIZE_MAX;

    void* wait_impl(bool interruptible);
    void* run_queue(void* value, bool& rearmed);
    void reset_queue() noexcept;
    void fire_checks(const char* op) const;
    void wake_owner(bool next) noexcept;

    detail::control_block* owner_;        // fixed at construction
    phase phase_ = phase::idle;
    bool waiting_ = false;                // the owner is suspended in wait()
    bool interruptible_ = true;           // meaningful while waiting_
    const detail::wait_kind* kind_ = nullptr;
    void* obj_ = nullptr;
    void* value_ = nullptr;
    std::exception_ptr error_;
    std::vector<entry> queue_;            // the callback queue; capacity kept across waits
    std::size_t cursor_ = 0;              // next entry to run
    std::size_t insert_at_ = no_insert;   // where pushes go while a callback runs
};

}  // namespace mt
