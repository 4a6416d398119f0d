// idle_watcher — the setting real programs run in: a live reactor with one
// idle fd watcher. While it lives, one micro-thread waits for a pipe that
// never becomes readable, so the engine keeps its reactor and polls it
// between runnable micro-threads as it does in a server. The destructor
// makes the pipe readable and joins the watcher. Construct and destroy
// inside a micro-thread; the constructor yields once so the watcher parks.
#pragma once
#include <unistd.h>

#include <cstdlib>

#include "core/microthreading.hpp"
#include "notifier/notifier.hpp"

namespace peers {

class idle_watcher {
public:
    idle_watcher() {
        if (::pipe(fds_) != 0) std::abort();
        watcher_ = mt::spawn([fd = fds_[0]] { mt::wait_readable(fd); });
        mt::yield();
    }
    ~idle_watcher() {
        if (::write(fds_[1], "x", 1) != 1) std::abort();
        watcher_.wait();
        ::close(fds_[0]);
        ::close(fds_[1]);
    }
    idle_watcher(const idle_watcher&) = delete;
    idle_watcher& operator=(const idle_watcher&) = delete;

private:
    int fds_[2];
    mt::micro_thread<void> watcher_;
};

}  // namespace peers
