// peer_fiber_spawn_join: Boost.Fiber create+join of a fiber running an empty
// lambda, one at a time, N times (argv[1], default 500,000).
// Prints: spawn_join_ns         with the default stack allocator
//         (fixedsize_stack: malloc of stack_traits::default_size() = 128 KiB,
//         no guard page), and
//         spawn_join_guarded_ns with protected_fixedsize_stack (mmap + guard
//         page + munmap per fiber, slow), same default size, N/16 iterations.
#include <boost/fiber/all.hpp>
#include <memory>
#include "common.hpp"

template <class Alloc>
static double run(long n, Alloc alloc) {
    auto t0 = peers::clock::now();
    for (long i = 0; i < n; ++i) {
        boost::fibers::fiber f(std::allocator_arg, alloc, [] {});
        f.join();
    }
    return peers::ns_since(t0) / double(n);
}

int main(int argc, char** argv) {
    long n = peers::arg_count(argc, argv, 500000);
    long ng = n / 16 + 1;
    boost::fibers::fixedsize_stack plain;
    boost::fibers::protected_fixedsize_stack guarded;
    run(n / 10 + 1, plain);  // warm-up
    peers::report("spawn_join_ns", run(n, plain));
    run(ng / 10 + 1, guarded);  // warm-up
    peers::report("spawn_join_guarded_ns", run(ng, guarded));
}
