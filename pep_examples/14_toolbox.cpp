// 14 — the synchronization toolbox, the way the classic Python concurrency
// workshops use threading's: every primitive suspends only the micro-thread.
//
// What to notice:
//   1. a bank of accounts behind a mutex: 20 tellers move money at random;
//      the total never changes;
//   2. a bounded queue between producers and consumers: put waits while it
//      is full, and closing it ends the consumers' loops;
//   3. an event starts the racers at once;
//   4. a semaphore limits concurrent "downloads" to 3;
//   5. an actor holds a counter: calls from many micro-threads are served
//      one at a time, in order of arrival;
//   6. a lock-order mistake — two micro-threads taking two mutexes in
//      opposite orders — is caught when the cycle closes, and reported.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "core/microthreading.hpp"
#include "core/mutex.hpp"

using namespace std::chrono_literals;

namespace {

void bank() {
    std::vector<int> balance(5, 100);
    mt::mutex accounts("accounts");
    unsigned seed = 7;
    auto next = [&seed] { return seed = seed * 1103515245u + 12345u; };
    mt::scope tellers;
    for (int t = 0; t < 20; ++t) {
        tellers.spawn([&] {
            for (int i = 0; i < 50; ++i) {
                const std::size_t from = next() % 5, to = next() % 5;
                std::lock_guard<mt::mutex> hold(accounts);
                const int amount = std::min(balance[from], static_cast<int>(next() % 20));
                balance[from] -= amount;
                mt::yield();  // another teller runs here, and must wait for the lock
                balance[to] += amount;
            }
        });
    }
    tellers.wait();
    int total = 0;
    for (int b : balance) total += b;
    std::printf("1. bank: 20 tellers x 50 transfers, total still %d\n", total);
}

void producers_and_consumers() {
    mt::queue<int> q(4, "work");
    int most_held = 0, sum = 0;
    mt::scope s;
    mt::scope producers;
    for (int p = 0; p < 3; ++p) {
        producers.spawn([&, p] {
            for (int i = 1; i <= 10; ++i) {
                q.put(p * 100 + i);
                most_held = std::max(most_held, static_cast<int>(q.size()));
            }
        });
    }
    for (int c = 0; c < 2; ++c) {
        s.spawn([&] {
            for (int v : q) sum += v;  // ends at end-of-stream
        });
    }
    producers.wait();
    q.close();
    s.wait();
    std::printf("2. queue(4): 30 values, sum %d, never more than %d held\n", sum, most_held);
}

void racers() {
    mt::event go("start");
    std::vector<std::string> order;
    mt::scope s;
    for (const char* name : {"ant", "bee", "cat"}) {
        s.spawn([&, name] {
            go.wait();
            order.push_back(name);
        });
    }
    mt::sleep_d(2ms);
    std::printf("3. event: before set, %zu racers ran; ", order.size());
    go.set();
    s.wait();
    std::printf("after set: %s %s %s\n", order[0].c_str(), order[1].c_str(), order[2].c_str());
}

void downloads() {
    mt::semaphore slots(3, "downloads");
    int running = 0, most = 0;
    mt::scope s;
    for (int i = 0; i < 10; ++i) {
        s.spawn([&] {
            slots.acquire();
            most = std::max(most, ++running);
            mt::sleep_d(1ms);  // the "download"
            --running;
            slots.release();
        });
    }
    s.wait();
    std::printf("4. semaphore(3): 10 downloads, at most %d at once\n", most);
}

void counter_actor() {
    mt::actor<int> counter("counter", 0);
    mt::scope s;
    for (int i = 0; i < 5; ++i)
        s.spawn([&] {
            for (int k = 0; k < 10; ++k) counter.call([](int& n) { return ++n; });
        });
    s.wait();
    const int final_count = counter.call([](int& n) { return n; });
    counter.stop();
    counter.wait();
    std::printf("5. actor: 5 callers x 10 increments, counter %d\n", final_count);
}

void lock_order_mistake() {
    mt::mutex a("a"), b("b");
    auto first = mt::spawn(mt::spawn_options{"first"}, [&] {
        std::lock_guard<mt::mutex> ha(a);
        mt::yield();
        std::lock_guard<mt::mutex> hb(b);  // waits for `second`, which holds b
    });
    auto second = mt::spawn(mt::spawn_options{"second"}, [&] {
        std::lock_guard<mt::mutex> hb(b);
        mt::yield();
        std::lock_guard<mt::mutex> ha(a);  // would close the cycle: refused at once
    });
    first.wait();
    try {
        second.wait();
    } catch (const mt::deadlock_error& e) {
        std::printf("6. lock order: %s\n", e.what());
    }
}

}  // namespace

int main() {
    mt::run([] {
        bank();
        producers_and_consumers();
        racers();
        downloads();
        counter_actor();
        lock_order_mistake();
    });
}
