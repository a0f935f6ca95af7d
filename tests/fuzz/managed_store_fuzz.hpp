// The managed-record fuzz target's entry points, shared by the libFuzzer
// binary (tests/fuzz/meson.build) and the unit test's smoke run
// (tests/unit/hvd).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace hv::fuzz {

// What one input exercised; the smoke test sums these to show coverage.
struct ManagedStoreFuzzStats {
    uint64_t parsed = 0;     // inputs ManagedStore::parse accepted as a record
    uint64_t refused = 0;    // ... refused
    uint64_t overrides = 0;  // overrides in the accepted records
    uint64_t built = 0;      // requests built from the input's bytes and round-tripped
};

// "" when every invariant held, else what broke.
std::string managed_store_fuzz_check(const uint8_t* data, size_t size, ManagedStoreFuzzStats& stats);

} // namespace hv::fuzz

int hv_managed_store_fuzz_one(const uint8_t* data, size_t size);
