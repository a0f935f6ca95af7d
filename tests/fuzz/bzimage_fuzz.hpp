// The bzImage fuzz target's entry points, shared by the libFuzzer binary
// (tests/fuzz/meson.build) and the unit test's smoke run (tests/unit/boot).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace hv::fuzz {

// What one input exercised; the smoke test sums these to show coverage.
struct BzImageFuzzStats {
    uint64_t accepted = 0; // setup headers read_bzimage accepted
    uint64_t refused = 0;  // ... refused
    uint64_t formats = 0;  // accepted ones whose payload format was recognised
};

// "" when every invariant held, else what broke.
std::string bzimage_fuzz_check(const uint8_t* data, size_t size, BzImageFuzzStats& stats);

} // namespace hv::fuzz

int hv_bzimage_fuzz_one(const uint8_t* data, size_t size);
