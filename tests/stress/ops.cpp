// tests/stress/ops.cpp — how operations read in a trace and in a trace file.
#include "tests/stress/ops.hpp"

#include <cstdio>
#include <sstream>

namespace mt_stress {

namespace {

const char* const op_names[] = {
    "new_pipe", "spawn", "ret", "fail", "abort", "join", "open_scope", "scope_wait", "leave_scope", "parallel",
    "put", "get", "try_put", "try_get", "close", "close_err", "close_reader", "put_out", "get_in", "select",
    "arm", "push", "fire", "dwait", "dcancel", "yield", "sleep", "drop_handle", "tick",
};
static_assert(sizeof op_names / sizeof op_names[0] == static_cast<int>(opk::count_));

const char* const cb_names[] = {"add", "throw", "rearm", "yield"};

std::string w(int id) { return id == 0 ? std::string("driver") : "w" + std::to_string(id); }
std::string p(int id) { return id < 0 ? std::string("null") : "p" + std::to_string(id); }

std::string deadline_text(const op& o) {
    switch (o.d) {
        case dl::none: return "";
        case dl::zero: return " (timeout 0: a poll)";
        case dl::shortish: return " (timeout " + std::to_string(o.us) + " us)";
        case dl::longish: return " (timeout 1 h)";
        case dl::negative: return " (timeout -1 ms)";
    }
    return "";
}

}  // namespace

std::string tok_name(int producer, int seq) { return "w" + std::to_string(producer) + "." + std::to_string(seq); }
std::string err_name(long id) { return "E" + std::to_string(id); }

bool worker_only(opk k) {
    switch (k) {
        case opk::join: case opk::scope_wait: case opk::leave_scope: case opk::parallel: case opk::put:
        case opk::get: case opk::put_out: case opk::get_in: case opk::select: case opk::dwait: case opk::sleep:
        case opk::ret: case opk::fail: case opk::open_scope: case opk::arm: case opk::push: case opk::dcancel:
        case opk::yield:
            return true;
        default: return false;
    }
}

std::string describe(const op& o) {
    std::string s = w(o.actor) + ": ";
    switch (o.k) {
        case opk::new_pipe: return s + "new pipe " + p(o.pipe);
        case opk::spawn: {
            s += "spawn " + w(o.target);
            if (o.flags & f_detached) s += " detached";
            if (o.flags & f_in_scope) s += " into its scope";
            if (o.pipe >= 0) s += " stdin=" + p(o.pipe);
            if (o.pipe2 >= 0) s += " stdout=" + p(o.pipe2);
            if (o.flags & f_catches_exit) s += " (catches MicroThreadExit once)";
            if (o.flags & f_abort_at_once) s += ", then abort it before it runs";
            return s;
        }
        case opk::ret: return s + "return " + std::to_string(o.value);
        case opk::fail: return s + "throw " + err_name(o.value);
        case opk::abort: return s + "abort " + w(o.target);
        case opk::join: return s + "join " + w(o.target) + deadline_text(o);
        case opk::open_scope: return s + "open a scope";
        case opk::scope_wait: return s + "wait for its scope" + deadline_text(o);
        case opk::leave_scope: return s + ((o.flags & f_by_exception) ? "leave its scope by an exception" : "leave its scope");
        case opk::parallel: {
            s += "start_in_parallel(";
            for (std::size_t i = 0; i < o.children.size(); ++i) s += (i ? ", " : "") + w(o.children[i]);
            return s + ")";
        }
        case opk::put: return s + "put to " + p(o.pipe) + deadline_text(o);
        case opk::get: return s + "get from " + p(o.pipe) + deadline_text(o);
        case opk::try_put: return s + "try_put to " + p(o.pipe);
        case opk::try_get: return s + "try_get from " + p(o.pipe);
        case opk::close: return s + "close " + p(o.pipe);
        case opk::close_err: return s + "close " + p(o.pipe) + " with " + err_name(o.value);
        case opk::close_reader: return s + "close_reader " + p(o.pipe);
        case opk::put_out: return s + "put to its stdout" + deadline_text(o);
        case opk::get_in: return s + "get from its stdin" + ((o.flags & f_propagate) ? " (an error ends it)" : "") + deadline_text(o);
        case opk::select: {
            s += "select(";
            for (std::size_t i = 0; i < o.cases.size(); ++i) {
                const sel_case& c = o.cases[i];
                s += (i ? ", " : "") + std::string(c.put ? "put " : "get ") + p(c.pipe) + (c.enabled ? "" : " disabled");
            }
            return s + ")" + deadline_text(o);
        }
        case opk::arm: return s + "arm its deferred";
        case opk::push: return s + "push callback " + cb_names[o.aux % cbk_count] + std::to_string(o.value);
        case opk::fire:
            return s + "fire " + w(o.target) + "'s deferred: " +
                   ((o.flags & f_error) ? "errback(" + err_name(o.value) + ")" : "callback(" + std::to_string(o.value) + ")");
        case opk::dwait: return s + "wait on its deferred" + deadline_text(o);
        case opk::dcancel: return s + "cancel its deferred";
        case opk::yield: return s + "yield x" + std::to_string(o.value);
        case opk::sleep: return s + "sleep " + std::to_string(o.us) + " us";
        case opk::drop_handle: return s + "drop the handle of " + w(o.target);
        case opk::tick: return s + "sleep until every short deadline has passed";
        case opk::count_: break;
    }
    return s + "?";
}

// A line: name actor target pipe pipe2 value aux d us flags ncases [put pipe enabled]* nchildren [id]*
std::string serialize(const op& o) {
    std::ostringstream out;
    out << op_names[static_cast<int>(o.k)] << ' ' << o.actor << ' ' << o.target << ' ' << o.pipe << ' ' << o.pipe2
        << ' ' << o.value << ' ' << o.aux << ' ' << static_cast<int>(o.d) << ' ' << o.us << ' ' << o.flags << ' '
        << o.cases.size();
    for (const sel_case& c : o.cases) out << ' ' << c.put << ' ' << c.pipe << ' ' << c.enabled;
    out << ' ' << o.children.size();
    for (int c : o.children) out << ' ' << c;
    return out.str();
}

bool parse(const std::string& line, op& o) {
    std::istringstream in(line);
    std::string name;
    if (!(in >> name)) return false;
    int k = 0;
    while (k < static_cast<int>(opk::count_) && name != op_names[k]) ++k;
    if (k == static_cast<int>(opk::count_)) return false;
    o = op{};
    o.k = static_cast<opk>(k);
    int d = 0;
    std::size_t n = 0;
    if (!(in >> o.actor >> o.target >> o.pipe >> o.pipe2 >> o.value >> o.aux >> d >> o.us >> o.flags >> n)) return false;
    if (d < 0 || d > static_cast<int>(dl::negative) || n > 64) return false;
    o.d = static_cast<dl>(d);
    for (std::size_t i = 0; i < n; ++i) {
        sel_case c;
        if (!(in >> c.put >> c.pipe >> c.enabled)) return false;
        o.cases.push_back(c);
    }
    if (!(in >> n) || n > 64) return false;
    for (std::size_t i = 0; i < n; ++i) {
        int c = 0;
        if (!(in >> c)) return false;
        o.children.push_back(c);
    }
    return true;
}

}  // namespace mt_stress
