// pipes/boxed.hpp — the untyped pipe of the C API and the Python binding:
// values are opaque pointers with their own destructor, so a value left in a
// slot when the reader closes is destroyed exactly once, like any other.
#pragma once

#include <utility>

#include "micro_pipe.hpp"

namespace mt {

class boxed {
public:
    using destroy_fn = void (*)(void*) noexcept;

    boxed() noexcept = default;
    boxed(void* ptr, destroy_fn destroy) noexcept : ptr_(ptr), destroy_(destroy) {}
    boxed(boxed&& o) noexcept : ptr_(std::exchange(o.ptr_, nullptr)), destroy_(o.destroy_) {}
    boxed& operator=(boxed&& o) noexcept {
        if (this != &o) {
            reset();
            ptr_ = std::exchange(o.ptr_, nullptr);
            destroy_ = o.destroy_;
        }
        return *this;
    }
    ~boxed() { reset(); }

    void* get() const noexcept { return ptr_; }
    // release — gives up ownership (the caller destroys it).
    void* release() noexcept { return std::exchange(ptr_, nullptr); }
    void reset() noexcept {
        if (ptr_ && destroy_) destroy_(ptr_);
        ptr_ = nullptr;
    }

private:
    void* ptr_ = nullptr;
    destroy_fn destroy_ = nullptr;
};

using any_pipe = micro_pipe<boxed>;

}  // namespace mt
