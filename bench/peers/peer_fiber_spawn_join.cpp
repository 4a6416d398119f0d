// peer_fiber_spawn_join: Boost.Fiber create+join of a fiber running an empty
// lambda, one at a time, N times (argv[1], default 500,000), with three stack
// allocators:
//   spawn_join_ns         fixedsize_stack: malloc of
//                         stack_traits::default_size() = 128 KiB, no guard page;
//   spawn_join_pooled_ns  pooled_fixedsize_stack: the same size from a pool
//                         (the like-for-like twin of our pooled stacks), no
//                         guard page;
//   spawn_join_guarded_ns protected_fixedsize_stack (mmap + guard page +
//                         munmap per fiber, slow), N/16 iterations.
// Each also prints <name>_allocs, heap allocations per spawn+join.
#include <boost/fiber/all.hpp>
#include <memory>
#include "common.hpp"

template <class Alloc>
static void run(long n, Alloc alloc, const char* name) {
    for (long i = 0; i < n / 10 + 1; ++i) {  // warm-up
        boost::fibers::fiber f(std::allocator_arg, alloc, [] {});
        f.join();
    }
    const peers::measured m;
    for (long i = 0; i < n; ++i) {
        boost::fibers::fiber f(std::allocator_arg, alloc, [] {});
        f.join();
    }
    m.report(name, n);
}

int main(int argc, char** argv) {
    long n = peers::arg_count(argc, argv, 500000);
    run(n, boost::fibers::fixedsize_stack{}, "spawn_join");
    run(n, boost::fibers::pooled_fixedsize_stack{}, "spawn_join_pooled");
    run(n / 16 + 1, boost::fibers::protected_fixedsize_stack{}, "spawn_join_guarded");
}
