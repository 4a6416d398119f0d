// capi/errors.cpp — the last error of each OS thread, the guard's mapping of
// exceptions to statuses, and back. See capi/detail/guard.hpp.
#include <cerrno>
#include <cstdlib>
#include <new>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "capi/detail/guard.hpp"
#include "core/engine.hpp"

namespace mt::capi {
namespace {

struct last_error {
    mt_status kind = MT_OK;
    std::string message;
    int err = 0;
    std::exception_ptr exception;  // what it was, for throw_status and mt_take_error
};
thread_local last_error last;

// pending — what the C functions running on this OS thread set with
// mt_set_error, one per micro-thread they run in (owner; nullptr: none, as on
// a worker thread): a function may suspend between mt_set_error and its
// return, and others run and set theirs meanwhile. Nearly always 0 or 1 long.
struct pending_failure {
    const void* owner = nullptr;
    foreign_object obj;
    std::string message;
};
thread_local std::vector<pending_failure> pending;

const void* running_block() noexcept {
    engine* e = engine::current();
    return e ? e->running() : nullptr;
}

// pending_of — the failure `owner` set, or nullptr.
pending_failure* pending_of(const void* owner) noexcept {
    for (auto& p : pending)
        if (p.owner == owner) return &p;
    return nullptr;
}

// take_pending — the failure the running micro-thread set, removed.
std::optional<pending_failure> take_pending() noexcept {
    pending_failure* p = pending_of(running_block());
    if (!p) return std::nullopt;
    std::optional<pending_failure> out(std::move(*p));
    if (p != &pending.back()) *p = std::move(pending.back());
    pending.pop_back();
    return out;
}

mt_status record(mt_status kind, const char* message, int err = 0) noexcept {
    last.kind = kind;
    last.err = err;
    last.exception = std::current_exception();
    try {
        last.message = message;
    } catch (...) {
        last.message.clear();
    }
    return kind;
}

}  // namespace

mt_status status_of_current() noexcept {
    try {
        throw;
    } catch (const MicroThreadExit&) {
        return record(MT_EXIT, "MicroThreadExit: the micro-thread was aborted (or put to a closed pipe)");
    } catch (const foreign_error& e) {
        return record(MT_FAILED, e.what());
    } catch (const micro_thread_aborted& e) {
        return record(MT_ABORTED, e.what());
    } catch (const timeout_error& e) {
        return record(MT_TIMEOUT, e.what());
    } catch (const deadlock_error& e) {
        return record(MT_DEADLOCK, e.what());
    } catch (const interrupted_error& e) {
        return record(MT_INTERRUPTED, e.what());
    } catch (const usage_error& e) {
        return record(MT_USAGE, e.what());
    } catch (const stack_allocation_error& e) {
        return record(MT_NOMEM, e.what(), e.code().value());
    } catch (const std::bad_alloc&) {
        return record(MT_NOMEM, "out of memory");
    } catch (const std::system_error& e) {
        return record(MT_SYSTEM, e.what(), e.code().value());
    } catch (const std::exception& e) {
        return record(MT_FAILED, e.what());
    } catch (...) {
        return record(MT_FAILED, "an exception that is not a std::exception");
    }
}

void record_usage(const std::string& message) noexcept {
    try {
        throw usage_error(message);
    } catch (...) {
        status_of_current();
    }
}

void settle_status(mt_status s, const char* who) {
    if (!pending.empty()) {
        if (std::optional<pending_failure> p = take_pending()) {
            if (s == MT_FAILED) throw foreign_error(std::move(p->obj), p->message);
            // another status: the error it set is not what it returned, and goes (its object released here)
        }
    }
    if (s != MT_OK) throw_status(s, who);
}

void throw_status(mt_status s, const char* who) {
    if (s == MT_EXIT) throw MicroThreadExit{};
    if (last.kind == s && last.exception) std::rethrow_exception(last.exception);
    throw usage_error(std::string(who) + " returned " + mt_status_name(s) +
                      (s == MT_FAILED ? " without mt_set_error" : " with no error of that kind to pass on"));
}

}  // namespace mt::capi

using mt::capi::last;
using mt::capi::pending;

extern "C" {

const char* mt_status_name(mt_status s) {
    switch (s) {
        case MT_OK: return "MT_OK";
        case MT_END: return "MT_END";
        case MT_WOULD_BLOCK: return "MT_WOULD_BLOCK";
        case MT_TIMEOUT: return "MT_TIMEOUT";
        case MT_EXIT: return "MT_EXIT";
        case MT_ABORTED: return "MT_ABORTED";
        case MT_FAILED: return "MT_FAILED";
        case MT_USAGE: return "MT_USAGE";
        case MT_DEADLOCK: return "MT_DEADLOCK";
        case MT_INTERRUPTED: return "MT_INTERRUPTED";
        case MT_SYSTEM: return "MT_SYSTEM";
        case MT_NOMEM: return "MT_NOMEM";
    }
    return "MT_(unknown)";
}

mt_status mt_last_error_kind(void) { return last.kind; }
const char* mt_last_error_message(void) { return last.message.c_str(); }
int mt_last_errno(void) { return last.kind == MT_SYSTEM || last.kind == MT_NOMEM ? last.err : 0; }

mt_status mt_take_error(void** obj, const mt_type** type) {
    if (!obj || !type) {
        mt::capi::record_usage("mt_take_error with a NULL obj or type");
        return MT_USAGE;
    }
    *obj = nullptr;
    *type = nullptr;
    if (last.kind != MT_FAILED || !last.exception) {
        mt::capi::record_usage("mt_take_error: the last call did not fail with MT_FAILED");
        return MT_USAGE;
    }
    try {
        std::rethrow_exception(last.exception);
    } catch (const mt::capi::foreign_error& e) {
        *obj = e.object().hand_out();
        *type = e.object().type();
    } catch (...) {
        // a C++ exception, not an object: the message says what it was
    }
    last.exception = nullptr;
    last.kind = MT_OK;
    return MT_OK;
}

void mt_set_error(void* obj, const mt_type* type, const char* message) {
    using mt::capi::pending_failure;
    pending_failure p;
    p.owner = mt::capi::running_block();
    p.obj = mt::capi::foreign_object::adopt(obj, type);
    try {
        p.message = message ? message : "error";
    } catch (...) {
        p.message.clear();
    }
    if (pending_failure* q = mt::capi::pending_of(p.owner)) {
        *q = std::move(p);  // a second one replaces the first, whose object is released
        return;
    }
    try {
        pending.push_back(std::move(p));
    } catch (...) {
        // out of memory: the object is released, and the MT_FAILED that follows is a usage error
    }
}

void mt_free(void* p) { std::free(p); }

int mt_version(void) { return MT_VERSION_NUMBER; }

}  // extern "C"
