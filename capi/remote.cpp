// capi/remote.cpp — wake-ups from other OS threads through the C API: a
// counted token around mt::remote_wakeup (notifier/notifier.hpp).
//
// Invariants:
//   * a token is fired at most once (`fired` goes 0 -> 1 once);
//   * the token lives while refs > 0; the wake-up it carries holds the
//     reactor's mailbox, so a fire after the engine ended finds it closed
//     and does nothing.
#include <atomic>
#include <utility>

#include "capi/detail/guard.hpp"
#include "core/errors.hpp"
#include "notifier/notifier.hpp"

struct mt_remote {
    mt::remote_wakeup wakeup;     // set once by mt_remote_arm
    std::atomic<int> refs{1};     // the C callers' references
    std::atomic<bool> fired{false};

    explicit mt_remote(mt::remote_wakeup w) noexcept : wakeup(std::move(w)) {}
};

using mt::capi::guard;

extern "C" {

mt_remote* mt_remote_arm(void) {
    mt_remote* out = nullptr;
    guard([&] {
        // C++17 allocates before it evaluates the initializer: when the
        // allocation fails nothing is armed; when arming throws the memory
        // is given back.
        out = new mt_remote(mt::remote_wakeup::arm());
        return MT_OK;
    });
    return out;
}

mt_status mt_remote_callback(mt_remote* r, void* value) {
    return guard([&] {
        if (!r) throw mt::usage_error("mt_remote_callback with a NULL token");
        if (r->fired.exchange(true)) throw mt::usage_error("mt_remote_callback: the token was fired already");
        r->wakeup.callback(value);
        return MT_OK;
    });
}

void mt_remote_retain(mt_remote* r) {
    if (r) r->refs.fetch_add(1, std::memory_order_relaxed);
}

void mt_remote_release(mt_remote* r) {
    if (r && r->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        delete r;
    }
}

}  // extern "C"
