// core/detail/block_alloc.hpp — memory for control blocks: per-OS-thread
// free lists by 64-byte size class, so spawn and the end of a micro-thread
// skip malloc (a control block is made and freed on its engine's thread).
// Blocks larger than max_pooled go to operator new.
#pragma once

#include <cstddef>

namespace mt::detail {

inline constexpr std::size_t block_granule = 64;
inline constexpr std::size_t max_pooled = 1024;

void* block_allocate(std::size_t n);
void block_free(void* p, std::size_t n) noexcept;

}  // namespace mt::detail
