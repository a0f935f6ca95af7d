// The control-ABI fuzz target's entry points, shared by the libFuzzer
// binary and the unit test's smoke run (tests/unit/control).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "hv/abi/control.h"

namespace hv::fuzz {

// The request ops the target knows, in the order its direct pass picks
// them (first byte % (count + 2); count is a domain event, count + 1 a list
// reply). The smoke test generates requests for the same ops.
inline constexpr uint32_t kFuzzOps[] = {
    HV_SYSCTL_PHYSINFO,        HV_SYSCTL_DMESG,        HV_DOMCTL_CREATE,       HV_DOMCTL_DESTROY,
    HV_DOMCTL_PAUSE,           HV_DOMCTL_UNPAUSE,      HV_DOMCTL_SHUTDOWN,     HV_DOMCTL_RENAME,
    HV_DOMCTL_INFO,            HV_DOMCTL_LIST,         HV_DOMCTL_LOOKUP,       HV_DOMCTL_CONSOLE_WRITE,
    HV_DOMCTL_CONSOLE_HISTORY, HV_DOMCTL_WAIT,         HV_DOMCTL_DEFINE,       HV_DOMCTL_START,
    HV_DOMCTL_UNDEFINE,        HV_DOMCTL_LIST_DEFINED, HV_SYSCTL_HELLO,        HV_SYSCTL_SUBSCRIBE,
    HV_DOMCTL_CREATE_SPEC,     HV_DOMCTL_VCPU_SET,     HV_DOMCTL_BLOCK_LIST,   HV_DOMCTL_NETWORK_LIST,
    HV_DOMCTL_VIF_SET_RATE,    HV_DOMCTL_DEVICE_ATTACH, HV_DOMCTL_DEVICE_DETACH, HV_DOMCTL_DISK_SET_LIMITS};

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
