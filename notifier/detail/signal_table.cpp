// notifier/detail/signal_table.cpp — see signal_table.hpp.
#include "notifier/detail/signal_table.hpp"

#include <atomic>
#include <string>

#include "core/detail/control_block.hpp"
#include "core/errors.hpp"
#include "notifier/detail/uncaught_interrupt.hpp"

namespace mt::detail {
namespace {
std::array<std::atomic<const signal_table*>, NSIG> signal_owner{};
}

signal_table::signal_table(bool take_sigint) {
    const signal_table* none = nullptr;
    if (take_sigint && signal_owner[SIGINT].compare_exchange_strong(none, this)) {
        own_sigint_ = true;
        claimed_[SIGINT] = true;
        ::sigaction(SIGINT, nullptr, &previous_[SIGINT]);
        exit_130_on_uncaught_interrupt();  // Ctrl-C nobody catches: one line, status 130
    }
    struct sigaction pipe_now {};
    if (::sigaction(SIGPIPE, nullptr, &pipe_now) == 0 && pipe_now.sa_handler == SIG_DFL) {
        struct sigaction ign {};
        ign.sa_handler = SIG_IGN;
        sigemptyset(&ign.sa_mask);
        ::sigaction(SIGPIPE, &ign, &prev_sigpipe_);
        own_sigpipe_ = true;
    }
}

signal_table::~signal_table() {
    if (own_sigpipe_) ::sigaction(SIGPIPE, &prev_sigpipe_, nullptr);
    for (std::size_t s = 0; s < claimed_.size(); ++s) {
        if (!claimed_[s]) continue;
        ::sigaction(static_cast<int>(s), &previous_[s], nullptr);
        const signal_table* self = this;
        signal_owner[s].compare_exchange_strong(self, nullptr);
    }
}

bool signal_table::claim(int signo, const control_block& me) {
    const auto s = static_cast<std::size_t>(signo);
    if (claimed_[s]) return false;
    const signal_table* none = nullptr;
    if (!signal_owner[s].compare_exchange_strong(none, this)) {
        throw usage_error("micro-thread " + describe(me) + " waits for signal " + std::to_string(signo) +
                          ", which the engine of another OS thread watches (one engine per signal)");
    }
    ::sigaction(signo, nullptr, &previous_[s]);
    claimed_[s] = true;
    return true;
}

bool signal_table::take(int signo) noexcept {
    const auto s = static_cast<std::size_t>(signo);
    if (claimed_[s]) return false;
    const signal_table* none = nullptr;
    if (!signal_owner[s].compare_exchange_strong(none, this)) return false;
    ::sigaction(signo, nullptr, &previous_[s]);
    claimed_[s] = true;
    return true;
}

void signal_table::pass_sigint_on() noexcept { ::sigaction(SIGINT, &previous_[SIGINT], nullptr); }

}  // namespace mt::detail
