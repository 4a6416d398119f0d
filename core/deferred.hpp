// core/deferred.hpp — the one deferred each micro-thread owns
// (docs/reference/deferred.md).
//
// A deferred is the PEP's continuation point for user code: whoever will
// complete something arms the owner's deferred, the owner waits on it, and
// someone fires it with callback(value) or errback(exception). It is made
// with the micro-thread and reused for every wait: waiting allocates nothing.
//
//   mt::deferred& d = mt::this_deferred();
//   d.arm();
//   mt::spawn([&d] { d.callback(result); });
//   void* r = d.wait();            // or d.wait(100ms)
//
// States (written only through the transitions in deferred.cpp):
//
//   idle --arm--> armed --callback/errback--> fired --wait() takes it--> idle
//                   |                          ^
//                   +--cancel / abort-----> idle
//
//   * wait() in idle: usage error (nothing could ever fire it: no hang).
//   * wait() in fired: returns at once (no lost wake-up).
//   * callback/errback in fired (twice before a wait): usage error. In idle
//     (nobody armed it): usage error, except while the owner is in one of the
//     engine's internal waits (a join, a pipe, a lock, a timer, an fd; woken
//     from it but not yet resumed counts too): then the fire is kept and the
//     owner's next wait() returns it. The engine's
//     internal waits never look at the deferred, and a user's fire never ends
//     them (core/detail/wait.hpp).
//   * a wait() that reaches its deadline throws timeout_error and leaves the
//     deferred armed: a later fire is kept for the next wait(); cancel()
//     disarms it.
//
// The PEP's callback queue: push(name, fn, state) adds a continuation. When
// the deferred fires, wait() runs the queue front to back, feeding each the
// previous result, and returns the last. A callback that re-arms the
// deferred ("defers again") stops the run: the rest of the queue resumes at
// the next firing, and what was pushed while that callback ran goes in front
// of what is still pending. So A→B→C→D pushing D',C',B',A' runs D',C',B',A',
// and C' deferring again via E gives [E',C'',B',A']. A callback that throws
// discards the rest and wait() throws it. A callback runs on the owner's
// micro-thread like any call: it may suspend (sleep, join, get from a pipe),
// and the rest of the queue waits for it to return and is fed its result. A
// callback may not call wait() on its own deferred (usage error).
//
// Invariants (check_invariants):
//   * phase_ == idle  => value_ == nullptr and !error_ and kind_ == nullptr.
//   * kind_ != nullptr => phase_ == armed (a registration is only held while armed).
//   * cursor_ <= queue_.size(); entries before cursor_ have run.
//   * insert_at_ != no_insert <=> a callback is running.
//
// Threading: the engine's OS thread only. Another OS thread fires a deferred
// through the notifier's thread-safe wake-up (mt::remote_wakeup); arm,
// callback, errback, push and wait called from another OS thread, or after
// the owner's engine ended, throw usage_error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <vector>

#include "deadline.hpp"
#include "detail/wait.hpp"

namespace mt {

namespace detail {
extern const wait_kind plain_wait;  // a deferred armed by user code without a registration
}

class deferred {
public:
    // callback_fn — a continuation: takes the previous result and its state,
    // returns the next result. May throw; may re-arm the deferred; may suspend.
    using callback_fn = void* (*)(void* value, void* state);

    explicit deferred(detail::control_block& owner) noexcept : owner_(&owner) {}
    deferred(const deferred&) = delete;
    deferred& operator=(const deferred&) = delete;

    // arm — declares that something will fire this deferred: idle -> armed.
    // `kind` and `obj` optionally say what (the dump shows it; an abort or
    // cancel() takes the registration back through kind.cancel). Any context
    // of the engine's OS thread; never suspends. Throws usage_error if it is
    // already armed or fired.
    void arm(const detail::wait_kind& kind = detail::plain_wait, void* obj = nullptr);

    // callback / errback — fire it with a value or an exception (see the
    // states above). Any context of the engine's OS thread; never suspend. A
    // waiting owner becomes runnable. Throw usage_error naming the owner when
    // nobody armed it or when it already fired and was not waited for yet,
    // or from another OS thread (or once the owner's engine ended).
    void callback(void* value = nullptr);
    void errback(std::exception_ptr error);

    // wait — the owner suspends until the deferred fires, runs the callback
    // queue, and returns the last result (or throws). Only the owner, from its
    // own micro-thread. Throws usage_error when nothing armed it (or when
    // called from one of its own callbacks), timeout_error when `d` passes
    // first (the deferred stays armed), MicroThreadExit when the owner is
    // aborted while it waits (the registration is taken back; a value that
    // fired before the abort is still returned), or what the firer or a
    // callback threw.
    void* wait(deadline d = {});

    // push — adds a continuation to the callback queue (see above). Never
    // suspends. Allocates only when the queue outgrows its capacity.
    // `dispose`, if given, is called with `state` when the entry is discarded
    // without running (an earlier callback threw, the wait was aborted or
    // failed): a C caller's or an interpreter's state is never leaked. An
    // entry that runs owns its state from then on.
    void push(const char* name, callback_fn fn, void* state, void (*dispose)(void*) noexcept = nullptr);

    // cancel — disarms: armed -> idle, the registration taken back. Does
    // nothing in idle or fired. Never throws.
    void cancel() noexcept;

    bool armed() const noexcept { return phase_ == phase::armed; }
    bool fired() const noexcept { return phase_ == phase::fired; }
    // waiting — the owner is suspended in wait().
    bool waiting() const noexcept;
    std::size_t pending_callbacks() const noexcept { return queue_.size() - cursor_; }
    detail::control_block& owner() const noexcept { return *owner_; }
    // kind / wait_object — the registration given to arm() (nullptr when none).
    const detail::wait_kind* kind() const noexcept { return kind_; }
    const void* wait_object() const noexcept { return obj_; }

    void check_invariants() const noexcept;

    static const detail::wait_kind deferred_wait;  // the owner's internal wait in wait()

private:
    enum class phase : std::uint8_t { idle, armed, fired };
    struct entry {
        const char* name;
        callback_fn fn;
        void* state;
        void (*dispose)(void*) noexcept;
    };
    static constexpr std::size_t no_insert = SIZE_MAX;

    void* run_queue(void* value, bool& rearmed);
    void reset_queue() noexcept;
    void fire(const char* op, void* value, std::exception_ptr error);
    void to_idle() noexcept;

    detail::control_block* owner_;        // fixed at construction
    phase phase_ = phase::idle;
    const detail::wait_kind* kind_ = nullptr;  // the registration, while armed
    void* obj_ = nullptr;
    void* value_ = nullptr;                // fired: the value
    std::exception_ptr error_;             // fired: the error
    std::vector<entry> queue_;            // the callback queue; capacity kept across waits
    std::size_t cursor_ = 0;              // next entry to run
    std::size_t insert_at_ = no_insert;   // where pushes go while a callback runs
};

}  // namespace mt
