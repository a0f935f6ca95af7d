// The control-ABI fuzz target's entry points, shared by the libFuzzer
// binary and the unit test's smoke run (tests/unit/control).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace hv::fuzz {

// What one input exercised; the smoke test sums these to show coverage.
struct ControlFuzzStats {
    uint64_t frames = 0;         // frames decoded
    uint64_t requests = 0;       // request frames handed to handle_request
    uint64_t ok_replies = 0;     // ... answered HV_OK
    uint64_t refused = 0;        // ... answered HV_EINVAL
    uint64_t unknown_ops = 0;    // ... answered HV_ENOSYS
    uint64_t stream_errors = 0;  // inputs whose stream the decoder refused
    uint64_t client_decoded = 0; // reply/event payloads from_wire accepted
    uint64_t direct_ok = 0;      // the input as one request's payload: HV_OK
    uint64_t direct_refused = 0; // ... HV_EINVAL
    uint64_t backend_errors = 0; // requests the backend failed (either pass)
};

std::string control_fuzz_check(const uint8_t* data, size_t size, ControlFuzzStats& stats);

} // namespace hv::fuzz

int hv_control_fuzz_one(const uint8_t* data, size_t size);
