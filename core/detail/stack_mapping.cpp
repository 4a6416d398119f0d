// core/detail/stack_mapping.cpp — see stack_mapping.hpp.
#include "core/detail/stack_mapping.hpp"

#include <cerrno>
#include <fstream>
#include <sys/mman.h>
#include <unistd.h>

#include "core/detail/sys.hpp"

#if defined(MADV_GUARD_INSTALL)
static_assert(MADV_GUARD_INSTALL == mt::detail::madv_guard_install, "the kernel's ABI value");
#endif

namespace mt::detail {

std::size_t page_size() noexcept {
    static const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    return page;
}

std::size_t guard_size() noexcept {
#if defined(__aarch64__)
    constexpr std::size_t assumed = 64 * 1024;
#else
    constexpr std::size_t assumed = 4 * 1024;
#endif
    const std::size_t page = page_size();
    return assumed > page ? (assumed + page - 1) / page * page : page;
}

bool guard_install_works() noexcept {
    const std::size_t page = page_size();
    void* probe = sys().mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (probe == MAP_FAILED) return false;
    const bool works = sys().madvise(probe, page, madv_guard_install) == 0;
    sys().munmap(probe, page);
    return works;
}

std::byte* map_stack_memory(std::size_t bytes) noexcept {
    void* base = sys().mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (base == MAP_FAILED) return nullptr;
    const int err = errno;
    sys().madvise(base, bytes, MADV_NOHUGEPAGE);  // advisory: a refusal changes nothing we rely on
    errno = err;
    return static_cast<std::byte*>(base);
}

void unmap_stack_memory(std::byte* base, std::size_t bytes) noexcept {
    sys().munmap(base, bytes);
}

bool install_guard(std::byte* at) noexcept {
    return sys().madvise(at, guard_size(), madv_guard_install) == 0;
}

bool protect_guard(std::byte* at) noexcept {
    return sys().mprotect(at, guard_size(), PROT_NONE) == 0;
}

void discard(std::byte* lo, std::size_t bytes) noexcept {
    sys().madvise(lo, bytes, MADV_DONTNEED);
}

std::size_t map_count_limit() {
    std::ifstream f("/proc/sys/vm/max_map_count");
    std::size_t n = 0;
    if (f >> n && n > 0) return n;
    return 65530;
}

std::size_t own_map_count() {
    std::ifstream f("/proc/self/maps");
    std::size_t n = 0;
    for (std::string line; std::getline(f, line);) ++n;
    return n;
}

std::string map_count_hint() {
    return "the kernel allows " + std::to_string(map_count_limit()) +
           " mappings per process; raise it with sysctl vm.max_map_count";
}

}  // namespace mt::detail
