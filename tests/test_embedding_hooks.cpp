// The engine's hooks for an embedder (docs/embedding.md): a per-micro-thread
// state block of the size the embedder asks for, a callback on every switch
// that sees the blocks it switches between, and callbacks around the
// engine's blocking wait.
#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <vector>

#include "core/microthreading.hpp"
#include "notifier/notifier.hpp"
#include "tests/child_process.hpp"

using namespace std::chrono_literals;

namespace {

struct state {
    int id;          // written by the micro-thread itself
    int switches_in;  // counted by the hook
};

struct recorder {
    mt::engine* e = nullptr;
    std::vector<std::pair<int, int>> switches;  // (from id, to id); 0 = root
};

void on_switch(void* user, const mt::detail::control_block* from, const mt::detail::control_block* to) {
    auto* r = static_cast<recorder*>(user);
    auto* fs = static_cast<state*>(r->e->embedder_state(from));
    auto* ts = static_cast<state*>(r->e->embedder_state(to));
    ++ts->switches_in;
    r->switches.emplace_back(from ? fs->id : 0, to ? ts->id : 0);
}

}  // namespace

TEST_CASE("each micro-thread carries a zeroed embedder state block that the switch hook sees") {
    mt::engine_options opts;
    opts.embedder_state_size = sizeof(state) + 100;  // any size
    mt::engine e(opts);
    recorder r{&e, {}};
    e.set_switch_hook(on_switch, &r);
    auto body = [&e](int id) {
        auto* s = static_cast<state*>(e.embedder_state(e.running()));
        CHECK(s->id == 0);  // zeroed
        s->id = id;
        mt::yield();
        CHECK(static_cast<state*>(e.embedder_state(e.running()))->id == id);  // its own, after switches
    };
    auto a = mt::spawn(body, 1);
    auto b = mt::spawn(body, 2);
    e.loop();
    a.result();
    b.result();
    CHECK(e.embedder_state(nullptr) != nullptr);  // the root's
    // root -> a, a -> b (a yields), b -> a, a -> b... the hook saw ids as the blocks held them.
    bool saw_a_to_b = false;
    for (auto [from, to] : r.switches) saw_a_to_b = saw_a_to_b || (from == 1 && to == 2);
    CHECK(saw_a_to_b);
    CHECK(static_cast<state*>(e.embedder_state(nullptr))->switches_in >= 1);
}

TEST_CASE("an engine without embedder state gives none") {
    mt::engine e;
    CHECK(e.embedder_state(nullptr) == nullptr);
    auto h = mt::spawn([&e] { CHECK(e.embedder_state(e.running()) == nullptr); });
    e.loop();
    h.result();
}

TEST_CASE("block hooks run around an engine's own sleep when it has no notifier") {
    static int before = 0, after = 0;
    mt::engine_options opts;
    opts.default_notifier = false;
    mt::engine e(opts);
    e.set_block_hooks([](void*) { ++before; }, [](void*) { ++after; }, nullptr);
    auto h = mt::spawn([] { mt::sleep_d(5ms); });
    e.loop();
    h.result();
    CHECK(before >= 1);
    CHECK(after == before);
}

TEST_CASE("an after-only block hook set before the engine has a notifier reaches the notifier it gets") {
    static int after = 0;
    mt::engine e;  // its libev notifier is made when the loop starts
    e.set_block_hooks(nullptr, [](void*) { ++after; }, nullptr);
    auto h = mt::spawn([] { mt::sleep_d(5ms); });
    e.loop();
    h.result();
    CHECK(after >= 1);
}

namespace {
volatile std::sig_atomic_t host_sigints = 0;
void host_sigint_handler(int) { host_sigints = host_sigints + 1; }

// The program's own SIGINT handler, as a host installs it before an engine.
void install_host_sigint_handler() {
    struct sigaction sa {};
    sa.sa_handler = host_sigint_handler;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, nullptr);
}

// True if SIGINT's disposition is the program's own handler.
bool host_sigint_handler_installed() {
    struct sigaction now {};
    ::sigaction(SIGINT, nullptr, &now);
    return now.sa_handler == host_sigint_handler;
}
}  // namespace

TEST_CASE("an engine with ctrl_c off leaves SIGINT to the program's own handler") {
    auto out = mt_test::run_in_child([] {
        install_host_sigint_handler();
        mt::engine_options opts;
        opts.ctrl_c = false;
        const int seen = mt::run(
            [] {
                mt::sleep_d(1ms);  // the notifier exists and polls
                ::kill(::getpid(), SIGINT);
                mt::sleep_d(20ms);  // not interrupted: the engine does not own SIGINT
                return static_cast<int>(host_sigints);
            },
            opts);
        ::_exit(seen == 1 && host_sigint_handler_installed() ? 42 : 1);
    });
    CHECK(out.exit_code == 42);
    CHECK(out.err == "");
}

TEST_CASE("an engine with ctrl_c on takes SIGINT from the program and gives it back when it ends") {
    auto out = mt_test::run_in_child([] {
        install_host_sigint_handler();
        int code = 1;
        try {
            mt::run([] {
                ::kill(::getpid(), SIGINT);
                mt::sleep_d(10s);
            });
        } catch (const mt::interrupted_error&) {
            code = host_sigints == 0 ? 42 : 2;
        }
        ::_exit(host_sigint_handler_installed() ? code : 3);
    });
    CHECK(out.exit_code == 42);
}
