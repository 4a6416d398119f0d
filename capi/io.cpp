// capi/io.cpp — waiting for the outside world and the worker pool through
// the C API.
#include <chrono>
#include <memory>
#include <utility>

#include "capi/detail/guard.hpp"
#include "capi/detail/handles.hpp"
#include "nonblocking_io/worker_pool.hpp"
#include "notifier/notifier.hpp"

using namespace mt::capi;

extern "C" {

mt_status mt_wait_fd(int fd, int write, int64_t timeout_ns) {
    return guard([&] {
        const mt::deadline d = deadline_of(timeout_ns, write ? "mt_wait_fd (write)" : "mt_wait_fd (read)");
        if (write) mt::wait_writable(fd, d);
        else mt::wait_readable(fd, d);
        return MT_OK;
    });
}

int mt_close_fd(int fd) { return mt::close_fd(fd); }

mt_status mt_sleep(int64_t ns) {
    return guard([&] {
        if (ns < 0) throw mt::usage_error("mt_sleep: a negative duration");
        mt::sleep_d(std::chrono::nanoseconds(ns));
        return MT_OK;
    });
}

mt_status mt_wait_signal(int signo, int64_t timeout_ns) {
    return guard([&] {
        mt::wait_signal(signo, deadline_of(timeout_ns, "mt_wait_signal"));
        return MT_OK;
    });
}

mt_status mt_wait_child(int pid, int64_t timeout_ns, int* status) {
    return guard([&] {
        const int st = mt::wait_child(static_cast<pid_t>(pid), deadline_of(timeout_ns, "mt_wait_child"));
        if (status) *status = st;
        return MT_OK;
    });
}

mt_status mt_submit(mt_work fn, void* arg, int64_t timeout_ns, void** result) {
    return guard([&] {
        if (!fn) throw mt::usage_error("mt_submit with a NULL function");
        const mt::deadline d = deadline_of(timeout_ns, "mt_submit");
        void* r = mt::submit_work_until(mt::worker_pool::shared(), d, [fn, arg]() -> void* {
            void* out = nullptr;
            const mt_status s = fn(arg, &out);  // on a worker thread
            settle_status(s, "an mt_work function");
            return out;
        });
        if (result) *result = r;
        return MT_OK;
    });
}

namespace {
// job_arg — calls arg_dispose once, when the job (the lambda holding it) is
// destroyed: after it ran, or dropped unrun.
struct job_arg {
    void (*dispose)(void*) = nullptr;
    void* arg = nullptr;
    job_arg(void (*d)(void*), void* a) noexcept : dispose(d), arg(a) {}
    job_arg(job_arg&& o) noexcept : dispose(std::exchange(o.dispose, nullptr)), arg(o.arg) {}
    job_arg(const job_arg&) = delete;
    ~job_arg() {
        if (dispose) dispose(arg);
    }
};
}  // namespace

mt_status mt_submit_object(mt_work fn, void* arg, void (*arg_dispose)(void*), const mt_type* result_type,
                           int64_t timeout_ns, void** result) {
    std::shared_ptr<job_arg> owner;
    try {
        owner = std::make_shared<job_arg>(arg_dispose, arg);  // the pool's jobs are copyable
    } catch (...) {
        if (arg_dispose) arg_dispose(arg);
        return status_of_current();
    }
    return guard([&] {
        if (!fn) throw mt::usage_error("mt_submit_object with a NULL function");
        const mt::deadline d = deadline_of(timeout_ns, "mt_submit_object");
        // The result travels as a counted object: if the caller is gone when
        // the job ends, dropping the job's state releases it.
        foreign_object r = mt::submit_work_until(mt::worker_pool::shared(), d,
                                                 [fn, arg, result_type, o = std::move(owner)]() {
            void* out = nullptr;
            const mt_status s = fn(arg, &out);  // on a worker thread
            settle_status(s, "an mt_work function");
            return foreign_object::adopt(out, result_type);
        });
        if (result) *result = r.release_to_caller();
        return MT_OK;
    });
}

}  // extern "C"
