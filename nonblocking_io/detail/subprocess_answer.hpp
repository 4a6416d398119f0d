// nonblocking_io/detail/subprocess_answer.hpp — what a child running a
// function sends back on its answer pipe, and how the parent judges what
// arrives.
//
//   | 'M' 'T' 'S' 'A' | kind | 0 0 0 | size_a (8) | size_b (8) | a bytes | b bytes |
//
//   kind 'V': the function returned; a = the value's bytes, size_b = 0.
//   kind 'E': the function threw; a = the exception's type name, b = its what().
//
// Sizes are in the machine's byte order (parent and child are one program on
// one machine). The child writes the answer with blocking writes and exits;
// the parent reads until the announced size has arrived (or end-of-stream)
// and accepts exactly one whole answer: a wrong mark, an unknown kind, sizes
// past max_answer_bytes, end-of-stream before the last announced byte, or a
// byte after it (looked for once the child has exited) make it "not an
// answer", with a sentence saying which. The reader says so as soon as it
// can tell (after the first 24 bytes), so the parent can stop reading and
// kill a child that streams garbage instead of buffering it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace mt::detail {

struct answer_header {
    char mark[4];  // "MTSA"
    char kind;     // 'V' or 'E'
    char zero[3];
    std::uint64_t size_a;
    std::uint64_t size_b;
};
static_assert(sizeof(answer_header) == 24, "the header has no padding");

// max_answer_bytes — the most an answer may announce (1 TiB): past it, the
// sizes are garbage.
inline constexpr std::uint64_t max_answer_bytes = std::uint64_t{1} << 40;

// write_value_answer / write_exception_answer — the child's side: the whole
// answer on `fd` (blocking; EINTR retried; short writes continued) with
// writev(2) and nothing else: no allocation, no lock. False with errno set
// when a write fails (the parent closed its end: it no longer listens).
bool write_value_answer(int fd, std::string_view value) noexcept;
bool write_exception_answer(int fd, std::string_view type, std::string_view what) noexcept;

// answer_reader — the parent's side: bytes go in as they arrive.
//
//   answer_reader r;
//   while (r.wants_more()) { n = read(fd, r.space()); if (n == 0) r.end(); else r.took(n); }
//
// States: reading (wants_more) -> complete (a whole answer) or bad (not an
// answer). end() at end-of-stream turns reading into bad ("cut short"). A
// complete reader given more bytes (space() still offers some) turns bad.
class answer_reader {
public:
    enum class verdict : std::uint8_t { reading, complete, bad };

    // space — where the next read goes: the bytes of the header or of the
    // answer still missing, at most 64 KiB at a time (once complete: room
    // for one byte, to look for bytes after the answer).
    std::span<std::byte> space();
    // took — `n` bytes were read into space().
    void took(std::size_t n);
    // end — end-of-stream: a reader still reading is bad ("cut short").
    void end();

    verdict state() const noexcept { return state_; }
    bool wants_more() const noexcept { return state_ == verdict::reading; }
    // problem — for a bad reader, what is wrong with what arrived.
    const std::string& problem() const noexcept { return problem_; }
    std::size_t received() const noexcept { return have_; }

    // For a complete reader:
    bool is_exception() const noexcept { return header().kind == 'E'; }
    std::string_view value() const noexcept;      // 'V'
    std::string_view type_name() const noexcept; // 'E'
    std::string_view what() const noexcept;       // 'E'
    // take_value — moves the value's bytes out ('V'); the reader is spent.
    std::string take_value();

private:
    answer_header header() const noexcept;
    void judge_header();
    void fail(std::string why);

    std::string buf_;             // the bytes read so far, then room for the next read
    std::size_t have_ = 0;        // bytes of buf_ that were read
    std::uint64_t expected_ = 0;  // the whole answer's size, once the header is in (0 before)
    verdict state_ = verdict::reading;
    std::string problem_;
};

}  // namespace mt::detail
