// core/detail/tracer.hpp — the records of a trace: one per switch (and two
// per blocking poll of the root), in a ring allocated when the trace starts.
//
// A switch says everything the trace shows: the micro-thread left and why
// (it waits — on what, described then —, it yielded, it ended), and the one
// entered and how its wait ended (fired, timed out, withdrawn by an abort) or
// that it starts. So the engine records nothing but switches: waits and
// wake-ups need no hooks of their own, and a trace that is off costs the
// switch path nothing beyond the one test of the switch observer it already
// had (engine.cpp, enter). A wake-up is seen when the woken micro-thread
// resumes, not at the moment of the fire (that would need a test in every
// fire); the time between is run-queue latency.
//
//   record (96 bytes):  tick | from id | to id | from's wait kind | how | how | text (61)
//   ring:   [ r0 r1 ... r(capacity-1) ]   next_ counts every record made; when
//           next_ > capacity the oldest were overwritten (dropped()).
//
// Invariants:
//   * records_ holds capacity() records from construction to destruction;
//     recording never allocates (the description's scratch string was
//     reserved) and makes no system call.
//   * capacity() is a power of two; the ring holds the last
//     min(next_, capacity()) records, the oldest at next_ % capacity() once
//     it wrapped.
//
// Threading: the engine's OS thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace mt::detail {

struct control_block;

// how the micro-thread left (from_how) was left
enum class trace_left : std::uint8_t {
    root,      // the root was left
    waits,     // it began waiting: kind and text say on what
    yields,    // it stays runnable (a yield, or its wait was settled already)
    finished,  // it ended: text is its name
    failed,
    aborted,
};

// how the micro-thread entered (to_how) was entered
enum class trace_entered : std::uint8_t {
    root,       // the root was entered
    starts,     // its first run
    resumes,    // after a yield
    fired,      // its wait ended: what it waited on happened
    timed_out,  // its wait ended: the deadline passed
    cancelled,  // its wait ended: withdrawn (an abort, a Ctrl-C, a deadlock resolution)
};

enum class trace_record_kind : std::uint8_t {
    switch_to,    // a switch (from, to)
    block_begin,  // the root blocks in the notifier (or sleeps to a deadline)
    block_end,
};

inline constexpr std::size_t trace_text_size = 61;  // with its NUL

struct trace_record {
    std::uint64_t tick;
    std::uint64_t from;  // micro-thread id; 0: the root
    std::uint64_t to;
    const char* kind;  // from's wait_kind::name (left == waits), else nullptr
    trace_record_kind what;
    trace_left left;
    trace_entered entered;
    char text[trace_text_size];  // NUL-terminated, cut to fit
};
static_assert(sizeof(trace_record) == 96, "a trace record is 96 bytes");

class tracer {
public:
    // tracer — a ring of at least `capacity` records (rounded up to a power
    // of two, at least 16), allocated now; throws std::bad_alloc.
    explicit tracer(std::size_t capacity);
    tracer(const tracer&) = delete;
    tracer& operator=(const tracer&) = delete;

    // on_switch — records a switch from `from` to `to` (nullptr: the root)
    // at `now`, called by the engine's switch observer before the engine
    // changes either's state. Never allocates, never throws.
    void on_switch(std::uint64_t now, const control_block* from, const control_block* to) noexcept;
    // on_block — the root begins (or ends) a blocking wait for events.
    void on_block(std::uint64_t now, bool begin) noexcept;

    std::size_t capacity() const noexcept { return mask_ + 1; }
    std::uint64_t recorded() const noexcept { return next_; }
    std::uint64_t dropped() const noexcept { return next_ > capacity() ? next_ - capacity() : 0; }
    // for_each — calls f(record) for every record held, oldest first.
    template <class F>
    void for_each(F&& f) const {
        const std::uint64_t first = dropped();
        for (std::uint64_t i = first; i < next_; ++i) f(records_[i & mask_]);
    }

private:
    trace_record& next() noexcept { return records_[next_++ & mask_]; }

    std::unique_ptr<trace_record[]> records_;
    std::size_t mask_;
    std::uint64_t next_ = 0;  // records made so far
    std::string scratch_;     // a wait's description, before it is cut into a record
};

}  // namespace mt::detail
