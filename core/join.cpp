// core/join.cpp — joining a micro-thread, and the small free functions of
// micro_thread.hpp.
#include <fmt/format.h>

#include <string>

#include "core/micro_thread.hpp"

namespace mt {
namespace detail {
namespace {

const wait_kind join_wait{
    "join",
    [](const void* obj, std::string& out) {
        out += "to join ";
        append_ref(out, *static_cast<const control_block*>(obj));
    },
    [](const void* obj) -> control_block* {
        return const_cast<control_block*>(static_cast<const control_block*>(obj));
    },
    [](void* obj, control_block& waiter) { static_cast<control_block*>(obj)->joiners.remove(waiter); },
};

}  // namespace

void join(control_block& target, const deadline& d) {
    engine::require_here(target, "wait() (join)");
    control_block& me = target.eng->require_running("wait() (join)");
    if (&me == &target) {
        throw usage_error("micro-thread " + describe(me) +
                          " called wait() on itself: joining yourself would wait forever");
    }
    check_deadline(me, d, "wait() (join)");
    if (pending_raise(me)) raise_pending(me);
    if (has_ended(target.st)) return;
    begin_wait(me, join_wait, &target);
    target.joiners.push_back(me);
    end_wait_or_throw(me, d, "wait() (join)");
}

void throw_empty_handle(const char* op) {
    const engine* e = engine::current();
    throw usage_error(fmt::format("micro_thread::{}() on an empty handle (default-constructed or moved from){}", op,
                                  e && e->running() ? " in micro-thread " + describe(*e->running()) : std::string()));
}

void abort_from_handle(control_block& cb) {
    engine::require_here(cb, "abort()");
    cb.eng->abort(cb);
}

void check_outcome(control_block& target, const char* op) {
    switch (target.st) {
        case state::finished: return;
        case state::failed:
            target.outcome_observed = true;
            std::rethrow_exception(target.error);
        case state::aborted:
            throw micro_thread_aborted("micro-thread " + describe(target) + " was aborted");
        default:
            throw usage_error(std::string(op) + " on micro-thread " + describe(target) +
                              ", which has not ended (it is " + to_string(target.st) + ")");
    }
}

bool admit(control_block& cb, const spawn_options& opts) {
    engine& e = engine::get("spawn()");
    // Eager only from a running micro-thread (not, say, from an
    // unhandled-exception handler, which runs on one that has ended).
    const bool now = opts.eager && e.running() != nullptr && e.running()->st == state::running;
    e.admit(cb, opts.name, opts.stack_size, opts.in, opts.out, !now);
    return now;
}

void start_now(control_block& cb) noexcept { cb.eng->start_now(cb); }

}  // namespace detail

micro_thread_info current() {
    engine& e = engine::get("current()");
    if (const detail::control_block* cb = e.running()) return {cb->id, detail::name_of(*cb), cb->st};
    return {0, "root", state::running};
}

deferred& this_deferred() { return engine::get("this_deferred()").require_running("this_deferred()").d; }

std::string dump() { return engine::get("dump()").dump(); }

void set_unhandled_exception_handler(unhandled_handler h) {
    engine::get("set_unhandled_exception_handler()").set_unhandled_handler(std::move(h));
}

}  // namespace mt
