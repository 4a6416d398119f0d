// core/detail/context.cpp — the one file that includes Boost.Context.
//
// It owns: the backend choice (Boost.Context's fiber on its fcontext
// assembly backend, the one Debian builds), the hand-over of the continuation
// that was left, the sanitizer annotations of every switch, and the one-shot
// call on a fresh stack that a forked child makes (call_on_fresh_stack).
//
// Why fcontext and not ucontext+BOOST_USE_ASAN: the ucontext backend makes a
// system call (sigprocmask) per switch and costs about 40x as much. The
// fcontext backend knows nothing of ASan, so every switch made here is
// annotated with __sanitizer_start_switch_fiber/__sanitizer_finish_switch_fiber;
// ASan then knows which stack is current when an exception unwinds one.
// See docs/design/core.md.
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
// The hand-over: Boost's resume() returns the continuation of whoever
// resumed us. That context stored a pointer to its own slot in
// switch_state::save_into before jumping, so the resumed side files the
// continuation there. No allocation, no extra jump.
#include "core/detail/context.hpp"

#include <boost/context/fiber.hpp>
#include <cxxabi.h>

#include <cerrno>
#include <new>
#include <utility>

#include "core/detail/sanitizers.hpp"
#include "core/detail/stack_mapping.hpp"
#include "core/detail/stack_pool.hpp"

namespace mt::detail {
namespace ctx = boost::context;

static_assert(sizeof(ctx::fiber) == sizeof(void*), "a slot stores a fiber as its one pointer");

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

ctx::fiber& as_fiber(context_slot& slot) noexcept {
    return *std::launder(reinterpret_cast<ctx::fiber*>(&slot.continuation));
}

// File a continuation into an empty slot without running fiber's
// destructor on the slot's old (null) value.
void file(context_slot& slot, ctx::fiber&& f) noexcept {
    new (&slot.continuation) ctx::fiber(std::move(f));
}

ctx::fiber take(context_slot& slot) noexcept {
    return std::move(as_fiber(slot));  // leaves the slot empty (null)
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

// The StackAllocator Boost.Context sees: hands over a stack the pool
// already gave us (so a refused mapping is reported by spawn, not here) and
// gives it back to the pool when the fiber ends.
struct pooled_stack {
    stack s;
    stack_pool* pool;

    ctx::stack_context allocate() noexcept {
        ctx::stack_context sc;
        sc.sp = s.top();
        sc.size = s.size;
        return sc;
    }
    void deallocate(ctx::stack_context&) noexcept { pool->release(s); }
};

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
    auto body = [entry, arg, &st](ctx::fiber&& from) noexcept -> ctx::fiber {
        asan_finish(nullptr, st.save_into);
        file(*st.save_into, std::move(from));
        eh(st) = eh_state{nullptr, 0};  // a new micro-thread handles no exception yet
        context_slot* next = entry(arg);
        // This context is over: whoever runs next files our (empty)
        // continuation into the dead slot, and ASan may drop our fake stack.
        st.save_into = &st.dead;
        void** no_return = nullptr;
        asan_start(no_return, *next);
        return take(*next);
    };
    file(slot, ctx::fiber(std::allocator_arg, pooled_stack{s, &pool}, std::move(body)));
}

void context_init(switch_state& st) noexcept {
    st.eh_globals = abi::__cxa_get_globals();
}

void context_switch(context_slot& from, context_slot& to, switch_state& st) noexcept {
    st.save_into = &from;
    eh_save(from, st);
    asan_start(&from.asan_fake_stack, to);
    ctx::fiber back = take(to).resume();
    asan_finish(from.asan_fake_stack, st.save_into);
    file(*st.save_into, std::move(back));
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
