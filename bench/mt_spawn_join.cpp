// mt_spawn_join: cost of spawning a micro-thread with an empty body and
// joining it, one at a time. Stacks come from the pool and carry a guard page
// (the pool keeps guard pages while the kernel's map budget allows).
#include "core/microthreading.hpp"
#include "peers/common.hpp"

int main(int argc, char** argv) {
    const long n = peers::arg_count(argc, argv, 2'000'000);
    mt::run([n] {
        for (long i = 0; i < 1000; ++i) mt::spawn([] {}).wait();  // warm the pool
        const auto t0 = peers::clock::now();
        for (long i = 0; i < n; ++i) mt::spawn([] {}).wait();
        const double ns = peers::ns_since(t0) / static_cast<double>(n);
        const auto& c = mt::engine::current()->stacks().counts();
        if (c.live_guarded == 0) std::fprintf(stderr, "warning: main's stack is not guarded\n");
        peers::report("spawn_join_ns", ns);
    });
}
