// core/detail/sync_object.hpp — what the synchronization primitives of core/
// (semaphore, event, wait_group, latch, barrier) share: a name, the engine
// they belong to, the record a waiting micro-thread keeps in its own frame,
// and the named errors for misuse.
//
// A waiter record (sync_waiter) is linked into exactly one primitive's FIFO
// while its micro-thread's wait is armed, and leaves it in one of two ways:
//   * the primitive settles it (permits granted, event set, generation
//     released, barrier broken, primitive destroyed): the primitive unlinks
//     it, sets `outcome`, then fires;
//   * its wait is withdrawn (timeout, abort, deadlock resolution): the wait
//     kind's cancel calls withdraw(), which writes what it waited on into
//     `note` and unlinks it. The timeout message is built from the note when
//     the waiter runs again, by which time the primitive may be gone.
//
// Invariants (each primitive's check_invariants):
//   * a record is in its primitive's list  <=>  owner != nullptr; its
//     micro-thread's wait is then armed with that record as its object.
//   * a record not in the list never points at the primitive again
//     (owner == nullptr), so a primitive may be destroyed under a withdrawn
//     or settled waiter that has not yet run.
//
// Threading: the OS thread of the engine that first used the primitive.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/deadline.hpp"
#include "core/detail/engine_binding.hpp"
#include "core/detail/intrusive_list.hpp"
#include "core/detail/wait.hpp"

namespace mt::detail {

struct control_block;
class sync_object;

inline constexpr std::size_t sync_note_size = 160;

// sync_waiter — one waiting micro-thread, in its own frame (nothing is
// allocated per wait).
struct sync_waiter {
    control_block* cb = nullptr;        // the waiting micro-thread
    const sync_object* owner = nullptr;  // the primitive while linked; nullptr afterwards
    list_hook<sync_waiter> hook;        // in the owner's FIFO
    std::ptrdiff_t n = 0;               // semaphore: permits wanted; barrier: arrival index
    std::uint8_t outcome = 0;           // what the primitive settled it with (per primitive)
    bool withdrawn = false;             // `note` says what it waited on
    char note[sync_note_size];          // written by withdraw() or a barrier's break; not initialized before
};

using sync_queue = intrusive_list<sync_waiter, &sync_waiter::hook>;

// sync_object — the common part of a primitive. Not polymorphic: each
// primitive's wait kind knows its type.
class sync_object {
public:
    sync_object(const sync_object&) = delete;
    sync_object& operator=(const sync_object&) = delete;

    // name — as given (empty: "unnamed").
    const std::string& name() const noexcept { return name_; }
    // kind — "semaphore", "bounded_semaphore", "event", ...
    const char* kind() const noexcept { return kind_; }

protected:
    sync_object(const char* kind, std::string_view name);
    ~sync_object() = default;

    // enter_wait — for an operation that may suspend: the running
    // micro-thread, after checking that there is one, that the primitive
    // belongs to its engine, that `d` is not negative, and raising a pending
    // abort or interruption (every blocking operation is a suspension point,
    // even when it completes at once). Throws usage_error, MicroThreadExit.
    control_block& enter_wait(const char* op, const deadline& d);
    // enter — for an operation that never suspends: the running micro-thread,
    // or nullptr on the engine's root; checks that the primitive belongs to
    // this OS thread's engine. Throws usage_error.
    control_block* enter(const char* op);

    // misuse — throws usage_error "<op> in micro-thread #3 'x' on semaphore
    // 'name': <what>" (me == nullptr: "<op> on the engine's root on ...").
    [[noreturn]] void misuse(const control_block* me, const char* op, const std::string& what) const;
    // check_count — a negative count is misuse.
    void check_count(const control_block* me, const char* op, std::ptrdiff_t n) const {
        if (n < 0) [[unlikely]]
            misuse(me, op, "a negative count (" + std::to_string(n) + ")");
    }

    // label — writes "<kind> '<name>'" into `buf` (snprintf's result),
    // truncating names past 64 characters.
    int label(char* buf, std::size_t size) const noexcept;
    // ref — writes "#3 'name'" for `cb`, or "the engine's root" for nullptr,
    // without allocating (snprintf's result).
    static int ref(char* buf, std::size_t size, const control_block* cb) noexcept;

    // link — `w`, in `me`'s frame, joins the back of `q`; the caller has
    // just begun `me`'s wait with `w` as its object.
    void link(sync_queue& q, sync_waiter& w, control_block& me, std::ptrdiff_t n) noexcept {
        w.cb = &me;
        w.owner = this;
        w.n = n;
        q.push_back(w);
    }
    // settle — the primitive takes `w` out of `q` and fires its wait with
    // `outcome`. Never suspends, never throws.
    static void settle(sync_queue& q, sync_waiter& w, std::uint8_t outcome) noexcept;
    // withdraw — a wait kind's cancel: `w` leaves `q` keeping a description
    // of what it waited on (written by the caller into w.note first).
    static void withdraw(sync_queue& q, sync_waiter& w) noexcept {
        w.withdrawn = true;
        w.owner = nullptr;
        q.remove(w);
    }
    // fail_all — the primitive is being destroyed: each waiter's wait ends
    // with usage_error naming it and the primitive. Never throws.
    void fail_all(sync_queue& q) noexcept;
    // check_queue — asserts the record invariants above for every waiter.
    void check_queue(const sync_queue& q) const noexcept;

    const char* kind_;
    std::string name_;
    engine_binding binding_;
};

// describe_record — a wait kind's describe for a record: the note when it
// was withdrawn, else what `live` writes for the primitive.
template <class Primitive>
void describe_record(const void* obj, std::string& out) {
    const auto& w = *static_cast<const sync_waiter*>(obj);
    if (w.withdrawn || !w.owner) {
        out += w.withdrawn ? w.note : "on a primitive it no longer waits on";
        return;
    }
    char buf[sync_note_size];
    static_cast<const Primitive*>(w.owner)->format_wait(w, buf, sizeof buf);
    out += buf;
}

}  // namespace mt::detail
