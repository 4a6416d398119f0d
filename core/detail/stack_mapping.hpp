// core/detail/stack_mapping.hpp — the kernel's side of stacks: the memory
// behind them, the two ways to put a guard page below one, and the kernel's
// limit on mappings. Stateless; every call goes through sys(), so tests can
// make any of them fail the way the kernel would.
//
// Two kinds of guard page, as the kernel sees them:
//
//   madvise(MADV_GUARD_INSTALL) (Linux >= 6.13): a marker in the page
//   table. Touching the page raises SIGSEGV; the mapping is not split, so a
//   slab of many stacks with a guard below each stays one kernel mapping.
//   The markers survive MADV_DONTNEED and fork.
//
//     one mapping: | guard | stack | guard | stack | guard | stack | ...
//
//   mprotect(PROT_NONE): a page of different protection splits the mapping,
//   so a stack and its guard cost two kernel mappings (vm.max_map_count).
//
//     two mappings: | PROT_NONE | stack |
#pragma once

#include <cstddef>
#include <string>

namespace mt::detail {

// The madvise advice values of Linux 6.13's guard regions. Older C library
// headers do not define them; the kernel's ABI fixes them.
inline constexpr int madv_guard_install = 102;
inline constexpr int madv_guard_remove = 103;

// page_size — the kernel's page size.
std::size_t page_size() noexcept;

// guard_size — bytes of the guard below every stack: a multiple of the page
// size no smaller than the largest stretch of stack a frame may move past
// without touching it under -fstack-clash-protection (GCC's guard-size
// assumption: 4 KiB on x86-64, 64 KiB on AArch64).
std::size_t guard_size() noexcept;

// guard_install_works — whether this kernel installs guard pages with
// madvise(MADV_GUARD_INSTALL): tried once on a one-page mapping of its own,
// which is then unmapped. A refusal of any kind (EINVAL before Linux 6.13,
// or the probe mapping itself failing) answers false. Three system calls.
bool guard_install_works() noexcept;

// map_stack_memory — `bytes` of private anonymous read-write memory,
// committed lazily (MAP_NORESERVE) and never backed by huge pages (a parked
// micro-thread touches one page of its stack; a huge page would make it
// 2 MiB). nullptr with errno set when the kernel refuses.
std::byte* map_stack_memory(std::size_t bytes) noexcept;

// unmap_stack_memory — gives back what map_stack_memory mapped.
void unmap_stack_memory(std::byte* base, std::size_t bytes) noexcept;

// install_guard — makes the guard_size() bytes at `at` a guard with
// MADV_GUARD_INSTALL. False with errno set when the kernel refuses.
bool install_guard(std::byte* at) noexcept;

// protect_guard — makes the guard_size() bytes at `at` a guard with
// mprotect(PROT_NONE); splits their mapping. False with errno set when the
// kernel refuses.
bool protect_guard(std::byte* at) noexcept;

// discard — MADV_DONTNEED: the pages of [lo, lo + bytes) read as zero again
// and stop costing resident memory. Guard markers inside stay.
void discard(std::byte* lo, std::size_t bytes) noexcept;

// map_count_limit — the kernel's vm.max_map_count (its default, 65530, when
// /proc/sys/vm/max_map_count cannot be read).
std::size_t map_count_limit();

// own_map_count — how many mappings this process has now (lines of
// /proc/self/maps). Costs a read of the whole file: not for hot paths.
std::size_t own_map_count();

// map_count_hint — the sentence an error appends when the kernel's limit on
// mappings may be what refused: names vm.max_map_count and its value.
std::string map_count_hint();

}  // namespace mt::detail
