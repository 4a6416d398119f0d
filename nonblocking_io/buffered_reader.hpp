// nonblocking_io/buffered_reader.hpp — lines (or any delimited records) from
// an fd: a socket, a pipe, a terminal or a regular file.
//
//   mt::buffered_reader in(conn.get());              // lines up to 1 MiB
//   while (auto line = in.read_line(5s)) handle(*line);   // nullopt at end-of-stream
//
// Reads go in chunks into one buffer the reader owns and reuses: a line
// costs no allocation beyond the std::string returned, and none at all with
// the *_view forms, whose view is valid until the next call on the reader.
// The buffer never grows past max_line plus the delimiter: a longer line
// raises line_too_long_error instead.
//
// Invariants (checked by check_invariants() in debug builds):
//   - begin_ <= end_ <= cap_, and cap_ <= max_line_ + the longest delimiter
//     used + chunk size: the buffer is bounded; buf_ is null iff cap_ == 0;
//   - bytes [begin_, end_) were read from the fd and not yet returned, in
//     order; bytes before begin_ were returned (a view may still look at them);
//   - the buffer changes only inside a call, and a call that throws leaves
//     [begin_, end_) as the bytes not yet returned (nothing lost, nothing twice);
//   - eof_: the fd returned end-of-stream; it is never read again.
//
// Waits and errors: an fd that has no data yet (EAGAIN) is waited on in the
// notifier, as read_d does; a regular file is read directly (it never
// returns EAGAIN; a read costs the engine's thread the page cache's time,
// or the disk's: see docs/design/io.md). A timeout raises timeout_error
// ("read_line in micro-thread #3 'conn' timed out after 5.000 s waiting for
// fd 7 ..."); an abort raises MicroThreadExit at the wait; OS errors are
// std::system_error naming the call, the fd and the micro-thread. After any
// of these the reader is consistent: bytes read so far stay buffered and the
// next call goes on from them. Must run in a micro-thread; one call at a
// time: a second micro-thread calling while the first waits gets a
// usage_error. The reader does not own the fd.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "../core/deadline.hpp"
#include "../core/errors.hpp"

namespace mt {

namespace detail {
class op_context;
}

// line_too_long_error — a line (a record before its delimiter) is longer than
// the reader's max_line: "read_line(fd 7) in micro-thread #3 'conn': line
// longer than 1024 bytes (the reader's max_line)". The reader keeps the
// bytes; discard_buffered() drops them.
class line_too_long_error : public error {
public:
    using error::error;
};

class buffered_reader {
public:
    static constexpr std::size_t default_max_line = 1 << 20;
    static constexpr std::size_t default_chunk = 16 << 10;

    // buffered_reader — a reader of `fd` (not owned), for records of at most
    // max_line bytes (> 0), read in chunks of up to chunk_size bytes (> 0).
    // Allocates nothing until the first read. Throws usage_error on a zero size.
    explicit buffered_reader(int fd, std::size_t max_line = default_max_line,
                             std::size_t chunk_size = default_chunk);
    ~buffered_reader();
    buffered_reader(buffered_reader&&) noexcept;
    buffered_reader& operator=(buffered_reader&&) noexcept;
    buffered_reader(const buffered_reader&) = delete;
    buffered_reader& operator=(const buffered_reader&) = delete;

    // read_line — the next line without its '\n' ("\r\n" keeps its '\r':
    // strip it if the protocol has one); a last line without '\n' is returned
    // as it is; nullopt at end-of-stream. May suspend; throws as above.
    std::optional<std::string> read_line(deadline d = {});
    // read_until — the same with any non-empty delimiter (e.g. "\r\n\r\n");
    // the delimiter is consumed and not returned. usage_error on an empty one.
    std::optional<std::string> read_until(std::string_view delimiter, deadline d = {});

    // read_line_view / read_until_view — the same, as a view into the
    // reader's buffer, valid until the next call on this reader (or its end).
    std::optional<std::string_view> read_line_view(deadline d = {});
    std::optional<std::string_view> read_until_view(std::string_view delimiter, deadline d = {});

    // buffered — bytes read from the fd and not yet returned.
    std::size_t buffered() const noexcept { return end_ - begin_; }
    std::string_view buffered_view() const noexcept { return {buf_.get() + begin_, end_ - begin_}; }
    // discard_buffered — drops them (e.g. after line_too_long_error).
    void discard_buffered() noexcept { begin_ = end_ = 0; }
    // at_end — the fd returned end-of-stream (what is buffered is all there is).
    bool at_end() const noexcept { return eof_; }
    int fd() const noexcept { return fd_; }
    std::size_t max_line() const noexcept { return max_line_; }

    void check_invariants() const;

private:
    std::optional<std::string_view> next(const char* op, std::string_view delim, const deadline& d);
    // fill — makes room (compacting, or growing up to max_cap), then reads
    // once after end_, waiting for readiness if need be; returns the bytes
    // read, 0 at end-of-stream.
    std::size_t fill(detail::op_context& ctx, std::size_t max_cap);

    int fd_;
    std::size_t max_line_;
    std::size_t chunk_;
    std::unique_ptr<char[]> buf_;  // the one buffer, cap_ bytes
    std::size_t cap_ = 0;
    std::size_t begin_ = 0;  // first byte not yet returned
    std::size_t end_ = 0;    // one past the last byte read
    bool eof_ = false;
    bool busy_ = false;  // a call is under way (it may be suspended in a wait)
};

}  // namespace mt
