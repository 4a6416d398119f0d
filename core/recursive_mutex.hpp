// core/recursive_mutex.hpp — a mutex its holder may lock again; it is free
// once unlocked as many times as it was locked.
//
//   mt::recursive_mutex tree("tree");
//   void visit(node& n) {
//       std::lock_guard g(tree);     // the holder's nested locks only count
//       for (auto& c : n.children) visit(c);
//   }
//
// Everything core/mutex.hpp says holds (FIFO handoff, abort safety, lock
// cycles caught when they close, dump and deadlock chains, misuse), except
// that the holder's own lock(), try_lock() and try_lock_for() succeed at
// once and count. The dump shows the count ("holds recursive_mutex 'tree'
// (x3)"). A micro-thread that ends holding it has every hold released.
// There is no condition wait on a recursive_mutex (see docs/design/sync.md).
//
// Threading: the OS thread of the engine that first used it. Not movable.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

#include "core/mutex.hpp"

namespace mt {

class recursive_mutex {
public:
    explicit recursive_mutex(std::string_view name = {}) noexcept : core_("recursive_mutex", true, name) {}
    recursive_mutex(const recursive_mutex&) = delete;
    recursive_mutex& operator=(const recursive_mutex&) = delete;

    // lock / lock(d) / try_lock / try_lock_for / try_lock_until / unlock —
    // as mt::mutex's; the holder's own locks count instead of waiting.
    void lock() {
        if (!core_.try_lock_fast()) core_.lock(deadline{}, "recursive_mutex::lock");
    }
    void lock(deadline d) {
        if (d.negative() || !core_.try_lock_fast()) core_.lock(d, "recursive_mutex::lock");
    }
    bool try_lock() { return core_.try_lock_fast() || core_.try_lock("recursive_mutex::try_lock"); }
    template <class Rep, class Period>
    bool try_lock_for(const std::chrono::duration<Rep, Period>& rel) {
        const deadline d(rel);
        return (!d.negative() && core_.try_lock_fast()) ||
               core_.try_lock_until(d, "recursive_mutex::try_lock_for");
    }
    template <class Clock, class Duration>
    bool try_lock_until(const std::chrono::time_point<Clock, Duration>& t) {
        return core_.try_lock_fast() ||
               core_.try_lock_until(detail::to_deadline(t), "recursive_mutex::try_lock_until");
    }
    void unlock() {
        if (!core_.try_unlock_nested_fast() && !core_.try_unlock_fast()) core_.unlock("recursive_mutex::unlock");
    }

    std::optional<micro_thread_info> holder() const { return core_.holder_info(); }
    // recursion — how many times the holder holds it (0: free).
    std::uint32_t recursion() const noexcept { return core_.count(); }
    bool locked() const noexcept { return core_.holder() != nullptr; }
    std::string_view name() const noexcept { return core_.name(); }
    // check_invariants — asserts the state machine's invariants (debug and
    // sanitizer builds; core/detail/lock_core.hpp).
    void check_invariants() const noexcept { core_.check_invariants(); }

private:
    detail::lock_core core_;
};

}  // namespace mt
