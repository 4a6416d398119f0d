// Micro-threads: spawn, join, abort, yield, current, start_and_forget.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "core/microthreading.hpp"
#include "pipes/micro_pipe.hpp"
#include "tests/child_process.hpp"
#include "tests/engine_fixture.hpp"

using mt_test::in_engine;

TEST_CASE("spawn runs the function in a new micro-thread and wait returns its result") {
    in_engine([] {
        const auto outer = mt::current().id;
        auto h = mt::spawn([outer] {
            CHECK(mt::current().id != outer);
            return 42;
        });
        CHECK(h.wait() == 42);
        CHECK(h.state() == mt::state::finished);
    });
}

TEST_CASE("spawn copies its arguments and runs nothing until the spawner suspends") {
    in_engine([] {
        std::string s = "hello";
        bool ran = false;
        auto h = mt::spawn([&ran](std::string x, int n) {
            ran = true;
            return x + std::to_string(n);
        }, s, 7);
        s = "changed";
        CHECK_FALSE(ran);
        CHECK(h.state() == mt::state::created);
        CHECK(h.wait() == "hello7");
    });
}

TEST_CASE("an eager spawn runs the new micro-thread before the caller goes on, and the caller next") {
    in_engine([] {
        std::vector<std::string> order;
        auto other = mt::spawn([&] { order.push_back("queued before"); });
        auto h = mt::spawn(mt::spawn_options{.name = "eager", .eager = true}, [&] {
            order.push_back("child starts");
            mt::yield();  // suspends: the caller runs next, before "queued before"
            order.push_back("child resumes");
        });
        order.push_back("caller goes on");
        mt::yield();
        h.wait();
        other.wait();
        CHECK(order == std::vector<std::string>{"child starts", "caller goes on", "queued before", "child resumes"});
        mt::engine::current()->check_invariants();
    });
}

TEST_CASE("an eager spawn of a micro-thread that ends at once returns its finished handle") {
    in_engine([] {
        auto h = mt::spawn(mt::spawn_options{.eager = true}, [] { return 7; });
        CHECK(h.done());
        CHECK(h.wait() == 7);
    });
}

TEST_CASE("an eager spawn from the root context is queued as usual") {
    mt::engine e;
    bool ran = false;
    auto h = mt::spawn(mt::spawn_options{.eager = true}, [&] { ran = true; });
    CHECK_FALSE(ran);
    e.loop();
    CHECK(ran);
    CHECK(h.done());
}

TEST_CASE("a tree spawned eagerly unfolds depth-first: few micro-threads alive at once") {
    in_engine([] {
        long alive = 0, peak = 0;
        std::function<long(long)> node = [&](long depth) -> long {
            ++alive;
            peak = std::max(peak, alive);
            long sum = 1;
            if (depth > 0) {
                std::vector<mt::micro_thread<long>> kids;
                for (int i = 0; i < 10; ++i)
                    kids.push_back(mt::spawn(mt::spawn_options{.eager = true}, [&node, depth] { return node(depth - 1); }));
                for (auto& k : kids) sum += k.wait();
            }
            --alive;
            return sum;
        };
        CHECK(node(4) == 11111);  // 1 + 10 + 100 + 1,000 + 10,000 nodes
        CHECK(peak <= 5);  // one path from the root; queued (not eager) it is ~10,000
    });
}

TEST_CASE("eager spawns are calls, not yields: micro-threads queued before run when the caller suspends") {
    in_engine([] {
        bool other_ran = false;
        auto other = mt::spawn([&] { other_ran = true; });
        std::vector<mt::micro_thread<void>> kids;
        for (int i = 0; i < 100; ++i) kids.push_back(mt::spawn(mt::spawn_options{.eager = true}, [] { mt::yield(); }));
        CHECK_FALSE(other_ran);
        mt::yield();
        CHECK(other_ran);
        for (auto& k : kids) k.wait();
        other.wait();
    });
}

TEST_CASE("spawn options give the name and stack size shown by current() and the dump") {
    in_engine([] {
        auto h = mt::spawn(mt::spawn_options{"worker", 128 * 1024}, [] {
            CHECK(mt::current().name == "worker");
            CHECK(mt::current().state == mt::state::running);
            const std::string d = mt::dump();
            CHECK(d.find("'worker' running") != std::string::npos);
            CHECK(d.find("128.0 KiB") != std::string::npos);
            CHECK(d.find("high-water") != std::string::npos);
        });
        h.wait();
        CHECK(h.name() == "worker");
    });
}

TEST_CASE("an unnamed micro-thread is named after its id") {
    in_engine([] {
        auto h = mt::spawn([] {});
        CHECK(h.name() == "micro-thread-" + std::to_string(h.id()));
        h.wait();
    });
}

TEST_CASE("wait rethrows the micro-thread's exception with its type and message") {
    in_engine([] {
        auto h = mt::spawn([]() -> int { throw std::out_of_range("index 9"); });
        CHECK_THROWS_WITH_AS(h.wait(), "index 9", std::out_of_range);
        CHECK(h.state() == mt::state::failed);
    });
}

TEST_CASE("several micro-threads may join the same one") {
    in_engine([] {
        auto target = mt::spawn([] {
            mt::yield();
            return 5;
        });
        auto a = mt::spawn([target]() mutable { return target.wait() + 1; });
        auto b = mt::spawn([target]() mutable { return target.wait() + 2; });
        CHECK(a.wait() == 6);
        CHECK(b.wait() == 7);
    });
}

TEST_CASE("a move-only result is handed out once") {
    in_engine([] {
        auto h = mt::spawn([] { return std::make_unique<int>(3); });
        auto p = h.wait();
        CHECK(*p == 3);
        CHECK_THROWS_AS(h.wait(), mt::usage_error);
    });
}

TEST_CASE("an empty or moved-from handle is a usage error naming the operation and the caller") {
    in_engine([] {
        auto h = mt::spawn([] { return 1; });
        auto kept = std::move(h);
        CHECK_THROWS_WITH_AS(h.wait(),
                             "micro_thread::wait() on an empty handle (default-constructed or moved from) in micro-thread #1 'main'",
                             mt::usage_error);
        CHECK_THROWS_WITH_AS(h.abort(),
                             "micro_thread::abort() on an empty handle (default-constructed or moved from) in micro-thread #1 'main'",
                             mt::usage_error);
        CHECK_THROWS_WITH_AS((void)h.id(),
                             "micro_thread::id() on an empty handle (default-constructed or moved from) in micro-thread #1 'main'",
                             mt::usage_error);
        mt::micro_thread<void> none;
        CHECK_THROWS_WITH_AS(none.result(),
                             "micro_thread::result() on an empty handle (default-constructed or moved from) in micro-thread #1 'main'",
                             mt::usage_error);
        CHECK(kept.wait() == 1);
    });
    mt::micro_thread<int> outside;
    CHECK_THROWS_WITH_AS(outside.wait(), "micro_thread::wait() on an empty handle (default-constructed or moved from)",
                         mt::usage_error);
}

TEST_CASE("joining yourself is a usage error raised at once") {
    in_engine([] {
        mt::micro_thread<void> self;
        std::string message;
        auto me = mt::spawn(mt::spawn_options{"me"}, [&] {
            try {
                self.wait();
            } catch (const mt::usage_error& e) {
                message = e.what();
            }
        });
        self = me;
        me.wait();
        CHECK(message.find("'me'") != std::string::npos);
        CHECK(message.find("itself") != std::string::npos);
    });
}

TEST_CASE("abort raises MicroThreadExit at the suspension point and destructors run") {
    in_engine([] {
        int cleaned = 0;
        struct guard {
            int& n;
            ~guard() { ++n; }
        };
        auto h = mt::spawn([&cleaned] {
            guard g{cleaned};
            for (;;) mt::yield();
        });
        mt::yield();  // let it start
        h.abort();
        CHECK_THROWS_AS(h.wait(), mt::micro_thread_aborted);
        CHECK(cleaned == 1);
        CHECK(h.state() == mt::state::aborted);
    });
}

TEST_CASE("joining an aborted micro-thread throws micro_thread_aborted naming it, not MicroThreadExit") {
    in_engine([] {
        auto h = mt::spawn(mt::spawn_options{"victim"}, [] {
            for (;;) mt::yield();
        });
        mt::yield();
        h.abort();
        try {
            h.wait();
            FAIL("no exception");
        } catch (const mt::micro_thread_aborted& e) {
            CHECK(std::string(e.what()).find("'victim' was aborted") != std::string::npos);
        }
    });
}

TEST_CASE("abort is sticky: a swallowed MicroThreadExit is raised again at the next suspension") {
    in_engine([] {
        int swallowed = 0;
        auto h = mt::spawn([&swallowed] {
            for (;;) {
                try {
                    mt::yield();
                } catch (const mt::MicroThreadExit&) {
                    ++swallowed;  // swallowing it does not end the abort
                }
                if (swallowed == 3) mt::yield();  // the 4th raise escapes
            }
        });
        mt::yield();
        h.abort();
        CHECK_THROWS_AS(h.wait(), mt::micro_thread_aborted);
        CHECK(swallowed == 3);
    });
}

TEST_CASE("MicroThreadExit is not a std::exception, so catch (std::exception&) cannot swallow it") {
    in_engine([] {
        bool caught_as_std = false;
        auto h = mt::spawn([&] {
            try {
                for (;;) mt::yield();
            } catch (const std::exception&) {
                caught_as_std = true;
            }
        });
        mt::yield();
        h.abort();
        CHECK_THROWS_AS(h.wait(), mt::micro_thread_aborted);
        CHECK_FALSE(caught_as_std);
    });
}

TEST_CASE("aborting yourself raises MicroThreadExit at once") {
    in_engine([] {
        bool after = false;
        mt::micro_thread<void> self;
        auto h = mt::spawn([&] {
            self.abort();
            after = true;
        });
        self = h;
        CHECK_THROWS_AS(h.wait(), mt::micro_thread_aborted);
        CHECK_FALSE(after);
    });
}

TEST_CASE("aborting yourself from a destructor while unwinding does not end the program: the abort lands at the next suspension") {
    // Thrown at once, a second exception during unwinding would be
    // std::terminate. Crashing was the old behaviour: in a child.
    auto out = mt_test::run_in_child([] {
        mt::run([] {
            struct aborts_itself {
                mt::micro_thread<void>* self;
                ~aborts_itself() { self->abort(); }
            };
            // Unwinding from its own exception: it ends with that exception.
            mt::micro_thread<void> failing;
            failing = mt::spawn(mt::spawn_options{"failing"}, [&] {
                aborts_itself a{&failing};
                throw std::runtime_error("its own error");
            });
            try {
                failing.wait();
            } catch (const std::runtime_error& e) {
                std::fprintf(stderr, "failing: %s\n", e.what());
            }
            // Unwinding from an abort: it ends aborted.
            mt::micro_thread<void> aborted;
            aborted = mt::spawn(mt::spawn_options{"aborted"}, [&] {
                aborts_itself a{&aborted};
                mt::sleep_d(std::chrono::seconds(10));
            });
            mt::yield();
            aborted.abort();
            try {
                aborted.wait();
            } catch (const mt::micro_thread_aborted& e) {
                std::fprintf(stderr, "%s\n", e.what());
            }
            // The exception caught: the abort is raised at the next suspension.
            mt::micro_thread<void> catcher;
            bool after_yield = false;
            catcher = mt::spawn(mt::spawn_options{"catcher"}, [&] {
                try {
                    aborts_itself a{&catcher};
                    throw std::runtime_error("caught");
                } catch (const std::runtime_error&) {
                }
                mt::yield();
                after_yield = true;
            });
            try {
                catcher.wait();
            } catch (const mt::micro_thread_aborted& e) {
                std::fprintf(stderr, "%s; after yield: %d\n", e.what(), after_yield ? 1 : 0);
            }
        });
    });
    CHECK(out.signal == 0);
    CHECK(out.exit_code == 0);
    CHECK(out.err.find("failing: its own error") != std::string::npos);
    CHECK(out.err.find("micro-thread #3 'aborted' was aborted") != std::string::npos);
    CHECK(out.err.find("micro-thread #4 'catcher' was aborted; after yield: 0") != std::string::npos);
}

TEST_CASE("std::terminate in a micro-thread (a destructor that throws while unwinding from an abort) names the micro-thread") {
    auto out = mt_test::run_in_child([] {
        mt::run([] {
            struct throws_in_destructor {
                ~throws_in_destructor() noexcept(false) { throw std::runtime_error("thrown by a destructor"); }
            };
            auto h = mt::spawn(mt::spawn_options{"thrower"}, [] {
                throws_in_destructor t;
                mt::sleep_d(std::chrono::seconds(10));
            });
            mt::yield();
            h.abort();
            h.wait();
        });
    });
    CHECK(out.signal == SIGABRT);
    CHECK(out.err.find("microthreading: std::terminate in micro-thread #2 'thrower'") != std::string::npos);
    CHECK(out.err.find("thrown by a destructor") != std::string::npos);  // the C++ runtime's own report follows
}

TEST_CASE("aborting a micro-thread that never started: its body never runs") {
    in_engine([] {
        bool ran = false;
        auto h = mt::spawn([&ran] { ran = true; });
        h.abort();
        CHECK_THROWS_AS(h.wait(), mt::micro_thread_aborted);
        CHECK_FALSE(ran);
    });
}

namespace {

// flushes_on_destruction — what a test's micro-thread captures: its
// destructor logs where it runs, suspends once (a flush, a last put: any
// suspension) and logs where it resumed; in a shield when `shielded` (the
// waits of an aborted micro-thread need one).
struct flushes_on_destruction {
    std::vector<std::string>* log;
    bool shielded;
    bool armed = true;
    flushes_on_destruction(std::vector<std::string>& l, bool in_shield) : log(&l), shielded(in_shield) {}
    flushes_on_destruction(flushes_on_destruction&& o) noexcept
        : log(o.log), shielded(o.shielded), armed(std::exchange(o.armed, false)) {}
    ~flushes_on_destruction() {
        if (!armed) return;
        log->push_back("destroyed in " + mt::current().name);
        std::optional<mt::shield> s;
        if (shielded) s.emplace(std::chrono::seconds(10));
        mt::yield();
        log->push_back("resumed in " + mt::current().name);
    }
};

}  // namespace

TEST_CASE("what a micro-thread aborted before it started captured is destroyed in that micro-thread, where it may suspend in a shield") {
    // It was destroyed wherever the run queue popped the aborted block, or,
    // while a handle kept the block, by whoever dropped the last handle: a
    // destructor that suspended suspended that one.
    std::vector<std::string> log;
    bool ran = false;
    in_engine([&] {
        auto kept = mt::spawn(mt::spawn_options{"kept"}, [f = flushes_on_destruction(log, true), &ran] { ran = true; });
        {
            auto dropped = mt::spawn(mt::spawn_options{"dropped"}, [f = flushes_on_destruction(log, true), &ran] { ran = true; });
            dropped.abort();
        }
        auto other = mt::spawn(mt::spawn_options{"other"}, [&] {
            for (int i = 0; i < 3; ++i) mt::yield();
        });
        kept.abort();
        CHECK_THROWS_AS(kept.wait(), mt::micro_thread_aborted);
        CHECK(kept.state() == mt::state::aborted);
        other.wait();
    });
    CHECK_FALSE(ran);
    CHECK(log == std::vector<std::string>{"destroyed in kept", "destroyed in dropped", "resumed in kept",
                                          "resumed in dropped"});
}

TEST_CASE("aborting a micro-thread that has ended does nothing") {
    in_engine([] {
        auto h = mt::spawn([] { return 1; });
        CHECK(h.wait() == 1);
        h.abort();
        CHECK(h.state() == mt::state::finished);
        CHECK(h.wait() == 1);
    });
}

TEST_CASE("MicroThreadExit reaching the top ends a micro-thread silently") {
    int reported = 0;
    in_engine([&] {
        mt::set_unhandled_exception_handler([&](const mt::micro_thread_info&, std::exception_ptr) { ++reported; });
        mt::start_and_forget([] { throw mt::MicroThreadExit{}; });
        mt::yield();
    });
    CHECK(reported == 0);
}

TEST_CASE("abort() through a handle kept after its engine ended is a usage error naming the operation") {
    std::optional<mt::micro_thread<void>> kept;
    in_engine([&] {
        kept.emplace(mt::spawn([] {}));
        kept->wait();
    });
    REQUIRE(kept.has_value());
    CHECK_THROWS_AS(kept->abort(), mt::usage_error);
    try {
        kept->abort();
    } catch (const mt::usage_error& e) {
        CHECK(std::string(e.what()).find("abort()") != std::string::npos);
    }
}

TEST_CASE("yield lets every other runnable micro-thread run, in FIFO order") {
    in_engine([] {
        std::vector<int> order;
        auto a = mt::spawn([&] { for (int i = 0; i < 3; ++i) { order.push_back(1); mt::yield(); } });
        auto b = mt::spawn([&] { for (int i = 0; i < 3; ++i) { order.push_back(2); mt::yield(); } });
        a.wait();
        b.wait();
        CHECK(order == std::vector<int>{1, 2, 1, 2, 1, 2});
    });
}

TEST_CASE("yield with nothing else runnable returns at once") {
    in_engine([] {
        for (int i = 0; i < 10; ++i) mt::yield();
    });
}

TEST_CASE("current() gives id, name and state; on the root it says root") {
    in_engine([] {
        CHECK(mt::current().name == "main");
        CHECK(mt::current().id == 1);
    });
    mt::engine e;
    CHECK(mt::current().name == "root");
}

TEST_CASE("blocking outside a micro-thread is a usage error naming the operation") {
    CHECK_THROWS_WITH_AS(mt::yield(), doctest::Contains("no engine"), mt::usage_error);
    mt::engine e;
    CHECK_THROWS_WITH_AS(mt::yield(), doctest::Contains("yield() called outside a micro-thread"),
                         mt::usage_error);
    CHECK_THROWS_AS(mt::this_deferred(), mt::usage_error);
}

TEST_CASE("a second engine on the same OS thread is a usage error") {
    mt::engine e;
    CHECK_THROWS_AS(mt::engine{}, mt::usage_error);
}

TEST_CASE("what a micro-thread's function captured is destroyed in that micro-thread as its body ends, and may suspend there") {
    // It was destroyed with the block, after the engine had switched to the
    // next micro-thread: a destructor that yielded suspended that one, on
    // the ended micro-thread's stack.
    std::vector<std::string> log;
    in_engine([&] {
        mt::start_and_forget(mt::spawn_options{"detached"}, [f = flushes_on_destruction(log, false)] {});
        auto joined = mt::spawn(mt::spawn_options{"joined"}, [f = flushes_on_destruction(log, false)] { return 5; });
        auto other = mt::spawn(mt::spawn_options{"other"}, [&] {
            for (int i = 0; i < 3; ++i) mt::yield();
        });
        CHECK(joined.wait() == 5);
        other.wait();
    });
    CHECK(log == std::vector<std::string>{"destroyed in detached", "destroyed in joined", "resumed in detached",
                                          "resumed in joined"});
}

TEST_CASE("a detached micro-thread's result and exception are destroyed in that micro-thread, and its result's destructor may suspend") {
    // They were destroyed with the block, after the engine had switched to
    // the next micro-thread: a destructor that suspended suspended that one.
    struct logs_on_destruction {
        std::vector<std::string>* log;
        bool armed = true;
        explicit logs_on_destruction(std::vector<std::string>& l) : log(&l) {}
        logs_on_destruction(logs_on_destruction&& o) noexcept : log(o.log), armed(std::exchange(o.armed, false)) {}
        ~logs_on_destruction() {
            if (!armed) return;
            log->push_back("result destroyed in " + mt::current().name);
            mt::yield();
            log->push_back("resumed in " + mt::current().name);
        }
    };
    struct error_logs_on_destruction : std::runtime_error {
        std::vector<std::string>* log;
        explicit error_logs_on_destruction(std::vector<std::string>& l) : std::runtime_error("failed"), log(&l) {}
        error_logs_on_destruction(const error_logs_on_destruction&) = default;
        ~error_logs_on_destruction() override {
            if (log) log->push_back("error destroyed in " + mt::current().name);
        }
    };
    std::vector<std::string> log;
    in_engine([&] {
        mt::set_unhandled_exception_handler([](const mt::micro_thread_info&, std::exception_ptr) {});
        {
            auto t = mt::spawn(mt::spawn_options{"detached"}, [&] { return logs_on_destruction(log); });
            (void)t;  // dropped before it runs: detached
        }
        {
            auto f = mt::spawn(mt::spawn_options{"failing"}, [&]() -> int { throw error_logs_on_destruction(log); });
            (void)f;
        }
        auto other = mt::spawn(mt::spawn_options{"other"}, [&] {
            for (int i = 0; i < 4; ++i) mt::yield();
        });
        other.wait();
    });
    std::string seen;
    for (const auto& l : log) seen += l + " / ";
    INFO(seen);
    CHECK(log == std::vector<std::string>{"result destroyed in detached", "error destroyed in failing",
                                          "resumed in detached"});
}

TEST_CASE("start_and_forget sends an uncaught exception to the handler and the engine carries on") {
    std::vector<std::string> seen;
    int after = 0;
    in_engine([&] {
        mt::set_unhandled_exception_handler([&](const mt::micro_thread_info& info, std::exception_ptr e) {
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                seen.push_back(info.name + ":" + ex.what());
            }
        });
        mt::start_and_forget(mt::spawn_options{"bad"}, [] { throw std::runtime_error("boom"); });
        mt::start_and_forget([&] { ++after; });
        mt::yield();
        mt::yield();
    });
    CHECK(seen == std::vector<std::string>{"bad:boom"});
    CHECK(after == 1);
}

TEST_CASE("an unhandled-exception handler that suspends gets a usage error naming the ended micro-thread") {
    // The handler runs on the micro-thread that has just ended: a wait or a
    // yield there once broke the engine's state (a fatal assertion, or
    // worse without assertions). A call that completes at once still works.
    auto out = mt_test::run_in_child([] {
        mt::run([] {
            mt::micro_pipe<std::string> log("log");
            mt::set_unhandled_exception_handler([&](const mt::micro_thread_info& info, std::exception_ptr) {
                for (int k = 0; k < 3; ++k) {
                    try {
                        if (k == 0) mt::yield();
                        else if (k == 1) mt::sleep_d(std::chrono::milliseconds(1));
                        else mt::spawn(mt::spawn_options{"eager from handler", 0, {}, {}, true}, [] {});  // queued
                    } catch (const mt::usage_error& e) {
                        std::fprintf(stderr, "%s\n", e.what());
                    }
                }
                log.put(info.name);  // the slot is empty: no suspension
            });
            mt::start_and_forget(mt::spawn_options{"failing"}, [] { throw std::runtime_error("boom"); });
            auto got = log.get();
            std::fprintf(stderr, "logged %s\n", got ? got->c_str() : "nothing");
        });
        std::fputs("run returned\n", stderr);
    });
    CHECK(out.signal == 0);
    CHECK(out.err.find("micro-thread #2 'failing' would yield() after it ended (failed), where nothing may suspend") !=
          std::string::npos);
    CHECK(out.err.find("micro-thread #2 'failing' would wait in sleep_d after it ended (failed)") != std::string::npos);
    CHECK(out.err.find("logged failing") != std::string::npos);
    CHECK(out.err.find("run returned") != std::string::npos);

    // A handler that lets the usage error out: the engine says what it was.
    auto uncaught = mt_test::run_in_child([] {
        mt::run([] {
            mt::set_unhandled_exception_handler([](const mt::micro_thread_info&, std::exception_ptr) { mt::yield(); });
            mt::start_and_forget(mt::spawn_options{"failing"}, [] { throw std::runtime_error("boom"); });
            mt::sleep_d(std::chrono::milliseconds(1));
        });
    });
    CHECK(uncaught.signal == 0);
    CHECK(uncaught.err.find("the unhandled-exception handler threw, for micro-thread #2 'failing': micro-thread #2 "
                            "'failing' would yield() after it ended") != std::string::npos);
}

TEST_CASE("the default unhandled handler prints the name, id and message to stderr") {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    const int saved = ::dup(2);
    ::dup2(fds[1], 2);
    in_engine([] {
        mt::start_and_forget(mt::spawn_options{"loud"}, [] { throw std::runtime_error("kaboom"); });
        mt::yield();
    });
    ::dup2(saved, 2);
    ::close(saved);
    ::close(fds[1]);
    char buf[512] = {};
    const ssize_t n = ::read(fds[0], buf, sizeof buf - 1);
    ::close(fds[0]);
    REQUIRE(n > 0);
    const std::string err(buf);
    CHECK(err.find("#2 'loud'") != std::string::npos);
    CHECK(err.find("kaboom") != std::string::npos);
}

TEST_CASE("a failure nobody joins is reported when its last handle is dropped") {
    int reported = 0;
    in_engine([&] {
        mt::set_unhandled_exception_handler([&](const mt::micro_thread_info&, std::exception_ptr) { ++reported; });
        {
            auto h = mt::spawn([] { throw std::runtime_error("lost?"); });
            mt::yield();  // it fails while the handle is alive
            CHECK(reported == 0);
        }
        CHECK(reported == 1);
    });
}

TEST_CASE("run returns main's result and rethrows main's exception") {
    CHECK(mt::run([] { return mt::spawn([] { return 20; }).wait() + 1; }) == 21);
    CHECK_THROWS_WITH_AS(mt::run([] { throw std::logic_error("main failed"); }), "main failed",
                         std::logic_error);
}

TEST_CASE("the switch hook sees every switch with the micro-threads left and entered") {
    struct log_t {
        int switches = 0;
        int from_root = 0;
        int to_root = 0;
    } log;
    mt::engine e;
    e.set_switch_hook(
        [](void* user, const mt::detail::control_block* from, const mt::detail::control_block* to) {
            auto& l = *static_cast<log_t*>(user);
            ++l.switches;
            if (!from) ++l.from_root;
            if (!to) ++l.to_root;
        },
        &log);
    auto a = mt::spawn([] { mt::yield(); });
    auto b = mt::spawn([] { mt::yield(); });
    e.loop();
    // root->a, a->b, b->a, a(ends)->b, b(ends)->root
    CHECK(log.switches == 5);
    CHECK(log.from_root == 1);
    CHECK(log.to_root == 1);
}
