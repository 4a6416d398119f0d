// core/notifier_interface.hpp — what the engine needs from a reactor.
//
// Core never includes <ev.h>: the libev notifier in notifier/ implements this
// interface, and a host program with its own loop may supply another.
#pragma once

#include <memory>

namespace mt {

class engine;

class notifier_interface {
public:
    virtual ~notifier_interface() = default;

    // can_fire — true while some registration (fd, signal, child, wake-up
    // from another OS thread) could still settle a wait. When it is false,
    // nothing is runnable and no deadline is pending, the waiting
    // micro-threads are deadlocked.
    virtual bool can_fire() const noexcept = 0;

    // poll — settles the waits of whatever is ready (detail::fire). With
    // max_wait_s > 0 it first waits until something is, or until that many
    // seconds passed; with max_wait_s < 0, until something is; with 0 it does
    // not block. The engine blocks only on the root context, bounded by its
    // next deadline (core owns every timeout: a notifier needs no timers of
    // its own). With 0 it is also called by the running micro-thread while
    // work is runnable (fairness: checked every 64 switches, at most once
    // per ~60 us), so it must not switch, and anything it raises
    // in a micro-thread (Ctrl-C) it must hand over through
    // engine::interrupt, never throw.
    virtual void poll(double max_wait_s) = 0;

    // wake — makes a poll that blocks (or the next one) return soon. Called
    // from any OS thread (the engine's mailbox, core/detail/mailbox.hpp,
    // when another OS thread posts to an engine that sleeps); must be
    // thread-safe and must not block. The libev reactor sends its async
    // watcher. The default does nothing: a host notifier that blocks
    // without bound must override it, or posts from other OS threads wait
    // for its next wake-up of its own.
    virtual void wake() noexcept {}

    // kind — identifies an implementation without RTTI (compared by
    // address; dynamic_cast compared type names with strcmp on every wait).
    virtual const void* kind() const noexcept { return nullptr; }

    // set_block_hooks — `before` and `after` are to be called just before and
    // just after the notifier blocks in the kernel (an interpreter releases
    // and retakes its lock there). The engine passes its hooks on whenever a
    // notifier is set; one that never blocks may ignore them.
    using block_hook = void (*)(void* user);
    virtual void set_block_hooks(block_hook before, block_hook after, void* user) noexcept {
        (void)before, (void)after, (void)user;
    }
};

namespace detail {
// make_default_notifier — the libev reactor for `e`, defined by notifier/
// when it is linked into the program (a weak reference here: a program
// built of core alone has no notifier, and its engine sleeps the OS thread
// until the next deadline instead).
__attribute__((weak)) std::unique_ptr<notifier_interface> make_default_notifier(engine& e);
}  // namespace detail

}  // namespace mt
