// buffered_reader: lines and delimited records from sockets, pipes and
// regular files, with deadlines, a bounded buffer, and a consistent state
// after a timeout, an abort or an over-long line.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "core/microthreading.hpp"
#include "nonblocking_io/buffered_reader.hpp"
#include "nonblocking_io/fd.hpp"
#include "nonblocking_io/io.hpp"
#include "tests/alloc_counter.hpp"
#include "tests/engine_fixture.hpp"
#include "tests/stream_pair.hpp"

using namespace std::chrono_literals;
using mt_test::in_engine;

namespace {

using mt_test::stream_pair;

std::vector<std::string> all_lines(mt::buffered_reader& r) {
    std::vector<std::string> out;
    while (auto line = r.read_line()) out.push_back(*line);
    return out;
}

}  // namespace

TEST_CASE("read_line returns a line written in pieces whole, once its newline arrives") {
    in_engine([] {
        stream_pair p;
        mt::buffered_reader r(p.a.get());
        auto reader = mt::spawn([&] { return *r.read_line(); });
        mt::yield();
        mt::write_all(p.b.get(), "hel");
        mt::sleep_d(1ms);
        mt::write_all(p.b.get(), "lo wor");
        mt::sleep_d(1ms);
        mt::write_all(p.b.get(), "ld\nnext");
        CHECK(reader.wait() == "hello world");
        CHECK(r.buffered_view() == "next");
    });
}

TEST_CASE("read_line keeps a carriage return; read_until with \"\\r\\n\" removes it") {
    in_engine([] {
        stream_pair p;
        mt::buffered_reader r(p.a.get());
        mt::write_all(p.b.get(), "GET / HTTP/1.1\r\nHost: x\r\n\r\nbody");
        CHECK(*r.read_line() == "GET / HTTP/1.1\r");
        CHECK(*r.read_until("\r\n") == "Host: x");
        CHECK(*r.read_until("\r\n") == "");
        p.b.close();
        CHECK(*r.read_until("\r\n") == "body");
        CHECK_FALSE(r.read_until("\r\n").has_value());
    });
}

TEST_CASE("a delimiter split across two reads is found, for every chunk size") {
    in_engine([] {
        const std::string text = "alpha\r\nbe\r\rta\r\n\r\ngamma delta\r\nz";
        const std::vector<std::string> want = {"alpha", "be\r\rta", "", "gamma delta", "z"};
        for (std::size_t chunk = 1; chunk <= 9; ++chunk) {
            CAPTURE(chunk);
            stream_pair p;
            mt::buffered_reader r(p.a.get(), 64, chunk);
            auto writer = mt::spawn([&] {  // byte by byte: every boundary happens
                for (char c : text) {
                    mt::write_all(p.b.get(), std::string_view(&c, 1));
                    mt::yield();
                }
                p.b.close();
            });
            std::vector<std::string> got;
            while (auto rec = r.read_until("\r\n")) got.push_back(*rec);
            writer.wait();
            CHECK(got == want);
        }
    });
}

TEST_CASE("a line longer than max_line raises line_too_long_error naming the fd, the micro-thread and the limit") {
    in_engine([] {
        stream_pair p;
        mt::buffered_reader r(p.a.get(), 1000, 256);
        auto writer = mt::spawn(mt::spawn_options{"flood"}, [&] {
            const std::string big(4096, 'x');  // never a newline
            for (;;) mt::write_all(p.b.get(), big);
        });
        auto reader = mt::spawn(mt::spawn_options{"liner"}, [&] { r.read_line(); });
        const std::string want = "read_line(fd " + std::to_string(p.a.get()) +
                                 ") in micro-thread #3 'liner': line longer than 1000 bytes";
        CHECK_THROWS_WITH_AS(reader.wait(), doctest::Contains(want.c_str()), mt::line_too_long_error);
        CHECK(r.buffered() <= 1000 + 1 + 256);  // bounded: the reader stopped reading
        writer.abort();
        CHECK_THROWS_AS(writer.wait(), mt::micro_thread_aborted);
    });
}

TEST_CASE("a line of exactly max_line bytes is accepted, one byte more is not; discard_buffered drops it") {
    in_engine([] {
        stream_pair p;
        mt::buffered_reader r(p.a.get(), 8, 3);
        mt::write_all(p.b.get(), "12345678\n123456789\nok\n");
        CHECK(*r.read_line() == "12345678");
        CHECK_THROWS_AS(r.read_line(), mt::line_too_long_error);
        CHECK_THROWS_AS(r.read_line(), mt::line_too_long_error);  // the bytes are still there
        r.discard_buffered();
        p.b.close();
        // What was not yet read of the long line comes next: the caller decides.
        std::vector<std::string> rest = all_lines(r);
        REQUIRE_FALSE(rest.empty());
        CHECK(rest.back() == "ok");
    });
}

TEST_CASE("read_line with a timeout raises timeout_error saying who waited for what and how long; the partial line stays") {
    in_engine([] {
        stream_pair p;
        mt::buffered_reader r(p.a.get());
        mt::write_all(p.b.get(), "par");
        auto patient = mt::spawn(mt::spawn_options{"patient"}, [&] { r.read_line(20ms); });
        CHECK_THROWS_WITH_AS(patient.wait(),
                             doctest::Contains("read_line in micro-thread #2 'patient' timed out after 0.020 s"),
                             mt::timeout_error);
        CHECK(r.buffered_view() == "par");
        mt::write_all(p.b.get(), "tial\n");
        CHECK(*r.read_line(5s) == "partial");
    });
}

TEST_CASE("end-of-stream in the middle of a line returns the last line, then nullopt every time") {
    in_engine([] {
        stream_pair p;
        mt::buffered_reader r(p.a.get());
        mt::write_all(p.b.get(), "one\ntwo\nthr");
        p.b.close();
        CHECK(all_lines(r) == std::vector<std::string>{"one", "two", "thr"});
        CHECK(r.at_end());
        CHECK_FALSE(r.read_line().has_value());
    });
}

TEST_CASE("an abort while read_line waits leaves the reader consistent: the next reader gets the whole line") {
    in_engine([] {
        stream_pair p;
        mt::buffered_reader r(p.a.get(), 1024, 4);
        mt::write_all(p.b.get(), "first\nsec");
        auto waiter = mt::spawn([&] {
            CHECK(*r.read_line() == "first");
            r.read_line();  // waits for the rest of "sec..."
            FAIL("not aborted");
        });
        mt::sleep_d(2ms);
        waiter.abort();
        CHECK_THROWS_AS(waiter.wait(), mt::micro_thread_aborted);
        mt::write_all(p.b.get(), "ond\nthird\n");
        p.b.close();
        CHECK(all_lines(r) == std::vector<std::string>{"second", "third"});
    });
}

TEST_CASE("read_line works on a pipe and on a regular file") {
    in_engine([] {
        int pp[2];
        REQUIRE(::pipe2(pp, O_NONBLOCK | O_CLOEXEC) == 0);
        mt::fd rd(pp[0]), wr(pp[1]);
        mt::buffered_reader from_pipe(rd.get(), 100, 5);
        auto writer = mt::spawn([&] {
            mt::write_all(wr.get(), "a pipe's\nlines");
            wr.close();
        });
        CHECK(all_lines(from_pipe) == std::vector<std::string>{"a pipe's", "lines"});
        writer.wait();

        const std::string path = "/tmp/mt_test_lines_" + std::to_string(::getpid());
        {
            mt::fd f(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
            REQUIRE(f);
            std::string text;
            for (int i = 0; i < 1000; ++i) text += "line " + std::to_string(i) + "\n";
            REQUIRE(::write(f.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size()));
        }
        mt::fd f(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        ::unlink(path.c_str());
        REQUIRE(f);
        mt::buffered_reader from_file(f.get(), 100, 7);
        const auto lines = all_lines(from_file);
        REQUIRE(lines.size() == 1000);
        CHECK(lines[0] == "line 0");
        CHECK(lines[999] == "line 999");
    });
}

TEST_CASE("read_line_view allocates nothing per line once the buffer exists") {
    in_engine([] {
        stream_pair p;
        mt::buffered_reader r(p.a.get(), 256, 4096);
        std::string text;
        for (int i = 0; i < 100; ++i) text += "a line of text that is long enough not to fit SSO\n";
        mt::write_all(p.b.get(), text);
        p.b.close();
        REQUIRE(r.read_line_view().has_value());  // makes the buffer
        const std::size_t before = mt_test::allocations();
        int n = 1;
        while (auto v = r.read_line_view()) {
            CHECK(v->size() == 49);
            ++n;
        }
        CHECK(mt_test::allocations() - before == 0);
        CHECK(n == 100);
    });
}

TEST_CASE("buffered_reader misuse: zero sizes, an empty delimiter, a closed fd, outside a micro-thread") {
    CHECK_THROWS_AS(mt::buffered_reader(0, 0), mt::usage_error);
    CHECK_THROWS_AS(mt::buffered_reader(0, 10, 0), mt::usage_error);
    {
        mt::buffered_reader r(0);
        CHECK_THROWS_AS(r.read_line(), mt::usage_error);  // no engine
    }
    in_engine([] {
        stream_pair p;
        mt::buffered_reader r(p.a.get());
        CHECK_THROWS_WITH_AS(r.read_until(""), doctest::Contains("the delimiter is empty"), mt::usage_error);
        mt::buffered_reader bad(-1);
        CHECK_THROWS_AS(bad.read_line(), std::system_error);
    });
}

TEST_CASE("a second micro-thread calling a reader while the first waits gets a usage_error; the first goes on") {
    in_engine([] {
        stream_pair p;
        mt::buffered_reader r(p.a.get());
        auto first = mt::spawn(mt::spawn_options{"first"}, [&] { return *r.read_line(); });
        mt::yield();
        CHECK_THROWS_WITH_AS(r.read_line(), doctest::Contains("the reader is in use by another call"),
                             mt::usage_error);
        mt::write_all(p.b.get(), "mine\n");
        CHECK(first.wait() == "mine");
    });
}
