// notifier/detail/dump_board.cpp — see dump_board.hpp.
#include "notifier/detail/dump_board.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <mutex>
#include <vector>

#include "notifier/detail/ev_reactor.hpp"

namespace mt::detail::dump_board {
namespace {

std::array<std::atomic<bool>, NSIG> dump_signals{};
std::atomic<bool> any_dump_signal{false};

std::mutex lock_;
std::vector<ev_reactor*>& members() {
    static std::vector<ev_reactor*> m;
    return m;
}

}  // namespace

void enable(int signo) noexcept {
    if (signo <= 0 || signo >= NSIG) return;
    dump_signals[static_cast<std::size_t>(signo)].store(true, std::memory_order_relaxed);
    any_dump_signal.store(true, std::memory_order_relaxed);
}

bool dumps_on(int signo) noexcept {
    return signo > 0 && signo < NSIG && dump_signals[static_cast<std::size_t>(signo)].load(std::memory_order_relaxed);
}

bool any() noexcept { return any_dump_signal.load(std::memory_order_relaxed); }

void join(ev_reactor& r) {
    std::lock_guard<std::mutex> g(lock_);
    members().push_back(&r);
}

void leave(ev_reactor& r) noexcept {
    std::lock_guard<std::mutex> g(lock_);
    auto& m = members();
    m.erase(std::remove(m.begin(), m.end(), &r), m.end());
}

void pass_on() noexcept {
    std::lock_guard<std::mutex> g(lock_);
    if (!members().empty()) members().front()->request_dump_signals();
}

void request_all() noexcept {
    std::lock_guard<std::mutex> g(lock_);
    for (ev_reactor* r : members()) r->request_dump();
}

}  // namespace mt::detail::dump_board
