// HypercallDispatcher: decodes, validates and runs guest hypercalls
// (docs/abi.md). Every field of a call is checked before it is acted on;
// a bad call gets an HV_E* result and a bad_call() report, never a crash.
// It copies each slot out of guest memory once, so a guest racing its own
// slot from another vCPU cannot change what was validated.
#pragma once

#include <stdint.h>

#include "core/domain_services.hpp"
#include "core/domain_state.hpp"
#include "core/guest_ram.hpp"
#include "hv/abi/hv.h"

namespace hv::core {

// What the vCPU does after a call. `result` goes to rax (and to the slot,
// when the slot was readable).
struct CallOutcome {
    enum class Action : uint8_t { none, yield, block, shutdown, down };
    int64_t result = HV_OK;
    Action action = Action::none;
    uint64_t block_timeout_ns = 0;                   // for block; 0 = no timeout
    ShutdownReason reason = ShutdownReason::poweroff; // for shutdown
};

class HypercallDispatcher {
public:
    HypercallDispatcher(const GuestRam& ram, DomainServices& services) : ram_(ram), svc_(services) {}

    CallOutcome dispatch(uint32_t vcpu, uint64_t slot_gpa);

    // Completes a call that returned Action::block once the platform has
    // waited: writes the events into the slot and returns rax's value.
    int64_t finish_block(uint64_t slot_gpa, uint64_t events, uint32_t shutdown_request);

private:
    CallOutcome run_slot(uint32_t vcpu, hv_call_t& call, bool in_multicall);
    CallOutcome version_op(uint32_t vcpu, hv_call_t& call);
    CallOutcome console_op(uint32_t vcpu, hv_call_t& call);
    CallOutcome sched_op(uint32_t vcpu, hv_call_t& call, bool in_multicall);
    CallOutcome vcpu_op(uint32_t vcpu, hv_call_t& call, bool in_multicall);
    CallOutcome multicall(uint32_t vcpu, hv_call_t& call, bool in_multicall);

    CallOutcome refuse(uint32_t vcpu, const hv_call_t& call, int64_t code, const char* why);

    GuestRam ram_;
    DomainServices& svc_;
};

} // namespace hv::core
