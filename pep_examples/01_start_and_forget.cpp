// 01 — start_and_forget: fire-and-forget micro-threads.
//
// The PEP's first scenario: start work and never join it. What to notice:
//   * start_and_forget returns at once; the micro-threads run when main
//     suspends (here: when it yields, and when main ends and run() drives
//     whatever is left);
//   * one of them raises; nobody joins it, so the engine's unhandled-exception
//     handler reports it (name, id, message) and everything else carries on.
#include <cstdio>
#include <stdexcept>

#include "core/microthreading.hpp"

int main() {
    // The default handler prints to stderr; this one prints to stdout so the
    // example's whole output can be checked.
    mt::run([] {
        mt::set_unhandled_exception_handler([](const mt::micro_thread_info& who, std::exception_ptr e) {
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                std::printf("unhandled in #%llu '%s': %s\n", static_cast<unsigned long long>(who.id),
                            who.name.c_str(), ex.what());
            }
        });

        for (int i = 1; i <= 3; ++i) {
            mt::start_and_forget(mt::spawn_options{"greeter"}, [i] {
                std::printf("greeter %d says hello\n", i);
                mt::yield();  // let the others interleave
                std::printf("greeter %d says goodbye\n", i);
            });
        }
        mt::start_and_forget(mt::spawn_options{"faulty"}, [] {
            throw std::runtime_error("disk on fire");
        });

        std::printf("main started them all and goes on\n");
        mt::yield();
        std::printf("main is done; run() waits for the rest\n");
    });
    std::printf("every micro-thread has ended\n");
}
