// nonblocking_io/file_chunks.hpp — a regular file read in chunks, without
// holding it all in memory, and without blocking the engine's thread.
//
//   mt::file_chunks f("/var/log/big.log");           // opens it (on the worker pool)
//   while (auto chunk = f.next()) consume(*chunk);   // nullopt at end of file
//
//   // or as the first stage of a pipeline: chunks flow as the next stage takes them
//   mt::pipeline<std::string>(mt::read_file_chunks_stage("big.log"),
//                             [](mt::micro_pipe<std::string> in) { for (auto& c : in) ...; });
//
// A regular file is always "ready" to epoll (it refuses to watch one), yet a
// read may wait for the disk: opening and every read run on the worker pool
// (worker_pool.hpp) while the calling micro-thread waits and the engine runs
// the others. Reads use pread at the reader's own offset, so a read whose
// caller timed out or was aborted (its job may still run to its end on the
// worker thread) moves nothing: the next call reads the same chunk again.
// The file stays open while a dropped job still uses it, and is closed by
// whichever of the reader and the job finishes last.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "../core/deadline.hpp"
#include "../pipes/micro_pipe.hpp"

namespace mt {

class file_chunks {
public:
    static constexpr std::size_t default_chunk = 64 << 10;

    // file_chunks — opens `path` for reading on the worker pool; the calling
    // micro-thread waits. Throws std::system_error naming the call, the path,
    // the micro-thread and the OS's reason ("read_file_chunks('/x') in
    // micro-thread #3 'stage 1': No such file or directory"); usage_error for
    // chunk_size 0 or outside a micro-thread. May suspend.
    explicit file_chunks(std::string path, std::size_t chunk_size = default_chunk);
    ~file_chunks();
    file_chunks(file_chunks&&) noexcept;
    file_chunks& operator=(file_chunks&&) noexcept;

    // next — the next chunk (chunk_size bytes, fewer only at the end), or
    // nullopt at end of file. Suspends while the worker reads. Throws
    // timeout_error when `d` passes first (the reader stays where it was),
    // std::system_error on a read error, MicroThreadExit on abort.
    std::optional<std::string> next(deadline d = {});

    const std::string& path() const noexcept { return path_; }
    std::uint64_t offset() const noexcept { return offset_; }

    struct open_file;  // the fd, shared with jobs still running (file_chunks.cpp)

private:
    std::string path_;
    std::size_t chunk_;
    std::shared_ptr<open_file> file_;
    std::uint64_t offset_ = 0;  // the next chunk starts here
    bool eof_ = false;
};

// read_file_chunks — puts every chunk of `path` into `out`, in order, then
// returns (it does not close `out`: a pipeline stage's stdout closes when the
// stage ends). Throws as file_chunks does; a reader that went away ends the
// call with MicroThreadExit, as any put to a closed pipe does. May suspend.
void read_file_chunks(const std::string& path, micro_pipe<std::string>& out,
                      std::size_t chunk_size = file_chunks::default_chunk);

// read_file_chunks_stage — a pipeline's first stage reading `path`.
inline auto read_file_chunks_stage(std::string path, std::size_t chunk_size = file_chunks::default_chunk) {
    return [path = std::move(path), chunk_size](micro_pipe<std::string>& out) {
        read_file_chunks(path, out, chunk_size);
    };
}

}  // namespace mt
