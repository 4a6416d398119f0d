// core/trace.cpp — starting and stopping a trace, and writing its file.
// The records: core/detail/tracer.hpp; the JSON: core/detail/trace_json.hpp.
//
// A file named by MT_TRACE collects every engine of the process: each
// engine that stops adds its events to what the earlier ones left, and the
// whole file is written again (engines are few; their traces are written
// once each). A file named by trace_start holds that one trace.
#include "core/trace.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <system_error>
#include <utility>

#include "core/detail/control_block.hpp"
#include "core/detail/ticks.hpp"
#include "core/detail/trace_json.hpp"
#include "core/detail/tracer.hpp"
#include "core/engine.hpp"
#include "core/errors.hpp"

namespace mt {
namespace {

// The events already written to each shared file, by the engines that
// ended before (any OS thread).
std::mutex shared_files_lock;
std::map<std::string, std::string>& shared_files() {
    static std::map<std::string, std::string> files;
    return files;
}

// write_file — `events` as a trace_event JSON file at `path`.
void write_file(const std::string& path, const std::string& events) {
    std::FILE* f = std::fopen(path.c_str(), "w");
    if (!f) throw std::system_error(errno, std::generic_category(), "cannot write the trace file '" + path + "'");
    const std::string head = "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n";
    const std::string tail = "\n]}\n";
    bool ok = std::fwrite(head.data(), 1, head.size(), f) == head.size() &&
              std::fwrite(events.data(), 1, events.size(), f) == events.size() &&
              std::fwrite(tail.data(), 1, tail.size(), f) == tail.size();
    const int err = errno;
    ok = std::fclose(f) == 0 && ok;
    if (!ok) throw std::system_error(err ? err : EIO, std::generic_category(), "cannot write the trace file '" + path + "'");
}

}  // namespace

void engine::start_trace(std::string path, std::size_t capacity, bool shared) {
    if (tracer_) throw usage_error("a trace was started while one runs already (to '" + trace_path_ + "')");
    auto t = std::make_unique<detail::tracer>(capacity);
    trace_path_ = std::move(path);
    trace_shared_ = shared;
    if (!cpu_time_measured()) {
        detail::tick_base();
        cpu_since_ = detail::ticks();
    }
    tracer_ = std::move(t);
    update_observer();
}

std::size_t engine::stop_trace() {
    if (!tracer_) throw usage_error("trace_stop() called while no trace runs");
    std::unique_ptr<detail::tracer> t = std::move(tracer_);
    update_observer();
    detail::trace_export x;
    x.pid = serial_;
    x.os_tid = static_cast<long>(::gettid());
    x.end_tick = detail::ticks();
    for (auto* cb = live_.front(); cb; cb = decltype(live_)::next(*cb)) x.names.emplace_back(cb->id, cb->name);
    std::string events;
    const std::size_t n = detail::append_trace_events(*t, x, events);
    if (!trace_shared_) {
        write_file(trace_path_, events);
        return n;
    }
    std::lock_guard<std::mutex> g(shared_files_lock);
    std::string& all = shared_files()[trace_path_];
    if (!all.empty() && !events.empty()) all += ",\n";
    all += events;
    write_file(trace_path_, all);
    return n;
}

void trace_start(const std::string& path, trace_options opts) {
    engine::get("trace_start()").start_trace(path, opts.capacity, false);
}

std::size_t trace_stop() { return engine::get("trace_stop()").stop_trace(); }

bool tracing() noexcept {
    const engine* e = engine::current();
    return e && e->tracing();
}

}  // namespace mt
