// capi/select.cpp — select over pipes of the caller's objects.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "capi/detail/guard.hpp"
#include "capi/detail/handles.hpp"
#include "core/detail/naming.hpp"
#include "core/engine.hpp"
#include "pipes/select.hpp"

using namespace mt::capi;

extern "C" {

mt_status mt_select(mt_select_case* cases, size_t n, int64_t timeout_ns, size_t* chosen) {
    return guard([&] {
        if (n && !cases) throw mt::usage_error("mt_select with NULL cases");
        const mt::deadline d = deadline_of(timeout_ns, "mt_select");
        // One record per case: handles (a reference each), the value a put
        // offers, where a get delivers. Small selects live on the stack.
        struct slot {
            c_pipe pipe{nullptr};
            c_value put_value;
            std::optional<c_value> got;
        };
        // No array of more cases than this can exist in the caller's memory;
        // a larger n is a bad count, not a big select.
        constexpr std::size_t max_cases =
            static_cast<std::size_t>(PTRDIFF_MAX) / std::max({sizeof(slot), sizeof(mt::select_case), sizeof(mt_select_case)});
        if (n > max_cases)
            throw mt::usage_error(fmt::format("mt_select with {} cases: more than any array of cases can hold ({} at most)",
                                              n, max_cases));
        constexpr std::size_t inline_cases = 8;
        slot inline_slots[inline_cases];
        std::unique_ptr<slot[]> heap_slots;
        slot* slots = inline_slots;
        if (n > inline_cases) {
            heap_slots = std::make_unique<slot[]>(n);
            slots = heap_slots.get();
        }
        mt::select_case inline_sel[inline_cases];
        std::vector<mt::select_case> heap_sel;
        mt::select_case* sel = inline_sel;
        if (n > inline_cases) {
            heap_sel.resize(n);
            sel = heap_sel.data();
        }
        for (std::size_t i = 0; i < n; ++i) {
            mt_select_case& c = cases[i];
            c.got = nullptr;
            c.end = 0;
            if (c.pipe) slots[i].pipe = c_pipe::adopt(&pipe_of(c.pipe, "mt_select"));
            const bool on = c.enabled && c.pipe;
            if (c.is_put) {
                slots[i].put_value = c_value(c.value, c.type);
                sel[i] = mt::on_put(slots[i].pipe, slots[i].put_value, on);
            } else {
                sel[i] = mt::on_get(slots[i].pipe, slots[i].got, on);
            }
        }
        // Whatever happens, a put's value that did not go in stays the caller's.
        struct keep_unsent {
            slot* s;
            std::size_t n;
            ~keep_unsent() {
                for (std::size_t i = 0; i < n; ++i) s[i].put_value.obj = nullptr;
            }
        } keep{slots, n};
        const std::optional<std::size_t> r = mt::select(std::span<mt::select_case>(sel, n), d);
        if (!r) {
            const mt::engine* e = mt::engine::current();
            const std::string who = mt::detail::op_in("mt_select", e ? e->running() : nullptr);
            const double secs = std::chrono::duration<double>(d.requested()).count();
            throw mt::timeout_error(secs >= 0 ? fmt::format("{} timed out after {:.3f} s waiting for one of {} cases",
                                                            who, secs, n)
                                              : fmt::format("{} reached its deadline waiting for one of {} cases", who, n));
        }
        mt_select_case& c = cases[*r];
        if (!c.is_put) {
            if (slots[*r].got) {
                c.type = slots[*r].got->type;
                c.got = std::exchange(slots[*r].got->obj, nullptr);
            } else {
                c.end = 1;
            }
        }
        if (chosen) *chosen = *r;
        return MT_OK;
    });
}

}  // extern "C"
