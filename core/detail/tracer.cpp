// core/detail/tracer.cpp — recording switches into the ring. See tracer.hpp.
#include "core/detail/tracer.hpp"

#include <cstring>

#include "core/detail/control_block.hpp"

namespace mt::detail {
namespace {

std::size_t round_up_pow2(std::size_t n) noexcept {
    std::size_t c = 16;
    while (c < n && c < (std::size_t{1} << 40)) c <<= 1;
    return c;
}

void copy_text(char* dst, const char* src, std::size_t n) noexcept {
    const std::size_t max = trace_text_size - 1;
    if (n > max) n = max;
    std::memcpy(dst, src, n);
    dst[n] = '\0';
}

trace_left how_left(const control_block& cb) noexcept {
    switch (cb.st) {
        case state::waiting: return trace_left::waits;
        case state::finished: return trace_left::finished;
        case state::failed: return trace_left::failed;
        case state::aborted: return trace_left::aborted;
        default: return trace_left::yields;
    }
}

trace_entered how_entered(const control_block& cb) noexcept {
    if (cb.st == state::created) return trace_entered::starts;
    switch (cb.w.phase) {
        case wait_phase::fired: return trace_entered::fired;
        case wait_phase::timed_out: return trace_entered::timed_out;
        case wait_phase::cancelled: return trace_entered::cancelled;
        default: return trace_entered::resumes;
    }
}

}  // namespace

tracer::tracer(std::size_t capacity)
    : records_(new trace_record[round_up_pow2(capacity)]), mask_(round_up_pow2(capacity) - 1) {
    scratch_.reserve(256);
}

void tracer::on_switch(std::uint64_t now, const control_block* from, const control_block* to) noexcept {
    trace_record& r = next();
    r.tick = now;
    r.what = trace_record_kind::switch_to;
    r.from = from ? from->id : 0;
    r.to = to ? to->id : 0;
    r.kind = nullptr;
    r.text[0] = '\0';
    r.left = from ? how_left(*from) : trace_left::root;
    r.entered = to ? how_entered(*to) : trace_entered::root;
    if (r.left == trace_left::waits && from->w.kind) {
        r.kind = from->w.kind->name;
        scratch_.clear();
        try {
            from->w.kind->describe(from->w.obj, scratch_);
        } catch (...) {  // out of memory (a description longer than the reserve): cut short
        }
        copy_text(r.text, scratch_.data(), scratch_.size());
    } else if (from && has_ended(from->st)) {
        const char* name = from->name;  // empty: unnamed, the trace names it by id
        copy_text(r.text, name, std::strlen(name));
    }
}

void tracer::on_block(std::uint64_t now, bool begin) noexcept {
    trace_record& r = next();
    r.tick = now;
    r.what = begin ? trace_record_kind::block_begin : trace_record_kind::block_end;
    r.from = r.to = 0;
    r.kind = nullptr;
    r.left = trace_left::root;
    r.entered = trace_entered::root;
    r.text[0] = '\0';
}

}  // namespace mt::detail
