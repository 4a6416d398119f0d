// core/detail/trace_json.cpp — turning the ring's records into trace_event
// JSON, one track state at a time. See trace_json.hpp.
#include "core/detail/trace_json.hpp"

#include <cstdio>
#include <string_view>
#include <unordered_map>

#include "core/detail/ticks.hpp"
#include "core/detail/tracer.hpp"

namespace mt::detail {
namespace {

enum class open_slice : std::uint8_t { none, run, wait };

struct track {
    open_slice open = open_slice::none;
    bool blocked = false;  // the root only: inside "blocked in the notifier"
    std::string name;      // empty until known
};

const char* ended_how(trace_entered e) noexcept {
    switch (e) {
        case trace_entered::fired: return "fired";
        case trace_entered::timed_out: return "timed out";
        case trace_entered::cancelled: return "aborted";
        default: return nullptr;
    }
}

const char* end_name(trace_left l) noexcept {
    switch (l) {
        case trace_left::finished: return "end: finished";
        case trace_left::failed: return "end: failed";
        case trace_left::aborted: return "end: aborted";
        default: return nullptr;
    }
}

class writer {
public:
    writer(std::string& out, const trace_export& x) : out_(out), x_(x), base_(tick_base()), rate_(ns_per_tick()) {}

    // event — {"name":..,"cat":..,"ph":..,"ts":..,"pid":..,"tid":..[,"s":"t"][,"args":{k:v}]}
    void event(const char* ph, std::string_view name, const char* cat, std::uint64_t tick, std::uint64_t tid,
               const char* arg_key = nullptr, std::string_view arg_value = {}) {
        if (count_) out_ += ",\n";
        ++count_;
        out_ += "{\"name\":";
        append_json_string(out_, name);
        out_ += ",\"cat\":\"";
        out_ += cat;
        out_ += "\",\"ph\":\"";
        out_ += ph;
        char buf[96];
        const double us = tick > base_ ? static_cast<double>(tick - base_) * rate_ / 1000.0 : 0.0;
        std::snprintf(buf, sizeof buf, "\",\"ts\":%.3f,\"pid\":%llu,\"tid\":%llu", us,
                      static_cast<unsigned long long>(x_.pid), static_cast<unsigned long long>(tid));
        out_ += buf;
        if (ph[0] == 'i') out_ += ",\"s\":\"t\"";
        if (arg_key) {
            out_ += ",\"args\":{";
            append_json_string(out_, arg_key);
            out_ += ':';
            append_json_string(out_, arg_value);
            out_ += '}';
        }
        out_ += '}';
    }

    // metadata — {"name":"thread_name","ph":"M","pid":..,"tid":..,"args":{"name":..}}
    void metadata(const char* what, std::uint64_t tid, const char* key, std::string_view value, bool number) {
        if (count_) out_ += ",\n";
        ++count_;
        char buf[96];
        std::snprintf(buf, sizeof buf, "{\"name\":\"%s\",\"ph\":\"M\",\"pid\":%llu,\"tid\":%llu,\"args\":{\"%s\":", what,
                      static_cast<unsigned long long>(x_.pid), static_cast<unsigned long long>(tid), key);
        out_ += buf;
        if (number) out_ += value;
        else append_json_string(out_, value);
        out_ += "}}";
    }

    std::size_t count() const noexcept { return count_; }

private:
    std::string& out_;
    const trace_export& x_;
    std::uint64_t base_;
    double rate_;
    std::size_t count_ = 0;
};

std::string track_name(std::uint64_t id, const std::string& name) {
    std::string s = "#";
    s += std::to_string(id);
    s += " '";
    if (name.empty()) {
        s += "micro-thread-";
        s += std::to_string(id);
    } else {
        s += name;
    }
    s += '\'';
    return s;
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
    out += '"';
    for (const char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\t': out += "\\t"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
                    out += buf;
                } else {
                    out += c;
                }
        }
    }
    out += '"';
}

std::size_t append_trace_events(const tracer& t, const trace_export& x, std::string& out) {
    writer w(out, x);
    std::unordered_map<std::uint64_t, track> tracks;
    tracks[0];  // the root's track is always there
    auto run_name = [](std::uint64_t id) { return id ? "run" : "loop"; };

    t.for_each([&](const trace_record& r) {
        track& root = tracks[0];
        if (r.what == trace_record_kind::block_begin) {
            if (!root.blocked) w.event("B", "blocked in the notifier", "loop", r.tick, 0);
            root.blocked = true;
            return;
        }
        if (r.what == trace_record_kind::block_end) {
            if (root.blocked) w.event("E", "blocked in the notifier", "loop", r.tick, 0);
            root.blocked = false;
            return;
        }
        // the one left
        track& from = tracks[r.from];
        if (r.from == 0 && root.blocked) {
            w.event("E", "blocked in the notifier", "loop", r.tick, 0);
            root.blocked = false;
        }
        if (from.open != open_slice::none) w.event("E", run_name(r.from), "run", r.tick, r.from);
        from.open = open_slice::none;
        if (r.left == trace_left::waits) {
            std::string name = "wait: ";
            name += r.kind ? r.kind : "?";
            w.event("B", name, "wait", r.tick, r.from, "on", r.text);
            from.open = open_slice::wait;
        } else if (const char* end = end_name(r.left)) {
            w.event("i", end, "life", r.tick, r.from);
            if (from.name.empty()) from.name = r.text;
        }
        // the one entered
        track& to = tracks[r.to];
        if (to.open == open_slice::wait) {
            const char* how = ended_how(r.entered);
            w.event("E", "wait", "wait", r.tick, r.to, "ended", how ? how : "resumed");
            if (r.entered == trace_entered::timed_out) w.event("i", "timeout", "wait", r.tick, r.to);
            if (r.entered == trace_entered::cancelled) w.event("i", "abort", "wait", r.tick, r.to);
        } else if (to.open == open_slice::run) {  // cannot happen; keeps B/E balanced if it did
            w.event("E", run_name(r.to), "run", r.tick, r.to);
        }
        if (r.entered == trace_entered::starts) w.event("i", "start", "life", r.tick, r.to);
        w.event("B", run_name(r.to), "run", r.tick, r.to);
        to.open = open_slice::run;
    });

    // Close what is still open when the trace stopped, then name the tracks.
    for (const auto& [id, name] : x.names) tracks[id].name = name;
    for (auto& [id, tr] : tracks) {
        if (tr.blocked) w.event("E", "blocked in the notifier", "loop", x.end_tick, id);
        if (tr.open == open_slice::run) w.event("E", run_name(id), "run", x.end_tick, id);
        if (tr.open == open_slice::wait) w.event("E", "wait", "wait", x.end_tick, id, "ended", "still waiting");
    }
    w.metadata("process_name", 0, "name",
               "microthreading engine " + std::to_string(x.pid) + " (OS thread " + std::to_string(x.os_tid) + ")",
               false);
    for (const auto& [id, tr] : tracks) {
        w.metadata("thread_name", id, "name", id ? track_name(id, tr.name) : std::string("root (the engine's loop)"),
                   false);
        w.metadata("thread_sort_index", id, "sort_index", std::to_string(id), true);
    }
    return w.count();
}

}  // namespace mt::detail
