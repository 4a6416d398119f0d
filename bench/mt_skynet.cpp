// mt_skynet: the skynet benchmark with micro-threads. Usage: mt_skynet [N].
// `mt_skynet N eager`: every spawn is eager (spawn_options::eager: the child
// runs first, the tree unfolds depth-first, as Go's runnext does).
// A micro-thread of size s > 1 spawns ten children of size s/10 and sums the
// ten numbers they put into its one pipe; a micro-thread of size 1 puts its
// own number. With N = 1,000,000 (default) that is 1,111,111 micro-threads,
// and the root's sum is 0 + 1 + ... + 999,999 (checked).
// Prints skynet_ms (the whole tree, start to sum), skynet_allocs (heap
// allocations per micro-thread) and skynet_threads. Go's reference version is
// peers/go/skynet.
#include <cstdlib>
#include <string_view>

#include "core/microthreading.hpp"
#include "peers/common.hpp"
#include "pipes/micro_pipe.hpp"

namespace {

long spawned = 0;
mt::spawn_options opts;  // .eager from the command line

// skynet — puts into `out` the sum of the numbers num .. num + size - 1,
// computed by a tree of micro-threads with `div` children per node.
void skynet(mt::micro_pipe<long>& out, long num, long size, long div) {
    ++spawned;
    if (size == 1) {
        out.put(num);
        return;
    }
    mt::micro_pipe<long> results;
    const long child = size / div;
    for (long i = 0; i < div; ++i) {
        mt::start_and_forget(opts, [&results, c = num + i * child, child, div] { skynet(results, c, child, div); });
    }
    long sum = 0;
    for (long i = 0; i < div; ++i) sum += *results.get();
    out.put(sum);
}

}  // namespace

int main(int argc, char** argv) {
    const long n = peers::arg_count(argc, argv, 1'000'000);
    opts.eager = argc > 2 && std::string_view(argv[2]) == "eager";
    long sum = 0;
    mt::run([&] {
        auto once = [&] {
            mt::micro_pipe<long> root;
            spawned = 0;
            mt::start_and_forget([&] { skynet(root, 0, n, 10); });
            sum = *root.get();
        };
        once();  // warm-up: the stack pool and the control blocks' free lists
        const auto a0 = peers::allocations();
        const auto t0 = peers::clock::now();
        once();
        const double ns = peers::ns_since(t0);
        peers::report("skynet_ms", ns / 1e6);
        peers::report("skynet_allocs", static_cast<double>(peers::allocations() - a0) / static_cast<double>(spawned));
        peers::report("skynet_threads", static_cast<double>(spawned));
    });
    if (sum != n * (n - 1) / 2) {
        std::fprintf(stderr, "mt_skynet: sum %ld, expected %ld\n", sum, n * (n - 1) / 2);
        return 1;
    }
}
