// core/detail/overflow.cpp — see overflow.hpp.
#include "core/detail/overflow.hpp"

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "core/detail/assert.hpp"
#include "core/detail/control_block.hpp"
#include "core/detail/stack_mapping.hpp"
#include "core/detail/sys.hpp"
#include "core/engine.hpp"
#include "core/errors.hpp"

namespace mt::detail {
namespace {

constexpr std::size_t altstack_size = 64 * 1024;
struct sigaction previous_segv;
struct sigaction previous_bus;

// A fixed-size message built without allocation (async-signal-safe).
struct message {
    char buf[512];
    std::size_t len = 0;

    void add(const char* s) noexcept {
        while (*s && len < sizeof buf - 1) buf[len++] = *s++;
    }
    void add(std::uint64_t v, int base = 10) noexcept {
        char tmp[24];
        int n = 0;
        do {
            tmp[n++] = "0123456789abcdef"[v % base];
            v /= base;
        } while (v && n < 24);
        if (base == 16) add("0x");
        while (n && len < sizeof buf - 1) buf[len++] = tmp[--n];
    }
    void write_out() noexcept {
        buf[len++] = '\n';
        ssize_t r = ::write(2, buf, len);
        (void)r;
    }
};

void add_ref(message& m, const control_block& cb) {
    m.add(cb.id);
    m.add(" '");
    if (cb.name[0]) {
        m.add(cb.name);
    } else {
        m.add("micro-thread-");
        m.add(cb.id);
    }
    m.add("'");
}

void describe_overflow(message& m, const control_block& cb) {
    m.add("microthreading: stack overflow in micro-thread #");
    add_ref(m, cb);
    m.add(" (stack size ");
    m.add(cb.stk.size);
    m.add(" bytes");
}

// Is this fault the running micro-thread running off the bottom of its stack?
// On a guarded stack (in a slab or its own mapping) the fault lands in the
// page below `lo`, which is the guard: stack-clash probing makes frames touch
// every page in order, so none skips it. The stack pointer test catches a
// fault on a push or call whose address the kernel reports elsewhere. On a
// canary stack a slab's guard may lie far below, so the reach is wider.
// Code built without stack-clash probing may move the stack pointer past
// the guard in one frame; its first write then faults far below, between
// the stack pointer (a page under it, for a push) and the stack.
bool is_overflow(const control_block& cb, std::uintptr_t addr, std::uintptr_t sp) {
    if (!cb.stk) return false;
    const auto lo = reinterpret_cast<std::uintptr_t>(cb.stk.lo);
    const std::uintptr_t reach = cb.stk.guarded() ? guard_size() : 16 * stack_pool::page_size();
    const bool addr_below = addr < lo + canary_bytes && addr + reach >= lo;
    const bool sp_below = sp != 0 && sp < lo + 256 && sp + reach >= lo;
    const bool jumped = sp != 0 && sp < lo && lo - sp <= max_stack_size && addr < lo &&
                        addr + stack_pool::page_size() >= sp;
    return addr_below || sp_below || jumped;
}

void chain(const struct sigaction& prev, int sig, siginfo_t* info, void* uctx) {
    if (prev.sa_flags & SA_SIGINFO) {
        if (prev.sa_sigaction) prev.sa_sigaction(sig, info, uctx);
        return;
    }
    if (prev.sa_handler == SIG_DFL || prev.sa_handler == SIG_IGN) {
        // Default action: reinstall it and return, the fault happens again.
        ::signal(sig, SIG_DFL);
        return;
    }
    prev.sa_handler(sig);
}

void on_fault(int sig, siginfo_t* info, void* uctx) {
    engine* e = engine::current();
    const control_block* cb = e ? e->running() : nullptr;
    std::uintptr_t sp = 0;
#if defined(__x86_64__)
    sp = static_cast<std::uintptr_t>(static_cast<ucontext_t*>(uctx)->uc_mcontext.gregs[REG_RSP]);
#elif defined(__aarch64__)
    sp = static_cast<std::uintptr_t>(static_cast<ucontext_t*>(uctx)->uc_mcontext.sp);
#endif
    const auto addr = reinterpret_cast<std::uintptr_t>(info->si_addr);
    if (cb && is_overflow(*cb, addr, sp)) {
        message m;
        describe_overflow(m, *cb);
        const auto lo = reinterpret_cast<std::uintptr_t>(cb->stk.lo);
        const bool at_guard = cb->stk.guarded() && addr < lo && addr + guard_size() >= lo;
        m.add(at_guard ? "; hit its guard page at " : "; ran below its stack at ");
        m.add(addr, 16);
        if (cb->stk.guarded() && !at_guard) m.add(", past its guard page in one frame");
        m.add(")");
        m.write_out();
        ::signal(SIGABRT, SIG_DFL);
        std::abort();
    }
    chain(sig == SIGBUS ? previous_bus : previous_segv, sig, info, uctx);
}

// install_handler — makes on_fault the SIGSEGV/SIGBUS handler, keeping
// whatever was there (a test framework's, an embedder's, ASan's) to chain
// to. Called by every new engine, so a handler installed after an earlier
// engine's does not hide overflows from this one.
void install_one(int sig, struct sigaction& previous) {
    static std::mutex m;
    std::lock_guard<std::mutex> lock(m);
    struct sigaction now;
    if (::sigaction(sig, nullptr, &now) != 0) return;
    if ((now.sa_flags & SA_SIGINFO) && now.sa_sigaction == on_fault) return;
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    ::sigaction(sig, &sa, &previous);
}

void install_handler() {
    install_one(SIGSEGV, previous_segv);
    install_one(SIGBUS, previous_bus);
}

std::atomic<std::terminate_handler> previous_terminate{nullptr};
std::atomic<bool> terminate_installed{false};

// on_terminate — std::terminate while a micro-thread runs (an exception
// left a destructor or a noexcept function: a destructor that threw while
// unwinding, a wait in one that raised): one line naming the micro-thread,
// then the handler that was there before (the C++ runtime's names the
// exception). A Ctrl-C nobody caught is left to the notifier's handler.
[[noreturn]] void on_terminate() noexcept {
    const engine* e = engine::current();
    const control_block* cb = e ? e->running() : nullptr;
    bool interrupted = false;
    if (std::exception_ptr ex = std::current_exception()) {
        try {
            std::rethrow_exception(ex);
        } catch (const interrupted_error&) {
            interrupted = true;
        } catch (...) {
        }
    }
    if (cb && !interrupted) {
        message m;
        m.add("microthreading: std::terminate in micro-thread #");
        add_ref(m, *cb);
        m.add(" (usually an exception leaving a destructor or a noexcept function)");
        m.write_out();
    }
    if (std::terminate_handler h = previous_terminate.load()) h();
    std::abort();
}

}  // namespace

overflow_guard::overflow_guard() {
    install_handler();
    if (!terminate_installed.exchange(true)) previous_terminate.store(std::set_terminate(on_terminate));
    stack_t old;
    if (::sigaltstack(nullptr, &old) == 0 && (old.ss_flags & SS_DISABLE)) {
        void* mem = sys().mmap(nullptr, altstack_size, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (mem != MAP_FAILED) {
            stack_t ss{};
            ss.ss_sp = mem;
            ss.ss_size = altstack_size;
            ss.ss_flags = 0;
            if (::sigaltstack(&ss, nullptr) == 0) altstack_ = mem;
            else sys().munmap(mem, altstack_size);
        }
    }
}

overflow_guard::~overflow_guard() {
    if (!altstack_) return;
    stack_t ss{};
    ss.ss_flags = SS_DISABLE;
    ::sigaltstack(&ss, nullptr);
    sys().munmap(altstack_, altstack_size);
}

void overflow_die(const control_block& cb) noexcept {
    message m;
    describe_overflow(m, cb);
    m.add("; its canary was overwritten)");
    m.write_out();
    std::abort();
}

void assertion_failed(const char* file, int line, const char* cond, const char* what) noexcept {
    std::fprintf(stderr, "microthreading: fatal: %s:%d: %s (%s)\n", file, line, what, cond);
    std::abort();
}

void fatal(const std::string& what) noexcept {
    std::fprintf(stderr, "microthreading: fatal: %s\n", what.c_str());
    std::abort();
}

}  // namespace mt::detail
