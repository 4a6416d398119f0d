// file_chunks / read_file_chunks: a regular file in chunks, read on the
// worker pool, as an iterator or as a pipeline's first stage.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <system_error>

#include "core/microthreading.hpp"
#include "nonblocking_io/file_chunks.hpp"
#include "nonblocking_io/worker_pool.hpp"
#include "pipes/pipeline.hpp"
#include "tests/engine_fixture.hpp"

using mt_test::in_engine;

namespace {

// temp_file — a file of `size` bytes (a repeating pattern), removed at the end.
struct temp_file {
    std::string path;
    std::string content;
    explicit temp_file(std::size_t size)
        : path("/tmp/mt_test_chunks_" + std::to_string(::getpid()) + "_" + std::to_string(size)) {
        for (std::size_t i = 0; i < size; ++i) content += static_cast<char>('a' + i % 23);
        const int f = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        REQUIRE(f >= 0);
        REQUIRE(::write(f, content.data(), content.size()) == static_cast<ssize_t>(content.size()));
        ::close(f);
    }
    ~temp_file() { ::unlink(path.c_str()); }
};

}  // namespace

TEST_CASE("file_chunks yields a file in chunks of the asked size, the last one shorter, then nullopt") {
    in_engine([] {
        temp_file t(10000);
        mt::file_chunks f(t.path, 4096);
        std::string all;
        std::size_t chunks = 0;
        while (auto c = f.next()) {
            ++chunks;
            CHECK(c->size() == (chunks < 3 ? 4096u : 10000u - 8192u));
            all += *c;
        }
        CHECK(chunks == 3);
        CHECK(all == t.content);
        CHECK(f.offset() == 10000);
        CHECK_FALSE(f.next().has_value());
    });
}

TEST_CASE("file_chunks of an empty file and of an exact multiple of the chunk size end cleanly") {
    in_engine([] {
        temp_file empty(0);
        mt::file_chunks e(empty.path, 16);
        CHECK_FALSE(e.next().has_value());
        temp_file exact(32);
        mt::file_chunks x(exact.path, 16);
        CHECK(x.next()->size() == 16);
        CHECK(x.next()->size() == 16);
        CHECK_FALSE(x.next().has_value());
    });
}

TEST_CASE("read_file_chunks on a missing file raises system_error naming the path, the micro-thread and the reason") {
    in_engine([] {
        auto h = mt::spawn(mt::spawn_options{"loader"}, [] {
            mt::file_chunks f("/nonexistent/mt_no_such_file");
        });
        try {
            h.wait();
            FAIL("no error");
        } catch (const std::system_error& e) {
            CHECK(e.code().value() == ENOENT);
            const std::string what = e.what();
            CHECK(what.find("read_file_chunks('/nonexistent/mt_no_such_file') in micro-thread #2 'loader'") !=
                  std::string::npos);
            CHECK(what.find("No such file or directory") != std::string::npos);
        }
    });
}

TEST_CASE("read_file_chunks_stage feeds a pipeline: the next stage gets the whole file, in order") {
    in_engine([] {
        temp_file t(300000);
        const std::string got = mt::pipeline<std::string>(
            mt::read_file_chunks_stage(t.path, 65536),
            [](mt::micro_pipe<std::string>& in) {
                std::string all;
                for (auto& c : in) all += c;
                return all;
            });
        CHECK(got == t.content);
    });
}

TEST_CASE("read_file_chunks stops quietly when the reader goes away") {
    in_engine([] {
        temp_file t(100000);
        const std::size_t first = mt::pipeline<std::string>(
            mt::read_file_chunks_stage(t.path, 1000),
            [](mt::micro_pipe<std::string>& in) {
                const std::size_t n = in.get()->size();
                in.close_reader();
                return n;
            });
        CHECK(first == 1000);
    });
}

TEST_CASE("a read error (a directory) raises system_error naming the path and the reason, at the read") {
    in_engine([] {
        mt::file_chunks dir("/tmp");  // opening a directory read-only succeeds; reading it does not
        try {
            dir.next();
            FAIL("no error");
        } catch (const std::system_error& e) {
            CHECK(e.code().value() == EISDIR);
            CHECK(std::string(e.what()).find("read_file_chunks('/tmp') in micro-thread #1 'main'") != std::string::npos);
        }
        CHECK_THROWS_AS(mt::file_chunks("/tmp", 0), mt::usage_error);
    });
}
