// fmt formatters (core/format.hpp, pipes/format.hpp) and the messages the
// engine formats with fmt.
#include <doctest/doctest.h>

#include <fmt/format.h>

#include <string>

#include "core/format.hpp"
#include "core/microthreading.hpp"
#include "pipes/format.hpp"
#include "pipes/micro_pipe.hpp"
#include "tests/engine_fixture.hpp"

using mt_test::in_engine;

TEST_CASE("fmt formats a micro_thread handle as its id and name, and with {:l} its state") {
    in_engine([] {
        auto h = mt::spawn(mt::spawn_options{.name = "sink"}, [] { mt::yield(); });
        const std::string id = std::to_string(h.id());
        CHECK(fmt::format("{}", h) == "#" + id + " 'sink'");
        CHECK(fmt::format("{:l}", h) == "#" + id + " 'sink' (created)");
        h.wait();
        CHECK(fmt::format("{:l}", h) == "#" + id + " 'sink' (finished)");
        CHECK(fmt::format("{}", mt::state::waiting) == "waiting");
    });
}

TEST_CASE("fmt formats a micro_pipe as its name, with {:l} open or closed, and a null handle") {
    in_engine([] {
        mt::micro_pipe<int> p("numbers");
        CHECK(fmt::format("{}", p) == "pipe 'numbers'");
        CHECK(fmt::format("{:l}", p) == "pipe 'numbers' (open)");
        p.close();
        CHECK(fmt::format("{:l}", p) == "pipe 'numbers' (closed)");
        mt::micro_pipe<int> none(nullptr);
        CHECK(fmt::format("{}", none) == "pipe (null)");
    });
}

TEST_CASE("fmt formats the engine as its dump") {
    in_engine([] {
        auto h = mt::spawn(mt::spawn_options{.name = "parked"}, [] { mt::sleep_d(std::chrono::seconds(60)); });
        mt::yield();
        const std::string text = fmt::format("{}", *mt::engine::current());
        CHECK(text.rfind("2 live micro-threads\n", 0) == 0);  // the dump (its times move on)
        CHECK(text.find("'parked' waiting") != std::string::npos);
        h.abort();
        CHECK_THROWS_AS(h.wait(), mt::micro_thread_aborted);
    });
}

TEST_CASE("a bad format spec for a handle is fmt's format_error") {
    in_engine([] {
        auto h = mt::spawn([] {});
        CHECK_THROWS_AS((void)fmt::format(fmt::runtime("{:x}"), h), fmt::format_error);
        h.wait();
    });
}
