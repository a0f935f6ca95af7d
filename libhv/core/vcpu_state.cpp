#include "core/vcpu_state.hpp"

namespace hv::core {

const char* vcpu_state_name(VcpuState s) {
    switch (s) {
    case VcpuState::offline: return "offline";
    case VcpuState::runnable: return "runnable";
    case VcpuState::running: return "running";
    case VcpuState::blocked: return "blocked";
    case VcpuState::stopped: return "stopped";
    }
    return "unknown";
}

bool vcpu_apply(VcpuState& s, VcpuEvent e) {
    VcpuState next = s;
    switch (e) {
    case VcpuEvent::start:
        if (s != VcpuState::offline) return false;
        next = VcpuState::runnable;
        break;
    case VcpuEvent::enter:
        if (s != VcpuState::runnable) return false;
        next = VcpuState::running;
        break;
    case VcpuEvent::exit:
        if (s != VcpuState::running) return false;
        next = VcpuState::runnable;
        break;
    case VcpuEvent::block:
        if (s != VcpuState::running) return false;
        next = VcpuState::blocked;
        break;
    case VcpuEvent::wake:
        if (s != VcpuState::blocked) return false;
        next = VcpuState::runnable;
        break;
    case VcpuEvent::down:
        if (s != VcpuState::running) return false;
        next = VcpuState::offline;
        break;
    case VcpuEvent::stop:
        next = VcpuState::stopped;
        break;
    }
    s = next;
    return true;
}

DomainState derive_domain_state(const DomainFlags& flags, const VcpuState* vcpus, size_t count) {
    if (flags.dying) return DomainState::dying;
    if (flags.crashed) return DomainState::crashed;
    if (flags.shut_down) return DomainState::shutdown;
    if (flags.paused) return DomainState::paused;
    for (size_t i = 0; i < count; ++i)
        if (vcpus[i] == VcpuState::running || vcpus[i] == VcpuState::runnable) return DomainState::running;
    return DomainState::blocked;
}

} // namespace hv::core
