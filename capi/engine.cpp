// capi/engine.cpp — engines, the host loop and the embedder's hooks through
// the C API.
#include <cstdio>
#include <cstring>
#include <new>
#include <string>

#include "capi/detail/guard.hpp"
#include "capi/detail/handles.hpp"
#include "notifier/notifier.hpp"

using namespace mt::capi;

namespace {

// on_switch — the engine's switch hook, translated for C: the state blocks
// of the micro-threads left and entered (the root's for the root).
void on_switch(void* user, const mt::detail::control_block* from, const mt::detail::control_block* to) {
    auto* ce = static_cast<mt_engine*>(user);
    ce->hook(ce->hook_user, ce->e.embedder_state(from), ce->e.embedder_state(to));
}

// on_unhandled — the engine's unhandled-exception handler, translated for C:
// the error object if the failure carries one, and its message.
void on_unhandled(mt_engine* ce, const mt::micro_thread_info& info, std::exception_ptr err) {
    void* obj = nullptr;
    const mt_type* type = nullptr;
    std::string message = "an exception that is not a std::exception";
    try {
        std::rethrow_exception(err);
    } catch (const foreign_error& e) {
        obj = e.object().get();
        type = e.object().type();
        message = e.what();
    } catch (const std::exception& e) {
        message = e.what();
    } catch (...) {
    }
    if (!ce->unhandled) {
        std::fprintf(stderr, "microthreading: unhandled exception in micro-thread #%llu '%s': %s\n",
                     static_cast<unsigned long long>(info.id), info.name.c_str(), message.c_str());
        return;
    }
    mt_info ci{};
    ci.id = info.id;
    ci.name = info.name.c_str();
    ci.state = static_cast<int>(info.state);
    ce->unhandled(ce->unhandled_user, &ci, obj, type, message.c_str());
}

mt_engine* checked_engine(mt_engine* e, const char* op) {
    if (!e) throw mt::usage_error(std::string(op) + " with a NULL mt_engine");
    if (mt::engine::current() != &e->e)
        throw mt::usage_error(std::string(op) + " from an OS thread that is not the engine's");
    return e;
}

}  // namespace

extern "C" {

void mt_engine_options_init(mt_engine_options* o) {
    if (!o) return;
    std::memset(o, 0, sizeof *o);
    o->default_notifier = 1;
    o->ctrl_c = 1;
}

mt_engine* mt_engine_new(const mt_engine_options* options) {
    mt_engine* out = nullptr;
    guard([&] {
        mt_engine_options defaults;
        mt_engine_options_init(&defaults);
        const mt_engine_options& o = options ? *options : defaults;
        mt::engine_options eo;
        if (o.default_stack_size) eo.default_stack_size = o.default_stack_size;
        eo.embedder_state_size = o.state_size;
        eo.default_notifier = o.default_notifier != 0;
        eo.ctrl_c = o.ctrl_c != 0;
        out = new mt_engine(eo);
        return MT_OK;
    });
    return out;
}

void mt_engine_free(mt_engine* e) {
    if (!e) return;
    if (mt::engine::current() != &e->e || e->e.running()) {
        // The engine's own thread, from its root, only: anything else would
        // destroy it under running micro-threads.
        record_usage("mt_engine_free from a micro-thread or from another OS thread");
        return;
    }
    delete e;
}

mt_status mt_engine_loop(mt_engine* e) {
    return guard([&] {
        checked_engine(e, "mt_engine_loop")->e.loop();
        return MT_OK;
    });
}

mt_status mt_engine_run_once(mt_engine* e, int* alive) {
    return guard([&] {
        const bool more = checked_engine(e, "mt_engine_run_once")->e.run_once();
        if (alive) *alive = more ? 1 : 0;
        return MT_OK;
    });
}

int mt_notifier_fd(mt_engine* e) {
    int out = -1;
    guard([&] {
        checked_engine(e, "mt_notifier_fd");
        out = mt::notifier_fd();
        return MT_OK;
    });
    return out;
}

int mt_notifier_timeout_ms(mt_engine* e) {
    int out = 0;
    guard([&] {
        checked_engine(e, "mt_notifier_timeout_ms");
        out = mt::notifier_timeout_ms();
        return MT_OK;
    });
    return out;
}

mt_status mt_set_switch_hook(mt_engine* e, mt_switch_hook hook, void* user) {
    return guard([&] {
        checked_engine(e, "mt_set_switch_hook");
        e->hook = hook;
        e->hook_user = user;
        e->e.set_switch_hook(hook ? on_switch : nullptr, e);
        return MT_OK;
    });
}

mt_status mt_set_main(mt_engine* e, mt_thread* t) {
    return guard([&] {
        checked_engine(e, "mt_set_main");
        thread_block& b = checked(t, "mt_set_main");
        if (mt::has_ended(b.st)) throw mt::usage_error("mt_set_main on micro-thread " + mt::detail::describe(b) + ", which has ended");
        e->e.set_main(b);
        return MT_OK;
    });
}

mt_status mt_set_unhandled_hook(mt_engine* e, mt_unhandled_hook hook, void* user) {
    return guard([&] {
        checked_engine(e, "mt_set_unhandled_hook");
        e->unhandled = hook;
        e->unhandled_user = user;
        e->e.set_unhandled_handler([e](const mt::micro_thread_info& info, std::exception_ptr err) {
            on_unhandled(e, info, std::move(err));
        });
        return MT_OK;
    });
}

mt_status mt_set_block_hooks(mt_engine* e, mt_block_hook before, mt_block_hook after, void* user) {
    return guard([&] {
        checked_engine(e, "mt_set_block_hooks")->e.set_block_hooks(before, after, user);
        return MT_OK;
    });
}

}  // extern "C"
