// notifier/detail/managed_fds.cpp — see managed_fds.hpp.
//
// The table: 256 chunks of 4096 identities (fd numbers 0 .. 2^20 - 1), each
// chunk allocated on first use and never freed (it lives as long as the
// process; a race to allocate one is settled by a compare-exchange, the
// loser frees its copy). Rejected: one array per fd number grown by copying
// (readers on other OS threads would need a lock), and a hash folding fd
// numbers together (two fds sharing a slot could make an unmanaged fd look
// managed).
#include "notifier/detail/managed_fds.hpp"

#include <atomic>
#include <cstddef>
#include <new>

namespace mt::detail {
namespace {

constexpr int chunk_bits = 12;
constexpr std::size_t chunk_size = std::size_t{1} << chunk_bits;
constexpr std::size_t chunk_count = 256;

std::atomic<std::atomic<std::uint32_t>*> chunks[chunk_count];
std::atomic<std::uint32_t> next_identity{1};

// slot — fd's identity cell; nullptr when fd is out of range, or when its
// chunk does not exist and `grow` is false (or cannot be allocated).
std::atomic<std::uint32_t>* slot(int fd, bool grow) noexcept {
    if (fd < 0) return nullptr;
    const auto i = static_cast<std::size_t>(fd);
    const std::size_t c = i >> chunk_bits;
    if (c >= chunk_count) return nullptr;
    std::atomic<std::uint32_t>* block = chunks[c].load(std::memory_order_acquire);
    if (!block && grow) {
        auto* fresh = new (std::nothrow) std::atomic<std::uint32_t>[chunk_size]();
        if (!fresh) return nullptr;
        std::atomic<std::uint32_t>* expected = nullptr;
        if (chunks[c].compare_exchange_strong(expected, fresh, std::memory_order_acq_rel)) {
            block = fresh;
        } else {
            delete[] fresh;  // another OS thread made it first
            block = expected;
        }
    }
    return block ? &block[i & (chunk_size - 1)] : nullptr;
}

}  // namespace

void manage_fd(int fd) noexcept {
    std::atomic<std::uint32_t>* s = slot(fd, true);
    if (!s) return;
    std::uint32_t id = next_identity.fetch_add(1, std::memory_order_relaxed);
    if (id == 0) id = next_identity.fetch_add(1, std::memory_order_relaxed);  // wrapped: 0 means unmanaged
    s->store(id, std::memory_order_release);
}

void unmanage_fd(int fd) noexcept {
    if (std::atomic<std::uint32_t>* s = slot(fd, false)) s->store(0, std::memory_order_release);
}

std::uint32_t managed_identity(int fd) noexcept {
    const std::atomic<std::uint32_t>* s = slot(fd, false);
    return s ? s->load(std::memory_order_acquire) : 0;
}

}  // namespace mt::detail
