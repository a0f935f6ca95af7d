// The kernel-load fuzz target's entry points, shared by the libFuzzer
// binary (tests/fuzz/meson.build) and the unit test's smoke run
// (tests/unit/boot/test_kernel_load_fuzz_smoke.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace hv::fuzz {

// What one input exercised; the smoke test sums these to show coverage.
struct KernelLoadFuzzStats {
    uint64_t bzimages = 0;      // inputs with a bzImage setup header read_bzimage accepted
    uint64_t decompressed = 0;  // ... whose payload decompressed (within the cap)
    uint64_t loaded = 0;        // inputs load_kernel loaded (automatic entry)
    uint64_t linux64 = 0;       // ... through the 64-bit boot protocol
    uint64_t refused = 0;       // ... it refused
};

// The guest RAM the target loads into, and the most a payload may
// decompress to here (load_kernel's own cap is far larger, so the target
// only calls it on payloads that decompressed within this one).
constexpr uint64_t kKernelLoadFuzzRam = 16ull << 20;
constexpr uint64_t kKernelLoadFuzzMaxOut = 8ull << 20;

// "" when every invariant held, else what broke.
std::string kernel_load_fuzz_check(const uint8_t* data, size_t size, KernelLoadFuzzStats& stats);

} // namespace hv::fuzz

int hv_kernel_load_fuzz_one(const uint8_t* data, size_t size);
