// nonblocking_io/file_chunks.cpp — open and pread on the worker pool.
#include "nonblocking_io/file_chunks.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <utility>

#include "core/detail/control_block.hpp"
#include "core/engine.hpp"
#include "core/errors.hpp"
#include "nonblocking_io/worker_pool.hpp"

namespace mt {

// open_file — owns the fd; shared by the reader and the jobs it started, so a
// job left running by a timed-out or aborted caller never reads a closed (or
// reused) fd number.
struct file_chunks::open_file {
    int fd;
    explicit open_file(int f) noexcept : fd(f) {}
    ~open_file() { ::close(fd); }
    open_file(const open_file&) = delete;
    open_file& operator=(const open_file&) = delete;
};

namespace {

constexpr const char* op = "read_file_chunks";

std::string what(const std::string& path) {
    detail::control_block& me = engine::get(op).require_running(op);
    return std::string(op) + "('" + path + "') in micro-thread " + detail::describe(me);
}

// read_result — what a job hands back: the bytes, or the errno of the failure
// (the message is made on the engine's thread, which may name micro-threads).
struct read_result {
    std::string bytes;
    int err = 0;
};

}  // namespace

file_chunks::file_chunks(std::string path, std::size_t chunk_size) : path_(std::move(path)), chunk_(chunk_size) {
    if (chunk_size == 0) throw usage_error(what(path_) + ": chunk_size must be > 0");
    // The job wraps the fd at once: if the caller stops waiting (abort) while
    // the open runs, the result is dropped with the job and the fd closed.
    auto [file, err] = submit_work([p = path_] {
        int f;
        do f = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
        while (f < 0 && errno == EINTR);
        if (f < 0) return std::pair<std::shared_ptr<open_file>, int>(nullptr, errno);
        return std::pair<std::shared_ptr<open_file>, int>(std::make_shared<open_file>(f), 0);
    });
    if (!file) throw std::system_error(err, std::generic_category(), what(path_));
    file_ = std::move(file);
}

file_chunks::~file_chunks() = default;
file_chunks::file_chunks(file_chunks&&) noexcept = default;
file_chunks& file_chunks::operator=(file_chunks&&) noexcept = default;

std::optional<std::string> file_chunks::next(deadline d) {
    if (!file_) throw usage_error(what(path_) + ": next() on a moved-from file_chunks");
    if (eof_) return std::nullopt;
    read_result r = submit_work_until(worker_pool::shared(), d, [file = file_, off = offset_, n = chunk_]() mutable {
        read_result out;
        // Drops the job's reference before the caller is woken: the job
        // object itself dies later on the worker thread, and a reader ended
        // right after its last chunk must close the file then, not some time
        // later on another thread.
        struct release {
            std::shared_ptr<open_file>& f;
            ~release() { f.reset(); }
        } release_file{file};
        out.bytes.resize(n);
        std::size_t got = 0;
        while (got < n) {  // a short read is not the end: only 0 is
            const ssize_t k = ::pread(file->fd, out.bytes.data() + got, n - got, static_cast<off_t>(off + got));
            if (k < 0 && errno == EINTR) continue;
            if (k < 0) {
                out.err = errno;
                return out;
            }
            if (k == 0) break;
            got += static_cast<std::size_t>(k);
        }
        out.bytes.resize(got);
        return out;
    });
    if (r.err) throw std::system_error(r.err, std::generic_category(), what(path_));
    if (r.bytes.size() < chunk_) eof_ = true;
    if (r.bytes.empty()) return std::nullopt;
    offset_ += r.bytes.size();
    return std::move(r.bytes);
}

void read_file_chunks(const std::string& path, micro_pipe<std::string>& out, std::size_t chunk_size) {
    file_chunks f(path, chunk_size);
    while (auto chunk = f.next()) out.put(std::move(*chunk));
}

}  // namespace mt
