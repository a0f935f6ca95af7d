// The vCPU state machine and how a domain's xl-list state follows from its
// vCPUs. Pure logic, so the hosted monitor and the ring-0 image agree.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "core/domain_state.hpp"

namespace hv::core {

enum class VcpuState : uint8_t {
    offline,  // not started (APs before vcpu_op up), or taken down (vcpu_op down)
    runnable, // wants the CPU; gated by pause
    running,  // executing guest code
    blocked,  // in sched_op block, waiting for an event
    stopped,  // the domain shut down or is being destroyed
};

enum class VcpuEvent : uint8_t {
    start,   // offline -> runnable (boot vCPU at create, APs at vcpu_op up)
    enter,   // runnable -> running
    exit,    // running -> runnable (an exit handled, yield, pause)
    block,   // running -> blocked
    wake,    // blocked -> runnable
    down,    // running -> offline (vcpu_op down)
    stop,    // any -> stopped
};

const char* vcpu_state_name(VcpuState s);

// Applies an event; returns false (and leaves `s` alone) for a transition
// the machine does not allow, which callers treat as a monitor bug.
bool vcpu_apply(VcpuState& s, VcpuEvent e);

// Flags a domain carries besides its vCPUs' states.
struct DomainFlags {
    bool paused = false;
    bool shut_down = false; // stopped with a reason other than crash
    bool crashed = false;
    bool dying = false;
};

// xl's precedence: dying, then crashed, shutdown, paused; then running if
// any vCPU runs or wants to, else blocked.
DomainState derive_domain_state(const DomainFlags& flags, const VcpuState* vcpus, size_t count);

} // namespace hv::core
