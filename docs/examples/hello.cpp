#include <cstdio>

#include <microthreading/microthreading.hpp>

int main() {
    int total = mt::run([] {
        // Two micro-threads take turns; each yield() switches to the other.
        auto ping = mt::spawn(mt::spawn_options{"ping"}, [] {
            for (int i = 0; i < 2; ++i) { std::printf("ping %d\n", i); mt::yield(); }
            return 1;
        });
        auto pong = mt::spawn(mt::spawn_options{"pong"}, [] {
            for (int i = 0; i < 2; ++i) { std::printf("pong %d\n", i); mt::yield(); }
            return 2;
        });
        // Results of a batch, in order; the first failure aborts the rest.
        auto [a, b] = mt::start_in_parallel([] { return 10; }, [] { return 20; });
        return ping.wait() + pong.wait() + a + b;  // join
    });
    std::printf("total %d\n", total);
}
