// core/notifier_interface.hpp — what the engine needs from a reactor.
//
// Core never includes <ev.h>: the libev notifier in notifier/ implements this
// interface, and a host program with its own loop may supply another.
#pragma once

namespace mt {

class notifier_interface {
public:
    virtual ~notifier_interface() = default;

    // can_fire — true while some registration (fd, timer, signal, child,
    // wake-up from another OS thread) could still fire a deferred. When it is
    // false and nothing is runnable, waiting micro-threads are deadlocked.
    virtual bool can_fire() const noexcept = 0;

    // poll — fires the deferreds of whatever is ready. With block == true it
    // first waits until something is; the engine blocks only on the root
    // context. With block == false it is also called by the running
    // micro-thread every 64 switches (fairness), so it must not switch, and
    // anything it raises in a micro-thread (Ctrl-C) it must hand over through
    // engine::interrupt, never throw.
    virtual void poll(bool block) = 0;

    // kind — identifies an implementation without RTTI (compared by
    // address; dynamic_cast compared type names with strcmp on every wait).
    virtual const void* kind() const noexcept { return nullptr; }
};

}  // namespace mt
