// nonblocking_io/io.hpp — the PEP's read_d, write_d, send_d, recv_d, plus
// read_exact and write_all: calls that look blocking but suspend only the
// calling micro-thread.
//
// Each call works on a non-blocking fd: it tries the system call, and on
// EAGAIN waits in the notifier for readiness, then tries again; EINTR is
// retried. An optional timeout bounds the whole call (mt::timeout_error). An
// abort raises MicroThreadExit at the wait. OS errors become
// std::system_error with the errno and "read_d(fd 7) in micro-thread #3
// 'conn'": what was being done, by whom. Must run in a micro-thread.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "../core/errors.hpp"
#include "../notifier/notifier.hpp"

namespace mt {

// end_of_stream_error — read_exact met end-of-stream before it had enough.
class end_of_stream_error : public error {
public:
    using error::error;
};

// read_d — reads at most buf.size() bytes; returns how many, 0 at end-of-stream.
std::size_t read_d(int fd, std::span<std::byte> buf, deadline d = {});
// write_d — writes at least one byte (unless buf is empty); returns how many.
std::size_t write_d(int fd, std::span<const std::byte> buf, deadline d = {});
// recv_d / send_d — the socket forms; send_d adds MSG_NOSIGNAL (a closed peer
// is an EPIPE error, never a SIGPIPE).
std::size_t recv_d(int fd, std::span<std::byte> buf, int flags = 0, deadline d = {});
std::size_t send_d(int fd, std::span<const std::byte> buf, int flags = 0, deadline d = {});

// read_exact — fills buf completely; throws end_of_stream_error naming how
// much was missing if the stream ends first.
void read_exact(int fd, std::span<std::byte> buf, deadline d = {});
// write_all — writes all of buf.
void write_all(int fd, std::span<const std::byte> buf, deadline d = {});

// Conveniences for text.
inline std::size_t read_d(int fd, char* buf, std::size_t n, deadline d = {}) {
    return read_d(fd, std::as_writable_bytes(std::span(buf, n)), d);
}
inline void write_all(int fd, std::string_view s, deadline d = {}) {
    write_all(fd, std::as_bytes(std::span(s.data(), s.size())), d);
}

// set_nonblocking — O_NONBLOCK on an fd the program made itself.
void set_nonblocking(int fd);

}  // namespace mt
