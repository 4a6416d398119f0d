// tests/engine_fixture.hpp — runs a test body inside a live engine and fails
// the test if anything is left behind: a micro-thread, a stack, an fd.
#pragma once

#include <doctest/doctest.h>

#include <dirent.h>

#include <cstddef>
#include <functional>
#include <string>

#include "core/microthreading.hpp"
#include "notifier/detail/ev_reactor.hpp"
#include "notifier/detail/reactor.hpp"

namespace mt_test {

// open_fds — how many fds this process has open now.
inline int open_fds() {
    int n = 0;
    if (DIR* d = ::opendir("/proc/self/fd")) {
        while (::readdir(d)) ++n;
        ::closedir(d);
    }
    return n;
}

// in_engine — runs body() as micro-thread 'main' of a fresh engine, drives
// the engine until every micro-thread has ended, rethrows main's exception,
// and checks that no micro-thread, stack, watcher or fd outlived the run.
template <class F>
void in_engine(F&& body, mt::engine_options opts = {}) {
    const int fds_before = open_fds();
    {
        mt::engine e(opts);
        auto main = mt::spawn(mt::spawn_options{"main"}, std::forward<F>(body));
        e.loop();
        CHECK_MESSAGE(e.live() == 0, "micro-threads left behind:\n" << e.dump());
        CHECK_MESSAGE(e.stacks().counts().live == 0, "stacks left behind");
        if (auto* r = mt::detail::reactor::find(e)) {
            CHECK_MESSAGE(r->counts().active() == 0, "watchers left behind");
            static_cast<mt::detail::ev_reactor*>(r)->check_invariants();  // the one reactor (kind tag)
        }
        main.result();
    }
    CHECK_MESSAGE(open_fds() == fds_before, "fds left behind");
}

}  // namespace mt_test
