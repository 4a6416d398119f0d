// core/detail/context.cpp — the one file that includes Boost.Context.
//
// It owns: the backend choice (Boost.Context's fcontext assembly backend,
// the one Debian builds, used through its three primitives make_fcontext,
// jump_fcontext and ontop_fcontext), the start and the end of a context,
// the hand-over of the continuation that was left, the sanitizer
// annotations of every switch, and the one-shot call on a fresh stack that
// a forked child makes (call_on_fresh_stack, on Boost's fiber).
//
// Why fcontext and not ucontext+BOOST_USE_ASAN: the ucontext backend makes a
// system call (sigprocmask) per switch and costs about 40x as much. The
// fcontext backend knows nothing of ASan, so every switch made here is
// annotated with __sanitizer_start_switch_fiber/__sanitizer_finish_switch_fiber;
// ASan then knows which stack is current when an exception unwinds one.
// See docs/design/core.md.
//
// Why the primitives and not boost::context::fiber for micro-threads: a
// fiber's constructor places its record at the top of the new stack and
// jumps there and back once to hand it over, and its end destroys the
// record through a second function run on top of the next context. Here a
// new context is only made (make_fcontext; the small start record is
// written at its stack's top by the creator) and first runs when it is
// first switched to; its end gives its stack back from on top of the next
// context (ontop_fcontext), once it is no longer running on it. One spawn
// and join costs a jump pair and ~65 instructions fewer (callgrind,
// mt_spawn_join). A switch is the same jump either way.
//
// The protocol: every jump into a context passes the address of that
// context's own slot as the transfer's data. Only a context's first entry
// (start_context) reads it: the slot's stack bounds say where its start
// record is.
//
// The exception state: the C++ ABI keeps, per OS thread, the chain of
// exceptions being handled (what `throw;` and std::current_exception() see)
// and the count of exceptions unwinding (std::uncaught_exceptions()). A
// micro-thread that suspends inside a catch block or a destructor run by
// unwinding would otherwise leave that state to whichever micro-thread runs
// next. Every switch saves the two words into the slot of the context it
// leaves and restores them when that context resumes; a new micro-thread
// starts with none. (Rejected: swapping only on demand, from a catch block's
// guard: user code would have to call it; copying the whole TLS block: its
// layout is the C library's.)
//
// The hand-over: a jump returns the continuation of whoever jumped to us.
// That context stored a pointer to its own slot in switch_state::save_into
// before jumping, so the resumed side files the continuation there. No
// allocation, no extra jump.
#include "core/detail/context.hpp"

#include <boost/context/detail/fcontext.hpp>
#include <boost/context/fiber.hpp>
#include <cxxabi.h>

#include <cerrno>
#include <cstdint>
#include <new>
#include <utility>

#include "core/detail/sanitizers.hpp"
#include "core/detail/stack_mapping.hpp"
#include "core/detail/stack_pool.hpp"

namespace mt::detail {
namespace ctx = boost::context;
namespace fc = boost::context::detail;

static_assert(sizeof(fc::fcontext_t) == sizeof(void*), "a slot stores a continuation as its one pointer");

namespace {

// The ABI's per-thread exception state (libstdc++'s and libc++abi's
// __cxa_eh_globals begin with these two fields on every target we build for).
struct eh_state {
    void* caught_exceptions;
    unsigned int uncaught_exceptions;
};

inline eh_state& eh(const switch_state& st) noexcept { return *static_cast<eh_state*>(st.eh_globals); }

inline void eh_save(context_slot& slot, const switch_state& st) noexcept {
    const eh_state& g = eh(st);
    slot.eh_caught = g.caught_exceptions;
    slot.eh_uncaught = g.uncaught_exceptions;
}

inline void eh_restore(const context_slot& slot, const switch_state& st) noexcept {
    eh_state& g = eh(st);
    g.caught_exceptions = slot.eh_caught;
    g.uncaught_exceptions = slot.eh_uncaught;
}

// take — the continuation of a suspended context, leaving its slot empty.
inline fc::fcontext_t take(context_slot& slot) noexcept {
    void* c = slot.continuation;
    slot.continuation = nullptr;
    return c;
}

inline void asan_start(void** fake_save, const context_slot& to) noexcept {
#if MT_ASAN
    __sanitizer_start_switch_fiber(fake_save, to.stack_lo, to.stack_size);
#else
    (void)fake_save, (void)to;
#endif
}

// After a switch lands: tell ASan, and learn the bounds of the stack we came
// from if they were unknown (the root's, the first time it is left).
inline void asan_finish(void* fake, context_slot* came_from) noexcept {
#if MT_ASAN
    const void* lo = nullptr;
    std::size_t size = 0;
    __sanitizer_finish_switch_fiber(fake, &lo, &size);
    if (came_from && came_from->stack_lo == nullptr) {
        came_from->stack_lo = lo;
        came_from->stack_size = size;
    }
#else
    (void)fake, (void)came_from;
#endif
}

// jump — jump_fcontext, entered by a jump instead of a call on x86-64.
// jump_fcontext leaves through an indirect jump, not a return, so a call to
// it pushes an entry on the processor's return-stack buffer that nothing
// pops: every return the resumed context then makes up its call chain is
// predicted one entry off, and mispredicted. Entered by a jump (its return
// address pushed by hand), the switch leaves the buffer as the leaving
// context's chain, which is the resumed one's when both switched from the
// same code (a pipe's two sides, a lock's waiters, a yield).
// The sequence keeps the red zone (it starts 128 bytes below the stack
// pointer) and aligns the stack as a call would; rbx, which jump_fcontext
// saves and restores with the context, holds the stack pointer to return
// to (scripts/gdb/microthreading.py reads it from the saved frame).
inline fc::transfer_t jump(fc::fcontext_t to, void* data) noexcept {
#if defined(__x86_64__) && defined(__ELF__)
    register void* rdi asm("rdi") = to;
    register void* rsi asm("rsi") = data;
    register void* rax asm("rax");
    register void* rdx asm("rdx");
    asm volatile(
        "mov %%rsp, %%rbx\n\t"
        "lea -128(%%rsp), %%rsp\n\t"
        "and $-16, %%rsp\n\t"
        "lea 1f(%%rip), %%rax\n\t"
        "push %%rax\n\t"
        "jmp jump_fcontext@PLT\n"
        "1:\n\t"
        "mov %%rbx, %%rsp"
        : "=r"(rax), "=r"(rdx), "+r"(rdi), "+r"(rsi)
        :
        : "rbx", "rcx", "r8", "r9", "r10", "r11", "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4",
          "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "st",
          "st(1)", "st(2)", "st(3)", "st(4)", "st(5)", "st(6)", "st(7)");
    return {rax, rdx};
#else
    return fc::jump_fcontext(to, data);
#endif
}

// start_record — what a new context needs when it first runs and when it
// ends; the creator writes it at the top of the context's stack, below
// which the context's frames begin.
struct start_record {
    context_entry entry;
    void* arg;
    switch_state* st;
    stack_pool* pool;
    stack s;
};

constexpr std::size_t start_record_space = (sizeof(start_record) + 15) / 16 * 16;

inline start_record* record_of(const context_slot& slot) noexcept {
    const auto top = reinterpret_cast<std::uintptr_t>(slot.stack_lo) + slot.stack_size;
    return reinterpret_cast<start_record*>((top - start_record_space) & ~std::uintptr_t{15});
}

// give_back — the stack of an ended context goes back to its pool; `rec` is
// that context's start record, still on the stack (the stack, not a frame:
// ASan's fake stacks never hold it). Called once nothing runs on the stack.
inline void give_back(const start_record* rec) noexcept {
    stack_pool* pool = rec->pool;
    const stack s = rec->s;  // copied: the record is on the stack given back
    pool->release(s);
}

// release_stack — runs on top of the (started) context that comes after an
// ended one (ontop_fcontext), so nothing runs on the ended context's stack
// any more. The ended context's continuation goes on as the jump's result
// (whoever resumes files it into st.dead); a started context ignores the
// data.
fc::transfer_t release_stack(fc::transfer_t t) noexcept {
    give_back(static_cast<const start_record*>(t.data));
    return {t.fctx, nullptr};
}

// start_context — the first frame of every micro-thread's stack.
[[noreturn]] void start_context(fc::transfer_t t) noexcept {
    context_slot& self = *static_cast<context_slot*>(t.data);
    const start_record& rec = *record_of(self);
    switch_state& st = *rec.st;
    asan_finish(nullptr, st.save_into);
    st.save_into->continuation = t.fctx;
    self.fresh = false;
    if (st.stack_to_release) {  // we follow a context that just ended
        give_back(static_cast<const start_record*>(st.stack_to_release));
        st.stack_to_release = nullptr;
    }
    eh(st) = eh_state{nullptr, 0};  // a new micro-thread handles no exception yet
    context_slot* next = rec.entry(rec.arg);
    // This context is over: whoever runs next files our (empty)
    // continuation into the dead slot, and ASan may drop our fake stack.
    // Our stack goes back to the pool once the next context runs: from on
    // top of it (ontop_fcontext) when it has run before, or at its start
    // when it is fresh (ontop_fcontext cannot enter a context that has
    // never run: its first frame would not receive the transfer).
    st.save_into = &st.dead;
    void** no_return = nullptr;
    asan_start(no_return, *next);
    void* record = const_cast<start_record*>(&rec);
    if (next->fresh) {
        st.stack_to_release = record;
        fc::jump_fcontext(take(*next), next);
    } else {
        fc::ontop_fcontext(take(*next), record, &release_stack);
    }
    __builtin_unreachable();  // nothing switches back to an ended context
}

// The StackAllocator of call_on_fresh_stack: a stack mapped (and later
// unmapped) by the caller, so a refused mapping is a return value, not an
// exception from inside Boost.Context.
struct borrowed_stack {
    std::byte* top;
    std::size_t size;

    ctx::stack_context allocate() noexcept {
        ctx::stack_context sc;
        sc.sp = top;
        sc.size = size;
        return sc;
    }
    void deallocate(ctx::stack_context&) noexcept {}
};

}  // namespace

void context_create(context_slot& slot, const stack& s, stack_pool& pool, context_entry entry,
                    void* arg, switch_state& st) noexcept {
    slot.stack_lo = s.lo;
    slot.stack_size = s.size;
    start_record* rec = record_of(slot);
    new (rec) start_record{entry, arg, &st, &pool, s};
    const std::size_t usable = static_cast<std::size_t>(reinterpret_cast<std::byte*>(rec) - s.lo);
    slot.continuation = fc::make_fcontext(rec, usable, &start_context);
    slot.fresh = true;
}

void context_init(switch_state& st) noexcept {
    st.eh_globals = abi::__cxa_get_globals();
}

void context_switch(context_slot& from, context_slot& to, switch_state& st) noexcept {
    st.save_into = &from;
    eh_save(from, st);
    asan_start(&from.asan_fake_stack, to);
    const fc::transfer_t back = jump(take(to), &to);
    asan_finish(from.asan_fake_stack, st.save_into);
    st.save_into->continuation = back.fctx;
    eh_restore(from, st);
}

// call_on_fresh_stack — a one-shot fiber: resume it once, it runs fn and
// hands back the continuation it was resumed from. The ASan annotations are
// those of context_switch, with "this fiber ends" (a null fake-stack slot)
// on the way back.
bool call_on_fresh_stack(std::size_t size, void (*fn)(void*), void* arg) noexcept {
    const std::size_t page = page_size(), guard = guard_size();
    size = (size + page - 1) / page * page;
    std::byte* base = map_stack_memory(guard + size);
    if (!base) return false;
    if (!protect_guard(base)) {
        const int err = errno;
        unmap_stack_memory(base, guard + size);
        errno = err;
        return false;
    }
    std::byte* lo = base + guard;
    const unsigned valgrind_id = valgrind_register_stack(lo, lo + size);
    eh_state& globals = *static_cast<eh_state*>(static_cast<void*>(abi::__cxa_get_globals()));
    const eh_state saved = globals;
    globals = eh_state{nullptr, 0};

    context_slot fresh;  // only its bounds: for ASan's annotations
    fresh.stack_lo = lo;
    fresh.stack_size = size;
    context_slot back;   // learns the caller's bounds when the fiber starts
    void* fake = nullptr;
    {
        ctx::fiber f(std::allocator_arg, borrowed_stack{lo + size, size},
                     [fn, arg, &back](ctx::fiber&& caller) noexcept -> ctx::fiber {
                         asan_finish(nullptr, &back);
                         fn(arg);
                         void** ends = nullptr;
                         asan_start(ends, back);
                         return std::move(caller);
                     });
        asan_start(&fake, fresh);
        std::move(f).resume();
        asan_finish(fake, nullptr);
    }
    globals = saved;
    valgrind_deregister_stack(valgrind_id);
    asan_forget_stack(lo, size);
    unmap_stack_memory(base, guard + size);
    return true;
}

}  // namespace mt::detail
