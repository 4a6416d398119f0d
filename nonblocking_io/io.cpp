// nonblocking_io/io.cpp — try the system call; on EAGAIN wait for readiness.
#include "nonblocking_io/io.hpp"

#include <fmt/format.h>

#include <fcntl.h>

#include <cerrno>
#include <chrono>
#include <system_error>

#include "core/detail/control_block.hpp"
#include "core/detail/sys.hpp"
#include "core/detail/wait.hpp"
#include "core/engine.hpp"
#include "nonblocking_io/detail/op.hpp"
#include "notifier/detail/reactor.hpp"
#include "core/detail/naming.hpp"

namespace mt {
namespace detail {

op_context::op_context(const char* op, int fd, const deadline& d)
    : op_(op), fd_(fd), me_(engine::get(op).require_running(op)), deadline_(d) {
    check_deadline(me_, d, op);
    if (fd < 0) fail(EBADF);
}

std::string op_context::what() const {
    return op_in(op_, fmt::format("fd {}", fd_), &me_);
}

void op_context::fail(int err) const { throw std::system_error(err, std::generic_category(), what()); }

void op_context::wait(bool write) const {
    if (fd_ < 0) fail(EBADF);
    reactor::of(*me_.eng).wait_fd(me_, fd_, write, deadline_, op_);
}

}  // namespace detail

namespace {

template <class Call>
std::size_t transfer(detail::op_context& ctx, bool write, Call call) {
    for (;;) {
        const ssize_t n = call();
        if (n >= 0) return static_cast<std::size_t>(n);
        const int err = errno;
        if (err == EINTR) continue;
        if (err == EAGAIN || err == EWOULDBLOCK) {
            ctx.wait(write);
            continue;
        }
        ctx.fail(err);
    }
}

}  // namespace

// read_side — a read: waits first if the last read of this fd emptied it
// (the try would only return EAGAIN: one system call saved per message on a
// request/response connection), and notes when this read empties it.
template <class Call>
std::size_t read_side(detail::op_context& ctx, int fd, std::size_t want, Call call) {
    // find, not of: a read that never waits must not make a reactor (and its fds).
    detail::reactor* r = detail::reactor::find(*engine::current());
    if (r && r->take_drained(fd)) ctx.wait(false);
    const std::size_t n = transfer(ctx, false, call);
    if (n > 0 && n < want) {
        if (!r) r = detail::reactor::find(*engine::current());  // the read may have waited
        if (r) r->set_drained(fd);
    }
    return n;
}

std::size_t read_d(int fd, std::span<std::byte> buf, deadline d) {
    detail::op_context ctx("read_d", fd, d);
    return read_side(ctx, fd, buf.size(), [&] { return detail::sys().read(fd, buf.data(), buf.size()); });
}

std::size_t write_d(int fd, std::span<const std::byte> buf, deadline d) {
    detail::op_context ctx("write_d", fd, d);
    if (buf.empty()) return 0;
    return transfer(ctx, true, [&] { return detail::sys().write(fd, buf.data(), buf.size()); });
}

std::size_t recv_d(int fd, std::span<std::byte> buf, int flags, deadline d) {
    detail::op_context ctx("recv_d", fd, d);
    return read_side(ctx, fd, buf.size(), [&] { return detail::sys().recv(fd, buf.data(), buf.size(), flags); });
}

std::size_t send_d(int fd, std::span<const std::byte> buf, int flags, deadline d) {
    detail::op_context ctx("send_d", fd, d);
    if (buf.empty()) return 0;
    return transfer(ctx, true,
                    [&] { return detail::sys().send(fd, buf.data(), buf.size(), flags | MSG_NOSIGNAL); });
}

void read_exact(int fd, std::span<std::byte> buf, deadline d) {
    detail::op_context ctx("read_exact", fd, d);
    std::size_t got = 0;
    while (got < buf.size()) {
        const std::size_t n = transfer(ctx, false, [&] {
            return detail::sys().read(fd, buf.data() + got, buf.size() - got);
        });
        if (n == 0) {
            throw end_of_stream_error(ctx.what() + ": end of stream after " + std::to_string(got) + " of " +
                                      std::to_string(buf.size()) + " bytes");
        }
        got += n;
    }
}

void write_all(int fd, std::span<const std::byte> buf, deadline d) {
    detail::op_context ctx("write_all", fd, d);
    std::size_t done = 0;
    bool socket = true;  // send(MSG_NOSIGNAL) on sockets, write elsewhere (pipes, files)
    while (done < buf.size()) {
        done += transfer(ctx, true, [&]() -> ssize_t {
            if (socket) {
                const ssize_t n = detail::sys().send(fd, buf.data() + done, buf.size() - done, MSG_NOSIGNAL);
                if (n >= 0 || errno != ENOTSOCK) return n;
                socket = false;
            }
            return detail::sys().write(fd, buf.data() + done, buf.size() - done);
        });
    }
}

void set_nonblocking(int fd) {
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        throw std::system_error(errno, std::generic_category(), "set_nonblocking(fd " + std::to_string(fd) + ")");
}

}  // namespace mt
