// mt_waits: what a deadline and select cost.
//   roundtrip_untimed_ns — A puts to p1, B gets and puts to p2, A gets; no deadlines.
//   roundtrip_timed_ns   — the same, every put and get with a 10 s deadline
//                          that never passes (a clock read and a timer-heap
//                          insert and erase per suspending wait).
//   select4_ready_ns     — a select over 4 pipes that all hold a value (one
//                          is chosen at random and refilled).
//   *_allocs             — heap allocations per round trip (bench/alloc_count.cpp);
//                          select4_ready_allocs per select.
// Compiled against today's tree; the same program builds against earlier
// trees (the select and pipe calls it uses did not change), which is how
// "today's select" is compared with an earlier one.
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <new>
#include <optional>
#include <string_view>

#include "core/microthreading.hpp"
#include "peers/common.hpp"
#include "pipes/micro_pipe.hpp"
#include "pipes/select.hpp"

namespace {

template <bool Timed>
double roundtrip(long n, long& allocs) {
    mt::micro_pipe<long> p1("ping"), p2("pong");
    auto put = [](mt::micro_pipe<long>& p, long v) {
        if constexpr (Timed) p.put(v, std::chrono::seconds(10));
        else p.put(v);
    };
    auto get = [](mt::micro_pipe<long>& p) {
        if constexpr (Timed) return p.get(std::chrono::seconds(10));
        else return p.get();
    };
    auto echo = mt::spawn([&] {
        while (auto v = get(p1)) put(p2, *v);
        p2.close();
    });
    for (long i = 0; i < n / 10; ++i) {  // warm-up: the timer heap reaches its size
        put(p1, i);
        get(p2);
    }
    const long a0 = peers::allocations();
    const auto t0 = peers::clock::now();
    long check = 0;
    for (long i = 0; i < n; ++i) {
        put(p1, i);
        check += *get(p2);
    }
    const double ns = peers::ns_since(t0) / static_cast<double>(n);
    allocs = peers::allocations() - a0;
    if (check != n * (n - 1) / 2) std::abort();
    p1.close();
    echo.wait();
    return ns;
}

void select4_ready(long n) {
    mt::micro_pipe<long> p[4] = {mt::micro_pipe<long>("a"), mt::micro_pipe<long>("b"), mt::micro_pipe<long>("c"),
                                 mt::micro_pipe<long>("d")};
    for (auto& q : p) q.put(1);
    std::optional<long> v[4];
    long sum = 0;
    auto once = [&] {
        const std::size_t i = mt::select(mt::on_get(p[0], v[0]), mt::on_get(p[1], v[1]), mt::on_get(p[2], v[2]),
                                         mt::on_get(p[3], v[3]));
        sum += *v[i];
        p[i].put(1);
    };
    for (long i = 0; i < n / 10; ++i) once();
    sum = 0;
    const peers::measured m;
    for (long i = 0; i < n; ++i) once();
    m.report("select4_ready", n);
    if (sum != n) std::abort();
}

}  // namespace

int main(int argc, char** argv) {
    const long n = peers::arg_count(argc, argv, 1'000'000);
    const bool only_select = argc > 2 && std::string_view(argv[2]) == "select";  // for profiling one row
    mt::run([n, only_select] {
        if (only_select) {
            select4_ready(n);
            return;
        }
        long allocs = 0;
        peers::report("roundtrip_untimed_ns", roundtrip<false>(n, allocs));
        peers::report("roundtrip_untimed_allocs", static_cast<double>(allocs) / static_cast<double>(n));
        peers::report("roundtrip_timed_ns", roundtrip<true>(n, allocs));
        peers::report("roundtrip_timed_allocs", static_cast<double>(allocs) / static_cast<double>(n));
        select4_ready(n);
    });
}
