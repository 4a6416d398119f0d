// mt_parked: resident memory per parked micro-thread. Starts N detached
// micro-threads (argv[1], default 100,000), each waiting on its own deferred,
// so all N are alive at once; rss_per_thread_bytes = (RSS after - RSS
// before) / N. Then fires every deferred and lets them all end.
#include <vector>

#include "core/microthreading.hpp"
#include "peers/common.hpp"

int main(int argc, char** argv) {
    const long n = peers::arg_count(argc, argv, 100'000);
    mt::run([n] {
        std::vector<mt::deferred*> parked;
        parked.reserve(static_cast<std::size_t>(n));
        const long before = peers::rss_bytes();
        const auto t0 = peers::clock::now();
        for (long i = 0; i < n; ++i) {
            mt::start_and_forget([&parked] {
                mt::deferred& d = mt::this_deferred();
                parked.push_back(&d);
                d.arm();
                d.wait();
            });
        }
        mt::yield();  // every one runs once and parks
        const double spawn_ns = peers::ns_since(t0) / static_cast<double>(n);
        const long after = peers::rss_bytes();
        peers::report("rss_per_thread_bytes", static_cast<double>(after - before) / static_cast<double>(n));
        const auto& c = mt::engine::current()->stacks().counts();
        std::fprintf(stderr, "parked: n=%ld spawn+park %.0f ns each, %zu guarded stacks, %zu slabs, %zu kernel mappings\n",
                     n, spawn_ns, c.live_guarded, c.slabs, c.mappings);
        const auto t1 = peers::clock::now();
        for (mt::deferred* d : parked) d->callback(nullptr);
        mt::yield();
        std::fprintf(stderr, "parked: release %.0f ns each\n",
                     peers::ns_since(t1) / static_cast<double>(n));
    });
}
