// 06 — the deferred and the PEP's callback queue ("not really a queue").
//
// Continuation-style code, as C functions that cannot suspend would write
// it: A calls B calls C calls D; D starts something slow and defers; as the
// calls return, each pushes its continuation. What to notice:
//   * the continuations run D', C', B', A': in push order, each fed the
//     previous result, and wait() returns the last;
//   * when C' defers again (through E), what is pushed meanwhile (E', C'')
//     goes in front of what is still pending: [E', C'', B', A'].
#include <cstdio>
#include <string>

#include "core/microthreading.hpp"

namespace {

mt::deferred* d;     // main's deferred
bool again = false;  // does C' defer again?

void* cont(void* value, void* name) {
    const long v = reinterpret_cast<long>(value);
    std::printf("  %s got %ld\n", static_cast<const char*>(name), v);
    return reinterpret_cast<void*>(v + 1);
}

void* c_prime(void* value, void* name) {
    cont(value, name);
    if (!again) return reinterpret_cast<void*>(reinterpret_cast<long>(value) + 1);
    d->arm();                                 // E defers...
    d->push("E'", cont, (void*)"E'");         // ...E returns, pushing E'
    d->push("C''", cont, (void*)"C''");       // C' returns, pushing C''
    std::printf("  C' deferred again\n");
    return nullptr;
}

// A calls B calls C calls D. Each pushes its continuation after the call returns.
void D() { d->arm(); d->push("D'", cont, (void*)"D'"); }
void C() { D(); d->push("C'", c_prime, (void*)"C'"); }
void B() { C(); d->push("B'", cont, (void*)"B'"); }
void A() { B(); d->push("A'", cont, (void*)"A'"); }

}  // namespace

int main() {
    mt::run([] {
        d = &mt::this_deferred();
        for (bool twice : {false, true}) {
            again = twice;
            std::printf(twice ? "C' defers again:\n" : "one deferral:\n");
            A();
            // Someone else completes the slow work: fires with 100, then 200.
            auto firer = mt::spawn([twice] {
                d->callback(reinterpret_cast<void*>(100));
                if (twice) {
                    while (d->fired() || !d->armed()) mt::yield();
                    d->callback(reinterpret_cast<void*>(200));
                }
            });
            std::printf("result: %ld\n", reinterpret_cast<long>(d->wait()));
            firer.wait();
        }
    });
}
