// The qcow2 image fuzz target's entry points, shared by the libFuzzer
// binary (tests/fuzz/meson.build) and the unit test's smoke run
// (tests/unit/devices/test_qcow2_fuzz_smoke.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace hv::fuzz {

// What one input exercised; the smoke test sums these to show coverage.
struct Qcow2FuzzStats {
    uint64_t refused = 0;       // images Qcow2Image::open refused read-only
    uint64_t opened = 0;        // ... opened read-only
    uint64_t reads_ok = 0;      // reads that succeeded
    uint64_t read_errors = 0;   // reads refused with an I/O error (a bad entry)
    uint64_t rw_opened = 0;     // images opened read-write too
    uint64_t writes_ok = 0;     // writes, zeroes and discards that succeeded
    uint64_t write_errors = 0;  // ... refused with an I/O error
};

// The input is the image file's bytes, whole (at most kQcow2FuzzMaxInput).
constexpr size_t kQcow2FuzzMaxInput = size_t{1} << 20;

// "" when every invariant held, else what broke.
std::string qcow2_fuzz_check(const uint8_t* data, size_t size, Qcow2FuzzStats& stats);

} // namespace hv::fuzz

int hv_qcow2_fuzz_one(const uint8_t* data, size_t size);
