// nonblocking_io/detail/subprocess_answer.cpp — see subprocess_answer.hpp.
#include "nonblocking_io/detail/subprocess_answer.hpp"

#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "core/detail/assert.hpp"

namespace mt::detail {
namespace {

constexpr char answer_mark[4] = {'M', 'T', 'S', 'A'};
constexpr std::size_t read_chunk = 64 * 1024;

// write_fully — writev until every byte is out; EINTR retried.
bool write_fully(int fd, iovec* v, int count) noexcept {
    while (count > 0) {
        const ssize_t n = ::writev(fd, v, count);
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        auto left = static_cast<std::size_t>(n);
        while (count > 0 && left >= v->iov_len) {
            left -= v->iov_len;
            ++v;
            --count;
        }
        if (count > 0) {
            v->iov_base = static_cast<char*>(v->iov_base) + left;
            v->iov_len -= left;
        }
    }
    return true;
}

bool write_answer(int fd, char kind, std::string_view a, std::string_view b) noexcept {
    answer_header h{};
    std::memcpy(h.mark, answer_mark, sizeof answer_mark);
    h.kind = kind;
    h.size_a = a.size();
    h.size_b = b.size();
    iovec v[3] = {{&h, sizeof h},
                  {const_cast<char*>(a.data()), a.size()},
                  {const_cast<char*>(b.data()), b.size()}};
    return write_fully(fd, v, 3);
}

}  // namespace

bool write_value_answer(int fd, std::string_view value) noexcept { return write_answer(fd, 'V', value, {}); }

bool write_exception_answer(int fd, std::string_view type, std::string_view what) noexcept {
    return write_answer(fd, 'E', type, what);
}

std::span<std::byte> answer_reader::space() {
    MT_ASSERT(state_ != verdict::bad, "answer_reader::space on a bad answer");
    std::size_t want = 1;  // complete: one byte, to see whether more follows
    if (state_ == verdict::reading)
        want = expected_ == 0 ? sizeof(answer_header) - have_
                              : static_cast<std::size_t>(std::min<std::uint64_t>(expected_ - have_, read_chunk));
    buf_.resize(have_ + want);
    return {reinterpret_cast<std::byte*>(buf_.data()) + have_, want};
}

void answer_reader::took(std::size_t n) {
    MT_ASSERT(have_ + n <= buf_.size(), "answer_reader::took more than space() offered");
    if (n == 0) return;
    if (state_ == verdict::complete) {
        buf_.resize(have_);
        fail("more bytes followed the answer");
        return;
    }
    have_ += n;
    buf_.resize(have_);
    if (expected_ == 0) {
        if (have_ == sizeof(answer_header)) judge_header();
        if (state_ != verdict::reading) return;
    }
    if (expected_ != 0 && have_ == expected_) state_ = verdict::complete;
}

void answer_reader::end() {
    if (state_ != verdict::reading) return;
    if (have_ == 0) fail("nothing arrived");
    else
        fail("it was cut short: " + std::to_string(have_) + " of " +
             (expected_ ? std::to_string(expected_) : "at least " + std::to_string(sizeof(answer_header))) +
             " bytes arrived");
}

void answer_reader::judge_header() {
    const answer_header h = header();
    if (std::memcmp(h.mark, answer_mark, sizeof answer_mark) != 0) return fail("its first bytes are not an answer's mark");
    if (h.kind != 'V' && h.kind != 'E') return fail("its kind is neither a value nor an exception");
    if (h.zero[0] || h.zero[1] || h.zero[2]) return fail("its header's padding is not zero");
    if (h.kind == 'V' && h.size_b != 0) return fail("a value announces a second part");
    if (h.size_a > max_answer_bytes || h.size_b > max_answer_bytes - h.size_a)
        return fail("it announces " + std::to_string(h.size_a) + " + " + std::to_string(h.size_b) +
                    " bytes, more than the limit of " + std::to_string(max_answer_bytes));
    expected_ = sizeof(answer_header) + h.size_a + h.size_b;
    if (expected_ > buf_.capacity()) buf_.reserve(static_cast<std::size_t>(expected_));
}

void answer_reader::fail(std::string why) {
    state_ = verdict::bad;
    problem_ = std::move(why);
}

answer_header answer_reader::header() const noexcept {
    answer_header h;  // copied: a string's bytes carry no alignment promise
    std::memcpy(&h, buf_.data(), sizeof h);
    return h;
}

std::string_view answer_reader::value() const noexcept {
    MT_ASSERT(state_ == verdict::complete && !is_exception(), "answer_reader::value of no value");
    return std::string_view(buf_).substr(sizeof(answer_header), header().size_a);
}

std::string_view answer_reader::type_name() const noexcept {
    MT_ASSERT(state_ == verdict::complete && is_exception(), "answer_reader::type_name of no exception");
    return std::string_view(buf_).substr(sizeof(answer_header), header().size_a);
}

std::string_view answer_reader::what() const noexcept {
    MT_ASSERT(state_ == verdict::complete && is_exception(), "answer_reader::what of no exception");
    return std::string_view(buf_).substr(sizeof(answer_header) + header().size_a, header().size_b);
}

std::string answer_reader::take_value() {
    MT_ASSERT(state_ == verdict::complete && !is_exception(), "answer_reader::take_value of no value");
    const auto size = static_cast<std::size_t>(header().size_a);
    std::string v = std::move(buf_);
    v.resize(sizeof(answer_header) + size);  // space() may have added room for one more byte
    v.erase(0, sizeof(answer_header));
    have_ = 0;
    expected_ = 0;
    state_ = verdict::bad;
    problem_ = "its value was taken";
    return v;
}

}  // namespace mt::detail
