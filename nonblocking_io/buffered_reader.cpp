// nonblocking_io/buffered_reader.cpp — search what is buffered; read a chunk
// only when the delimiter is not there yet.
#include "nonblocking_io/buffered_reader.hpp"

#include <cerrno>
#include <cstring>
#include <utility>

#include "core/detail/assert.hpp"
#include "core/detail/sys.hpp"
#include "nonblocking_io/detail/op.hpp"

namespace mt {

buffered_reader::buffered_reader(int fd, std::size_t max_line, std::size_t chunk_size)
    : fd_(fd), max_line_(max_line), chunk_(chunk_size) {
    if (max_line == 0 || chunk_size == 0)
        throw usage_error("buffered_reader(fd " + std::to_string(fd) + "): max_line and chunk_size must be > 0");
}

buffered_reader::~buffered_reader() = default;

buffered_reader::buffered_reader(buffered_reader&& o) noexcept
    : fd_(o.fd_),
      max_line_(o.max_line_),
      chunk_(o.chunk_),
      buf_(std::move(o.buf_)),
      cap_(std::exchange(o.cap_, 0)),
      begin_(std::exchange(o.begin_, 0)),
      end_(std::exchange(o.end_, 0)),
      eof_(o.eof_) {
    MT_ASSERT(!o.busy_, "buffered_reader: moved while a call is under way");
}

buffered_reader& buffered_reader::operator=(buffered_reader&& o) noexcept {
    MT_ASSERT(!busy_ && !o.busy_, "buffered_reader: moved while a call is under way");
    if (this != &o) {
        fd_ = o.fd_;
        max_line_ = o.max_line_;
        chunk_ = o.chunk_;
        buf_ = std::move(o.buf_);
        cap_ = std::exchange(o.cap_, 0);
        begin_ = std::exchange(o.begin_, 0);
        end_ = std::exchange(o.end_, 0);
        eof_ = o.eof_;
    }
    return *this;
}

void buffered_reader::check_invariants() const {
    MT_ASSERT(begin_ <= end_ && end_ <= cap_, "buffered_reader: begin <= end <= capacity");
    MT_ASSERT((buf_ == nullptr) == (cap_ == 0), "buffered_reader: a buffer iff a capacity");
}

std::size_t buffered_reader::fill(detail::op_context& ctx, std::size_t max_cap) {
    // Room: the bytes already returned go first (what is moved is the start
    // of one record, shorter than a chunk in the common case); then the
    // buffer grows, doubling, up to max_cap, which holds a record of max_line
    // bytes, its delimiter and one more chunk. It starts at two chunks, so
    // records shorter than a chunk never make it grow: one allocation per
    // reader.
    if (begin_ == end_) {
        begin_ = end_ = 0;
    } else if (begin_ > 0 && cap_ - end_ < chunk_) {
        std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
        end_ -= begin_;
        begin_ = 0;
    }
    if (cap_ - end_ < chunk_ && cap_ < max_cap) {
        std::size_t cap = cap_ ? 2 * cap_ : 2 * chunk_;
        if (cap > max_cap) cap = max_cap;
        auto bigger = std::make_unique_for_overwrite<char[]>(cap);
        if (end_ > begin_) std::memcpy(bigger.get(), buf_.get() + begin_, end_ - begin_);
        end_ -= begin_;
        begin_ = 0;
        buf_ = std::move(bigger);
        cap_ = cap;
    }
    std::size_t want = cap_ - end_;
    if (want > chunk_) want = chunk_;
    MT_ASSERT(want > 0, "buffered_reader: room to read");
    for (;;) {
        const ssize_t n = detail::sys().read(fd_, buf_.get() + end_, want);
        if (n >= 0) {
            end_ += static_cast<std::size_t>(n);
            return static_cast<std::size_t>(n);
        }
        const int err = errno;
        if (err == EINTR) continue;
        if (err == EAGAIN || err == EWOULDBLOCK) {
            ctx.wait(false);  // may throw (timeout, abort, EBADF): nothing changed but room
            continue;
        }
        ctx.fail(err);
    }
}

std::optional<std::string_view> buffered_reader::next(const char* op, std::string_view delim, const deadline& d) {
    detail::op_context ctx(op, fd_, d);
    if (delim.empty()) throw usage_error(ctx.what() + ": the delimiter is empty");
    if (busy_) throw usage_error(ctx.what() + ": the reader is in use by another call (one call at a time)");
    struct in_call {
        bool& busy;
        explicit in_call(bool& b) : busy(b) { busy = true; }
        ~in_call() { busy = false; }
    } guard(busy_);
    const std::size_t max_cap = max_line_ + delim.size() + chunk_;
    std::size_t from = begin_;  // no delimiter starts before `from`
    for (;;) {
        const std::string_view pending(buf_.get() + begin_, end_ - begin_);
        const std::size_t at = pending.find(delim, from - begin_);
        const std::size_t len = at == std::string_view::npos ? pending.size() : at;
        if (len > max_line_ && (at != std::string_view::npos || eof_ || len >= max_line_ + delim.size())) {
            throw line_too_long_error(ctx.what() + ": line longer than " + std::to_string(max_line_) +
                                      " bytes (the reader's max_line)");
        }
        if (at != std::string_view::npos) {
            begin_ += at + delim.size();
            check_invariants();
            return pending.substr(0, at);
        }
        if (eof_) {
            if (pending.empty()) return std::nullopt;
            begin_ = end_;
            return pending;
        }
        // Not there yet: resume the search where a delimiter could still
        // start (its first bytes may be the last ones buffered).
        from = end_ - begin_ >= delim.size() - 1 ? end_ - (delim.size() - 1) : begin_;
        const std::size_t shift = begin_;
        if (fill(ctx, max_cap) == 0) eof_ = true;
        from -= shift - begin_;  // fill may have moved the bytes to the front
        check_invariants();
    }
}

std::optional<std::string_view> buffered_reader::read_line_view(deadline d) { return next("read_line", "\n", d); }

std::optional<std::string_view> buffered_reader::read_until_view(std::string_view delimiter, deadline d) {
    return next("read_until", delimiter, d);
}

std::optional<std::string> buffered_reader::read_line(deadline d) {
    if (auto v = next("read_line", "\n", d)) return std::string(*v);
    return std::nullopt;
}

std::optional<std::string> buffered_reader::read_until(std::string_view delimiter, deadline d) {
    if (auto v = next("read_until", delimiter, d)) return std::string(*v);
    return std::nullopt;
}

}  // namespace mt
