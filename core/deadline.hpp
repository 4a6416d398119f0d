// core/deadline.hpp — the optional deadline every wait takes.
//
//   h.wait(100ms);                                  // a relative timeout
//   p.get(mt::deadline::at(start + 2s));            // an absolute deadline
//   q.put(v, mt::deadline{});                       // none: wait as long as it takes
//
// A deadline is a point on the steady clock, or none. A duration becomes
// "now + duration" when the deadline is first needed: when the call it was
// given to first suspends, or when the deadline is copied (a copy always
// holds the point in time, so a wait that retries with copies never moves
// its deadline later). A call that completes without suspending reads no
// clock. A zero duration
// polls: the wait happens only if it can complete at once, otherwise it times
// out without suspending. A negative duration is a usage error raised by the
// wait that receives it, naming the micro-thread and the operation.
//
// A wait that reaches its deadline raises mt::timeout_error saying what was
// waited on, by whom, and for how long (select and the try_ forms report
// it as a result instead).
//
// Threading: a duration's deadline changes (once) when first used, so one
// not yet used belongs to one OS thread; share a deadline::at, or a copy.
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>
#include <optional>

namespace mt {

class deadline {
public:
    using clock = std::chrono::steady_clock;

    // deadline — none: the wait lasts until what it waits on happens (or an abort).
    constexpr deadline() noexcept = default;
    // Copies hold the point in time: copying a duration's deadline reads the
    // clock now (once; the source keeps the point too).
    deadline(const deadline& o) noexcept { copy_from(o); }
    deadline& operator=(const deadline& o) noexcept {
        copy_from(o);
        return *this;
    }
    constexpr deadline(std::nullopt_t) noexcept {}

    // deadline(d) — `d` from now. Negative: the receiving wait raises usage_error.
    template <class Rep, class Period>
    deadline(std::chrono::duration<Rep, Period> d) noexcept {  // NOLINT: implicit on purpose
        set_relative(to_ns(d));
    }
    // deadline(optional timeout) — none when empty (the notifier's timeout_t).
    template <class Rep, class Period>
    deadline(const std::optional<std::chrono::duration<Rep, Period>>& d) noexcept {  // NOLINT
        if (d) set_relative(to_ns(*d));
    }

    // at — an absolute point on the steady clock.
    static deadline at(clock::time_point t) noexcept {
        deadline d;
        d.at_ = t;
        d.flags_ = has_value;
        return d;
    }

    bool none() const noexcept { return !(flags_ & has_value); }
    bool negative() const noexcept { return flags_ & is_negative; }
    // when — the point in time (clock::time_point::max() when none). For a
    // duration, the first call (or copy) fixes it from the clock.
    clock::time_point when() const noexcept {
        if (none()) return clock::time_point::max();
        resolve();
        return at_;
    }
    // requested — the duration asked for, for messages (nanoseconds; -1 when
    // made from an absolute point or none).
    std::chrono::nanoseconds requested() const noexcept { return requested_; }

private:
    static constexpr std::uint8_t has_value = 1, is_negative = 2, unresolved = 4;
    // to_ns — saturating: hours::max() must not overflow into the past. A
    // NaN (a floating-point duration) is no timeout: the wait raises the
    // usage error of a negative one.
    template <class Rep, class Period>
    static std::chrono::nanoseconds to_ns(std::chrono::duration<Rep, Period> d) noexcept {
        using ns = std::chrono::nanoseconds;
        const std::chrono::duration<double> s = d;
        if (std::isnan(s.count())) return ns::min();
        if (s >= std::chrono::duration<double>(ns::max())) return ns::max();
        if (s <= std::chrono::duration<double>(ns::min())) return ns::min();
        return std::chrono::duration_cast<ns>(d);
    }
    void set_relative(std::chrono::nanoseconds d) noexcept {
        flags_ = has_value | unresolved;
        if (d.count() < 0) {
            flags_ |= is_negative;
            d = std::chrono::nanoseconds::zero();
        }
        requested_ = d;
    }
    // resolve — a duration's point in time, fixed once from the clock.
    void resolve() const noexcept {
        if (!(flags_ & unresolved)) return;
        flags_ &= static_cast<std::uint8_t>(~unresolved);
        const clock::time_point now = clock::now();
        // Saturate: a huge duration must not wrap into the past.
        at_ = requested_ > clock::time_point::max() - now ? clock::time_point::max() : now + requested_;
    }
    void copy_from(const deadline& o) noexcept {
        o.resolve();
        at_ = o.at_;
        requested_ = o.requested_;
        flags_ = o.flags_;
    }

    // at_ and the unresolved flag change in resolve(), which a const wait may
    // call: the deadline's value (its point in time) is fixed by then.
    mutable clock::time_point at_{};
    std::chrono::nanoseconds requested_{-1};
    mutable std::uint8_t flags_ = 0;
};

}  // namespace mt
