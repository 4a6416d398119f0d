// tests/stress/generator.hpp — chooses the next operation from the model's
// state: a seeded generator for the stress test, the fuzzer's input bytes
// for the fuzz targets (the same generator, another source of choices).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "tests/stress/model.hpp"
#include "tests/stress/ops.hpp"

namespace mt_stress {

// choices — where the generator's decisions come from.
struct choices {
    virtual ~choices() = default;
    // below — a number in [0, n) (n > 0).
    virtual std::uint32_t below(std::uint32_t n) = 0;
    // exhausted — no more decisions to make (a fuzzer's input ran out).
    virtual bool exhausted() const { return false; }
};

// rng_choices — a seeded splitmix64: the same seed, the same choices.
class rng_choices final : public choices {
public:
    explicit rng_choices(std::uint64_t seed) : s_(seed) {}
    std::uint32_t below(std::uint32_t n) override;

private:
    std::uint64_t s_;
};

// byte_choices — a fuzzer's input, one or two bytes per decision.
class byte_choices final : public choices {
public:
    byte_choices(const std::uint8_t* data, std::size_t size) : p_(data), end_(data + size) {}
    std::uint32_t below(std::uint32_t n) override;
    bool exhausted() const override { return p_ == end_; }

private:
    const std::uint8_t* p_;
    const std::uint8_t* end_;
};

// profile — how often each operation is chosen, and the run's size.
struct profile {
    const char* name;
    int weight[static_cast<int>(opk::count_)];
    int steps = 1500;
    int max_live = 40;
    int max_pipes = 6;  // open pipes (closed ones stay, and are still used now and then)
    int max_short_us = 2000;  // short deadlines and sleeps: 200 us .. this
};

// profiles: "mixed", "pipes", "scopes", "deferred", "select"
const profile* find_profile(const std::string& name);
const profile& mixed_profile();

class generator {
public:
    generator(const model& m, choices& c, const profile& p) : m_(m), c_(c), p_(p) {}
    // next — the next operation, or nullopt once the run has its steps (or
    // the choices ran out). The operation is valid in the model's state.
    std::optional<op> next();

private:
    op make(opk k);
    int pick_idle();
    int pick_target(bool need_handle);
    int pick_pipe();
    int open_pipes() const;
    dl pick_deadline(op& o);
    bool chance(int percent) { return static_cast<int>(c_.below(100)) < percent; }

    const model& m_;
    choices& c_;
    const profile& p_;
    int steps_ = 0;
    int next_worker_ = 1;
    int next_pipe_ = 0;
    long next_err_ = 1;
};

}  // namespace mt_stress
