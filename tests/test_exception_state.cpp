// Each micro-thread owns the C++ runtime's exception state: the exception
// being handled (`throw;`, std::current_exception()) and the count of
// exceptions unwinding (std::uncaught_exceptions()) survive switches and are
// never seen by another micro-thread.
#include <doctest/doctest.h>

#include <exception>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/microthreading.hpp"
#include "tests/engine_fixture.hpp"

using mt_test::in_engine;

namespace {

std::string what_of(std::exception_ptr e) {
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        return ex.what();
    } catch (...) {
        return "?";
    }
}

}  // namespace

TEST_CASE("throw; inside a catch block rethrows this micro-thread's exception after a switch") {
    in_engine([] {
        std::string seen;
        auto a = mt::spawn([&] {
            try {
                throw std::runtime_error("A");
            } catch (...) {
                mt::yield();  // b throws its own exception and is inside its catch block now
                try {
                    throw;
                } catch (const std::runtime_error& e) {
                    seen = e.what();
                }
            }
        });
        auto b = mt::spawn([] {
            try {
                throw std::logic_error("B");
            } catch (...) {
                for (int i = 0; i < 3; ++i) mt::yield();  // still handling B while a rethrows
            }
        });
        a.wait();
        b.wait();
        CHECK(seen == "A");
    });
}

TEST_CASE("std::current_exception in a catch block sees only its own micro-thread's exception") {
    in_engine([] {
        std::vector<std::string> seen;
        auto body = [&](const char* name) {
            try {
                throw std::runtime_error(name);
            } catch (...) {
                for (int i = 0; i < 3; ++i) {
                    mt::yield();
                    seen.push_back(std::string(name) + "=" + what_of(std::current_exception()));
                }
            }
            CHECK(std::current_exception() == nullptr);  // handled: nothing is current any more
        };
        auto a = mt::spawn(body, "a");
        auto b = mt::spawn(body, "b");
        a.wait();
        b.wait();
        for (const auto& s : seen) CHECK((s == "a=a" || s == "b=b"));
        CHECK(seen.size() == 6);
    });
}

TEST_CASE("a micro-thread that handles no exception sees none, whatever the others handle") {
    in_engine([] {
        auto handler = mt::spawn([] {
            try {
                throw 42;
            } catch (int) {
                mt::yield();
                mt::yield();
            }
        });
        mt::yield();  // handler is inside its catch block now
        CHECK(std::current_exception() == nullptr);
        CHECK(std::uncaught_exceptions() == 0);
        handler.wait();
    });
}

TEST_CASE("std::uncaught_exceptions counts only the exceptions unwinding this micro-thread") {
    in_engine([] {
        int counted_inside = -1, counted_by_other = -1;
        struct suspends_while_unwinding {
            int& counted;
            ~suspends_while_unwinding() {
                counted = std::uncaught_exceptions();
                mt::yield();  // the other micro-thread runs while this one unwinds
            }
        };
        auto unwinder = mt::spawn([&] {
            suspends_while_unwinding s{counted_inside};
            throw std::runtime_error("unwinding");
        });
        auto observer = mt::spawn([&] {
            // runs first while `unwinder` is suspended in its destructor, mid-unwind
            counted_by_other = std::uncaught_exceptions();
        });
        CHECK_THROWS_WITH_AS(unwinder.wait(), "unwinding", std::runtime_error);
        observer.wait();
        CHECK(counted_inside == 1);
        CHECK(counted_by_other == 0);
    });
}

TEST_CASE("a scope left normally while another micro-thread unwinds waits for its children and rethrows their failure") {
    in_engine([] {
        bool child_finished = false;
        struct yields_in_destructor {
            ~yields_in_destructor() {
                for (int i = 0; i < 5; ++i) mt::yield();
            }
        };
        auto owner = mt::spawn([&] {
            mt::scope s;  // made while nothing unwinds anywhere
            s.spawn([&] {
                for (int i = 0; i < 8; ++i) mt::yield();
                child_finished = true;
                throw std::domain_error("child failed");
            });
            mt::yield();
            mt::yield();  // the scope is left while `unwinder` is mid-unwind
        });
        auto unwinder = mt::spawn([] {
            yields_in_destructor y;
            throw std::runtime_error("elsewhere");
        });
        CHECK_THROWS_WITH_AS(owner.wait(), "child failed", std::domain_error);
        CHECK(child_finished);
        CHECK_THROWS_AS(unwinder.wait(), std::runtime_error);
    });
}

TEST_CASE("random schedules of scopes, throws, joins and aborts keep every micro-thread's exception state its own") {
    in_engine([] {
        std::mt19937 rng(20261130);
        int mismatches = 0, checked = 0;
        for (int round = 0; round < 200; ++round) {
            mt::scope outer(mt::scope::on_failure::keep_running);
            std::vector<mt::micro_thread<void>> hs;
            for (int k = 0; k < 8; ++k) {
                const unsigned plan = rng();
                hs.push_back(outer.spawn([&, k, plan] {
                    const std::string mine = "mt" + std::to_string(k);
                    try {
                        throw std::runtime_error(mine);
                    } catch (...) {
                        for (unsigned i = 0; i < (plan & 3); ++i) mt::yield();
                        if (plan & 4) {
                            mt::scope inner;
                            inner.spawn([] { mt::yield(); });
                        }
                        ++checked;
                        if (what_of(std::current_exception()) != mine) ++mismatches;
                        if (plan & 8) throw;  // rethrows its own
                    }
                }));
            }
            if (rng() & 1) hs[rng() % hs.size()].abort();
            for (auto& h : hs) {
                try {
                    h.wait();
                } catch (const mt::micro_thread_aborted&) {
                } catch (const std::runtime_error& e) {
                    CHECK(std::string(e.what()).rfind("mt", 0) == 0);
                }
            }
            try {
                outer.wait();  // the scope rethrows the first failure once: seen above already
            } catch (const std::runtime_error&) {
            }
        }
        CHECK(mismatches == 0);
        CHECK(checked > 0);
    });
}
