// mt_spawn_join: cost of spawning a micro-thread with an empty body and
// joining it, one at a time (spawn_join_ns, spawn_join_allocs). Stacks come
// from the pool and carry a guard page (the pool keeps guard pages while the
// kernel's map budget allows).
// Also many_alive_ns: 1,000 micro-threads spawned, all alive at once, then
// joined in order; elapsed / 1,000 per batch (many_alive_allocs likewise).
// Usage: mt_spawn_join [N] [bare]. With "bare": an engine without a notifier,
// metrics *_bare_* (what scripts/check_instructions.sh counts; see
// mt_yield.cpp).
#include <string>
#include <string_view>
#include <vector>

#include "core/microthreading.hpp"
#include "peers/common.hpp"

int main(int argc, char** argv) {
    const long n = peers::arg_count(argc, argv, 2'000'000);
    const bool bare = argc > 2 && std::string_view(argv[2]) == "bare";
    const std::string suffix = bare ? "_bare" : "";
    mt::engine_options opts;
    opts.default_notifier = !bare;
    mt::run([n, &suffix] {
        for (long i = 0; i < 1000; ++i) mt::spawn([] {}).wait();  // warm the pool
        {
            const peers::measured m;
            for (long i = 0; i < n; ++i) mt::spawn([] {}).wait();
            m.report(("spawn_join" + suffix).c_str(), n);
        }
        const auto& c = mt::engine::current()->stacks().counts();
        if (c.live_guarded == 0) std::fprintf(stderr, "warning: main's stack is not guarded\n");
        std::vector<mt::micro_thread<void>> alive(1000);
        auto batch = [&] {
            for (auto& t : alive) t = mt::spawn([] {});
            for (auto& t : alive) t.wait();
        };
        batch();  // warm-up: the pool holds 1,000 stacks
        const long batches = n / 1000 + 1;
        const peers::measured m;
        for (long b = 0; b < batches; ++b) batch();
        m.report(("many_alive" + suffix).c_str(), batches * 1000);
    }, opts);
}
