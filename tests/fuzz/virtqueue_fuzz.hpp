// The virtqueue fuzz target's entry points, shared by the libFuzzer binary
// (tests/fuzz/meson.build) and the unit test's smoke run (tests/unit/core).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace hv::fuzz {

// What one input exercised; the smoke test sums these to show coverage.
struct VirtqueueFuzzStats {
    uint64_t chains = 0;   // chains popped and pushed back
    uint64_t segments = 0; // buffers in them
    uint64_t indirect = 0; // chains of inputs whose table holds an INDIRECT descriptor (and negotiated it)
    uint64_t broken = 0;   // inputs that broke the queue (a malformed chain)
};

// "" when every invariant held, else what broke.
std::string virtqueue_fuzz_check(const uint8_t* data, size_t size, VirtqueueFuzzStats& stats);

} // namespace hv::fuzz

int hv_virtqueue_fuzz_one(const uint8_t* data, size_t size);
