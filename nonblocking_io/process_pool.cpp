// nonblocking_io/process_pool.cpp — see process_pool.hpp; the lists and
// their invariants are in nonblocking_io/detail/subprocess_state.hpp.
#include "nonblocking_io/process_pool.hpp"

#include <signal.h>

#include "core/detail/control_block.hpp"
#include "core/engine.hpp"
#include "nonblocking_io/detail/subprocess_state.hpp"

namespace mt {

process_pool::process_pool(std::size_t max_processes, std::string_view name)
    : core_(std::make_unique<detail::pool_core>()) {
    if (max_processes == 0)
        throw usage_error("process_pool '" + std::string(name) + "' with max_processes 0: no call could ever run");
    core_->name = std::string(name);
    core_->max = max_processes;
}

process_pool::~process_pool() {
    while (detail::subprocess_state* s = core_->pending.front()) s->drop_pending("its process_pool was destroyed");
    while (detail::subprocess_state* s = core_->running.pop_front()) {
        s->pool = nullptr;
        s->abort_asked = true;
        ::kill(s->pid, SIGKILL);  // its collector reaps it
    }
}

detail::subprocess_ref process_pool::submit_job(std::unique_ptr<detail::child_job> job) {
    const char* op = "process_pool::submit";
    engine& e = engine::get(op);
    detail::control_block& me = e.require_running(op);
    core_->binding.check(me, op, "process_pool", core_->name);
    subprocess_options opts;
    const std::string name = core_->name + "#" + std::to_string(++core_->submitted);
    opts.name = name;
    auto s = detail::make_subprocess(std::move(job), opts, op);
    s->pool = core_.get();
    core_->pending.push_back(*s);
    detail::subprocess_ref ref(s);  // from here on the call is dropped on every path
    core_->start_queued();
    return ref;
}

std::size_t process_pool::max_processes() const noexcept { return core_->max; }
std::size_t process_pool::running() const noexcept { return core_->running.size(); }
std::size_t process_pool::pending() const noexcept { return core_->pending.size(); }
const std::string& process_pool::name() const noexcept { return core_->name; }

}  // namespace mt
